import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * audit_logs with `actor_username` of the given type (the service's own changes have no actor): SQLite
 * changes a column by rebuilding the table, and its append-only triggers with it.
 */
async function rebuildAuditLogs(queryRunner: QueryRunner, actorUsername: string): Promise<void> {
  const indexes: [string, string][] = [
    ['IDX_audit_logs_action', '"action"'],
    ['IDX_audit_logs_entity', '"entity_type", "entity_id"'],
    ['IDX_audit_logs_actor', '"actor_username"'],
    ['IDX_audit_logs_at', '"at"'],
  ];
  const columns =
    '"id", "at", "actor_id", "actor_username", "actor_role", "action", "entity_type", "entity_id", "before", "after", "request_id", "ip"';
  for (const [name] of indexes) await queryRunner.query(`DROP INDEX "${name}"`);
  await queryRunner.query(
    `CREATE TABLE "temporary_audit_logs" ("id" integer PRIMARY KEY AUTOINCREMENT NOT NULL, "at" datetime(3) NOT NULL, "actor_id" integer, "actor_username" ${actorUsername}, "actor_role" varchar(16), "action" varchar(64) NOT NULL, "entity_type" varchar(32) NOT NULL, "entity_id" varchar(64), "before" text, "after" text, "request_id" varchar(128), "ip" varchar(64))`,
  );
  await queryRunner.query(`INSERT INTO "temporary_audit_logs"(${columns}) SELECT ${columns} FROM "audit_logs"`);
  await queryRunner.query('DROP TABLE "audit_logs"'); // its triggers go with it
  await queryRunner.query('ALTER TABLE "temporary_audit_logs" RENAME TO "audit_logs"');
  for (const [name, on] of indexes) await queryRunner.query(`CREATE INDEX "${name}" ON "audit_logs" (${on}) `);
  for (const event of ['UPDATE', 'DELETE']) {
    await queryRunner.query(
      `CREATE TRIGGER "TRG_audit_logs_no_${event.toLowerCase()}" BEFORE ${event} ON "audit_logs" BEGIN SELECT RAISE(ABORT, 'audit_logs is append-only'); END`,
    );
  }
}

/**
 * Reservations: the held quantity on each level, reservations and their lines, the sequence their ids
 * come from, and audit entries without an actor (an expiry). SQLite adds a CHECKed column by rebuilding
 * the table.
 */
export class Reservations1796188065088 implements MigrationInterface {
  name = 'Reservations1796188065088';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'CREATE TABLE "sequences" ("name" varchar(64) PRIMARY KEY NOT NULL, "next_value" bigint NOT NULL)',
    );
    await queryRunner.query(`INSERT INTO "sequences" ("name", "next_value") VALUES ('reservations', 1)`);
    await queryRunner.query(
      'CREATE TABLE "reservation_lines" ("reservation_id" integer NOT NULL, "line_no" integer NOT NULL, "product_id" integer NOT NULL, "warehouse_id" integer NOT NULL, "quantity" integer NOT NULL, PRIMARY KEY ("reservation_id", "line_no"))',
    );
    await queryRunner.query(
      'CREATE INDEX "IDX_reservation_lines_product" ON "reservation_lines" ("product_id", "reservation_id") ',
    );
    await queryRunner.query(
      'CREATE TABLE "reservations" ("id" integer PRIMARY KEY NOT NULL, "status" varchar(16) NOT NULL, "reference" varchar(128), "note" varchar(500), "expires_at" datetime(3) NOT NULL, "created_at" datetime(3) NOT NULL, "created_by_id" integer NOT NULL, "created_by_username" varchar(64) NOT NULL, "closed_at" datetime(3))',
    );
    await queryRunner.query('CREATE INDEX "IDX_reservations_reference" ON "reservations" ("reference") ');
    await queryRunner.query('CREATE INDEX "IDX_reservations_due" ON "reservations" ("status", "expires_at") ');
    await queryRunner.query('DROP INDEX "IDX_stock_levels_product"');
    await queryRunner.query(
      'CREATE TABLE "temporary_stock_levels" ("warehouse_id" integer NOT NULL, "product_id" integer NOT NULL, "on_hand" bigint NOT NULL, "updated_at" datetime(3) NOT NULL, "reserved" bigint NOT NULL DEFAULT (0), CONSTRAINT "CHK_stock_levels_on_hand" CHECK ((on_hand >= 0)), CONSTRAINT "CHK_stock_levels_reserved" CHECK (reserved >= 0), PRIMARY KEY ("warehouse_id", "product_id"))',
    );
    await queryRunner.query(
      'INSERT INTO "temporary_stock_levels"("warehouse_id", "product_id", "on_hand", "updated_at") SELECT "warehouse_id", "product_id", "on_hand", "updated_at" FROM "stock_levels"',
    );
    await queryRunner.query('DROP TABLE "stock_levels"');
    await queryRunner.query('ALTER TABLE "temporary_stock_levels" RENAME TO "stock_levels"');
    await queryRunner.query('CREATE INDEX "IDX_stock_levels_product" ON "stock_levels" ("product_id") ');
    await rebuildAuditLogs(queryRunner, 'varchar(128)');
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await rebuildAuditLogs(queryRunner, 'varchar(128) NOT NULL');
    await queryRunner.query('DROP INDEX "IDX_stock_levels_product"');
    await queryRunner.query('ALTER TABLE "stock_levels" RENAME TO "temporary_stock_levels"');
    await queryRunner.query(
      'CREATE TABLE "stock_levels" ("warehouse_id" integer NOT NULL, "product_id" integer NOT NULL, "on_hand" bigint NOT NULL, "updated_at" datetime(3) NOT NULL, CONSTRAINT "CHK_stock_levels_on_hand" CHECK ((on_hand >= 0)), PRIMARY KEY ("warehouse_id", "product_id"))',
    );
    await queryRunner.query(
      'INSERT INTO "stock_levels"("warehouse_id", "product_id", "on_hand", "updated_at") SELECT "warehouse_id", "product_id", "on_hand", "updated_at" FROM "temporary_stock_levels"',
    );
    await queryRunner.query('DROP TABLE "temporary_stock_levels"');
    await queryRunner.query('CREATE INDEX "IDX_stock_levels_product" ON "stock_levels" ("product_id") ');
    await queryRunner.query('DROP TABLE "reservations"');
    await queryRunner.query('DROP TABLE "reservation_lines"');
    await queryRunner.query('DROP TABLE "sequences"');
  }
}
