import { Migration } from '@mikro-orm/migrations';

// Issue 17: webhook deliveries (modules/webhooks/), one row per event and endpoint, queued in the transaction of the
// change; the payload holds no secret. The index serves the senders' claim of due rows.
export class Migration20261206160000_webhooks extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `create table "webhook_deliveries" ("id" bigserial primary key, "message_id" text not null, "endpoint" text not null, "type" text not null, "payload" text not null, "created_at" timestamptz(3) not null, "attempts" int not null default 0, "next_attempt_at" timestamptz(3) not null, "locked_until" timestamptz(3) null, "delivered_at" timestamptz(3) null, "dead_at" timestamptz(3) null, "last_error" text null, "last_status" int null);`,
    );
    this.addSql(
      `alter table "webhook_deliveries" add constraint "webhook_deliveries_message_id_unique" unique ("message_id");`,
    );
    this.addSql(
      `create index "webhook_deliveries_delivered_at_dead_at_next_attempt_at_index" on "webhook_deliveries" ("delivered_at", "dead_at", "next_attempt_at");`,
    );
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "webhook_deliveries" cascade;`);
  }
}
