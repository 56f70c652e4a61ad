import { Migration } from '@mikro-orm/migrations';

// Issue 12: audit events carry a typed sign-in method and failure reason (audit-event-type.ts) instead of a sentence
// the lockout and the metrics parsed back out of `detail`. Existing rows get them from their `detail`, so a lockout
// in progress survives the upgrade.
export class Migration20261206100000_auditTypes extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table "audit_events" add column "method" text null, add column "reason" text null;`);
    this.addSql(
      `create index "audit_events_email_type_created_at_index" on "audit_events" ("email", "type", "created_at");`,
    );
    this.addSql(
      `update "audit_events" set "reason" = case "detail" when 'unknown email' then 'UNKNOWN_EMAIL' when 'email not verified' then 'EMAIL_NOT_VERIFIED' when 'wrong password' then 'WRONG_PASSWORD' when 'wrong current password' then 'WRONG_CURRENT_PASSWORD' when 'account disabled' then 'ACCOUNT_DISABLED' end where "type" = 'LOGIN_FAILED';`,
    );
    this.addSql(
      `update "audit_events" set "method" = case when "detail" like 'code%' then 'CODE' else 'PASSWORD' end where "type" in ('LOGIN_SUCCEEDED', 'LOGIN_FAILED');`,
    );
  }

  override async down(): Promise<void> {
    this.addSql(`drop index "audit_events_email_type_created_at_index";`);
    this.addSql(`alter table "audit_events" drop column "method", drop column "reason";`);
  }
}
