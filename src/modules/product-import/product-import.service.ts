import { Injectable } from '@nestjs/common';
import { plainToInstance } from 'class-transformer';
import { Readable } from 'node:stream';
import { RequestContext } from '../../common/decorators/auth.decorators';
import { ApiError } from '../../common/errors/api-error';
import { duplicateKey } from '../../database/dialect';
import { CreateProductDto, UpdateProductDto } from '../products/dto/product.dto';
import { Product } from '../products/entities/product.entity';
import { ProductsRepository } from '../products/products.repository';
import { IdOrder, ProductsService } from '../products/products.service';
import { AdjustDto } from '../stock/dto/stock.dto';
import { StockLevelsRepository } from '../stock/levels/stock-levels.repository';
import { StockService } from '../stock/stock.service';
import { WarehousesService } from '../warehouses/warehouses.service';
import { csvLines, FieldErrors, ImportLine, importNote, RefusedLine, validateLine } from './import-lines';

/**
 * Lines read, validated and then applied together: one read of their products, errors reported in line
 * order. At most about 2,900: a chunk's new products go in one INSERT of 11 values each, and SQLite binds
 * at most 32,766 values per statement. 1,000 imported 100k lines faster than 500 and as fast as 2,000.
 */
const IMPORT_CHUNK_LINES = 1000;

export interface ImportOptions {
  /** Validate everything, write nothing. */
  dryRun: boolean;
  /** Named in the note of each COUNT adjustment. */
  fileName: string;
}

/** What an import did, or in a dry run would do, so far. */
export interface ImportCounts {
  lines: number;
  created: number;
  updated: number;
  unchanged: number;
  /** COUNT adjustments: levels set to the file's onHand (a level that already holds it is left alone). */
  counted: number;
  /** Lines with an error; a line whose product was written but whose count failed is counted in both. */
  failed: number;
}

export const noCounts = (): ImportCounts => ({ lines: 0, created: 0, updated: 0, unchanged: 0, counted: 0, failed: 0 });

export interface ImportObserver {
  /** A line refused, or whose product or stock could not be written; called in line order. */
  refused(line: number, errors: FieldErrors): void;
  /** After each chunk; `bytes` of the file are behind the lines done. */
  progress(counts: ImportCounts, bytes: number): void;
}

type Refusal = RefusedLine;

/** One line's refusal: reported with its line number, the import goes on. */
class LineRefused extends Error {
  constructor(readonly refusal: Refusal) {
    super('line refused');
  }
}

const refuse = (line: number, field: string, message: string) =>
  new LineRefused({ line, errors: { [field]: [message] } });

/** A service's refusal of one line's write (4xx) as that line's error; anything else stops the import. */
function refusalOf(error: unknown, line: number, field: string, suffix = ''): LineRefused {
  if (error instanceof LineRefused) return error;
  if (!(error instanceof ApiError) || error.status >= 500) throw error;
  const fields = error.code === 'VALIDATION_FAILED' ? (error.details?.fields as FieldErrors | undefined) : undefined;
  return new LineRefused({ line, errors: fields ?? { [field]: [`${error.message}${suffix}`] } });
}

/** What a line will do, decided from the product as stored before anything is written. */
interface Plan {
  line: ImportLine;
  product: 'created' | 'updated' | 'unchanged';
  productId?: number;
  /** The product as read, for an update's If-Match. */
  version?: number;
  changes?: ImportLine['product'];
  /** A COUNT adjustment to make: the level differs from the file's onHand. */
  count?: { warehouse: string; onHand: number };
}

/** The fields of `wanted` whose values differ from the product's. */
function changesOf(product: Product, wanted: ImportLine['product']): ImportLine['product'] {
  return Object.fromEntries(
    Object.entries(wanted).filter(([field, value]) => product[field as keyof typeof wanted] !== value),
  );
}

/** A chunk's lines whose products were written (or in a dry run would be), and those refused. */
interface WrittenChunk {
  written: Plan[];
  refused: Refusal[];
}

/** Awaits `work`; a LineRefused joins `refused` (the import goes on), anything else is thrown. */
async function refusedInto(refused: Refusal[], work: Promise<void>): Promise<void> {
  try {
    await work;
  } catch (error) {
    if (!(error instanceof LineRefused)) throw error;
    refused.push(error.refusal);
  }
}

const createDto = (plan: Plan) => plainToInstance(CreateProductDto, { sku: plan.line.sku, ...plan.line.product });

/**
 * Imports products from CSV (import-lines.ts says what a line may hold): creates the SKUs that do not
 * exist and updates those that differ, through ProductsService as POST and PATCH /api/products do, then
 * sets opening stock by a COUNT adjustment through StockService.adjust, the write path of POST
 * /api/stock/adjust. A line that matches what is stored writes nothing, so the same file imported twice
 * changes nothing the second time. Lines are validated as the HTTP API validates bodies; a bad line is
 * reported by number and the rest goes on.
 */
