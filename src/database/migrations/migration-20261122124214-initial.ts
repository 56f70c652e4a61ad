import { Migration } from '@mikro-orm/migrations';

export class Migration20261122124214_initial extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `create table "mail_outbox" ("id" bigserial primary key, "recipient" text not null, "kind" text not null, "payload" text null, "attempts" int not null default 0, "created_at" timestamptz not null, "next_attempt_at" timestamptz not null, "locked_until" timestamptz null, "sent_at" timestamptz null, "failed_at" timestamptz null, "last_error" text null);`,
    );
    this.addSql(
      `create index "mail_outbox_sent_at_next_attempt_at_index" on "mail_outbox" ("sent_at", "next_attempt_at");`,
    );

    this.addSql(
      `create table "otp_codes" ("id" uuid not null, "email" text not null, "purpose" text check ("purpose" in ('LOGIN', 'VERIFY_EMAIL', 'RESET_PASSWORD')) not null, "user_id" uuid null, "code_hash" text not null, "attempts" int not null default 0, "created_at" timestamptz not null, "expires_at" timestamptz not null, "consumed_at" timestamptz null, constraint "otp_codes_pkey" primary key ("id"));`,
    );
    this.addSql(
      `create index "otp_codes_email_purpose_created_at_index" on "otp_codes" ("email", "purpose", "created_at");`,
    );

    this.addSql(
      `create table "otp_failures" ("id" bigserial primary key, "email" text not null, "failed_at" timestamptz not null);`,
    );
    this.addSql(`create index "otp_failures_email_failed_at_index" on "otp_failures" ("email", "failed_at");`);

    this.addSql(
      `create table "users" ("id" uuid not null, "email" text not null, "password_hash" text null, "full_name" text null, "email_verified" boolean not null default false, "active" boolean not null default true, "roles" text[] not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, constraint "users_pkey" primary key ("id"));`,
    );
    this.addSql(`alter table "users" add constraint "users_email_unique" unique ("email");`);

    this.addSql(
      `create table "sessions" ("id" uuid not null, "user_id" uuid not null, "current_token_hash" text not null, "previous_token_hash" text null, "rotation_nonce" text null, "rotated_at" timestamptz null, "user_agent" text null, "ip" text null, "created_at" timestamptz not null, "last_used_at" timestamptz not null, "expires_at" timestamptz not null, "revoked_at" timestamptz null, "revoked_reason" text null, constraint "sessions_pkey" primary key ("id"));`,
    );
    this.addSql(`create index "sessions_user_id_index" on "sessions" ("user_id");`);
    this.addSql(
      `alter table "sessions" add constraint "sessions_current_token_hash_unique" unique ("current_token_hash");`,
    );
    this.addSql(`create index "sessions_previous_token_hash_index" on "sessions" ("previous_token_hash");`);

    this.addSql(
      `create table "retired_refresh_tokens" ("token_hash" text not null, "session_id" uuid not null, "retired_at" timestamptz not null, constraint "retired_refresh_tokens_pkey" primary key ("token_hash"));`,
    );
    this.addSql(`create index "retired_refresh_tokens_session_id_index" on "retired_refresh_tokens" ("session_id");`);

    this.addSql(
      `alter table "sessions" add constraint "sessions_user_id_foreign" foreign key ("user_id") references "users" ("id") on update cascade on delete cascade;`,
    );

    this.addSql(
      `alter table "retired_refresh_tokens" add constraint "retired_refresh_tokens_session_id_foreign" foreign key ("session_id") references "sessions" ("id") on update cascade on delete cascade;`,
    );
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "sessions" drop constraint "sessions_user_id_foreign";`);

    this.addSql(`alter table "retired_refresh_tokens" drop constraint "retired_refresh_tokens_session_id_foreign";`);

    this.addSql(`drop table if exists "mail_outbox" cascade;`);

    this.addSql(`drop table if exists "otp_codes" cascade;`);

    this.addSql(`drop table if exists "otp_failures" cascade;`);

    this.addSql(`drop table if exists "users" cascade;`);

    this.addSql(`drop table if exists "sessions" cascade;`);

    this.addSql(`drop table if exists "retired_refresh_tokens" cascade;`);
  }
}
