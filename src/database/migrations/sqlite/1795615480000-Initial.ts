import { MigrationInterface, QueryRunner } from 'typeorm';

/** The foundation schema; the MAIN warehouse exists from the first start. */
export class Initial1795615480000 implements MigrationInterface {
  name = 'Initial1795615480000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "audit_logs" ("id" integer PRIMARY KEY AUTOINCREMENT NOT NULL, "at" datetime(3) NOT NULL, "actor_id" integer, "actor_username" varchar(128) NOT NULL, "actor_role" varchar(16), "action" varchar(64) NOT NULL, "entity_type" varchar(32) NOT NULL, "entity_id" varchar(64), "before" text, "after" text, "request_id" varchar(128), "ip" varchar(64))`,
    );
    await queryRunner.query(`CREATE INDEX "IDX_audit_logs_at" ON "audit_logs" ("at") `);
    await queryRunner.query(`CREATE INDEX "IDX_audit_logs_actor" ON "audit_logs" ("actor_username") `);
    await queryRunner.query(`CREATE INDEX "IDX_audit_logs_entity" ON "audit_logs" ("entity_type", "entity_id") `);
    await queryRunner.query(`CREATE INDEX "IDX_audit_logs_action" ON "audit_logs" ("action") `);
    await queryRunner.query(
      `CREATE TABLE "products" ("id" integer PRIMARY KEY AUTOINCREMENT NOT NULL, "sku" varchar(64) NOT NULL, "sku_key" varchar(64) NOT NULL, "name" varchar(200) NOT NULL, "description" varchar(2000), "unit" varchar(16) NOT NULL, "reorder_point" integer NOT NULL, "version" integer NOT NULL, "created_at" datetime(3) NOT NULL, "updated_at" datetime(3) NOT NULL, "archived_at" datetime(3))`,
    );
    await queryRunner.query(`CREATE UNIQUE INDEX "UQ_products_sku_key" ON "products" ("sku_key") `);
    await queryRunner.query(
      `CREATE TABLE "stock_levels" ("warehouse_id" integer NOT NULL, "product_id" integer NOT NULL, "on_hand" bigint NOT NULL, "updated_at" datetime(3) NOT NULL, CONSTRAINT "CHK_stock_levels_on_hand" CHECK (on_hand >= 0), PRIMARY KEY ("warehouse_id", "product_id"))`,
    );
    await queryRunner.query(`CREATE INDEX "IDX_stock_levels_product" ON "stock_levels" ("product_id") `);
    await queryRunner.query(
      `CREATE TABLE "users" ("id" integer PRIMARY KEY AUTOINCREMENT NOT NULL, "username" varchar(64) NOT NULL, "password_hash" varchar(255) NOT NULL, "role" varchar(16) NOT NULL, "disabled" boolean NOT NULL DEFAULT (0), "token_version" integer NOT NULL DEFAULT (0), "created_at" datetime(3) NOT NULL, "updated_at" datetime(3) NOT NULL)`,
    );
    await queryRunner.query(`CREATE UNIQUE INDEX "UQ_users_username" ON "users" ("username") `);
    await queryRunner.query(
      `CREATE TABLE "warehouses" ("id" integer PRIMARY KEY AUTOINCREMENT NOT NULL, "code" varchar(32) NOT NULL, "name" varchar(200) NOT NULL, "created_at" datetime(3) NOT NULL)`,
    );
    await queryRunner.query(`CREATE UNIQUE INDEX "UQ_warehouses_code" ON "warehouses" ("code") `);
    await queryRunner.query(
      `INSERT INTO "warehouses" ("code", "name", "created_at") VALUES ('MAIN', 'Main warehouse', strftime('%Y-%m-%d %H:%M:%f', 'now'))`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "UQ_warehouses_code"`);
    await queryRunner.query(`DROP TABLE "warehouses"`);
    await queryRunner.query(`DROP INDEX "UQ_users_username"`);
    await queryRunner.query(`DROP TABLE "users"`);
    await queryRunner.query(`DROP INDEX "IDX_stock_levels_product"`);
    await queryRunner.query(`DROP TABLE "stock_levels"`);
    await queryRunner.query(`DROP INDEX "UQ_products_sku_key"`);
    await queryRunner.query(`DROP TABLE "products"`);
    await queryRunner.query(`DROP INDEX "IDX_audit_logs_action"`);
    await queryRunner.query(`DROP INDEX "IDX_audit_logs_entity"`);
    await queryRunner.query(`DROP INDEX "IDX_audit_logs_actor"`);
    await queryRunner.query(`DROP INDEX "IDX_audit_logs_at"`);
    await queryRunner.query(`DROP TABLE "audit_logs"`);
  }
}