@Injectable()
export class ProductImportService {
  constructor(
    private readonly products: ProductsService,
    private readonly productRows: ProductsRepository,
    private readonly levels: StockLevelsRepository,
    private readonly stock: StockService,
    private readonly warehouses: WarehousesService,
  ) {}

  /**
   * Reads `input` as a stream, one chunk of lines at a time (memory holds a chunk, and the SKUs seen so
   * far to refuse a repeated one). Throws ImportFileError for a bad header, and stops on anything that is
   * not one line's fault (the database gone): `counts` then says what was done before.
   */
  async import(
    ctx: RequestContext,
    input: Readable,
    options: ImportOptions,
    observer: ImportObserver,
    counts: ImportCounts,
  ): Promise<ImportCounts> {
    const note = importNote(options.fileName);
    const firstLineOf = new Map<string, number>();
    let valid: ImportLine[] = [];
    let refusals: Refusal[] = [];
    let lines = 0;
    let bytes = 0;
    // Three chunks in flight: this one read and validated, the one before it having its products
    // written (new ones in one transaction, so this chunk's may overlap it and keep both of the
    // database's cores busy; its INSERT still waits for the one before, so ids follow the file), and the
    // one before that having its stock counts made and then being reported.
    let writing:
      { chunk: { lines: number; bytes: number }; refused: Refusal[]; done: Promise<WrittenChunk> } | undefined;
    let counting: Promise<void> | undefined;
    let inserted = Promise.resolve();
    const report = (chunk: { lines: number; bytes: number }, refused: Refusal[]) => {
      refused.sort((a, b) => a.line - b.line);
      for (const { line, errors } of refused) observer.refused(line, errors);
      counts.failed += refused.length;
      counts.lines += chunk.lines;
      observer.progress(counts, chunk.bytes);
    };
    const startWriting = () => {
      const after = inserted;
      let signal!: () => void;
      inserted = new Promise((resolve) => (signal = resolve));
      const done = this.writeProducts(ctx, valid, options, counts, { after, inserted: signal }).finally(signal);
      done.catch(() => undefined); // awaited by finishWriting
      const started = { chunk: { lines, bytes }, refused: refusals, done };
      [valid, refusals, lines] = [[], [], 0];
      return started;
    };
    const finishWriting = async ({ chunk, refused, done }: NonNullable<typeof writing>) => {
      const { written, refused: notWritten } = await done;
      refused.push(...notWritten);
      // one chunk's counts at a time, each chunk reported after the one before (a chunk without counts
      // would otherwise be reported first)
      await counting;
      counting = this.countStock(ctx, written, options, note, counts).then((more) =>
        report(chunk, [...refused, ...more]),
      );
      counting.catch(() => undefined); // awaited when the next chunk is ready, or at the end
    };
    const applyChunk = async () => {
      const next = startWriting();
      const previous = writing;
      writing = next;
      if (previous) await finishWriting(previous);
    };
    try {
      for await (const record of csvLines(input)) {
        lines++;
        bytes = record.bytes;
        const key = record.cells?.sku?.toLowerCase();
        const earlier = key ? firstLineOf.get(key) : undefined;
        if (record.problem !== undefined) {
          refusals.push({ line: record.line, errors: { '': [record.problem] } });
        } else if (earlier !== undefined) {
          refusals.push({
            line: record.line,
            errors: { sku: [`${record.cells!.sku} already appears on line ${earlier}`] },
          });
        } else {
          if (key) firstLineOf.set(key, record.line);
          const checked = await validateLine(record.line, record.cells!, note);
          if ('errors' in checked) refusals.push(checked);
          else valid.push(checked);
        }
        if (lines >= IMPORT_CHUNK_LINES) await applyChunk();
      }
      if (lines) await applyChunk();
      if (writing) await finishWriting(writing);
      await counting;
    } catch (error) {
      // nothing left running when the import stops
      await writing?.done.catch(() => undefined);
      await counting?.catch(() => undefined);
      throw error;
    }
    return counts;
  }

  /**
   * A chunk's valid lines, their products: one read of the chunk's products and levels, then the new
   * products in one transaction (file order: ascending ids, as if created one by one) and the rest one
   * by one in file order. Returns the lines written (or, in a dry run, that would be) and those refused.
   */
  private async writeProducts(
    ctx: RequestContext,
    lines: ImportLine[],
    { dryRun }: ImportOptions,
    counts: ImportCounts,
    order: IdOrder,
  ): Promise<WrittenChunk> {
    if (!lines.length) return { written: [], refused: [] };
    const refused: Refusal[] = [];
    // archived products too (their SKUs stay taken): an id without an active product is one
    const ids = await this.productRows.findIdsBySkuKey([...new Set(lines.map((l) => l.sku.toLowerCase()))]);
    const active = new Map((await this.productRows.findActiveByIds([...ids.values()])).map((p) => [p.id, p]));
    const levels = await this.levels.byWarehouseOf([...active.keys()]);
    const plans: Plan[] = [];
    for (const line of lines) {
      await refusedInto(
        refused,
        this.plan(line, ids.get(line.sku.toLowerCase()), active, levels).then((plan) => void plans.push(plan)),
      );
    }
    // should a SKU have been taken meanwhile, one by one, so the refusal names its line
    const creates = plans.filter((plan) => plan.product === 'created');
    const written = new Set<Plan>();
    if (creates.length && !dryRun && (await this.createAll(ctx, creates, order))) {
      counts.created += creates.length;
      creates.forEach((plan) => written.add(plan));
    }
    for (const plan of plans.filter((p) => !written.has(p))) {
      await refusedInto(
        refused,
        (dryRun ? Promise.resolve() : this.writeProduct(ctx, plan)).then(() => {
          counts[plan.product]++;
          written.add(plan);
        }),
      );
    }
    return { written: [...written], refused };
  }

