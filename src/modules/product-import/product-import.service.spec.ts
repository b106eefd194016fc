import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { RequestContext } from '../../common/decorators/auth.decorators';
import { ProductsRepository } from '../products/products.repository';
import { IdOrder, ProductsService } from '../products/products.service';
import { StockLevelsRepository } from '../stock/levels/stock-levels.repository';
import { StockService } from '../stock/stock.service';
import { WarehousesService } from '../warehouses/warehouses.service';
import { noCounts, ProductImportService } from './product-import.service';

/**
 * The import's order of reports when a chunk's stock counts run while the next chunk is written: the
 * database stands in as stubs (the e2e suite drives the real one); the counts of the first chunk are slow,
 * the second chunk has none, so it would finish first if nothing held its report back.
 */
describe('ProductImportService: chunks reported in line order', () => {
  const ctx = { user: { id: 0, username: 'cli:test', role: 'admin' }, requestId: 'r', ip: 'local' } as RequestContext;
  let nextId = 1;
  const products = {
    createMany: async (_: unknown, dtos: { sku: string }[]) => dtos.map((dto) => ({ id: nextId++, sku: dto.sku })),
  } as unknown as ProductsService;
  const productRows = {
    findIdsBySkuKey: async () => new Map(),
    findActiveByIds: async () => [],
  } as unknown as ProductsRepository;
  const levels = { byWarehouseOf: async () => new Map() } as unknown as StockLevelsRepository;
  const stock = { adjust: () => sleep(100) } as unknown as StockService;
  const warehouses = { resolve: async (code: string) => ({ code }) } as unknown as WarehousesService;

  it("reports the first chunk's lines and progress before the second's, however fast the second is", async () => {
    const importer = new ProductImportService(products, productRows, levels, stock, warehouses);
    const lines = ['sku,name,warehouse,onHand', 'BAD SKU,Bad,MAIN,1']; // line 2, in the first chunk
    for (let i = 0; i < 999; i++) lines.push(`C-${i},With a count,MAIN,1`); // lines 3..1001
    lines.push('bad sku 2,Bad,,'); // line 1002, the second chunk: no counts at all
    for (let i = 0; i < 10; i++) lines.push(`D-${i},No count,,`);
    const events: string[] = [];
    const observer = {
      refused: (line: number) => events.push(`refused ${line}`),
      progress: (counts: { lines: number }) => events.push(`progress ${counts.lines}`),
    };
    const counts = await importer.import(
      ctx,
      Readable.from([lines.join('\n')]),
      { dryRun: false, fileName: 'f.csv' },
      observer,
      noCounts(),
    );
    expect(events).toEqual(['refused 2', 'progress 1000', 'refused 1002', 'progress 1011']);
    expect(counts).toMatchObject({ lines: 1011, created: 1009, counted: 999, failed: 2 });
  });

  it("overlaps chunks' product writes, each chunk's INSERT after the one before it: ids follow the file", async () => {
    let id = 1;
    const log: string[] = [];
    // as ProductsService.createMany: the transaction starts after `after`; `inserted` once its INSERT ran
    const overlapping = {
      createMany: async (_: unknown, dtos: { sku: string }[], order: IdOrder) => {
        const chunk = dtos[0].sku.slice(0, 1);
        await order.after;
        await sleep(chunk === 'A' ? 300 : 5); // the products' INSERT (A's slow: B is read meanwhile)
        log.push(`insert ${chunk}`);
        const views = dtos.map((dto) => ({ id: id++, sku: dto.sku }));
        order.inserted();
        await sleep(chunk === 'A' ? 300 : 5); // its search terms, audit entries and events
        log.push(`commit ${chunk}`);
        return views;
      },
    } as unknown as ProductsService;
    const importer = new ProductImportService(overlapping, productRows, levels, stock, warehouses);
    const lines = ['sku,name'];
    for (const chunk of ['A', 'B', 'C']) for (let i = 0; i < 1000; i++) lines.push(`${chunk}-${i},Name`);
    const counts = await importer.import(
      ctx,
      Readable.from([lines.join('\n')]),
      { dryRun: false, fileName: 'f.csv' },
      { refused: () => undefined, progress: () => undefined },
      noCounts(),
    );
    expect(counts).toMatchObject({ lines: 3000, created: 3000, failed: 0 });
    // B's transaction ran while A's was still open, yet took its ids after A's; C starts once A is written
    expect(log).toEqual(['insert A', 'insert B', 'commit B', 'commit A', 'insert C', 'commit C']);
  });
});
