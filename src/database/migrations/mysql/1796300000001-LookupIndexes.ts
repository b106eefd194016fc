import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A product's movements newest first without a sort (`GET /api/stock/movements?productId=`, its CSV
 * export), and the deliveries past retention without a scan (EventRetention).
 */
export class LookupIndexes1796300000001 implements MigrationInterface {
  name = 'LookupIndexes1796300000001';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('CREATE INDEX `IDX_stock_movements_product` ON `stock_movements` (`product_id`, `id`)');
    await queryRunner.query('CREATE INDEX `IDX_webhook_deliveries_created` ON `webhook_deliveries` (`created_at`)');
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP INDEX `IDX_webhook_deliveries_created` ON `webhook_deliveries`');
    await queryRunner.query('DROP INDEX `IDX_stock_movements_product` ON `stock_movements`');
  }
}
