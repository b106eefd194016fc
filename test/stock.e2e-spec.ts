import type { Response } from 'supertest';
import { IdempotencyKey } from '../src/modules/stock/entities/idempotency-key.entity';
import { IdempotencyService } from '../src/modules/stock/idempotency.service';
import { bearer, startTestApp, TestApp } from './support/test-app';

/**
 * The contract's Stock section (with Idempotency), the stock side of Audit, and the ledger's
 * immutability, over HTTP on this jest project's driver, single-process. Every test makes the
 * products and warehouses it needs (unique SKUs and codes); "nothing moved" is checked against the
 * database itself (every level, the movement count, the stock audit entries). The reconcile test
 * and the append-only checks come last: they look at everything the file did before them.
 */

type Json = Record<string, unknown>;
type StockRoute = 'in' | 'out' | 'adjust' | 'transfer' | 'batch';

interface Movement {
  id: number;
  type: 'IN' | 'OUT' | 'ADJUST' | 'TRANSFER_OUT' | 'TRANSFER_IN';
  productId: number;
  sku: string;
  warehouse: string;
  quantity: number;
  balanceAfter: number;
  reference: string | null;
  note: string | null;
  reason: string | null;
  actor: { id: number; username: string };
  requestId: string | null;
  createdAt: string;
}
interface Level {
  productId: number;
  sku: string;
  warehouse: string;
  onHand: number;
  updatedAt: string;
}
interface Product {
  id: number;
  sku: string;
  reorderPoint: number;
  onHand: number;
}
interface Page<T> {
  items: T[];
  nextCursor: string | null;
}
interface Snapshot {
  movements: number;
  stockAudits: number;
  levels: string[];
}
interface PostOptions {
  token?: string;
  key?: string;
  requestId?: string;
}

const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const MAX_LEVEL = 9007199254740991; // 2^53-1
const MAX_QUANTITY = 1_000_000_000;
const MOVEMENT_TYPES = ['IN', 'OUT', 'ADJUST', 'TRANSFER_OUT', 'TRANSFER_IN'];
const REASONS = ['COUNT', 'DAMAGE', 'LOSS', 'FOUND', 'CORRECTION', 'OTHER'];
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
const LEVEL_KEYS = ['onHand', 'productId', 'sku', 'updatedAt', 'warehouse'];
const ERROR_KEYS = ['code', 'message', 'requestId', 'statusCode'];
/** Quantities every stock route refuses (400), with what each one is. */
const BAD_QUANTITIES: [string, unknown][] = [
  ['zero', 0],
  ['negative', -1],
  ['fraction', 1.5],
  ['numeric string', '3'],
  ['above 1e9', MAX_QUANTITY + 1],
  ['null', null],
  ['boolean', true],
];

let t: TestApp;
let operator: { id: number; username: string };
let manager: { id: number; username: string };
let counter = 0;

beforeAll(async () => {
  t = await startTestApp();
  operator = await whoAmI(t.tokens.operator);
  manager = await whoAmI(t.tokens.manager);
});
afterAll(() => t.close());

// ---------------------------------------------------------------- helpers

const next = () => ++counter;

async function whoAmI(token: string): Promise<{ id: number; username: string }> {
  const res = await t.http.get('/api/auth/me').set(bearer(token)).expect(200);
  return { id: res.body.id as number, username: res.body.username as string };
}

/** A new active product (by the manager); `sku` gets a unique suffix. */
async function createProduct(sku = 'Stk', reorderPoint?: number): Promise<Product> {
  const body: Json = { sku: `${sku}-${next()}`, name: `Product ${sku}` };
  if (reorderPoint !== undefined) body.reorderPoint = reorderPoint;
  const res = await t.http.post('/api/products').set(bearer(t.tokens.manager)).send(body);
  expect(res.status).toBe(201);
  return res.body as Product;
}

/** A new warehouse; returns its code. */
async function createWarehouse(prefix = 'WH'): Promise<string> {
  const code = `${prefix}_${next()}`;
  const res = await t.http
    .post('/api/warehouses')
    .set(bearer(t.tokens.manager))
    .send({ code, name: `Warehouse ${code}` });
  expect(res.status).toBe(201);
  return code;
}

