import { DataSource } from 'typeorm';
import { readDatabaseConfig } from '../src/config/database.config';
import { InventoryDataSource, resolveDataSourceOptions } from '../src/database/data-source.options';
import { runMigrations } from '../src/database/migrate';
import { ENTITIES } from '../src/entities';
import { createTestDatabase, TestDatabase } from './support/test-database';

describe('schema', () => {
  let database: TestDatabase;
  let dataSource: DataSource;

  beforeAll(async () => {
    database = await createTestDatabase();
    dataSource = await new InventoryDataSource(
      await resolveDataSourceOptions(readDatabaseConfig(database.env), ENTITIES),
    ).initialize();
  });
  afterAll(async () => {
    await dataSource.destroy();
    await database.drop();
  });

  it('is built by the migrations alone, and they are idempotent', async () => {
    expect(await runMigrations(dataSource)).toBeGreaterThan(0);
    expect(await runMigrations(dataSource)).toBe(0);
    expect(await dataSource.showMigrations()).toBe(false);
  });

  it('matches the entities: no drift between entities and migrations', async () => {
    const pending = await dataSource.driver.createSchemaBuilder().log();
    expect(pending.upQueries.map((q) => q.query)).toEqual([]);
  });

  it('seeds the MAIN warehouse', async () => {
    const rows: { code: string }[] = await dataSource.query('SELECT code FROM warehouses');
    expect(rows.map((r) => r.code)).toEqual(['MAIN']);
  });

  it('refuses a negative stock level in the database itself', async () => {
    const [{ id: productId }] = await insertProduct(dataSource);
    const [{ id: warehouseId }] = await dataSource.query("SELECT id FROM warehouses WHERE code = 'MAIN'");
    await expect(
      dataSource.query(
        "INSERT INTO stock_levels (warehouse_id, product_id, on_hand, updated_at) VALUES (?, ?, -1, '2026-01-01 00:00:00.000')",
        [warehouseId, productId],
      ),
    ).rejects.toThrow(/CHK_stock_levels_on_hand|CHECK constraint/i);
  });
});

async function insertProduct(dataSource: DataSource): Promise<{ id: number }[]> {
  await dataSource.query(
    "INSERT INTO products (sku, sku_key, name, unit, reorder_point, version, created_at, updated_at) VALUES ('S-1', 's-1', 'n', 'pcs', 0, 1, '2026-01-01 00:00:00.000', '2026-01-01 00:00:00.000')",
  );
  return dataSource.query("SELECT id FROM products WHERE sku_key = 's-1'");
}
