import type { Page } from '../../src/common/http/pagination';
import type { ProductDetailView, ProductView } from '../../src/modules/products/dto/product.dto';
import type { LevelView, MovementView } from '../../src/modules/stock/stock.views';
import { expectError } from './errors';
import { bearer, startTestApp, TestApp } from './test-app';

/**
 * What the stock suites (test/stock-*.e2e-spec.ts) share: one app per file on this jest project's
 * driver, helpers that make the products and warehouses a test needs (unique SKUs and codes), and
 * "nothing moved" checked against the database itself (every level, the movement count, the stock
 * audit entries). Each file ends with ledgerChecks(): they look at everything the file did.
 */

export type Json = Record<string, unknown>;
export type StockRoute = 'in' | 'out' | 'adjust' | 'transfer' | 'batch';
export type Actor = { id: number; username: string };

export interface Snapshot {
  movements: number;
  stockAudits: number;
  levels: string[];
}

export interface PostOptions {
  token?: string;
  key?: string;
  requestId?: string;
}

export interface AuditRow {
  action: string;
  entity_type: string;
  entity_id: string;
  actor_id: number | string | null;
  actor_username: string;
  request_id: string | null;
  after: string | null;
}

const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
/** The contract's bounds, written out here rather than taken from the code under test. */
export const MAX_LEVEL = 9007199254740991; // 2^53-1
export const MAX_QUANTITY = 1_000_000_000;
export const MOVEMENT_TYPES: MovementView['type'][] = ['IN', 'OUT', 'ADJUST', 'TRANSFER_OUT', 'TRANSFER_IN'];
export const REASONS: NonNullable<MovementView['reason']>[] = [
  'COUNT',
  'DAMAGE',
  'LOSS',
  'FOUND',
  'CORRECTION',
  'OTHER',
];
const MOVEMENT_KEYS = [
  'actor',
  'balanceAfter',
  'createdAt',
  'id',
  'note',
  'productId',
  'quantity',
  'reason',
  'reference',
  'requestId',
  'sku',
  'type',
  'warehouse',
];
const LEVEL_KEYS = ['available', 'onHand', 'productId', 'reserved', 'sku', 'updatedAt', 'warehouse'];
/** Quantities every stock route refuses (400), with what each one is. */
export const BAD_QUANTITIES: [string, unknown][] = [
  ['zero', 0],
  ['negative', -1],
  ['fraction', 1.5],
  ['numeric string', '3'],
  ['above 1e9', MAX_QUANTITY + 1],
  ['null', null],
  ['boolean', true],
];

/** A body with a key of `length` characters. */
export const longText = (length: number) => 'x'.repeat(length);

export function expectIso(value: unknown): void {
  expect(value).toMatch(ISO_MS);
  expect(new Date(value as string).toISOString()).toBe(value);
}

/** Every field of a Movement, typed as the contract says, and `expected` on top. */
export function expectMovement(value: unknown, expected: Partial<MovementView> = {}): void {
  const m = value as MovementView;
  expect(Object.keys(m).sort()).toEqual(MOVEMENT_KEYS);
  expect(Number.isSafeInteger(m.id) && m.id > 0).toBe(true);
  expect(MOVEMENT_TYPES).toContain(m.type);
  expect(Number.isSafeInteger(m.productId) && m.productId > 0).toBe(true);
  expect(typeof m.sku).toBe('string');
  expect(typeof m.warehouse).toBe('string');
  expect(Number.isSafeInteger(m.quantity)).toBe(true);
  expect(Number.isSafeInteger(m.balanceAfter) && m.balanceAfter >= 0).toBe(true);
  expect(m.reference === null || typeof m.reference === 'string').toBe(true);
  expect(m.note === null || typeof m.note === 'string').toBe(true);
  expect(m.reason === null || REASONS.includes(m.reason)).toBe(true);
  expect(Object.keys(m.actor).sort()).toEqual(['id', 'username']);
  expect(Number.isSafeInteger(m.actor.id)).toBe(true);
  expect(typeof m.actor.username).toBe('string');
  expect(m.requestId === null || typeof m.requestId === 'string').toBe(true);
  expectIso(m.createdAt);
  expect(m).toEqual(expect.objectContaining(expected));
}

