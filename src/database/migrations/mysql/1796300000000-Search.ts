import { MigrationInterface, QueryRunner } from 'typeorm';
import { backfillSearch } from '../search-backfill';

/**
 * Search at scale (contract v2): `product_terms`, the index every search reads (SKU prefixes and name
 * word prefixes, modules/products/search), and `products.low` with its index for `lowStock=`.
 */
export class Search1796300000000 implements MigrationInterface {
  name = 'Search1796300000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'CREATE TABLE `product_terms` (`term` varchar(160) NOT NULL, `product_id` int NOT NULL, INDEX `IDX_product_terms_product` (`product_id`), PRIMARY KEY (`term`, `product_id`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4',
    );
    await queryRunner.query('ALTER TABLE `products` ADD `low` tinyint NOT NULL DEFAULT 1');
    await queryRunner.query('CREATE INDEX `IDX_products_low` ON `products` (`low`, `id`)');
    await backfillSearch(queryRunner);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP INDEX `IDX_products_low` ON `products`');
    await queryRunner.query('ALTER TABLE `products` DROP COLUMN `low`');
    await queryRunner.query('DROP TABLE `product_terms`');
  }
}
