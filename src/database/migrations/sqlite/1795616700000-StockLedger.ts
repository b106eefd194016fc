import { MigrationInterface, QueryRunner } from 'typeorm';

const APPEND_ONLY = ['stock_movements', 'audit_logs'];

/** The stock ledger and idempotency keys; the ledger and the audit trail refuse UPDATE and DELETE. */
export class StockLedger1795616700000 implements MigrationInterface {
  name = 'StockLedger1795616700000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "idempotency_keys" ("user_id" integer NOT NULL, "route" varchar(16) NOT NULL, "idempotency_key" varchar(128) NOT NULL, "request_hash" varchar(64) NOT NULL, "response_status" integer NOT NULL, "response_body" text NOT NULL, "created_at" datetime(3) NOT NULL, PRIMARY KEY ("user_id", "route", "idempotency_key"))`,
    );
    await queryRunner.query(`CREATE INDEX "IDX_idempotency_keys_created" ON "idempotency_keys" ("created_at") `);
    await queryRunner.query(
      `CREATE TABLE "stock_movements" ("id" integer PRIMARY KEY AUTOINCREMENT NOT NULL, "type" varchar(16) NOT NULL, "product_id" integer NOT NULL, "warehouse_id" integer NOT NULL, "quantity" bigint NOT NULL, "balance_after" bigint NOT NULL, "reference" varchar(128), "note" varchar(500), "reason" varchar(16), "actor_id" integer NOT NULL, "actor_username" varchar(64) NOT NULL, "request_id" varchar(128), "created_at" datetime(3) NOT NULL)`,
    );
    await queryRunner.query(`CREATE INDEX "IDX_stock_movements_created" ON "stock_movements" ("created_at") `);
    await queryRunner.query(
      `CREATE INDEX "IDX_stock_movements_warehouse" ON "stock_movements" ("warehouse_id", "id") `,
    );
    await queryRunner.query(
      `CREATE INDEX "IDX_stock_movements_level" ON "stock_movements" ("product_id", "warehouse_id", "id") `,
    );
    for (const table of APPEND_ONLY) {
      for (const event of ['UPDATE', 'DELETE']) {
        await queryRunner.query(
          `CREATE TRIGGER "TRG_${table}_no_${event.toLowerCase()}" BEFORE ${event} ON "${table}" BEGIN SELECT RAISE(ABORT, '${table} is append-only'); END`,
        );
      }
    }
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    for (const table of APPEND_ONLY) {
      for (const event of ['update', 'delete']) await queryRunner.query(`DROP TRIGGER "TRG_${table}_no_${event}"`);
    }
    await queryRunner.query(`DROP TABLE "stock_movements"`);
    await queryRunner.query(`DROP TABLE "idempotency_keys"`);
  }
}
