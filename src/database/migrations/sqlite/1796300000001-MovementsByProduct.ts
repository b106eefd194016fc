import { MigrationInterface, QueryRunner } from 'typeorm';

/** A product's movements newest first without a sort ("GET /api/stock/movements?productId=", its CSV export). */
export class MovementsByProduct1796300000001 implements MigrationInterface {
  name = 'MovementsByProduct1796300000001';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('CREATE INDEX "IDX_stock_movements_product" ON "stock_movements" ("product_id", "id") ');
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP INDEX "IDX_stock_movements_product"');
  }
}
