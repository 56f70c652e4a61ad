import { Migration } from '@mikro-orm/migrations';

// Issue 15: second factors (TOTP secrets sealed, passkeys' public keys), recovery codes as keyed hashes, MFA tickets
// as hashes, and the WebAuthn ceremonies Portcullis began (modules/mfa/).
export class Migration20261206130000_secondFactors extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `create table "recovery_codes" ("id" bigserial primary key, "user_id" uuid not null, "code_hash" text not null, "created_at" timestamptz(3) not null, "used_at" timestamptz(3) null);`,
    );
    this.addSql(`create index "recovery_codes_user_id_code_hash_index" on "recovery_codes" ("user_id", "code_hash");`);

    this.addSql(
      `create table "mfa_tickets" ("id" uuid not null, "ticket_hash" text not null, "user_id" uuid not null, "amr" text[] not null, "method" text not null, "challenge_id" uuid null, "attempts" int not null default 0, "created_at" timestamptz(3) not null, "expires_at" timestamptz(3) not null, "used_at" timestamptz(3) null, constraint "mfa_tickets_pkey" primary key ("id"));`,
    );
    this.addSql(`alter table "mfa_tickets" add constraint "mfa_tickets_ticket_hash_unique" unique ("ticket_hash");`);
    this.addSql(`create index "mfa_tickets_expires_at_index" on "mfa_tickets" ("expires_at");`);

    this.addSql(
      `create table "mfa_factors" ("id" uuid not null, "user_id" uuid not null, "type" text check ("type" in ('TOTP', 'PASSKEY')) not null, "name" text null, "secret" text null, "last_step" int null, "credential_id" text null, "public_key" text null, "sign_count" bigint null, "transports" text[] not null, "confirmed_at" timestamptz(3) null, "created_at" timestamptz(3) not null, "last_used_at" timestamptz(3) null, constraint "mfa_factors_pkey" primary key ("id"));`,
    );
    this.addSql(`create index "mfa_factors_user_id_index" on "mfa_factors" ("user_id");`);
    this.addSql(
      `alter table "mfa_factors" add constraint "mfa_factors_credential_id_unique" unique ("credential_id");`,
    );

    this.addSql(
      `create table "webauthn_challenges" ("id" uuid not null, "purpose" text check ("purpose" in ('REGISTER', 'SIGN_IN', 'SECOND_FACTOR', 'REAUTHENTICATE')) not null, "user_id" uuid null, "challenge" text not null, "created_at" timestamptz(3) not null, "expires_at" timestamptz(3) not null, "used_at" timestamptz(3) null, constraint "webauthn_challenges_pkey" primary key ("id"));`,
    );
    this.addSql(`create index "webauthn_challenges_expires_at_index" on "webauthn_challenges" ("expires_at");`);

    this.addSql(
      `alter table "recovery_codes" add constraint "recovery_codes_user_id_foreign" foreign key ("user_id") references "users" ("id") on update cascade on delete cascade;`,
    );

    this.addSql(
      `alter table "mfa_tickets" add constraint "mfa_tickets_user_id_foreign" foreign key ("user_id") references "users" ("id") on update cascade on delete cascade;`,
    );

    this.addSql(
      `alter table "mfa_factors" add constraint "mfa_factors_user_id_foreign" foreign key ("user_id") references "users" ("id") on update cascade on delete cascade;`,
    );

    this.addSql(
      `alter table "webauthn_challenges" add constraint "webauthn_challenges_user_id_foreign" foreign key ("user_id") references "users" ("id") on update cascade on delete cascade;`,
    );
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "recovery_codes" cascade;`);

    this.addSql(`drop table if exists "mfa_tickets" cascade;`);

    this.addSql(`drop table if exists "mfa_factors" cascade;`);

    this.addSql(`drop table if exists "webauthn_challenges" cascade;`);
  }
}
