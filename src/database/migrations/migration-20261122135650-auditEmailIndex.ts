import { Migration } from '@mikro-orm/migrations';

export class Migration20261122135650_auditEmailIndex extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create index "audit_events_email_created_at_index" on "audit_events" ("email", "created_at");`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop index "audit_events_email_created_at_index";`);
  }
}
