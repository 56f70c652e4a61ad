import { Migration } from '@mikro-orm/migrations';

export class Migration20261122132530_auditEvents extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `create table "audit_events" ("id" bigserial primary key, "type" text not null, "actor_user_id" uuid null, "subject_user_id" uuid null, "email" text null, "ip" text null, "user_agent" text null, "detail" text null, "created_at" timestamptz not null);`,
    );
    this.addSql(`create index "audit_events_created_at_index" on "audit_events" ("created_at");`);
    this.addSql(`create index "audit_events_type_created_at_index" on "audit_events" ("type", "created_at");`);
    this.addSql(
      `create index "audit_events_subject_user_id_created_at_index" on "audit_events" ("subject_user_id", "created_at");`,
    );
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "audit_events" cascade;`);
  }
}