/** POST /api/stock/<route> with a fresh X-Request-Id (unless given); operator by default, manager on adjust. */
function post(route: StockRoute, body: unknown, options: PostOptions = {}) {
  const token = options.token ?? (route === 'adjust' ? t.tokens.manager : t.tokens.operator);
  let req = t.http
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
  ok<{ movement: Movement; level: Level }>('in', { productId, quantity, ...(warehouse ? { warehouse } : {}) });

/** The level as GET /api/stock shows it (onHand 0 when there is no level yet). */
async function onHand(productId: number, warehouse = 'MAIN'): Promise<number> {
  const res = await t.http.get(`/api/stock?productId=${productId}&warehouse=${warehouse}`).set(bearer(t.tokens.viewer));
  expect(res.status).toBe(200);
  const items = res.body.items as Level[];
  expect(items.length).toBeLessThanOrEqual(1);
  return items[0]?.onHand ?? 0;
}

async function getProduct(id: number): Promise<Product & { stock: { warehouse: string; onHand: number }[] }> {
  const res = await t.http.get(`/api/products/${id}`).set(bearer(t.tokens.viewer));
  expect(res.status).toBe(200);
  return res.body as Product & { stock: { warehouse: string; onHand: number }[] };
}

const query = <T = Json>(sql: string, params: unknown[] = []): Promise<T[]> => t.dataSource.query(sql, params);

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

/** The contract's error body: {statusCode, code, message, details?, requestId}, requestId = X-Request-Id. */
function expectError(res: Response, status: number, code: string): void {
  expect({ status: res.status, code: res.body?.code }).toEqual({ status, code });
  const keys = Object.keys(res.body as Json);
  expect(keys).toEqual(expect.arrayContaining(ERROR_KEYS));
  expect(keys.filter((key) => !ERROR_KEYS.includes(key) && key !== 'details')).toEqual([]);
  expect(res.body.statusCode).toBe(status);
  expect(typeof res.body.message).toBe('string');
  expect(res.body.message).not.toBe('');
  expect(res.body.requestId).toBe(res.headers['x-request-id']);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
}

/** 400 VALIDATION_FAILED whose details.fields names each of `fields` with at least one message. */
function expectValidation(res: Response, fields: string[]): void {
  expectError(res, 400, 'VALIDATION_FAILED');
  const got = res.body.details?.fields as Record<string, unknown> | undefined;
  expect(got).toEqual(expect.any(Object));
  expect(Object.keys(got!)).toEqual(expect.arrayContaining(fields));
  for (const field of fields) expect(got![field]).toEqual(expect.arrayContaining([expect.any(String)]));
}

/** 400 VALIDATION_FAILED naming at least one of `fields`. */
function expectValidationOneOf(res: Response, fields: string[]): void {
  expectError(res, 400, 'VALIDATION_FAILED');
  const got = Object.keys((res.body.details?.fields ?? {}) as Json);
  expect(got.filter((field) => fields.includes(field))).not.toEqual([]);
}

/** 404 NOT_FOUND whose details name `value` (the id, SKU or warehouse code that does not exist). */
function expectNotFound(res: Response, value: string | number): void {
  expectError(res, 404, 'NOT_FOUND');
  expect(res.body.details).toEqual(expect.any(Object));
  expect(Object.values(res.body.details as Json)).toContain(value);
}

function expectIso(value: unknown): void {
  expect(value).toMatch(ISO_MS);
  expect(new Date(value as string).toISOString()).toBe(value);
}

/** Every field of a Movement, typed as the contract says, and `expected` on top. */
function expectMovement(value: unknown, expected: Partial<Movement> = {}): void {
  const m = value as Movement;
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

function expectLevel(value: unknown, expected: Partial<Level> = {}): void {
  const l = value as Level;
  expect(Object.keys(l).sort()).toEqual(LEVEL_KEYS);
  expect(Number.isSafeInteger(l.productId) && l.productId > 0).toBe(true);
  expect(typeof l.sku).toBe('string');
  expect(typeof l.warehouse).toBe('string');
  expect(Number.isSafeInteger(l.onHand) && l.onHand >= 0).toBe(true);
  expectIso(l.updatedAt);
  expect(l).toEqual(expect.objectContaining(expected));
}

/** Every item of a list route, walking its cursors with `limit`. */
async function walk<T>(path: string, limit: number, token = t.tokens.viewer): Promise<{ items: T[]; pages: number }> {
  const items: T[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const sep = path.includes('?') ? '&' : '?';
    const url = `${path}${sep}limit=${limit}${cursor !== null ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const res = await t.http.get(url).set(bearer(token));
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

async function movementsOf(productId: number): Promise<Movement[]> {
  const res = await t.http.get(`/api/stock/movements?productId=${productId}&limit=200`).set(bearer(t.tokens.viewer));
  expect(res.status).toBe(200);
  return (res.body as Page<Movement>).items;
}

interface AuditRow {
  action: string;
  entity_type: string;
  entity_id: string;
  actor_id: number | string | null;
  actor_username: string;
  request_id: string | null;
  after: string | null;
}

async function auditFor(entityId: number): Promise<AuditRow[]> {
  return query<AuditRow>("SELECT * FROM audit_logs WHERE entity_type = 'movement' AND entity_id = ? ORDER BY id", [
    String(entityId),
  ]);
}

/** The ids of the movements an audit entry's `after` lists (an array of movements, or {movements: [...]}). */
function auditedMovementIds(after: string | null): number[] {
  const parsed = (typeof after === 'string' ? JSON.parse(after) : after) as unknown;
  const list = Array.isArray(parsed) ? parsed : (parsed as { movements?: unknown } | null)?.movements;
  expect(Array.isArray(list)).toBe(true);
  return (list as { id: number }[]).map((m) => Number(m.id));
}

/** A body with a key of `length` characters. */
const longText = (length: number) => 'x'.repeat(length);

// ---------------------------------------------------------------- in

describe('POST /api/stock/in', () => {
  it('answers 201 {movement, level} with every field of the contract', async () => {
    const product = await createProduct('In-Shape');
    const requestId = `in-shape-${next()}`;
    const before = await snapshot();
    const res = await post(
      'in',
      { productId: product.id, quantity: 7, reference: 'PO-1', note: 'first' },
      { requestId },
    );
    expect(res.status).toBe(201);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.headers['x-request-id']).toBe(requestId);
    expect(res.headers['idempotent-replayed']).toBeUndefined();
    expect(Object.keys(res.body as Json).sort()).toEqual(['level', 'movement']);
    expectMovement(res.body.movement, {
      type: 'IN',
      productId: product.id,
      sku: product.sku,
      warehouse: 'MAIN',
      quantity: 7,
      balanceAfter: 7,
      reference: 'PO-1',
      note: 'first',
      reason: null,
      actor: operator,
      requestId,
    });
    expectLevel(res.body.level, { productId: product.id, sku: product.sku, warehouse: 'MAIN', onHand: 7 });
    const after = await snapshot();
    expect(after.movements).toBe(before.movements + 1);
    expect(after.stockAudits).toBe(before.stockAudits + 1);

    // a second receipt adds up; optional fields left out are present as null
    const second = await post('in', { productId: product.id, quantity: 3 });
    expect(second.status).toBe(201);
    expectMovement(second.body.movement, {
      type: 'IN',
      quantity: 3,
      balanceAfter: 10,
      reference: null,
      note: null,
      reason: null,
      requestId: second.headers['x-request-id'] as string,
    });
    expect(second.body.movement.id).toBeGreaterThan(res.body.movement.id);
    expectLevel(second.body.level, { onHand: 10 });

    // what GET shows is what the write answered
    const levels = await t.http.get(`/api/stock?productId=${product.id}`).set(bearer(t.tokens.viewer)).expect(200);
    expect(levels.body.items).toEqual([second.body.level]);
    const movements = await movementsOf(product.id);
    expect(movements).toEqual([second.body.movement, res.body.movement]);
  });

  it('a generated X-Request-Id is the movement requestId when the client sends none', async () => {
    const product = await createProduct('In-Rid');
    const res = await t.http
      .post('/api/stock/in')
      .set(bearer(t.tokens.operator))
      .send({ productId: product.id, quantity: 1 });
    expect(res.status).toBe(201);
    expect(typeof res.headers['x-request-id']).toBe('string');
    expect(res.headers['x-request-id']).not.toBe('');
    expect(res.body.movement.requestId).toBe(res.headers['x-request-id']);
  });

  it('names the product by sku, ignoring case; warehouse defaults to MAIN and can be any code', async () => {
    const product = await createProduct('In-Sku-Case');
    const warehouse = await createWarehouse('INSKU');
    const lower = await ok<{ movement: Movement; level: Level }>('in', { sku: product.sku.toLowerCase(), quantity: 2 });
    expectMovement(lower.movement, { productId: product.id, sku: product.sku, warehouse: 'MAIN', quantity: 2 });
    const upper = await ok<{ movement: Movement; level: Level }>('in', {
      sku: product.sku.toUpperCase(),
      quantity: 5,
      warehouse,
    });
    expectMovement(upper.movement, {
      productId: product.id,
      sku: product.sku,
      warehouse,
      quantity: 5,
      balanceAfter: 5,
    });
    expectLevel(upper.level, { productId: product.id, sku: product.sku, warehouse, onHand: 5 });
    const explicitMain = await ok<{ movement: Movement; level: Level }>('in', {
      productId: product.id,
      quantity: 1,
      warehouse: 'MAIN',
    });
    expectLevel(explicitMain.level, { warehouse: 'MAIN', onHand: 3 });
    expect(await onHand(product.id)).toBe(3);
    expect(await onHand(product.id, warehouse)).toBe(5);
  });

  it('both productId and sku, or neither: 400, nothing moved', async () => {
    const product = await createProduct('In-Both');
    const before = await snapshot();
    expectValidationOneOf(await post('in', { productId: product.id, sku: product.sku, quantity: 1 }), [
      'productId',
      'sku',
    ]);
    expectValidationOneOf(await post('in', { quantity: 1 }), ['productId', 'sku']);
    expectValidationOneOf(await post('out', { productId: product.id, sku: product.sku, quantity: 1 }), [
      'productId',
      'sku',
    ]);
    expectValidationOneOf(await post('out', { quantity: 1 }), ['productId', 'sku']);
    await expectNothingMoved(before);
  });

  it('an unknown product id, SKU or warehouse, or an archived product: 404 NOT_FOUND naming it, nothing moved', async () => {
    const archived = await createProduct('In-Archived');
    await t.http.delete(`/api/products/${archived.id}`).set(bearer(t.tokens.manager)).expect(204);
    const product = await createProduct('In-404');
    const before = await snapshot();
    for (const route of ['in', 'out'] as const) {
      expectNotFound(await post(route, { productId: 99999999, quantity: 1 }), 99999999);
      expectNotFound(await post(route, { sku: 'NO-SUCH-SKU', quantity: 1 }), 'NO-SUCH-SKU');
      expectNotFound(await post(route, { productId: product.id, quantity: 1, warehouse: 'NOWHERE' }), 'NOWHERE');
      expectNotFound(await post(route, { productId: archived.id, quantity: 1 }), archived.id);
      expectNotFound(await post(route, { sku: archived.sku, quantity: 1 }), archived.sku);
    }
    await expectNothingMoved(before);
  });

  it('quantity must be an integer 1..1 000 000 000: anything else is 400 and moves nothing', async () => {
    const product = await createProduct('In-Qty');
    const before = await snapshot();
    for (const [what, quantity] of BAD_QUANTITIES) {
      const res = await post('in', { productId: product.id, quantity });
      expect({ what, status: res.status }).toEqual({ what, status: 400 });
      expectValidation(res, ['quantity']);
    }
    expectValidation(await post('in', { productId: product.id }), ['quantity']);
    await expectNothingMoved(before);

    const max = await ok<{ movement: Movement; level: Level }>('in', { productId: product.id, quantity: MAX_QUANTITY });
    expectMovement(max.movement, { quantity: MAX_QUANTITY, balanceAfter: MAX_QUANTITY });
  });

  it('reference up to 128 and note up to 500 characters; longer is 400', async () => {
    const product = await createProduct('In-Text');
    const before = await snapshot();
    expectValidation(await post('in', { productId: product.id, quantity: 1, reference: longText(129) }), ['reference']);
    expectValidation(await post('in', { productId: product.id, quantity: 1, note: longText(501) }), ['note']);
    expectValidation(await post('in', { productId: product.id, quantity: 1, reference: 12 }), ['reference']);
    await expectNothingMoved(before);
    const res = await ok<{ movement: Movement }>('in', {
      productId: product.id,
      quantity: 1,
      reference: longText(128),
      note: longText(500),
    });
    expectMovement(res.movement, { reference: longText(128), note: longText(500) });
  });

  it('unknown body fields are 400 VALIDATION_FAILED naming them (no mass assignment), nothing moved', async () => {
    const product = await createProduct('In-Unknown');
    const before = await snapshot();
    for (const [field, value] of [
      ['foo', 'bar'],
      ['id', 1],
      ['balanceAfter', 50],
      ['type', 'OUT'],
      ['actor', { id: 1, username: 'admin' }],
      ['requestId', 'forged'],
      ['reason', 'COUNT'],
    ] as [string, unknown][]) {
      const res = await post('in', { productId: product.id, quantity: 1, [field]: value });
      expect({ field, status: res.status }).toEqual({ field, status: 400 });
      expectValidation(res, [field]);
      const out = await post('out', { productId: product.id, quantity: 1, [field]: value });
      expectValidation(out, [field]);
    }
    await expectNothingMoved(before);
  });
});

// ---------------------------------------------------------------- out

describe('POST /api/stock/out', () => {
  it('answers 201 {movement, level} with a negative quantity and the balance after it', async () => {
    const product = await createProduct('Out-Shape');
    await stockIn(product.id, 10);
    const requestId = `out-shape-${next()}`;
    const res = await post('out', { sku: product.sku, quantity: 4, reference: 'SO-9', note: 'ship' }, { requestId });
    expect(res.status).toBe(201);
    expect(Object.keys(res.body as Json).sort()).toEqual(['level', 'movement']);
    expectMovement(res.body.movement, {
      type: 'OUT',
      productId: product.id,
      sku: product.sku,
      warehouse: 'MAIN',
      quantity: -4,
      balanceAfter: 6,
      reference: 'SO-9',
      note: 'ship',
      reason: null,
      actor: operator,
      requestId,
    });
    expectLevel(res.body.level, { productId: product.id, sku: product.sku, warehouse: 'MAIN', onHand: 6 });
    // everything that is there may go: the level reaches 0
    const rest = await ok<{ movement: Movement; level: Level }>('out', { productId: product.id, quantity: 6 });
    expectMovement(rest.movement, { quantity: -6, balanceAfter: 0 });
    expectLevel(rest.level, { onHand: 0 });
    expect(await onHand(product.id)).toBe(0);
  });

  it('more than on hand: 409 INSUFFICIENT_STOCK with details.lines, and nothing moves', async () => {
    const product = await createProduct('Out-Short');
    const warehouse = await createWarehouse('OUTSHORT');
    await stockIn(product.id, 5);
    const before = await snapshot();

    const res = await post('out', { productId: product.id, quantity: 6 });
    expectError(res, 409, 'INSUFFICIENT_STOCK');
    expect(res.body.details).toEqual({
      lines: [{ productId: product.id, warehouse: 'MAIN', requested: 6, available: 5 }],
    });

    // by sku, in a warehouse that never held it: available 0
    const empty = await post('out', { sku: product.sku, quantity: 1, warehouse });
    expectError(empty, 409, 'INSUFFICIENT_STOCK');
    expect(empty.body.details).toEqual({ lines: [{ productId: product.id, warehouse, requested: 1, available: 0 }] });

    await expectNothingMoved(before);
    expect(await onHand(product.id)).toBe(5);
    expect(await onHand(product.id, warehouse)).toBe(0);
    expect(await movementsOf(product.id)).toHaveLength(1);
  });

  it('quantity rules as for in: 400 and nothing moves; 1 000 000 000 is allowed', async () => {
    const product = await createProduct('Out-Qty');
    await stockIn(product.id, MAX_QUANTITY);
    const before = await snapshot();
    for (const [what, quantity] of BAD_QUANTITIES) {
      const res = await post('out', { productId: product.id, quantity });
      expect({ what, status: res.status }).toEqual({ what, status: 400 });
      expectValidation(res, ['quantity']);
    }
    expectValidation(await post('out', { productId: product.id, quantity: 1, reference: longText(129) }), [
      'reference',
    ]);
    expectValidation(await post('out', { productId: product.id, quantity: 1, note: longText(501) }), ['note']);
    await expectNothingMoved(before);
    const res = await ok<{ movement: Movement; level: Level }>('out', {
      productId: product.id,
      quantity: MAX_QUANTITY,
    });
    expectMovement(res.movement, { quantity: -MAX_QUANTITY, balanceAfter: 0 });
  });
});

// ---------------------------------------------------------------- the upper bound of a level

describe('a level never exceeds 2^53-1', () => {
  it('adjust to 2^53-1 works; one more in is 409 QUANTITY_OUT_OF_RANGE and nothing moves', async () => {
    const product = await createProduct('Max-Level');
    const set = await ok<{ movement: Movement; level: Level }>('adjust', {
      productId: product.id,
      countedQuantity: MAX_LEVEL,
      reason: 'COUNT',
    });
    expectMovement(set.movement, { type: 'ADJUST', quantity: MAX_LEVEL, balanceAfter: MAX_LEVEL });
    expectLevel(set.level, { onHand: MAX_LEVEL });
    expect(await onHand(product.id)).toBe(MAX_LEVEL);

    const before = await snapshot();
    expectError(await post('in', { productId: product.id, quantity: 1 }), 409, 'QUANTITY_OUT_OF_RANGE');
    expectError(await post('in', { productId: product.id, quantity: MAX_QUANTITY }), 409, 'QUANTITY_OUT_OF_RANGE');
    expectError(
      await post('adjust', { productId: product.id, delta: 1, reason: 'FOUND' }),
      409,
      'QUANTITY_OUT_OF_RANGE',
    );
    expectError(
      await post('batch', { type: 'IN', lines: [{ productId: product.id, quantity: 1 }] }),
      409,
      'QUANTITY_OUT_OF_RANGE',
    );
    const source = await createWarehouse('MAXSRC');
    const seeded = await snapshot();
    await stockIn(product.id, 1, source);
    const afterSeed = await snapshot();
    expectError(
      await post('transfer', { productId: product.id, from: source, to: 'MAIN', quantity: 1 }),
      409,
      'QUANTITY_OUT_OF_RANGE',
    );
    await expectNothingMoved(afterSeed);
    expect(seeded).toEqual(before);
    expect(await onHand(product.id)).toBe(MAX_LEVEL);
    expect(await onHand(product.id, source)).toBe(1);

    // countedQuantity above 2^53-1 is not a quantity at all
    expectValidation(await post('adjust', { productId: product.id, countedQuantity: MAX_LEVEL + 1, reason: 'COUNT' }), [
      'countedQuantity',
    ]);

    // one out, then one in: exactly back at the bound
    const down = await ok<{ movement: Movement }>('out', { productId: product.id, quantity: 1 });
    expectMovement(down.movement, { quantity: -1, balanceAfter: MAX_LEVEL - 1 });
    const up = await ok<{ movement: Movement; level: Level }>('in', { productId: product.id, quantity: 1 });
    expectMovement(up.movement, { quantity: 1, balanceAfter: MAX_LEVEL });
    expectLevel(up.level, { onHand: MAX_LEVEL });
  });
});

// ---------------------------------------------------------------- adjust

describe('POST /api/stock/adjust', () => {
  it('countedQuantity sets the level: 201 {movement, level}, an ADJUST of the difference with its reason', async () => {
    const product = await createProduct('Adj-Count');
    await stockIn(product.id, 10);
    const requestId = `adjust-count-${next()}`;
    const res = await post(
      'adjust',
      { productId: product.id, countedQuantity: 4, reason: 'COUNT', note: 'cycle count' },
      { requestId },
    );
    expect(res.status).toBe(201);
    expect(Object.keys(res.body as Json).sort()).toEqual(['level', 'movement']);
    expectMovement(res.body.movement, {
      type: 'ADJUST',
      productId: product.id,
      sku: product.sku,
      warehouse: 'MAIN',
      quantity: -6,
      balanceAfter: 4,
      reference: null,
      note: 'cycle count',
      reason: 'COUNT',
      actor: manager,
      requestId,
    });
    expectLevel(res.body.level, { productId: product.id, sku: product.sku, warehouse: 'MAIN', onHand: 4 });

    const up = await ok<{ movement: Movement; level: Level }>('adjust', {
      sku: product.sku.toLowerCase(),
      countedQuantity: 9,
      reason: 'FOUND',
    });
    expectMovement(up.movement, { type: 'ADJUST', quantity: 5, balanceAfter: 9, reason: 'FOUND', note: null });
    expect(await onHand(product.id)).toBe(9);
  });

  it('delta changes the level by a signed amount', async () => {
    const product = await createProduct('Adj-Delta');
    const warehouse = await createWarehouse('ADJ');
    await stockIn(product.id, 10, warehouse);
    const down = await ok<{ movement: Movement; level: Level }>('adjust', {
      productId: product.id,
      warehouse,
      delta: -3,
      reason: 'DAMAGE',
    });
    expectMovement(down.movement, { type: 'ADJUST', warehouse, quantity: -3, balanceAfter: 7, reason: 'DAMAGE' });
    expectLevel(down.level, { warehouse, onHand: 7 });
    const up = await ok<{ movement: Movement; level: Level }>('adjust', {
      productId: product.id,
      warehouse,
      delta: MAX_QUANTITY,
      reason: 'CORRECTION',
    });
    expectMovement(up.movement, { quantity: MAX_QUANTITY, balanceAfter: MAX_QUANTITY + 7 });
    const back = await ok<{ movement: Movement; level: Level }>('adjust', {
      productId: product.id,
      warehouse,
      delta: -MAX_QUANTITY,
      reason: 'CORRECTION',
    });
    expectMovement(back.movement, { quantity: -MAX_QUANTITY, balanceAfter: 7 });
    expect(await onHand(product.id, warehouse)).toBe(7);
    expect(await onHand(product.id)).toBe(0);
  });

  it('a countedQuantity equal to the level records a movement of quantity 0 (a confirmed count)', async () => {
    const product = await createProduct('Adj-Confirm');
    await stockIn(product.id, 8);
    const before = await snapshot();
    const res = await ok<{ movement: Movement; level: Level }>('adjust', {
      productId: product.id,
      countedQuantity: 8,
      reason: 'COUNT',
    });
    expectMovement(res.movement, { type: 'ADJUST', quantity: 0, balanceAfter: 8, reason: 'COUNT' });
    expectLevel(res.level, { onHand: 8 });
    const after = await snapshot();
    expect(after.movements).toBe(before.movements + 1);
    expect(after.stockAudits).toBe(before.stockAudits + 1);
    expect(after.levels).toEqual(before.levels);
    // the level was touched: it reads back as the answer said, updatedAt included
    const listed = await t.http.get(`/api/stock?productId=${product.id}`).set(bearer(t.tokens.viewer)).expect(200);
    expect(listed.body.items).toEqual([res.level]);
    expect((await movementsOf(product.id))[0]).toEqual(res.movement);

    // a count of 0 on a level that does not exist yet is a confirmed count too
    const fresh = await createProduct('Adj-Confirm-Zero');
    const zero = await ok<{ movement: Movement; level: Level }>('adjust', {
      productId: fresh.id,
      countedQuantity: 0,
      reason: 'COUNT',
    });
    expectMovement(zero.movement, { quantity: 0, balanceAfter: 0 });
    expectLevel(zero.level, { productId: fresh.id, onHand: 0 });
  });

  it('exactly one of countedQuantity or delta; delta non-zero, |delta| <= 1e9; countedQuantity 0..2^53-1', async () => {
    const product = await createProduct('Adj-Rules');
    await stockIn(product.id, 5);
    const before = await snapshot();
    const base = { productId: product.id, reason: 'CORRECTION' };
    expectValidationOneOf(await post('adjust', { ...base, countedQuantity: 3, delta: 1 }), [
      'countedQuantity',
      'delta',
    ]);
    expectValidationOneOf(await post('adjust', { ...base }), ['countedQuantity', 'delta']);
    for (const delta of [0, MAX_QUANTITY + 1, -(MAX_QUANTITY + 1), 1.5, '2', null]) {
      const res = await post('adjust', { ...base, delta });
      expect({ delta, status: res.status }).toEqual({ delta, status: 400 });
      expectValidation(res, ['delta']);
    }
    for (const countedQuantity of [-1, 1.5, '3', MAX_LEVEL + 1, null]) {
      const res = await post('adjust', { ...base, countedQuantity });
      expect({ countedQuantity, status: res.status }).toEqual({ countedQuantity, status: 400 });
      expectValidation(res, ['countedQuantity']);
    }
    expectValidation(await post('adjust', { ...base, delta: 1, note: longText(501) }), ['note']);
    expectValidation(await post('adjust', { ...base, delta: 1, quantity: 1 }), ['quantity']);
    expectValidation(await post('adjust', { ...base, delta: 1, reference: 'R-1' }), ['reference']);
    expectValidationOneOf(
      await post('adjust', { delta: 1, reason: 'COUNT', productId: product.id, sku: product.sku }),
      ['productId', 'sku'],
    );
    await expectNothingMoved(before);
  });

  it('reason is required and one of COUNT, DAMAGE, LOSS, FOUND, CORRECTION, OTHER', async () => {
    const product = await createProduct('Adj-Reason');
    await stockIn(product.id, 100);
    const before = await snapshot();
    expectValidation(await post('adjust', { productId: product.id, delta: -1 }), ['reason']);
    for (const reason of ['THEFT', 'count', '', null, 1]) {
      const res = await post('adjust', { productId: product.id, delta: -1, reason });
      expect({ reason, status: res.status }).toEqual({ reason, status: 400 });
      expectValidation(res, ['reason']);
    }
    await expectNothingMoved(before);
    let level = 100;
    for (const reason of REASONS) {
      const res = await ok<{ movement: Movement }>('adjust', { productId: product.id, delta: -1, reason });
      level -= 1;
      expectMovement(res.movement, { reason, quantity: -1, balanceAfter: level });
    }
    expect(await onHand(product.id)).toBe(level);
  });

  it('a result below 0 is 409 INSUFFICIENT_STOCK and nothing moves', async () => {
    const product = await createProduct('Adj-Negative');
    await stockIn(product.id, 7);
    const before = await snapshot();
    expectError(await post('adjust', { productId: product.id, delta: -8, reason: 'LOSS' }), 409, 'INSUFFICIENT_STOCK');
    const fresh = await createProduct('Adj-Negative-Fresh');
    expectError(await post('adjust', { productId: fresh.id, delta: -1, reason: 'LOSS' }), 409, 'INSUFFICIENT_STOCK');
    await expectNothingMoved(before);
    expect(await onHand(product.id)).toBe(7);
  });

  it('unknown product, SKU or warehouse: 404 NOT_FOUND naming it', async () => {
    const product = await createProduct('Adj-404');
    const before = await snapshot();
    expectNotFound(await post('adjust', { productId: 99999998, delta: 1, reason: 'FOUND' }), 99999998);
    expectNotFound(await post('adjust', { sku: 'NO-SUCH-ADJ', delta: 1, reason: 'FOUND' }), 'NO-SUCH-ADJ');
    expectNotFound(
      await post('adjust', { productId: product.id, warehouse: 'NOWHERE', countedQuantity: 1, reason: 'COUNT' }),
      'NOWHERE',
    );
    await expectNothingMoved(before);
  });

  it('manager and admin may adjust; operator and viewer get 403 FORBIDDEN and nothing moves', async () => {
    const product = await createProduct('Adj-Roles');
    await stockIn(product.id, 10);
    const before = await snapshot();
    for (const role of ['operator', 'viewer', 'monitor'] as const) {
      const res = await post('adjust', { productId: product.id, delta: -1, reason: 'LOSS' }, { token: t.tokens[role] });
      expect({ role, status: res.status }).toEqual({ role, status: 403 });
      expectError(res, 403, 'FORBIDDEN');
    }
    await expectNothingMoved(before);
    const byAdmin = await ok<{ movement: Movement }>(
      'adjust',
      { productId: product.id, delta: -1, reason: 'LOSS' },
      { token: t.tokens.admin },
    );
    expectMovement(byAdmin.movement, { actor: await whoAmI(t.tokens.admin), balanceAfter: 9 });
    const byManager = await ok<{ movement: Movement }>('adjust', { productId: product.id, delta: -1, reason: 'LOSS' });
    expectMovement(byManager.movement, { actor: manager, balanceAfter: 8 });
  });
});

// ---------------------------------------------------------------- transfer

describe('POST /api/stock/transfer', () => {
  it('answers 201 {movements: [out, in], levels: [from, to]}', async () => {
    const product = await createProduct('Xfer-Shape');
    const to = await createWarehouse('XFER');
    await stockIn(product.id, 10);
    const requestId = `transfer-${next()}`;
    const before = await snapshot();
    const res = await post(
      'transfer',
      { productId: product.id, from: 'MAIN', to, quantity: 4, reference: 'T-1' },
      { requestId },
    );
    expect(res.status).toBe(201);
    expect(Object.keys(res.body as Json).sort()).toEqual(['levels', 'movements']);
    expect(res.body.movements).toHaveLength(2);
    expect(res.body.levels).toHaveLength(2);
    const [out, into] = res.body.movements as Movement[];
    const common = {
      productId: product.id,
      sku: product.sku,
      reference: 'T-1',
      note: null,
      reason: null,
      actor: operator,
      requestId,
    };
    expectMovement(out, { ...common, type: 'TRANSFER_OUT', warehouse: 'MAIN', quantity: -4, balanceAfter: 6 });
    expectMovement(into, { ...common, type: 'TRANSFER_IN', warehouse: to, quantity: 4, balanceAfter: 4 });
    expect(into.id).toBeGreaterThan(out.id);
    expect(into.createdAt).toBe(out.createdAt);
    expectLevel(res.body.levels[0], { productId: product.id, sku: product.sku, warehouse: 'MAIN', onHand: 6 });
    expectLevel(res.body.levels[1], { productId: product.id, sku: product.sku, warehouse: to, onHand: 4 });
    const after = await snapshot();
    expect(after.movements).toBe(before.movements + 2);
    expect(after.stockAudits).toBe(before.stockAudits + 1);

    // and back, by sku: the product's total never changes
    const back = await ok<{ movements: Movement[]; levels: Level[] }>('transfer', {
      sku: product.sku.toLowerCase(),
      from: to,
      to: 'MAIN',
      quantity: 4,
    });
    expect(back.movements.map((m) => [m.type, m.warehouse, m.quantity, m.balanceAfter])).toEqual([
      ['TRANSFER_OUT', to, -4, 0],
      ['TRANSFER_IN', 'MAIN', 4, 10],
    ]);
    expect(back.levels.map((l) => [l.warehouse, l.onHand])).toEqual([
      [to, 0],
      ['MAIN', 10],
    ]);
    expect((await getProduct(product.id)).onHand).toBe(10);
  });

  it('from = to, a missing from or to, bad quantities, unknown fields: 400, nothing moved', async () => {
    const product = await createProduct('Xfer-Rules');
    const other = await createWarehouse('XFERR');
    await stockIn(product.id, 10);
    const before = await snapshot();
    const base = { productId: product.id, from: 'MAIN', to: other, quantity: 1 };
    expectValidationOneOf(await post('transfer', { ...base, to: 'MAIN' }), ['from', 'to']);
    expectValidationOneOf(await post('transfer', { ...base, from: other }), ['from', 'to']);
    expectValidation(await post('transfer', { productId: product.id, to: other, quantity: 1 }), ['from']);
    expectValidation(await post('transfer', { productId: product.id, from: 'MAIN', quantity: 1 }), ['to']);
    expectValidation(await post('transfer', { productId: product.id, quantity: 1 }), ['from', 'to']);
    expectValidation(await post('transfer', { ...base, warehouse: 'MAIN' }), ['warehouse']);
    expectValidation(await post('transfer', { ...base, note: 'x' }), ['note']);
    expectValidation(await post('transfer', { ...base, reference: longText(129) }), ['reference']);
    for (const [what, quantity] of BAD_QUANTITIES) {
      const res = await post('transfer', { ...base, quantity });
      expect({ what, status: res.status }).toEqual({ what, status: 400 });
      expectValidation(res, ['quantity']);
    }
    expectValidationOneOf(await post('transfer', { ...base, sku: product.sku }), ['productId', 'sku']);
    expectValidationOneOf(await post('transfer', { from: 'MAIN', to: other, quantity: 1 }), ['productId', 'sku']);
    await expectNothingMoved(before);
  });

  it('unknown product or warehouse: 404 naming it; more than on hand: 409 INSUFFICIENT_STOCK; nothing moved', async () => {
    const product = await createProduct('Xfer-Short');
    const other = await createWarehouse('XFERS');
    await stockIn(product.id, 3);
    const before = await snapshot();
    expectNotFound(await post('transfer', { productId: 99999997, from: 'MAIN', to: other, quantity: 1 }), 99999997);
    expectNotFound(
      await post('transfer', { productId: product.id, from: 'NOWHERE', to: other, quantity: 1 }),
      'NOWHERE',
    );
    expectNotFound(
      await post('transfer', { productId: product.id, from: 'MAIN', to: 'NOWHERE', quantity: 1 }),
      'NOWHERE',
    );

    const short = await post('transfer', { productId: product.id, from: 'MAIN', to: other, quantity: 4 });
    expectError(short, 409, 'INSUFFICIENT_STOCK');
    expect(short.body.details).toEqual({
      lines: [{ productId: product.id, warehouse: 'MAIN', requested: 4, available: 3 }],
    });
    const empty = await post('transfer', { productId: product.id, from: other, to: 'MAIN', quantity: 1 });
    expectError(empty, 409, 'INSUFFICIENT_STOCK');
    await expectNothingMoved(before);
    expect(await onHand(product.id)).toBe(3);
    expect(await onHand(product.id, other)).toBe(0);
  });
});

// ---------------------------------------------------------------- batch

describe('POST /api/stock/batch', () => {
  it('IN answers 201 {movements, levels}, one per line in line order', async () => {
    const a = await createProduct('Batch-A');
    const b = await createProduct('Batch-B');
    const warehouse = await createWarehouse('BATCH');
    const requestId = `batch-in-${next()}`;
    const before = await snapshot();
    const res = await post(
      'batch',
      {
        type: 'IN',
        reference: 'GRN-7',
        lines: [
          { productId: a.id, quantity: 5 },
          { sku: b.sku.toLowerCase(), quantity: 2, warehouse },
          { productId: a.id, quantity: 1 },
        ],
      },
      { requestId },
    );
    expect(res.status).toBe(201);
    expect(Object.keys(res.body as Json).sort()).toEqual(['levels', 'movements']);
    const movements = res.body.movements as Movement[];
    expect(movements).toHaveLength(3);
    const common = { type: 'IN' as const, reference: 'GRN-7', reason: null, actor: operator, requestId };
    expectMovement(movements[0], {
      ...common,
      productId: a.id,
      sku: a.sku,
      warehouse: 'MAIN',
      quantity: 5,
      balanceAfter: 5,
    });
    expectMovement(movements[1], { ...common, productId: b.id, sku: b.sku, warehouse, quantity: 2, balanceAfter: 2 });
    expectMovement(movements[2], {
      ...common,
      productId: a.id,
      sku: a.sku,
      warehouse: 'MAIN',
      quantity: 1,
      balanceAfter: 6,
    });
    expect(new Set(movements.map((m) => m.id)).size).toBe(3);
    const levels = res.body.levels as Level[];
    expect(levels).toHaveLength(3);
    for (const level of levels) expectLevel(level);
    expect(levels.map((l) => [l.productId, l.warehouse])).toEqual([
      [a.id, 'MAIN'],
      [b.id, warehouse],
      [a.id, 'MAIN'],
    ]);
    expect(levels[1].onHand).toBe(2);
    expect(levels[2].onHand).toBe(6);
    const after = await snapshot();
    expect(after.movements).toBe(before.movements + 3);
    expect(after.stockAudits).toBe(before.stockAudits + 1);
    expect(await onHand(a.id)).toBe(6);
    expect(await onHand(b.id, warehouse)).toBe(2);
  });

  it('OUT takes every line; lines on one level add up (5 on hand: 3 + 2 works)', async () => {
    const a = await createProduct('Batch-Out-A');
    const b = await createProduct('Batch-Out-B');
    await stockIn(a.id, 5);
    await stockIn(b.id, 4);
    const res = await ok<{ movements: Movement[]; levels: Level[] }>('batch', {
      type: 'OUT',
      lines: [
        { productId: a.id, quantity: 3 },
        { productId: b.id, quantity: 4 },
        { sku: a.sku, quantity: 2 },
      ],
    });
    expect(res.movements.map((m) => [m.type, m.productId, m.quantity, m.balanceAfter, m.reference])).toEqual([
      ['OUT', a.id, -3, 2, null],
      ['OUT', b.id, -4, 0, null],
      ['OUT', a.id, -2, 0, null],
    ]);
    expect(await onHand(a.id)).toBe(0);
    expect(await onHand(b.id)).toBe(0);
  });

  it('all or nothing: one short line is 409 listing every short line, and nothing moves', async () => {
    const a = await createProduct('Batch-Short-A');
    const b = await createProduct('Batch-Short-B');
    const c = await createProduct('Batch-Short-C');
    const warehouse = await createWarehouse('BSHORT');
    await stockIn(a.id, 2);
    await stockIn(b.id, 10);
    await stockIn(c.id, 1, warehouse);
    const before = await snapshot();
    const res = await post('batch', {
      type: 'OUT',
      lines: [
        { productId: a.id, quantity: 3 },
        { productId: b.id, quantity: 4 },
        { sku: c.sku, quantity: 5, warehouse },
      ],
    });
    expectError(res, 409, 'INSUFFICIENT_STOCK');
    const lines = res.body.details?.lines as Json[];
    expect(lines).toHaveLength(2);
    expect(lines).toEqual(
      expect.arrayContaining([
        { productId: a.id, warehouse: 'MAIN', requested: 3, available: 2 },
        { productId: c.id, warehouse, requested: 5, available: 1 },
      ]),
    );
    // just one short line among good ones: still nothing moves
    const one = await post('batch', {
      type: 'OUT',
      lines: [
        { productId: b.id, quantity: 1 },
        { productId: a.id, quantity: 3 },
      ],
    });
    expectError(one, 409, 'INSUFFICIENT_STOCK');
    expect(one.body.details).toEqual({ lines: [{ productId: a.id, warehouse: 'MAIN', requested: 3, available: 2 }] });
    await expectNothingMoved(before);
    expect(await onHand(b.id)).toBe(10);
  });

  it('lines naming the same product and warehouse are checked against their sum (5 on hand: 3 + 3 is 409)', async () => {
    const product = await createProduct('Batch-Sum');
    await stockIn(product.id, 5);
    const before = await snapshot();
    const res = await post('batch', {
      type: 'OUT',
      lines: [
        { productId: product.id, quantity: 3 },
        { sku: product.sku.toUpperCase(), quantity: 3, warehouse: 'MAIN' },
      ],
    });
    expectError(res, 409, 'INSUFFICIENT_STOCK');
    expect(res.body.details).toEqual({
      lines: [{ productId: product.id, warehouse: 'MAIN', requested: 6, available: 5 }],
    });
    await expectNothingMoved(before);
    expect(await onHand(product.id)).toBe(5);
  });

  it('1..100 lines: 0 and 101 are 400, 100 works', async () => {
    const product = await createProduct('Batch-Size');
    const before = await snapshot();
    expectValidation(await post('batch', { type: 'IN', lines: [] }), ['lines']);
    const line = { productId: product.id, quantity: 1 };
    expectValidation(await post('batch', { type: 'IN', lines: Array.from({ length: 101 }, () => line) }), ['lines']);
    expectValidation(await post('batch', { type: 'IN' }), ['lines']);
    expectValidation(await post('batch', { type: 'IN', lines: line }), ['lines']);
    await expectNothingMoved(before);
    const res = await ok<{ movements: Movement[]; levels: Level[] }>('batch', {
      type: 'IN',
      lines: Array.from({ length: 100 }, () => line),
    });
    expect(res.movements).toHaveLength(100);
    expect(res.levels).toHaveLength(100);
    expect(res.movements.map((m) => m.balanceAfter)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    expect(await onHand(product.id)).toBe(100);
  });

  it('the largest batch (100 lines, longest reference in 3-byte characters, longest request id) is recorded whole', async () => {
    const product = await createProduct('Batch-Big');
    const body = {
      type: 'IN',
      lines: Array.from({ length: 100 }, () => ({ productId: product.id, quantity: 1 })),
      reference: '€'.repeat(128),
    };
    const key = `big-${next()}`;
    const requestId = `big-${next()}-`.padEnd(128, 'x');
    const first = await post('batch', body, { key, requestId });
    expect(first.status).toBe(201);
    const movements = first.body.movements as Movement[];
    expect(movements).toHaveLength(100);
    expect(movements).toEqual(Array(100).fill(expect.objectContaining({ reference: body.reference, requestId })));
    // the audit entry (over 64 KB of JSON: past MySQL's TEXT) holds every movement, ids included
    const audit = await t.http
      .get(`/api/audit-logs?action=stock.batch&entityType=movement&entityId=${movements[0].id}`)
      .set(bearer(t.tokens.admin));
    expect(audit.status).toBe(200);
    expect(audit.body.items).toHaveLength(1);
    expect(audit.body.items[0].after).toEqual({ movements });
    // and the stored answer replays whole
    const again = await post('batch', body, { key, requestId });
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.body).toEqual(first.body);
    expect(await onHand(product.id)).toBe(100);
  });

  it('a bad line is 400 naming its field path (lines.<i>.<field>); a bad type is 400; nothing moves', async () => {
    const product = await createProduct('Batch-Bad');
    const good = { productId: product.id, quantity: 1 };
    const before = await snapshot();
    expectValidation(await post('batch', { type: 'IN', lines: [{ productId: product.id, quantity: 0 }] }), [
      'lines.0.quantity',
    ]);
    expectValidation(await post('batch', { type: 'IN', lines: [good, { productId: product.id, quantity: 1.5 }] }), [
      'lines.1.quantity',
    ]);
    expectValidation(await post('batch', { type: 'IN', lines: [good, good, { productId: product.id }] }), [
      'lines.2.quantity',
    ]);
    expectValidation(await post('batch', { type: 'IN', lines: [good, { ...good, foo: 1 }] }), ['lines.1.foo']);
    expectValidation(await post('batch', { type: 'IN', lines: [good, { ...good, reference: 'x' }] }), [
      'lines.1.reference',
    ]);
    expectValidationOneOf(await post('batch', { type: 'IN', lines: [good, { quantity: 1 }] }), [
      'lines.1.productId',
      'lines.1.sku',
    ]);
    expectValidationOneOf(await post('batch', { type: 'IN', lines: [{ ...good, sku: product.sku }] }), [
      'lines.0.productId',
      'lines.0.sku',
    ]);
    for (const type of ['ADJUST', 'in', 'TRANSFER_IN', null]) {
      const res = await post('batch', { type, lines: [good] });
      expect({ type, status: res.status }).toEqual({ type, status: 400 });
      expectValidation(res, ['type']);
    }
    expectValidation(await post('batch', { lines: [good] }), ['type']);
    expectValidation(await post('batch', { type: 'IN', lines: [good], reference: longText(129) }), ['reference']);
    expectValidation(await post('batch', { type: 'IN', lines: [good], note: 'x' }), ['note']);
    await expectNothingMoved(before);
  });

  it('an unknown product or warehouse on any line: 404 naming it, nothing moves', async () => {
    const product = await createProduct('Batch-404');
    const good = { productId: product.id, quantity: 1 };
    const before = await snapshot();
    expectNotFound(await post('batch', { type: 'IN', lines: [good, { productId: 99999996, quantity: 1 }] }), 99999996);
    expectNotFound(
      await post('batch', { type: 'IN', lines: [good, { sku: 'NO-SUCH-LINE', quantity: 1 }] }),
      'NO-SUCH-LINE',
    );
    expectNotFound(await post('batch', { type: 'OUT', lines: [{ ...good, warehouse: 'NOWHERE' }] }), 'NOWHERE');
    await expectNothingMoved(before);
  });
});

// ---------------------------------------------------------------- who may write

describe('stock writes by role', () => {
  it('viewer and monitor get 403 on in, out, transfer and batch; no token 401; nothing moves', async () => {
    const product = await createProduct('Roles');
    await stockIn(product.id, 5);
    const other = await createWarehouse('ROLES');
    const bodies: [StockRoute, Json][] = [
      ['in', { productId: product.id, quantity: 1 }],
      ['out', { productId: product.id, quantity: 1 }],
      ['transfer', { productId: product.id, from: 'MAIN', to: other, quantity: 1 }],
      ['batch', { type: 'IN', lines: [{ productId: product.id, quantity: 1 }] }],
      ['adjust', { productId: product.id, delta: 1, reason: 'FOUND' }],
    ];
    const before = await snapshot();
    for (const [route, body] of bodies) {
      for (const role of ['viewer', 'monitor'] as const) {
        const res = await post(route, body, { token: t.tokens[role] });
        expect({ route, role, status: res.status }).toEqual({ route, role, status: 403 });
        expectError(res, 403, 'FORBIDDEN');
      }
      expectError(await t.http.post(`/api/stock/${route}`).send(body), 401, 'UNAUTHORIZED');
    }
    await expectNothingMoved(before);
    for (const [route, body] of bodies.slice(0, 4)) {
      for (const role of ['operator', 'manager', 'admin'] as const) {
        const res = await post(route, body, { token: t.tokens[role] });
        expect({ route, role, status: res.status }).toEqual({ route, role, status: 201 });
      }
    }
  });
});

// ---------------------------------------------------------------- GET /api/stock

describe('GET /api/stock', () => {
  it('lists levels, filtered by productId, sku (any case) and warehouse', async () => {
    const product = await createProduct('Levels');
    const other = await createProduct('Levels-Other');
    const w1 = await createWarehouse('LVA');
    const w2 = await createWarehouse('LVB');
    await stockIn(product.id, 1);
    await stockIn(product.id, 2, w1);
    const last = await stockIn(product.id, 3, w2);
    await stockIn(other.id, 4, w1);

    const byId = await t.http.get(`/api/stock?productId=${product.id}`).set(bearer(t.tokens.viewer));
    expect(byId.status).toBe(200);
    expect(Object.keys(byId.body as Json).sort()).toEqual(['items', 'nextCursor']);
    expect(byId.body.nextCursor).toBeNull();
    const items = byId.body.items as Level[];
    for (const level of items) expectLevel(level, { productId: product.id, sku: product.sku });
    expect(items.map((l) => [l.warehouse, l.onHand]).sort()).toEqual(
      [
        ['MAIN', 1],
        [w1, 2],
        [w2, 3],
      ].sort(),
    );
    expect(items.find((l) => l.warehouse === w2)).toEqual(last.level);

    const bySku = await t.http.get(`/api/stock?sku=${product.sku.toLowerCase()}`).set(bearer(t.tokens.viewer));
    expect(bySku.status).toBe(200);
    expect(bySku.body.items).toEqual(items);

    const byWarehouse = await t.http.get(`/api/stock?warehouse=${w1}&limit=200`).set(bearer(t.tokens.viewer));
    expect(byWarehouse.status).toBe(200);
    expect((byWarehouse.body.items as Level[]).map((l) => [l.productId, l.onHand]).sort()).toEqual(
      [
        [product.id, 2],
        [other.id, 4],
      ].sort(),
    );

    const both = await t.http.get(`/api/stock?sku=${product.sku}&warehouse=${w2}`).set(bearer(t.tokens.viewer));
    expect(both.body.items).toEqual([last.level]);
  });

  it('unknown sku, productId or warehouse in the filter: 404 NOT_FOUND naming it', async () => {
    const get = (q: string) => t.http.get(`/api/stock?${q}`).set(bearer(t.tokens.viewer));
    expectNotFound(await get('sku=NO-SUCH-FILTER'), 'NO-SUCH-FILTER');
    expectNotFound(await get('productId=99999995'), 99999995);
    expectNotFound(await get('warehouse=NOWHERE'), 'NOWHERE');
  });

  it('pages with limit and cursor: every level once, none missing', async () => {
    for (let i = 0; i < 3; i++) await stockIn((await createProduct('Levels-Page')).id, i + 1);
    const rows = await query<{ product_id: number; warehouse_id: number }>(
      'SELECT l.product_id, l.warehouse_id FROM stock_levels l JOIN products p ON p.id = l.product_id WHERE p.archived_at IS NULL',
    );
    const { items, pages } = await walk<Level>('/api/stock', 3);
    expect(pages).toBeGreaterThan(2);
    const keys = items.map((l) => `${l.productId}@${l.warehouse}`);
    expect(new Set(keys).size).toBe(keys.length);
    expect(items).toHaveLength(rows.length);
    const all = await t.http.get('/api/stock?limit=200').set(bearer(t.tokens.viewer)).expect(200);
    expect(all.body.items).toEqual(items);
    const first = await t.http.get('/api/stock').set(bearer(t.tokens.viewer)).expect(200);
    expect(first.body.items).toHaveLength(Math.min(50, rows.length));
  });

  it('limit outside 1..200 or a bad cursor: 400; viewer may read, monitor may not', async () => {
    for (const limit of ['0', '201', '-1', 'abc', '1.5']) {
      const res = await t.http.get(`/api/stock?limit=${limit}`).set(bearer(t.tokens.viewer));
      expect({ limit, status: res.status }).toEqual({ limit, status: 400 });
      expectValidation(res, ['limit']);
    }
    expectValidation(await t.http.get('/api/stock?cursor=garbage!').set(bearer(t.tokens.viewer)), ['cursor']);
    expectError(await t.http.get('/api/stock').set(bearer(t.tokens.monitor)), 403, 'FORBIDDEN');
    expectError(await t.http.get('/api/stock/movements').set(bearer(t.tokens.monitor)), 403, 'FORBIDDEN');
    expectError(await t.http.get('/api/stock'), 401, 'UNAUTHORIZED');
  });
});

// ---------------------------------------------------------------- GET /api/stock/movements

describe('GET /api/stock/movements', () => {
  it('newest first, with every field, equal to what the writes answered', async () => {
    const product = await createProduct('Mv-Order');
    const w = await createWarehouse('MVO');
    const answered: Movement[] = [];
    answered.push((await stockIn(product.id, 5)).movement);
    answered.push((await ok<{ movement: Movement }>('out', { productId: product.id, quantity: 2 })).movement);
    answered.push(
      ...(await ok<{ movements: Movement[] }>('transfer', { productId: product.id, from: 'MAIN', to: w, quantity: 1 }))
        .movements,
    );
    answered.push(
      (await ok<{ movement: Movement }>('adjust', { productId: product.id, countedQuantity: 7, reason: 'COUNT' }))
        .movement,
    );
    const listed = await movementsOf(product.id);
    for (const m of listed) expectMovement(m, { productId: product.id });
    expect(listed).toEqual([...answered].reverse());
    const ids = listed.map((m) => m.id);
    expect(ids).toEqual([...ids].sort((a, b) => b - a));

    // newest first over everything too
    const all = await t.http.get('/api/stock/movements?limit=200').set(bearer(t.tokens.viewer)).expect(200);
    const allIds = (all.body.items as Movement[]).map((m) => m.id);
    expect(allIds).toEqual([...allIds].sort((a, b) => b - a));
    expect(allIds[0]).toBe(answered[answered.length - 1].id);
  });

  it('filters by productId, sku, warehouse and type', async () => {
    const a = await createProduct('Mv-Filter-A');
    const b = await createProduct('Mv-Filter-B');
    const w = await createWarehouse('MVF');
    await stockIn(a.id, 5);
    await stockIn(a.id, 5, w);
    await stockIn(b.id, 5, w);
    await ok('out', { productId: a.id, quantity: 1, warehouse: w });
    await ok('transfer', { productId: b.id, from: w, to: 'MAIN', quantity: 2 });
    await ok('adjust', { productId: a.id, delta: 1, reason: 'FOUND' });

    const get = async (q: string) => {
      const res = await t.http.get(`/api/stock/movements?limit=200&${q}`).set(bearer(t.tokens.viewer));
      expect(res.status).toBe(200);
      return (res.body as Page<Movement>).items;
    };
    const ofA = await get(`productId=${a.id}`);
    expect(ofA.map((m) => [m.type, m.warehouse, m.quantity])).toEqual([
      ['ADJUST', 'MAIN', 1],
      ['OUT', w, -1],
      ['IN', w, 5],
      ['IN', 'MAIN', 5],
    ]);
    expect(await get(`sku=${a.sku.toLowerCase()}`)).toEqual(ofA);
    const inW = await get(`warehouse=${w}`);
    expect(inW.map((m) => [m.productId, m.type])).toEqual([
      [b.id, 'TRANSFER_OUT'],
      [a.id, 'OUT'],
      [b.id, 'IN'],
      [a.id, 'IN'],
    ]);
    expect((await get(`productId=${a.id}&warehouse=MAIN`)).map((m) => m.type)).toEqual(['ADJUST', 'IN']);
    expect((await get(`productId=${b.id}&type=TRANSFER_IN`)).map((m) => [m.warehouse, m.quantity])).toEqual([
      ['MAIN', 2],
    ]);
    expect((await get(`sku=${a.sku}&type=IN`)).map((m) => m.warehouse)).toEqual([w, 'MAIN']);
    for (const type of MOVEMENT_TYPES) {
      const items = await get(`type=${type}`);
      expect(items.length).toBeGreaterThan(0);
      expect(items.every((m) => m.type === type)).toBe(true);
    }
    for (const bad of ['type=SOLD', 'type=in', 'from=yesterday', 'to=2024-13-45T00:00:00.000Z', 'productId=abc']) {
      const res = await t.http.get(`/api/stock/movements?${bad}`).set(bearer(t.tokens.viewer));
      expect({ bad, status: res.status }).toEqual({ bad, status: 400 });
      expectError(res, 400, 'VALIDATION_FAILED');
    }
    expectNotFound(await t.http.get('/api/stock/movements?sku=NO-SUCH-MV').set(bearer(t.tokens.viewer)), 'NO-SUCH-MV');
  });

  it('from and to are ISO times, both inclusive', async () => {
    const product = await createProduct('Mv-Time');
    for (let i = 1; i <= 6; i++) {
      await stockIn(product.id, i);
      // distinct milliseconds make the bounds meaningful (ordering only, no durations asserted)
      const start = Date.now();
      while (Date.now() === start) await new Promise((resolve) => setImmediate(resolve));
    }
    const all = await movementsOf(product.id);
    expect(all).toHaveLength(6);
    const times = all.map((m) => m.createdAt);
    const get = async (q: string) => {
      const res = await t.http
        .get(`/api/stock/movements?productId=${product.id}&limit=200&${q}`)
        .set(bearer(t.tokens.viewer));
      expect(res.status).toBe(200);
      return (res.body as Page<Movement>).items.map((m) => m.id);
    };
    const expected = (from?: string, to?: string) =>
      all
        .filter((m) => (from === undefined || m.createdAt >= from) && (to === undefined || m.createdAt <= to))
        .map((m) => m.id);

    const [newest, , mid, , , oldest] = times;
    expect(await get(`from=${oldest}`)).toEqual(all.map((m) => m.id));
    expect(await get(`to=${newest}`)).toEqual(all.map((m) => m.id));
    expect(await get(`from=${mid}`)).toEqual(expected(mid));
    expect(await get(`to=${mid}`)).toEqual(expected(undefined, mid));
    expect(await get(`from=${mid}&to=${mid}`)).toEqual(expected(mid, mid));
    expect(await get(`from=${mid}&to=${mid}`)).toContain(all[2].id);
    expect(await get(`from=${oldest}&to=${newest}`)).toEqual(all.map((m) => m.id));
    const after = new Date(new Date(newest).getTime() + 1).toISOString();
    const before = new Date(new Date(oldest).getTime() - 1).toISOString();
    expect(await get(`from=${after}`)).toEqual([]);
    expect(await get(`to=${before}`)).toEqual([]);
    expect(await get(`from=${before}&to=${after}`)).toEqual(all.map((m) => m.id));
    // a time with an offset is the same instant
    const offset = new Date(new Date(mid).getTime() + 2 * 3600_000).toISOString().replace('Z', '+02:00');
    expect(await get(`from=${encodeURIComponent(offset)}&to=${encodeURIComponent(offset)}`)).toEqual(
      expected(mid, mid),
    );
  });

  it('keyset pagination: a walk sees every movement once, in order, even with inserts between pages', async () => {
    const product = await createProduct('Mv-Page');
    for (let i = 1; i <= 7; i++) await stockIn(product.id, i);
    const all = (await movementsOf(product.id)).map((m) => m.id);
    expect(all).toHaveLength(7);

    const path = `/api/stock/movements?productId=${product.id}`;
    const first = await t.http.get(`${path}&limit=3`).set(bearer(t.tokens.viewer)).expect(200);
    expect((first.body.items as Movement[]).map((m) => m.id)).toEqual(all.slice(0, 3));
    expect(typeof first.body.nextCursor).toBe('string');
    // a newer movement lands between pages: the walk goes on where it was
    const inserted = (await stockIn(product.id, 100)).movement.id;
    const seen = (first.body.items as Movement[]).map((m) => m.id);
    let cursor = first.body.nextCursor as string | null;
    while (cursor !== null) {
      const res = await t.http
        .get(`${path}&limit=3&cursor=${encodeURIComponent(cursor)}`)
        .set(bearer(t.tokens.viewer))
        .expect(200);
      seen.push(...(res.body.items as Movement[]).map((m) => m.id));
      cursor = res.body.nextCursor as string | null;
    }
    expect(seen).toEqual(all);
    expect(seen).not.toContain(inserted);

    // every movement of the database, one by seven pages
    const [count] = await query<{ n: number | string }>('SELECT COUNT(*) AS n FROM stock_movements');
    const { items } = await walk<Movement>('/api/stock/movements', 7);
    const ids = items.map((m) => m.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toHaveLength(Number(count.n));
    expect(ids).toEqual([...ids].sort((a, b) => b - a));

    for (const limit of ['0', '201', 'x']) {
      expectValidation(await t.http.get(`/api/stock/movements?limit=${limit}`).set(bearer(t.tokens.viewer)), ['limit']);
    }
    expectValidation(await t.http.get('/api/stock/movements?cursor=%25%25').set(bearer(t.tokens.viewer)), ['cursor']);
  });
});

// ---------------------------------------------------------------- products follow stock

describe('product onHand and lowStock follow real stock', () => {
  it('onHand sums the warehouses; lowStock keeps onHand <= reorderPoint', async () => {
    const product = await createProduct('Low', 5);
    const w = await createWarehouse('LOW');
    const isLow = async () => {
      const res = await t.http.get(`/api/products?lowStock=true&sku=${product.sku}`).set(bearer(t.tokens.viewer));
      expect(res.status).toBe(200);
      const ids = (res.body.items as Product[]).map((p) => p.id);
      const high = await t.http.get(`/api/products?lowStock=false&sku=${product.sku}`).set(bearer(t.tokens.viewer));
      expect(high.status).toBe(200);
      expect((high.body.items as Product[]).map((p) => p.id)).toEqual(ids.length ? [] : [product.id]);
      return ids.includes(product.id);
    };
    const listed = async () => {
      const res = await t.http.get(`/api/products?sku=${product.sku}`).set(bearer(t.tokens.viewer)).expect(200);
      return (res.body.items as Product[])[0].onHand;
    };

    expect(await isLow()).toBe(true);
    await stockIn(product.id, 6);
    expect((await getProduct(product.id)).onHand).toBe(6);
    expect(await listed()).toBe(6);
    expect(await isLow()).toBe(false);

    await ok('out', { productId: product.id, quantity: 1 });
    expect(await listed()).toBe(5);
    expect(await isLow()).toBe(true); // 5 <= 5

    await stockIn(product.id, 2, w);
    const detail = await getProduct(product.id);
    expect(detail.onHand).toBe(7);
    expect(detail.stock).toEqual(
      expect.arrayContaining([
        { warehouse: 'MAIN', onHand: 5 },
        { warehouse: w, onHand: 2 },
      ]),
    );
    expect(await isLow()).toBe(false);

    await ok('transfer', { productId: product.id, from: w, to: 'MAIN', quantity: 2 });
    expect(await listed()).toBe(7);
    expect(await isLow()).toBe(false);
    await ok('adjust', { productId: product.id, countedQuantity: 2, reason: 'LOSS' });
    expect(await listed()).toBe(2);
    expect(await isLow()).toBe(true);
    await ok('batch', { type: 'OUT', lines: [{ productId: product.id, quantity: 2 }] });
    expect(await listed()).toBe(0);

    // a refused write changes nothing the products show
    expectError(await post('out', { productId: product.id, quantity: 1 }), 409, 'INSUFFICIENT_STOCK');
    expect((await getProduct(product.id)).onHand).toBe(0);
  });
});

// ---------------------------------------------------------------- audit

describe('audit of stock writes', () => {
  it('each write adds one entry: stock.<route>, entityType movement, entityId its first movement, after listing them', async () => {
    const product = await createProduct('Audit');
    const w = await createWarehouse('AUD');
    const writes: [StockRoute, Json, string][] = [
      ['in', { productId: product.id, quantity: 10 }, 'stock.in'],
      ['out', { productId: product.id, quantity: 1 }, 'stock.out'],
      ['adjust', { productId: product.id, delta: -1, reason: 'DAMAGE' }, 'stock.adjust'],
      ['transfer', { productId: product.id, from: 'MAIN', to: w, quantity: 3 }, 'stock.transfer'],
      [
        'batch',
        {
          type: 'IN',
          lines: [
            { productId: product.id, quantity: 1 },
            { productId: product.id, quantity: 2, warehouse: w },
          ],
        },
        'stock.batch',
      ],
    ];
    for (const [route, body, action] of writes) {
      const before = await snapshot();
      const res = await post(route, body);
      expect({ route, status: res.status }).toEqual({ route, status: 201 });
      const movements: Movement[] = res.body.movements ?? [res.body.movement];
      const after = await snapshot();
      expect({ route, audits: after.stockAudits }).toEqual({ route, audits: before.stockAudits + 1 });

      const rows = await auditFor(movements[0].id);
      expect({ route, rows: rows.length }).toEqual({ route, rows: 1 });
      const [row] = rows;
      expect(row).toEqual(
        expect.objectContaining({
          action,
          entity_type: 'movement',
          entity_id: String(movements[0].id),
          actor_username: route === 'adjust' ? manager.username : operator.username,
          request_id: res.headers['x-request-id'],
        }),
      );
      expect(Number(row.actor_id)).toBe(route === 'adjust' ? manager.id : operator.id);
      expect(auditedMovementIds(row.after)).toEqual(movements.map((m) => m.id));
    }
  });

  it('the entries of stock writes are readable through GET /api/audit-logs', async () => {
    const product = await createProduct('Audit-Api');
    const res = await post('in', { productId: product.id, quantity: 1 });
    expect(res.status).toBe(201);
    const id = String(res.body.movement.id);
    const api = await t.http
      .get(`/api/audit-logs?entityType=movement&entityId=${id}&action=stock.in`)
      .set(bearer(t.tokens.manager));
    expect(api.status).toBe(200);
    expect(api.body.items).toHaveLength(1);
    expect(api.body.items[0]).toEqual(
      expect.objectContaining({
        action: 'stock.in',
        entityType: 'movement',
        entityId: id,
        actor: { id: operator.id, username: operator.username, role: 'operator' },
        requestId: res.headers['x-request-id'],
      }),
    );
  });

  it('refused writes leave no audit entry', async () => {
    const product = await createProduct('Audit-Refused');
    const before = await snapshot();
    expectError(await post('out', { productId: product.id, quantity: 1 }), 409, 'INSUFFICIENT_STOCK');
    expectError(await post('in', { productId: 99999994, quantity: 1 }), 404, 'NOT_FOUND');
    expectError(await post('in', { productId: product.id, quantity: 0 }), 400, 'VALIDATION_FAILED');
    expectError(
      await post('adjust', { productId: product.id, delta: 1, reason: 'FOUND' }, { token: t.tokens.operator }),
      403,
      'FORBIDDEN',
    );
    await expectNothingMoved(before);
  });
});

// ---------------------------------------------------------------- idempotency

describe('Idempotency-Key', () => {
  /** A key nobody used yet. */
  const newKey = () => `key-${next()}-${Math.random().toString(36).slice(2)}`;

  /** The replay of a first answer: same status and body, Idempotent-Replayed: true, nothing moved. */
  async function expectReplay(first: Response, route: StockRoute, body: unknown, key: string, token?: string) {
    const before = await snapshot();
    const again = await post(route, body, { key, token });
    expect({ route, status: again.status }).toEqual({ route, status: first.status });
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.body).toEqual(first.body);
    expect(again.headers['content-type']).toMatch(/^application\/json/);
    expect(typeof again.headers['x-request-id']).toBe('string');
    await expectNothingMoved(before);
    return again;
  }

  it('every stock POST: the same key, user, route and body replays the first 201 and moves nothing again', async () => {
    const product = await createProduct('Idem-201');
    const w = await createWarehouse('IDEM');
    await stockIn(product.id, 50);
    const cases: [StockRoute, Json][] = [
      ['in', { productId: product.id, quantity: 3, reference: 'R' }],
      ['out', { sku: product.sku, quantity: 2 }],
      ['adjust', { productId: product.id, delta: -1, reason: 'LOSS' }],
      ['transfer', { productId: product.id, from: 'MAIN', to: w, quantity: 4 }],
      [
        'batch',
        {
          type: 'OUT',
          lines: [
            { productId: product.id, quantity: 1 },
            { productId: product.id, quantity: 1 },
          ],
        },
      ],
    ];
    for (const [route, body] of cases) {
      const key = newKey();
      const before = await snapshot();
      const first = await post(route, body, { key });
      expect({ route, status: first.status }).toEqual({ route, status: 201 });
      expect(first.headers['idempotent-replayed']).toBeUndefined();
      const moved = await snapshot();
      expect(moved.movements).toBeGreaterThan(before.movements);
      const levelAfterFirst = await onHand(product.id);
      await expectReplay(first, route, body, key);
      await expectReplay(first, route, body, key);
      expect(await onHand(product.id)).toBe(levelAfterFirst);
    }
    expect(await onHand(product.id)).toBe(50 + 3 - 2 - 1 - 4 - 2);
    expect(await onHand(product.id, w)).toBe(4);
  });

  it('a first 409 is kept too: replayed even once there is enough stock, and nothing moves', async () => {
    const product = await createProduct('Idem-409');
    const w = await createWarehouse('IDEM409');
    await stockIn(product.id, 1);
    const cases: [StockRoute, Json][] = [
      ['out', { productId: product.id, quantity: 5 }],
      ['adjust', { productId: product.id, delta: -5, reason: 'LOSS' }],
      ['transfer', { productId: product.id, from: 'MAIN', to: w, quantity: 5 }],
      ['batch', { type: 'OUT', lines: [{ productId: product.id, quantity: 5 }] }],
    ];
    const firsts: [StockRoute, Json, string, Response][] = [];
    for (const [route, body] of cases) {
      const key = newKey();
      const before = await snapshot();
      const first = await post(route, body, { key });
      expectError(first, 409, 'INSUFFICIENT_STOCK');
      await expectNothingMoved(before);
      await expectReplay(first, route, body, key);
      firsts.push([route, body, key, first]);
    }
    // now there is enough: the key still answers the first 409, and still nothing moves
    await stockIn(product.id, 100);
    for (const [route, body, key, first] of firsts) {
      const again = await expectReplay(first, route, body, key);
      expect(again.body.code).toBe('INSUFFICIENT_STOCK');
    }
    expect(await onHand(product.id)).toBe(101);

    // in: a first 409 QUANTITY_OUT_OF_RANGE likewise
    const full = await createProduct('Idem-409-Max');
    await ok('adjust', { productId: full.id, countedQuantity: MAX_LEVEL, reason: 'COUNT' });
    const key = newKey();
    const first = await post('in', { productId: full.id, quantity: 1 }, { key });
    expectError(first, 409, 'QUANTITY_OUT_OF_RANGE');
    await ok('out', { productId: full.id, quantity: 10 });
    await expectReplay(first, 'in', { productId: full.id, quantity: 1 }, key);
    expect(await onHand(full.id)).toBe(MAX_LEVEL - 10);
  });

  it('a first 404 is kept: replayed even once the warehouse exists', async () => {
    const product = await createProduct('Idem-404');
    const code = `LATE_${next()}`;
    const body = { productId: product.id, quantity: 2, warehouse: code };
    const key = newKey();
    const first = await post('in', body, { key });
    expectNotFound(first, code);
    await t.http.post('/api/warehouses').set(bearer(t.tokens.manager)).send({ code, name: 'Late' }).expect(201);
    await expectReplay(first, 'in', body, key);
    expect(await onHand(product.id, code)).toBe(0);
    // without the key the same body now works
    await ok('in', body);
    expect(await onHand(product.id, code)).toBe(2);
  });

  it('the same key with another body: 422 IDEMPOTENCY_KEY_REUSED, nothing moves', async () => {
    const product = await createProduct('Idem-422');
    const w = await createWarehouse('IDEM422');
    await stockIn(product.id, 20);
    const cases: [StockRoute, Json, Json][] = [
      ['in', { productId: product.id, quantity: 1 }, { productId: product.id, quantity: 2 }],
      ['out', { productId: product.id, quantity: 1 }, { productId: product.id, quantity: 1, note: 'other' }],
      [
        'adjust',
        { productId: product.id, delta: 1, reason: 'FOUND' },
        { productId: product.id, delta: 1, reason: 'OTHER' },
      ],
      [
        'transfer',
        { productId: product.id, from: 'MAIN', to: w, quantity: 1 },
        { productId: product.id, from: 'MAIN', to: w, quantity: 2 },
      ],
      [
        'batch',
        { type: 'IN', lines: [{ productId: product.id, quantity: 1 }] },
        {
          type: 'IN',
          lines: [
            { productId: product.id, quantity: 1 },
            { productId: product.id, quantity: 1 },
          ],
        },
      ],
      // a first 409 and then another body
      ['out', { productId: product.id, quantity: 999 }, { productId: product.id, quantity: 1 }],
    ];
    for (const [route, body, other] of cases) {
      const key = newKey();
      const first = await post(route, body, { key });
      expect([201, 409]).toContain(first.status);
      const before = await snapshot();
      const res = await post(route, other, { key });
      expect({ route, status: res.status }).toEqual({ route, status: 422 });
      expectError(res, 422, 'IDEMPOTENCY_KEY_REUSED');
      expect(res.headers['idempotent-replayed']).toBeUndefined();
      await expectNothingMoved(before);
      // the first body still replays
      await expectReplay(first, route, body, key);
    }
  });

  it('a key belongs to one user and one route: elsewhere the same key is a new request', async () => {
    const product = await createProduct('Idem-Scope');
    const key = newKey();
    const body = { productId: product.id, quantity: 4 };

    const first = await post('in', body, { key });
    expect(first.status).toBe(201);
    // another route, same key and body
    const out = await post('out', body, { key });
    expect(out.status).toBe(201);
    expect(out.headers['idempotent-replayed']).toBeUndefined();
    expectMovement(out.body.movement, { type: 'OUT', quantity: -4, balanceAfter: 0 });
    // another user, same key, route and body: a new receipt
    const byManager = await post('in', body, { key, token: t.tokens.manager });
    expect(byManager.status).toBe(201);
    expect(byManager.headers['idempotent-replayed']).toBeUndefined();
    expect(byManager.body.movement.id).not.toBe(first.body.movement.id);
    expectMovement(byManager.body.movement, { actor: manager, balanceAfter: 4 });
    const byAdmin = await post('batch', { type: 'IN', lines: [body] }, { key, token: t.tokens.admin });
    expect(byAdmin.status).toBe(201);
    expect(await onHand(product.id)).toBe(8);

    // each one replays its own first answer
    await expectReplay(first, 'in', body, key);
    await expectReplay(out, 'out', body, key);
    await expectReplay(byManager, 'in', body, key, t.tokens.manager);
    await expectReplay(byAdmin, 'batch', { type: 'IN', lines: [body] }, key, t.tokens.admin);
    expect(await onHand(product.id)).toBe(8);
  });

  it('an empty key, a non-ASCII or control character, or more than 128 characters: 400, nothing moves', async () => {
    const product = await createProduct('Idem-Bad-Key');
    const w = await createWarehouse('BADKEY');
    await stockIn(product.id, 10);
    const before = await snapshot();
    for (const route of ['in', 'out', 'adjust', 'transfer', 'batch'] as const) {
      const body =
        route === 'adjust'
          ? { productId: product.id, delta: 1, reason: 'FOUND' }
          : route === 'transfer'
            ? { productId: product.id, from: 'MAIN', to: w, quantity: 1 }
            : route === 'batch'
              ? { type: 'IN', lines: [{ productId: product.id, quantity: 1 }] }
              : { productId: product.id, quantity: 1 };
      for (const [what, key] of [
        ['empty', ''],
        ['non-ASCII', 'clé-été'],
        ['tab', 'tab\there'],
        ['129 characters', 'k'.repeat(129)],
      ]) {
        const res = await post(route, body, { key });
        expect({ route, what, status: res.status }).toEqual({ route, what, status: 400 });
        expectError(res, 400, 'VALIDATION_FAILED');
      }
    }
    await expectNothingMoved(before);

    // 128 printable ASCII characters (space and punctuation included) are a key
    const key = `${'k'.repeat(100)} !"#$%&'()*+,-./:;<=>?@[\\]^_\`{|}~`.slice(0, 128);
    expect(key).toHaveLength(128);
    const first = await post('in', { productId: product.id, quantity: 1 }, { key });
    expect(first.status).toBe(201);
    await expectReplay(first, 'in', { productId: product.id, quantity: 1 }, key);
    expect(await onHand(product.id)).toBe(11);
  });

  it('keys are exact strings: keys differing only in letter case are different keys', async () => {
    const product = await createProduct('Idem-Case');
    const body = { productId: product.id, quantity: 1 };
    const upper = `CASE-KEY-${next()}`;
    const lower = upper.toLowerCase();
    const first = await post('in', body, { key: upper });
    expect(first.status).toBe(201);
    const second = await post('in', body, { key: lower });
    expect(second.status).toBe(201);
    expect(second.headers['idempotent-replayed']).toBeUndefined();
    expect(second.body.movement.id).not.toBe(first.body.movement.id);
    const third = await post('in', { ...body, quantity: 2 }, { key: `${upper.slice(0, 4)}${lower.slice(4)}` });
    expect(third.status).toBe(201);
    expect(await onHand(product.id)).toBe(4);
    await expectReplay(first, 'in', body, upper);
    await expectReplay(second, 'in', body, lower);
  });

  it('a first 400 is not kept: fixed body, same key, 201; then that one replays', async () => {
    const product = await createProduct('Idem-400');
    const key = newKey();
    const before = await snapshot();
    expectValidation(await post('in', { productId: product.id, quantity: 0 }, { key }), ['quantity']);
    expectValidation(await post('in', { productId: product.id, quantity: 2, extra: 1 }, { key }), ['extra']);
    await expectNothingMoved(before);
    const fixed = await post('in', { productId: product.id, quantity: 2 }, { key });
    expect(fixed.status).toBe(201);
    expect(fixed.headers['idempotent-replayed']).toBeUndefined();
    expectMovement(fixed.body.movement, { quantity: 2, balanceAfter: 2 });
    await expectReplay(fixed, 'in', { productId: product.id, quantity: 2 }, key);

    // transfer from = to is a 400 too, and is not kept
    const w = await createWarehouse('IDEM400');
    const tkey = newKey();
    expectValidationOneOf(
      await post('transfer', { productId: product.id, from: 'MAIN', to: 'MAIN', quantity: 1 }, { key: tkey }),
      ['from', 'to'],
    );
    const moved = await post('transfer', { productId: product.id, from: 'MAIN', to: w, quantity: 1 }, { key: tkey });
    expect(moved.status).toBe(201);
    expect(await onHand(product.id, w)).toBe(1);
  });

  it('a first 403 is not kept: the key stays free for that user on other routes and bodies', async () => {
    const product = await createProduct('Idem-403');
    const key = newKey();
    expectError(
      await post('adjust', { productId: product.id, delta: 1, reason: 'FOUND' }, { key, token: t.tokens.operator }),
      403,
      'FORBIDDEN',
    );
    const res = await post(
      'adjust',
      { productId: product.id, delta: 2, reason: 'FOUND' },
      { key, token: t.tokens.manager },
    );
    expect(res.status).toBe(201);
    expect(res.headers['idempotent-replayed']).toBeUndefined();
    expect(await onHand(product.id)).toBe(2);
  });

  it('20 parallel duplicates: exactly one effect, every answer 201 with the same movement', async () => {
    const product = await createProduct('Idem-Parallel');
    await stockIn(product.id, 1); // the level exists
    const key = newKey();
    const body = { productId: product.id, quantity: 7, reference: 'parallel' };
    const before = await snapshot();
    const answers = await Promise.all(Array.from({ length: 20 }, () => post('in', body, { key })));
    expect(answers.map((res) => res.status)).toEqual(Array.from({ length: 20 }, () => 201));
    const ids = new Set(answers.map((res) => res.body.movement?.id as number));
    expect(ids.size).toBe(1);
    for (const res of answers) expect(res.body).toEqual(answers[0].body);
    expect(answers.filter((res) => res.headers['idempotent-replayed'] !== 'true').length).toBeLessThanOrEqual(1);
    const after = await snapshot();
    expect(after.movements).toBe(before.movements + 1);
    expect(after.stockAudits).toBe(before.stockAudits + 1);
    expect(await onHand(product.id)).toBe(8);
    expect(answers[0].body.level.onHand).toBe(8);
  });

  it('20 parallel duplicates on a level that does not exist yet: still exactly one effect', async () => {
    const product = await createProduct('Idem-Parallel-New');
    const key = newKey();
    const body = { type: 'IN', lines: [{ productId: product.id, quantity: 3 }] };
    const before = await snapshot();
    const answers = await Promise.all(Array.from({ length: 20 }, () => post('batch', body, { key })));
    expect(answers.map((res) => res.status)).toEqual(Array.from({ length: 20 }, () => 201));
    expect(new Set(answers.map((res) => res.body.movements?.[0]?.id as number)).size).toBe(1);
    const after = await snapshot();
    expect(after.movements).toBe(before.movements + 1);
    expect(after.stockAudits).toBe(before.stockAudits + 1);
    expect(await onHand(product.id)).toBe(3);
  });

  it('keys are kept 24 hours, then purged: an older key is a new request again', async () => {
    const product = await createProduct('Idem-purge');
    const body = { productId: product.id, quantity: 2 };
    const [oldKey, youngKey] = [newKey(), newKey()];
    await ok('in', body, { key: oldKey });
    const young = await post('in', body, { key: youngKey });
    expect(young.status).toBe(201);
    const hoursAgo = (hours: number) => new Date(Date.now() - hours * 3600_000);
    await t.dataSource.manager.update(IdempotencyKey, { key: oldKey }, { createdAt: hoursAgo(24.1) });
    await t.dataSource.manager.update(IdempotencyKey, { key: youngKey }, { createdAt: hoursAgo(23.9) });

    await t.app.get(IdempotencyService).purgeOld(); // what the 10-minute timer runs

    await expectReplay(young, 'in', body, youngKey);
    const again = await post('in', body, { key: oldKey });
    expect(again.status).toBe(201);
    expect(again.headers['idempotent-replayed']).toBeUndefined();
    expect(await onHand(product.id)).toBe(6);
  });
});

