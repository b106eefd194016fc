import { MigrationInterface, QueryRunner } from 'typeorm';

const APPEND_ONLY = ['stock_movements', 'audit_logs'];

/**
 * The stock ledger and idempotency keys; the ledger and the audit trail refuse UPDATE and DELETE.
 * Keys compare byte for byte (the default collation would make `abc` and `ABC ` one key).
 */
export class StockLedger1795616700000 implements MigrationInterface {
  name = 'StockLedger1795616700000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE \`idempotency_keys\` (\`user_id\` int NOT NULL, \`route\` varchar(16) NOT NULL, \`idempotency_key\` varchar(128) CHARACTER SET ascii COLLATE ascii_bin NOT NULL, \`request_hash\` varchar(64) NOT NULL, \`response_status\` int NOT NULL, \`response_body\` text NOT NULL, \`created_at\` datetime(3) NOT NULL, INDEX \`IDX_idempotency_keys_created\` (\`created_at\`), PRIMARY KEY (\`user_id\`, \`route\`, \`idempotency_key\`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
    );
    await queryRunner.query(
      `CREATE TABLE \`stock_movements\` (\`id\` int NOT NULL AUTO_INCREMENT, \`type\` varchar(16) NOT NULL, \`product_id\` int NOT NULL, \`warehouse_id\` int NOT NULL, \`quantity\` bigint NOT NULL, \`balance_after\` bigint NOT NULL, \`reference\` varchar(128) NULL, \`note\` varchar(500) NULL, \`reason\` varchar(16) NULL, \`actor_id\` int NOT NULL, \`actor_username\` varchar(64) NOT NULL, \`request_id\` varchar(128) NULL, \`created_at\` datetime(3) NOT NULL, INDEX \`IDX_stock_movements_created\` (\`created_at\`), INDEX \`IDX_stock_movements_warehouse\` (\`warehouse_id\`, \`id\`), INDEX \`IDX_stock_movements_level\` (\`product_id\`, \`warehouse_id\`, \`id\`), PRIMARY KEY (\`id\`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
    );
    for (const table of APPEND_ONLY) {
      for (const event of ['UPDATE', 'DELETE']) {
        await queryRunner.query(
          `CREATE TRIGGER \`TRG_${table}_no_${event.toLowerCase()}\` BEFORE ${event} ON \`${table}\` FOR EACH ROW SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = '${table} is append-only'`,
        );
      }
    }
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    for (const table of APPEND_ONLY) {
      for (const event of ['update', 'delete']) await queryRunner.query(`DROP TRIGGER \`TRG_${table}_no_${event}\``);
    }
    await queryRunner.query(`DROP TABLE \`stock_movements\``);
    await queryRunner.query(`DROP TABLE \`idempotency_keys\``);
  }
}
