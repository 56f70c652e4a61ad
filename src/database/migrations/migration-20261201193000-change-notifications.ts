import { Migration } from '@mikro-orm/migrations';

// Every instance caches live sessions (modules/auth/session-cache.ts). These triggers tell all of them,
// through NOTIFY on commit, when a session ends or a user's roles, activation or profile change — whoever
// made the change: an instance, `npm run admin:create`, or an operator's SQL.
export class Migration20261201193000_changeNotifications extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create function "portcullis_notify_session_change"() returns trigger language plpgsql as $$
begin
  perform pg_notify('portcullis_changes', 's:' || new."id");
  return null;
end $$;`);
    this.addSql(`create trigger "sessions_notify_change" after update on "sessions" for each row
when (old."revoked_at" is distinct from new."revoked_at" or old."expires_at" is distinct from new."expires_at"
   or old."user_id" is distinct from new."user_id")
execute function "portcullis_notify_session_change"();`);
    this.addSql(`create function "portcullis_notify_user_change"() returns trigger language plpgsql as $$
begin
  perform pg_notify('portcullis_changes', 'u:' || coalesce(new."id", old."id"));
  return null;
end $$;`);
    this.addSql(`create trigger "users_notify_change" after update on "users" for each row
when (old."roles" is distinct from new."roles" or old."active" is distinct from new."active"
   or old."email" is distinct from new."email" or old."full_name" is distinct from new."full_name"
   or old."email_verified" is distinct from new."email_verified")
execute function "portcullis_notify_user_change"();`);
    this.addSql(`create trigger "users_notify_delete" after delete on "users" for each row
execute function "portcullis_notify_user_change"();`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop trigger "users_notify_delete" on "users";`);
    this.addSql(`drop trigger "users_notify_change" on "users";`);
    this.addSql(`drop function "portcullis_notify_user_change"();`);
    this.addSql(`drop trigger "sessions_notify_change" on "sessions";`);
    this.addSql(`drop function "portcullis_notify_session_change"();`);
  }
}