export function expectLevel(value: unknown, expected: Partial<LevelView> = {}): void {
  const l = value as LevelView;
  expect(Object.keys(l).sort()).toEqual(LEVEL_KEYS);
  expect(Number.isSafeInteger(l.productId) && l.productId > 0).toBe(true);
  expect(typeof l.sku).toBe('string');
  expect(typeof l.warehouse).toBe('string');
  expect(Number.isSafeInteger(l.onHand) && l.onHand >= 0).toBe(true);
  expect(Number.isSafeInteger(l.reserved) && l.reserved >= 0).toBe(true);
  expect(l.available).toBe(l.onHand - l.reserved);
  expectIso(l.updatedAt);
  expect(l).toEqual(expect.objectContaining(expected));
}

/** The ids of the movements an audit entry's `after` lists (an array of movements, or {movements: [...]}). */
export function auditedMovementIds(after: string | null): number[] {
  const parsed = (typeof after === 'string' ? JSON.parse(after) : after) as unknown;
  const list = Array.isArray(parsed) ? parsed : (parsed as { movements?: unknown } | null)?.movements;
  expect(Array.isArray(list)).toBe(true);
  return (list as { id: number }[]).map((m) => Number(m.id));
}

/** Boots the file's app (beforeAll, closed afterAll) and gives the helpers bound to it. */
export function stockSuite() {
  let app: TestApp;
  let operator: Actor;
  let manager: Actor;
  let counter = 0;

  const whoAmI = async (token: string): Promise<Actor> => {
    const res = await app.http.get('/api/auth/me').set(bearer(token)).expect(200);
    return { id: res.body.id as number, username: res.body.username as string };
  };
  beforeAll(async () => {
    app = await startTestApp();
    operator = await whoAmI(app.tokens.operator);
    manager = await whoAmI(app.tokens.manager);
  });
  afterAll(() => app?.close());

  const next = () => ++counter;
  const query = <T = Json>(sql: string, params: unknown[] = []): Promise<T[]> => app.dataSource.query(sql, params);

  /** A new active product (by the manager); `sku` gets a unique suffix. */
  async function createProduct(sku = 'Stk', reorderPoint?: number): Promise<ProductView> {
    const body: Json = { sku: `${sku}-${next()}`, name: `Product ${sku}` };
    if (reorderPoint !== undefined) body.reorderPoint = reorderPoint;
    const res = await app.http.post('/api/products').set(bearer(app.tokens.manager)).send(body);
    expect(res.status).toBe(201);
    return res.body as ProductView;
  }

  /** A new warehouse; returns its code. */
  async function createWarehouse(prefix = 'WH'): Promise<string> {
    const code = `${prefix}_${next()}`;
    const res = await app.http
      .post('/api/warehouses')
      .set(bearer(app.tokens.manager))
      .send({ code, name: `Warehouse ${code}` });
    expect(res.status).toBe(201);
    return code;
  }

  /** POST /api/stock/<route> with a fresh X-Request-Id (unless given); operator by default, manager on adjust. */
  function post(route: StockRoute, body: unknown, options: PostOptions = {}) {
    const token = options.token ?? (route === 'adjust' ? app.tokens.manager : app.tokens.operator);
    let req = app.http
      .post(`/api/stock/${route}`)
      .set(bearer(token))
      .set('X-Request-Id', options.requestId ?? `stock-e2e-${next()}`);
    if (options.key !== undefined) req = req.set('Idempotency-Key', options.key);
    return req.send(body as object);
  }

  /** A write that must succeed: 201, and its body. */
  async function ok<T = Json>(route: StockRoute, body: unknown, options: PostOptions = {}): Promise<T> {
    const res = await post(route, body, options);
    if (res.status !== 201)
      throw new Error(`POST /api/stock/${route} ${JSON.stringify(body)}: ${res.status} ${res.text}`);
    return res.body as T;
  }

  const stockIn = (productId: number, quantity: number, warehouse?: string) =>
    ok<{ movement: MovementView; level: LevelView }>('in', {
      productId,
      quantity,
      ...(warehouse ? { warehouse } : {}),
    });

  /** The level as GET /api/stock shows it (onHand 0 when there is no level yet). */
  async function onHand(productId: number, warehouse = 'MAIN'): Promise<number> {
    const res = await app.http
      .get(`/api/stock?productId=${productId}&warehouse=${warehouse}`)
      .set(bearer(app.tokens.viewer));
    expect(res.status).toBe(200);
    const items = res.body.items as LevelView[];
    expect(items.length).toBeLessThanOrEqual(1);
    return items[0]?.onHand ?? 0;
  }

  async function getProduct(id: number): Promise<ProductDetailView> {
    const res = await app.http.get(`/api/products/${id}`).set(bearer(app.tokens.viewer));
    expect(res.status).toBe(200);
    return res.body as ProductDetailView;
  }

  /** Every level, the movement count and the count of stock audit entries, straight from the database. */
  async function snapshot(): Promise<Snapshot> {
    const [movements] = await query<{ n: number | string }>('SELECT COUNT(*) AS n FROM stock_movements');
    const [audits] = await query<{ n: number | string }>(
      "SELECT COUNT(*) AS n FROM audit_logs WHERE action LIKE 'stock.%'",
    );
    const levels = await query<{ product_id: number; warehouse_id: number; on_hand: number | string }>(
      'SELECT product_id, warehouse_id, on_hand FROM stock_levels ORDER BY product_id, warehouse_id',
    );
    return {
      movements: Number(movements.n),
      stockAudits: Number(audits.n),
      levels: levels.map((l) => `${l.product_id}@${l.warehouse_id}=${String(l.on_hand)}`),
    };
  }

  async function expectNothingMoved(before: Snapshot): Promise<void> {
    expect(await snapshot()).toEqual(before);
  }

  /** Every item of a list route, walking its cursors with `limit`. */
  async function walk<T>(path: string, limit: number, token?: string): Promise<{ items: T[]; pages: number }> {
    const items: T[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const sep = path.includes('?') ? '&' : '?';
      const url = `${path}${sep}limit=${limit}${cursor !== null ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const res = await app.http.get(url).set(bearer(token ?? app.tokens.viewer));
      expect(res.status).toBe(200);
      expect(Object.keys(res.body as Json).sort()).toEqual(['items', 'nextCursor']);
      const page = res.body as Page<T>;
      expect(page.items.length).toBeLessThanOrEqual(limit);
      if (page.nextCursor !== null) {
        expect(typeof page.nextCursor).toBe('string');
        expect(page.items).toHaveLength(limit);
      }
      items.push(...page.items);
      cursor = page.nextCursor;
      pages += 1;
      if (pages > 500) throw new Error(`${path}: the cursor walk does not end`);
    } while (cursor !== null);
    return { items, pages };
  }

  async function movementsOf(productId: number): Promise<MovementView[]> {
    const res = await app.http
      .get(`/api/stock/movements?productId=${productId}&limit=200`)
      .set(bearer(app.tokens.viewer));
    expect(res.status).toBe(200);
    return (res.body as Page<MovementView>).items;
  }

  async function auditFor(entityId: number): Promise<AuditRow[]> {
    return query<AuditRow>("SELECT * FROM audit_logs WHERE entity_type = 'movement' AND entity_id = ? ORDER BY id", [
      String(entityId),
    ]);
  }

  /**
   * The ledger as a whole, last in each file (it looks at everything the file did: at least
   * `minimumLevels` levels): reconcile finds no mismatch, every balanceAfter is the running sum, and
   * the database refuses to change the ledger.
   */
  function ledgerChecks(minimumLevels: number): void {
    describe('the ledger as a whole (after everything above)', () => {
      it('GET /api/stock/reconcile (manager+): every level checked, no mismatches', async () => {
        const [levels] = await query<{ n: number | string }>('SELECT COUNT(*) AS n FROM stock_levels');
        expect(Number(levels.n)).toBeGreaterThanOrEqual(minimumLevels);
        for (const token of [app.tokens.manager, app.tokens.admin]) {
          const res = await app.http.get('/api/stock/reconcile').set(bearer(token));
          expect(res.status).toBe(200);
          expect(Object.keys(res.body as Json).sort()).toEqual(['checkedLevels', 'mismatches']);
          expect(res.body).toEqual({ checkedLevels: Number(levels.n), mismatches: [] });
        }
        for (const role of ['operator', 'viewer', 'monitor'] as const) {
          expectError(await app.http.get('/api/stock/reconcile').set(bearer(app.tokens[role])), 403, 'FORBIDDEN');
        }

        // the same, checked here: onHand is the sum of the level's movements, balanceAfter the running sum
        const rows = await query<{
          product_id: number;
          warehouse_id: number;
          quantity: number | string;
          balance_after: number | string;
        }>('SELECT product_id, warehouse_id, quantity, balance_after FROM stock_movements ORDER BY id');
        const running = new Map<string, number>();
        for (const row of rows) {
          const key = `${row.product_id}@${row.warehouse_id}`;
          const sum = (running.get(key) ?? 0) + Number(row.quantity);
          running.set(key, sum);
          expect({ key, balanceAfter: Number(row.balance_after) }).toEqual({ key, balanceAfter: sum });
        }
        const stored = await query<{ product_id: number; warehouse_id: number; on_hand: number | string }>(
          'SELECT product_id, warehouse_id, on_hand FROM stock_levels',
        );
        for (const level of stored) {
          const key = `${level.product_id}@${level.warehouse_id}`;
          expect({ key, onHand: Number(level.on_hand) }).toEqual({ key, onHand: running.get(key) ?? 0 });
        }
      });

      it('the database refuses UPDATE and DELETE on stock_movements and audit_logs', async () => {
        const before = await snapshot();
        const [sums] = await query<{ q: number | string; n: number | string }>(
          'SELECT SUM(quantity) AS q, COUNT(*) AS n FROM stock_movements',
        );
        const [audits] = await query<{ n: number | string }>('SELECT COUNT(*) AS n FROM audit_logs');
        expect(Number(sums.n)).toBeGreaterThan(0);

        await expect(app.dataSource.query('UPDATE stock_movements SET quantity = 1')).rejects.toThrow();
        await expect(
          app.dataSource.query('UPDATE stock_movements SET note = ? WHERE id = 1', ['tampered']),
        ).rejects.toThrow();
        await expect(app.dataSource.query('DELETE FROM stock_movements')).rejects.toThrow();
        await expect(app.dataSource.query('DELETE FROM stock_movements WHERE id = 1')).rejects.toThrow();
        await expect(app.dataSource.query("UPDATE audit_logs SET action = 'tampered'")).rejects.toThrow();
        await expect(app.dataSource.query('DELETE FROM audit_logs')).rejects.toThrow();

        const [sumsAfter] = await query<{ q: number | string; n: number | string }>(
          'SELECT SUM(quantity) AS q, COUNT(*) AS n FROM stock_movements',
        );
        expect(Number(sumsAfter.q)).toBe(Number(sums.q));
        expect(Number(sumsAfter.n)).toBe(Number(sums.n));
        const [auditsAfter] = await query<{ n: number | string }>('SELECT COUNT(*) AS n FROM audit_logs');
        expect(Number(auditsAfter.n)).toBe(Number(audits.n));
        const tampered = await query("SELECT id FROM audit_logs WHERE action = 'tampered'");
        expect(tampered).toEqual([]);
        await expectNothingMoved(before);

        // and the API still agrees with itself
        const res = await app.http.get('/api/stock/reconcile').set(bearer(app.tokens.manager)).expect(200);
        expect(res.body.mismatches).toEqual([]);
      });
    });
  }

  return {
    /** The running app (set once beforeAll has run). */
    get t() {
      return app;
    },
    get operator() {
      return operator;
    },
    get manager() {
      return manager;
    },
    whoAmI,
    next,
    query,
    createProduct,
    createWarehouse,
    post,
    ok,
    stockIn,
    onHand,
    getProduct,
    snapshot,
    expectNothingMoved,
    walk,
    movementsOf,
    auditFor,
    ledgerChecks,
  };
}
