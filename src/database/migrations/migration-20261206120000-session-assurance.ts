import { Migration } from '@mikro-orm/migrations';

// Issue 15 (assurance): a session remembers how and when its user proved who they are, so every access token it
// issues, refreshed ones too, carries amr, acr and auth_time. Sessions from before count from their start, with
// no method recorded.
export class Migration20261206120000_sessionAssurance extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `alter table "sessions" add column "amr" text[] not null default '{}', add column "auth_time" timestamptz null;`,
    );
    this.addSql(`update "sessions" set "auth_time" = "created_at";`);
    this.addSql(`alter table "sessions" alter column "auth_time" set not null;`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "sessions" drop column "amr", drop column "auth_time";`);
  }
}
