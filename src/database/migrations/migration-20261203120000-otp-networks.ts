import { Migration } from '@mikro-orm/migrations';

// Issue 11: one-time codes belong to the network that asked for them (otp.service.ts), a registration's pending
// password lives on its own VERIFY_EMAIL code instead of the account, and the networks an account signed in
// from are remembered (known-networks.ts).
export class Migration20261203120000_otpNetworks extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `alter table "otp_codes" add column "network" text not null default 'unknown', add column "password_hash" text null, add column "pooled" boolean not null default false;`,
    );
    this.addSql(`drop index "otp_codes_email_purpose_created_at_index";`);
    this.addSql(
      `create index "otp_codes_email_purpose_network_created_at_index" on "otp_codes" ("email", "purpose", "network", "created_at");`,
    );
    this.addSql(
      `alter table "otp_failures" add column "network" text not null default 'unknown', add column "pooled" boolean not null default false;`,
    );
    this.addSql(
      `create index "otp_failures_email_network_failed_at_index" on "otp_failures" ("email", "network", "failed_at");`,
    );
    this.addSql(
      `create table "known_networks" ("user_id" uuid not null, "network" text not null, "last_seen_at" timestamptz not null, constraint "known_networks_pkey" primary key ("user_id", "network"));`,
    );
    this.addSql(
      `alter table "known_networks" add constraint "known_networks_user_id_foreign" foreign key ("user_id") references "users" ("id") on update cascade on delete cascade;`,
    );
    // Pending passwords move from the account to the live VERIFY_EMAIL codes of its registration.
    this.addSql(
      `update "otp_codes" c set "password_hash" = u."password_hash" from "users" u where c."user_id" = u."id" and not u."email_verified" and c."purpose" = 'VERIFY_EMAIL' and c."consumed_at" is null;`,
    );
    this.addSql(`update "users" set "password_hash" = null where not "email_verified";`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "known_networks" cascade;`);
    this.addSql(`drop index "otp_failures_email_network_failed_at_index";`);
    this.addSql(`alter table "otp_failures" drop column "network", drop column "pooled";`);
    this.addSql(`drop index "otp_codes_email_purpose_network_created_at_index";`);
    this.addSql(
      `create index "otp_codes_email_purpose_created_at_index" on "otp_codes" ("email", "purpose", "created_at");`,
    );
    this.addSql(`alter table "otp_codes" drop column "network", drop column "password_hash", drop column "pooled";`);
  }
}
