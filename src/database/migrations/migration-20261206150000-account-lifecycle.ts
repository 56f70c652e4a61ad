import { Migration } from '@mikro-orm/migrations';

// Issue 17: the devices each account signed in from (devices/known-devices.ts, the new-sign-in notice), CHANGE_EMAIL
// codes, and an index for anonymising the audit trail of a deleted account by its actor.
export class Migration20261206150000_accountLifecycle extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `create table "known_devices" ("user_id" uuid not null, "browser" text not null, "os" text not null, "network" text not null, "first_seen_at" timestamptz not null, "last_seen_at" timestamptz not null, constraint "known_devices_pkey" primary key ("user_id", "browser", "os", "network"));`,
    );

    this.addSql(
      `alter table "known_devices" add constraint "known_devices_user_id_foreign" foreign key ("user_id") references "users" ("id") on update cascade on delete cascade;`,
    );

    this.addSql(`alter table "otp_codes" drop constraint if exists "otp_codes_purpose_check";`);

    this.addSql(`create index "audit_events_actor_user_id_index" on "audit_events" ("actor_user_id");`);

    this.addSql(
      `alter table "otp_codes" add constraint "otp_codes_purpose_check" check("purpose" in ('LOGIN', 'VERIFY_EMAIL', 'RESET_PASSWORD', 'CHANGE_EMAIL'));`,
    );
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "known_devices" cascade;`);

    this.addSql(`alter table "otp_codes" drop constraint if exists "otp_codes_purpose_check";`);

    this.addSql(`drop index "audit_events_actor_user_id_index";`);

    this.addSql(
      `alter table "otp_codes" add constraint "otp_codes_purpose_check" check("purpose" in ('LOGIN', 'VERIFY_EMAIL', 'RESET_PASSWORD'));`,
    );
  }
}
