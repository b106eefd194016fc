import { MigrationInterface, QueryRunner } from 'typeorm';

/** The foundation schema; the MAIN warehouse exists from the first start. */
export class Initial1795615480000 implements MigrationInterface {
  name = 'Initial1795615480000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE \`audit_logs\` (\`id\` int NOT NULL AUTO_INCREMENT, \`at\` datetime(3) NOT NULL, \`actor_id\` int NULL, \`actor_username\` varchar(128) NOT NULL, \`actor_role\` varchar(16) NULL, \`action\` varchar(64) NOT NULL, \`entity_type\` varchar(32) NOT NULL, \`entity_id\` varchar(64) NULL, \`before\` text NULL, \`after\` text NULL, \`request_id\` varchar(128) NULL, \`ip\` varchar(64) NULL, INDEX \`IDX_audit_logs_at\` (\`at\`), INDEX \`IDX_audit_logs_actor\` (\`actor_username\`), INDEX \`IDX_audit_logs_entity\` (\`entity_type\`, \`entity_id\`), INDEX \`IDX_audit_logs_action\` (\`action\`), PRIMARY KEY (\`id\`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
    );
    await queryRunner.query(
      `CREATE TABLE \`products\` (\`id\` int NOT NULL AUTO_INCREMENT, \`sku\` varchar(64) NOT NULL, \`sku_key\` varchar(64) NOT NULL, \`name\` varchar(200) NOT NULL, \`description\` varchar(2000) NULL, \`unit\` varchar(16) NOT NULL, \`reorder_point\` int NOT NULL, \`version\` int NOT NULL, \`created_at\` datetime(3) NOT NULL, \`updated_at\` datetime(3) NOT NULL, \`archived_at\` datetime(3) NULL, UNIQUE INDEX \`UQ_products_sku_key\` (\`sku_key\`), PRIMARY KEY (\`id\`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
    );
    await queryRunner.query(
      `CREATE TABLE \`stock_levels\` (\`warehouse_id\` int NOT NULL, \`product_id\` int NOT NULL, \`on_hand\` bigint NOT NULL, \`updated_at\` datetime(3) NOT NULL, INDEX \`IDX_stock_levels_product\` (\`product_id\`), PRIMARY KEY (\`warehouse_id\`, \`product_id\`), CONSTRAINT \`CHK_stock_levels_on_hand\` CHECK (\`on_hand\` >= 0)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
    );
    await queryRunner.query(
      `CREATE TABLE \`users\` (\`id\` int NOT NULL AUTO_INCREMENT, \`username\` varchar(64) NOT NULL, \`password_hash\` varchar(255) NOT NULL, \`role\` varchar(16) NOT NULL, \`disabled\` tinyint NOT NULL DEFAULT 0, \`token_version\` int NOT NULL DEFAULT '0', \`created_at\` datetime(3) NOT NULL, \`updated_at\` datetime(3) NOT NULL, UNIQUE INDEX \`UQ_users_username\` (\`username\`), PRIMARY KEY (\`id\`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
    );
    await queryRunner.query(
      `CREATE TABLE \`warehouses\` (\`id\` int NOT NULL AUTO_INCREMENT, \`code\` varchar(32) NOT NULL, \`name\` varchar(200) NOT NULL, \`created_at\` datetime(3) NOT NULL, UNIQUE INDEX \`UQ_warehouses_code\` (\`code\`), PRIMARY KEY (\`id\`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
    );
    await queryRunner.query(
      `INSERT INTO \`warehouses\` (\`code\`, \`name\`, \`created_at\`) VALUES ('MAIN', 'Main warehouse', UTC_TIMESTAMP(3))`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX \`UQ_warehouses_code\` ON \`warehouses\``);
    await queryRunner.query(`DROP TABLE \`warehouses\``);
    await queryRunner.query(`DROP INDEX \`UQ_users_username\` ON \`users\``);
    await queryRunner.query(`DROP TABLE \`users\``);
    await queryRunner.query(`DROP INDEX \`IDX_stock_levels_product\` ON \`stock_levels\``);
    await queryRunner.query(`DROP TABLE \`stock_levels\``);
    await queryRunner.query(`DROP INDEX \`UQ_products_sku_key\` ON \`products\``);
    await queryRunner.query(`DROP TABLE \`products\``);
    await queryRunner.query(`DROP INDEX \`IDX_audit_logs_action\` ON \`audit_logs\``);
    await queryRunner.query(`DROP INDEX \`IDX_audit_logs_entity\` ON \`audit_logs\``);
    await queryRunner.query(`DROP INDEX \`IDX_audit_logs_actor\` ON \`audit_logs\``);
    await queryRunner.query(`DROP INDEX \`IDX_audit_logs_at\` ON \`audit_logs\``);
    await queryRunner.query(`DROP TABLE \`audit_logs\``);
  }
}
