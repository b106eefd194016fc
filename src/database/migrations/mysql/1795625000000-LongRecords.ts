import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * An audit entry or a stored answer of a 100-line batch with long notes passes TEXT's 64 KB:
 * MEDIUMTEXT (16 MB). The entities say `text`; InventoryDataSource widens them on MySQL.
 */
export class LongRecords1795625000000 implements MigrationInterface {
  name = 'LongRecords1795625000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE `audit_logs` MODIFY `before` mediumtext NULL, MODIFY `after` mediumtext NULL');
    await queryRunner.query('ALTER TABLE `idempotency_keys` MODIFY `response_body` mediumtext NOT NULL');
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE `idempotency_keys` MODIFY `response_body` text NOT NULL');
    await queryRunner.query('ALTER TABLE `audit_logs` MODIFY `before` text NULL, MODIFY `after` text NULL');
  }
}
