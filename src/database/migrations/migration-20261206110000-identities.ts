import { Migration } from '@mikro-orm/migrations';

// Issue 14: identities linked from OpenID providers, the sign-in flows through them, and the ID tokens already
// used by signInWithIdToken (modules/identities/).
export class Migration20261206110000_identities extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `create table "oauth_flows" ("id" uuid not null, "state_hash" text not null, "provider" text not null, "purpose" text check ("purpose" in ('SIGN_IN', 'LINK')) not null, "link_user_id" uuid null, "nonce" text not null, "provider_verifier" text not null, "app_challenge" text not null, "redirect_uri" text not null, "created_at" timestamptz(3) not null, "expires_at" timestamptz(3) not null, "callback_at" timestamptz(3) null, "result_user_id" uuid null, "result_identity_id" uuid null, "code_hash" text null, "code_expires_at" timestamptz(3) null, "used_at" timestamptz(3) null, constraint "oauth_flows_pkey" primary key ("id"));`,
    );
    this.addSql(`alter table "oauth_flows" add constraint "oauth_flows_state_hash_unique" unique ("state_hash");`);
    this.addSql(`create index "oauth_flows_expires_at_index" on "oauth_flows" ("expires_at");`);
    this.addSql(`alter table "oauth_flows" add constraint "oauth_flows_code_hash_unique" unique ("code_hash");`);

    this.addSql(
      `create table "used_id_tokens" ("hash" text not null, "expires_at" timestamptz not null, constraint "used_id_tokens_pkey" primary key ("hash"));`,
    );

    this.addSql(
      `create table "identities" ("id" uuid not null, "user_id" uuid not null, "provider" text not null, "issuer" text not null, "subject" text not null, "email" text null, "created_at" timestamptz(3) not null, "last_used_at" timestamptz null, constraint "identities_pkey" primary key ("id"));`,
    );
    this.addSql(`create index "identities_user_id_index" on "identities" ("user_id");`);
    this.addSql(
      `alter table "identities" add constraint "identities_issuer_subject_unique" unique ("issuer", "subject");`,
    );

    this.addSql(
      `alter table "identities" add constraint "identities_user_id_foreign" foreign key ("user_id") references "users" ("id") on update cascade on delete cascade;`,
    );
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "oauth_flows" cascade;`);

    this.addSql(`drop table if exists "used_id_tokens" cascade;`);

    this.addSql(`drop table if exists "identities" cascade;`);
  }
}
