import { Migration } from '@mikro-orm/migrations';

export class Migration20261122135217_cursorPrecision extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `alter table "audit_events" alter column "created_at" type timestamptz(3) using ("created_at"::timestamptz(3));`,
    );

    this.addSql(
      `alter table "users" alter column "created_at" type timestamptz(3) using ("created_at"::timestamptz(3));`,
    );
  }

  override async down(): Promise<void> {
    this.addSql(
      `alter table "audit_events" alter column "created_at" type timestamptz(6) using ("created_at"::timestamptz(6));`,
    );

    this.addSql(
      `alter table "users" alter column "created_at" type timestamptz(6) using ("created_at"::timestamptz(6));`,
    );
  }
}
