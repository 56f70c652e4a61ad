import { Migration } from '@mikro-orm/migrations';

// Issue 16: the ES256 signing keys Portcullis makes (private keys sealed; each change announced to every instance
// as `k:<kid>` on the change channel) and personal API keys (only the secret's SHA-256 stored).
export class Migration20261206140000_signingKeysApiKeys extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `create table "signing_keys" ("kid" text not null, "algorithm" text not null, "public_jwk" text not null, "private_key" text not null, "created_at" timestamptz(3) not null, "activated_at" timestamptz(3) null, "retired_at" timestamptz(3) null, constraint "signing_keys_pkey" primary key ("kid"));`,
    );

    this.addSql(`create function "portcullis_notify_key_change"() returns trigger language plpgsql as $$
begin
  perform pg_notify('portcullis_changes', 'k:' || coalesce(new."kid", old."kid"));
  return null;
end $$;`);
    this
      .addSql(`create trigger "signing_keys_notify_change" after insert or update or delete on "signing_keys" for each row
execute function "portcullis_notify_key_change"();`);

    this.addSql(
      `create table "api_keys" ("id" uuid not null, "user_id" uuid not null, "name" text not null, "prefix" text not null, "secret_hash" text not null, "scopes" text[] not null, "created_at" timestamptz(3) not null, "expires_at" timestamptz(3) null, "last_used_at" timestamptz(3) null, "revoked_at" timestamptz(3) null, constraint "api_keys_pkey" primary key ("id"));`,
    );
    this.addSql(`create index "api_keys_user_id_index" on "api_keys" ("user_id");`);
    this.addSql(`alter table "api_keys" add constraint "api_keys_secret_hash_unique" unique ("secret_hash");`);

    this.addSql(
      `alter table "api_keys" add constraint "api_keys_user_id_foreign" foreign key ("user_id") references "users" ("id") on update cascade on delete cascade;`,
    );
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "signing_keys" cascade;`);
    this.addSql(`drop function if exists "portcullis_notify_key_change"();`);

    this.addSql(`drop table if exists "api_keys" cascade;`);
  }
}