  /**
   * The written lines' stock counts, all at once (the ledger commits counts that arrive together as one
   * transaction); the lines whose count was refused.
   */
  private async countStock(
    ctx: RequestContext,
    written: Plan[],
    { dryRun }: ImportOptions,
    note: string,
    counts: ImportCounts,
  ): Promise<Refusal[]> {
    const refused: Refusal[] = [];
    const counting = written
      .filter((plan) => plan.count)
      .map((plan) =>
        refusedInto(
          refused,
          (dryRun ? Promise.resolve() : this.count(ctx, plan, note)).then(() => void counts.counted++),
        ),
      );
    // every count settles before an unexpected failure stops the import
    const failure = (await Promise.allSettled(counting)).find((r) => r.status === 'rejected');
    if (failure) throw failure.reason;
    return refused;
  }

  /** What a line will do, from the product as stored; everything it needs is checked before any write. */
  private async plan(
    line: ImportLine,
    productId: number | undefined,
    active: Map<number, Product>,
    levels: Map<number, { warehouse: string; onHand: number }[]>,
  ): Promise<Plan> {
    const existing = productId === undefined ? undefined : active.get(productId);
    if (productId !== undefined && !existing) {
      throw refuse(line.line, 'sku', `${line.sku} is archived (its SKU stays taken)`);
    }
    const warehouse = line.stock && (await this.warehouseOf(line, line.stock.warehouse));
    const onHand = (productId && levels.get(productId)?.find((l) => l.warehouse === warehouse?.code)?.onHand) ?? 0;
    const count =
      line.stock && line.stock.onHand !== onHand
        ? { warehouse: warehouse!.code, onHand: line.stock.onHand }
        : undefined;
    if (!existing) {
      if (line.product.name === undefined) throw refuse(line.line, 'name', 'required to create a product');
      return { line, product: 'created', count };
    }
    const changes = changesOf(existing, line.product);
    const product = Object.keys(changes).length ? 'updated' : 'unchanged';
    return { line, product, productId, version: existing.version, changes, count };
  }

  /** Creates the plans' products in one transaction through ProductsService; false if a SKU was taken meanwhile. */
  private async createAll(ctx: RequestContext, plans: Plan[], order: IdOrder): Promise<boolean> {
    try {
      const views = await this.products.createMany(ctx, plans.map(createDto), order);
      views.forEach((view, i) => (plans[i].productId = view.id));
      return true;
    } catch (error) {
      if (duplicateKey(error)) return false;
      throw error;
    }
  }

  /** Creates or updates through ProductsService, as POST and PATCH /api/products do. */
  private async writeProduct(ctx: RequestContext, plan: Plan): Promise<void> {
    try {
      if (plan.product === 'created') {
        plan.productId = (await this.products.create(ctx, createDto(plan))).id;
      } else if (plan.product === 'updated') {
        // If-Match: a change made since the product was read is not overwritten unseen
        const dto = plainToInstance(UpdateProductDto, plan.changes);
        await this.products.update(ctx, plan.productId!, dto, String(plan.version));
      }
    } catch (error) {
      throw refusalOf(error, plan.line.line, 'sku');
    }
  }

  /** Sets the level to the file's onHand by a COUNT adjustment through StockService, as POST /api/stock/adjust does. */
  private async count(ctx: RequestContext, plan: Plan, note: string): Promise<void> {
    const { warehouse, onHand } = plan.count!;
    const dto = { productId: plan.productId, warehouse, countedQuantity: onHand, reason: 'COUNT', note };
    try {
      await this.stock.adjust(ctx, plainToInstance(AdjustDto, dto));
    } catch (error) {
      throw refusalOf(error, plan.line.line, 'onHand', ` (the product was ${plan.product})`);
    }
  }

  private async warehouseOf(line: ImportLine, code: string) {
    try {
      return await this.warehouses.resolve(code);
    } catch (error) {
      if (error instanceof ApiError && error.code === 'NOT_FOUND')
        throw refuse(line.line, 'warehouse', `no warehouse ${code}`);
      throw error;
    }
  }
}
