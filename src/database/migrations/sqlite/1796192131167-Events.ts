import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Events out: the outbox (events, positioned in commit order by the sequencer), webhooks and their
 * deliveries, the cursors of in-order destinations (RabbitMQ), and the sequence of feed positions.
 */
export class Events1796192131167 implements MigrationInterface {
  name = 'Events1796192131167';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "outbox_cursors" ("name" varchar(64) PRIMARY KEY NOT NULL, "position" bigint NOT NULL, "lease_owner" varchar(64), "lease_until" datetime(3))`,
    );
    await queryRunner.query(
      `CREATE TABLE "events" ("id" integer PRIMARY KEY AUTOINCREMENT NOT NULL, "position" bigint, "type" varchar(32) NOT NULL, "products" text NOT NULL, "occurred_at" datetime(3) NOT NULL, "data" text NOT NULL)`,
    );
    await queryRunner.query(`CREATE INDEX "IDX_events_occurred_at" ON "events" ("occurred_at") `);
    await queryRunner.query(`CREATE INDEX "IDX_events_position" ON "events" ("position") `);
    await queryRunner.query(
      `CREATE TABLE "webhook_delivery_keys" ("webhook_id" integer NOT NULL, "product_id" integer NOT NULL, "event_position" bigint NOT NULL, PRIMARY KEY ("webhook_id", "product_id", "event_position"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "IDX_webhook_delivery_keys_delivery" ON "webhook_delivery_keys" ("webhook_id", "event_position") `,
    );
    await queryRunner.query(
      `CREATE TABLE "webhook_deliveries" ("id" integer PRIMARY KEY AUTOINCREMENT NOT NULL, "webhook_id" integer NOT NULL, "event_position" bigint NOT NULL, "event_type" varchar(32) NOT NULL, "status" varchar(16) NOT NULL, "attempts" integer NOT NULL, "waits" integer NOT NULL, "last_status_code" integer, "last_error" varchar(500), "next_attempt_at" datetime(3), "delivered_at" datetime(3), "created_at" datetime(3) NOT NULL)`,
    );
    await queryRunner.query(
      `CREATE INDEX "IDX_webhook_deliveries_webhook" ON "webhook_deliveries" ("webhook_id", "status", "id") `,
    );
    await queryRunner.query(
      `CREATE INDEX "IDX_webhook_deliveries_due" ON "webhook_deliveries" ("status", "waits", "next_attempt_at") `,
    );
    await queryRunner.query(
      `CREATE UNIQUE INDEX "UQ_webhook_deliveries_event" ON "webhook_deliveries" ("webhook_id", "event_position") `,
    );
    await queryRunner.query(`INSERT INTO "sequences" ("name", "next_value") VALUES ('events', 1)`);
    await queryRunner.query(
      `CREATE TABLE "webhooks" ("id" integer PRIMARY KEY AUTOINCREMENT NOT NULL, "url" varchar(2048) NOT NULL, "events" text NOT NULL, "description" varchar(2000), "enabled" boolean NOT NULL, "sealed_secret" varchar(255) NOT NULL, "event_cursor" bigint NOT NULL, "created_at" datetime(3) NOT NULL, "updated_at" datetime(3) NOT NULL)`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "webhooks"`);
    await queryRunner.query(`DROP INDEX "UQ_webhook_deliveries_event"`);
    await queryRunner.query(`DROP INDEX "IDX_webhook_deliveries_due"`);
    await queryRunner.query(`DROP INDEX "IDX_webhook_deliveries_webhook"`);
    await queryRunner.query(`DROP TABLE "webhook_deliveries"`);
    await queryRunner.query(`DROP INDEX "IDX_webhook_delivery_keys_delivery"`);
    await queryRunner.query(`DROP TABLE "webhook_delivery_keys"`);
    await queryRunner.query(`DROP INDEX "IDX_events_position"`);
    await queryRunner.query(`DROP INDEX "IDX_events_occurred_at"`);
    await queryRunner.query(`DROP TABLE "events"`);
    await queryRunner.query(`DROP TABLE "outbox_cursors"`);
    await queryRunner.query(`DELETE FROM "sequences" WHERE "name" = 'events'`);
  }
}
