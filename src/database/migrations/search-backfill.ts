import { QueryRunner } from 'typeorm';
import { termsOf } from '../../common/search-terms';

const BATCH = 1000;

/**
 * Fills what the Search migrations add for the products already there: their search terms, and `low`
 * from their total available. Batched by id: a large catalogue migrates in bounded memory.
 */
export async function backfillSearch(queryRunner: QueryRunner): Promise<void> {
  for (let after = 0; ;) {
    const products: { id: number; sku: string; name: string }[] = await queryRunner.query(
      `SELECT id, sku, name FROM products WHERE archived_at IS NULL AND id > ? ORDER BY id LIMIT ${BATCH}`,
      [after],
    );
    if (!products.length) break;
    after = Number(products[products.length - 1].id);
    const rows = products.flatMap((p) => termsOf(p.sku, p.name).map((term) => [term, Number(p.id)]));
    for (let i = 0; i < rows.length; i += BATCH) {
      const chunk = rows.slice(i, i + BATCH);
      await queryRunner.query(
        `INSERT INTO product_terms (term, product_id) VALUES ${chunk.map(() => '(?, ?)').join(', ')}`,
        chunk.flat(),
      );
    }
  }
  await queryRunner.query(
    `UPDATE products SET low = CASE WHEN COALESCE((SELECT SUM(l.on_hand - l.reserved) FROM stock_levels l WHERE l.product_id = products.id), 0) <= reorder_point THEN 1 ELSE 0 END`,
  );
}