// ---------------------------------------------------------------- last: the whole ledger

describe('the ledger as a whole (after everything above)', () => {
  it('GET /api/stock/reconcile (manager+): every level checked, no mismatches', async () => {
    const [levels] = await query<{ n: number | string }>('SELECT COUNT(*) AS n FROM stock_levels');
    expect(Number(levels.n)).toBeGreaterThan(30);
    for (const token of [t.tokens.manager, t.tokens.admin]) {
      const res = await t.http.get('/api/stock/reconcile').set(bearer(token));
      expect(res.status).toBe(200);
      expect(Object.keys(res.body as Json).sort()).toEqual(['checkedLevels', 'mismatches']);
      expect(res.body).toEqual({ checkedLevels: Number(levels.n), mismatches: [] });
    }
    for (const role of ['operator', 'viewer', 'monitor'] as const) {
      expectError(await t.http.get('/api/stock/reconcile').set(bearer(t.tokens[role])), 403, 'FORBIDDEN');
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

    await expect(t.dataSource.query('UPDATE stock_movements SET quantity = 1')).rejects.toThrow();
    await expect(
      t.dataSource.query('UPDATE stock_movements SET note = ? WHERE id = 1', ['tampered']),
    ).rejects.toThrow();
    await expect(t.dataSource.query('DELETE FROM stock_movements')).rejects.toThrow();
    await expect(t.dataSource.query('DELETE FROM stock_movements WHERE id = 1')).rejects.toThrow();
    await expect(t.dataSource.query("UPDATE audit_logs SET action = 'tampered'")).rejects.toThrow();
    await expect(t.dataSource.query('DELETE FROM audit_logs')).rejects.toThrow();

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
    const res = await t.http.get('/api/stock/reconcile').set(bearer(t.tokens.manager)).expect(200);
    expect(res.body.mismatches).toEqual([]);
  });
});
