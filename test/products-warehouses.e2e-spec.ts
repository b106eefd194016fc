import type { Response } from 'supertest';
import type { Page } from '../src/common/http/pagination';
import type { ProductDetailView, ProductView } from '../src/modules/products/dto/product.dto';
import type { WarehouseView } from '../src/modules/warehouses/dto/warehouse.dto';
import { expectError, expectValidationExactly } from './support/errors';
import { bearer, startTestApp, TestApp } from './support/test-app';

/**
 * The Warehouses and Products sections of CONTRACT.md, checked over HTTP on this project's driver.
 * One app per file; every test makes the products and warehouses it needs (unique SKUs and codes),
 * and whole-list checks compare against the database itself, so tests do not depend on each other.
 */

type RoleName = 'admin' | 'manager' | 'operator' | 'viewer' | 'monitor';
type Query = Record<string, string | number | boolean>;

interface AuditRow {
  actorId: number | null;
  actor: string;
  role: string | null;
  entityType: string;
  entityId: string;
  before: unknown;
  after: unknown;
  requestId: string | null;
}

const ISO_UTC_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const PRODUCT_KEYS = [
  'createdAt',
  'description',
  'id',
  'name',
  'onHand',
  'reorderPoint',
  'sku',
  'unit',
  'updatedAt',
  'version',
];
const WAREHOUSE_KEYS = ['code', 'createdAt', 'id', 'name'];
/** A portable DATETIME(3) literal for rows written straight into the database. */
const STAMP = '2026-01-01 00:00:00.000';
/** Clock slack for "this timestamp is now, in UTC": a time-zone shift is at least 30 minutes. */
const CLOCK_SLACK_MS = 5 * 60 * 1000;
const MAX_REORDER_POINT = 1_000_000_000;

const b64url = (text: string) => Buffer.from(text).toString('base64url');
const sortNumbers = (values: number[]) => [...values].sort((a, b) => a - b);
const parseJson = (value: unknown): unknown => (typeof value === 'string' ? JSON.parse(value) : (value ?? null));

function expectIsoNow(value: unknown, from: number, to: number): void {
  expect(value).toMatch(ISO_UTC_MS);
  const at = Date.parse(value as string);
  expect(at).toBeGreaterThanOrEqual(from - CLOCK_SLACK_MS);
  expect(at).toBeLessThanOrEqual(to + CLOCK_SLACK_MS);
}

function expectStatus(res: Response, status: number): void {
  expect({ status: res.status, body: res.body }).toMatchObject({ status });
}

describe('Warehouses and Products (contract)', () => {
  let t: TestApp;
  let seq = 0;
  const next = () => ++seq;
  const as = (role: RoleName) => bearer(t.tokens[role]);

  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => {
    await t?.close();
  });

  const sql = async <T = Record<string, unknown>>(query: string, params: unknown[] = []): Promise<T[]> =>
    (await t.dataSource.query(query, params)) as T[];
  const count = async (query: string, params: unknown[] = []) =>
    Number((await sql<{ n: unknown }>(query, params))[0].n);

  async function audits(action: string, entityId: number): Promise<AuditRow[]> {
    const rows = await sql('SELECT * FROM audit_logs WHERE action = ? AND entity_id = ? ORDER BY id', [
      action,
      String(entityId),
    ]);
    return rows.map((row) => ({
      actorId: row.actor_id === null ? null : Number(row.actor_id),
      actor: row.actor_username as string,
      role: row.actor_role as string | null,
      entityType: row.entity_type as string,
      entityId: row.entity_id as string,
      before: parseJson(row.before),
      after: parseJson(row.after),
      requestId: row.request_id as string | null,
    }));
  }

  /** How many audit entries of this action each entity id has. */
  async function entriesPerEntity(action: string): Promise<Map<string, number>> {
    const rows = await sql<{ entity_id: unknown }>('SELECT entity_id FROM audit_logs WHERE action = ?', [action]);
    const counts = new Map<string, number>();
    for (const row of rows) counts.set(String(row.entity_id), (counts.get(String(row.entity_id)) ?? 0) + 1);
    return counts;
  }

  async function userId(role: RoleName): Promise<number> {
    const res = await t.http.get('/api/auth/me').set(as(role));
    expectStatus(res, 200);
    return res.body.id as number;
  }

  async function createWarehouse(fields: Record<string, unknown> = {}, role: RoleName = 'manager') {
    const res = await t.http
      .post('/api/warehouses')
      .set(as(role))
      .send({ code: `W${next()}`, name: `Warehouse ${seq}`, ...fields });
    expectStatus(res, 201);
    return res.body as WarehouseView;
  }

  async function createProduct(fields: Record<string, unknown> = {}, role: RoleName = 'manager') {
    const res = await t.http
      .post('/api/products')
      .set(as(role))
      .send({ sku: `P-${next()}`, name: `Product ${seq}`, ...fields });
    expectStatus(res, 201);
    return res.body as ProductView;
  }

  async function getProduct(id: number | string): Promise<Response> {
    return t.http.get(`/api/products/${id}`).set(as('viewer'));
  }

  async function list<T = ProductView>(path: string, query: Query = {}): Promise<Page<T>> {
    const res = await t.http.get(path).query(query).set(as('viewer'));
    expectStatus(res, 200);
    expect(Object.keys(res.body).sort()).toEqual(['items', 'nextCursor']);
    return res.body as Page<T>;
  }

  /** Follows nextCursor until null; `between` runs after each page. Every page must hold 1..limit items. */
  async function walk<T>(
    path: string,
    query: Query,
    limit: number,
    between?: (page: number, items: T[]) => Promise<void>,
  ): Promise<{ items: T[]; pages: number }> {
    const items: T[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: Page<T> = await list<T>(path, { ...query, limit, ...(cursor === null ? {} : { cursor }) });
      pages += 1;
      expect(page.items.length).toBeGreaterThanOrEqual(1);
      expect(page.items.length).toBeLessThanOrEqual(limit);
      items.push(...page.items);
      cursor = page.nextCursor;
      if (cursor !== null) expect(typeof cursor).toBe('string');
      if (between) await between(pages, page.items);
      if (pages > 5000) throw new Error('pagination never ends');
    } while (cursor !== null);
    return { items, pages };
  }

  const activeProductIds = async () =>
    (await sql<{ id: unknown }>('SELECT id FROM products WHERE archived_at IS NULL ORDER BY id')).map((r) =>
      Number(r.id),
    );
  const warehouseIds = async () =>
    (await sql<{ id: unknown }>('SELECT id FROM warehouses ORDER BY id')).map((r) => Number(r.id));

  // ───────────────────────────────────────── Warehouses ─────────────────────────────────────────
  describe('Warehouses', () => {
    it('has MAIN from the first start, with the warehouse shape and a UTC millisecond timestamp', async () => {
      const page = await list<WarehouseView>('/api/warehouses');
      const main = page.items.find((w) => w.code === 'MAIN');
      expect(main).toBeDefined();
      expect(Object.keys(main!).sort()).toEqual(WAREHOUSE_KEYS);
      expect(Number.isInteger(main!.id)).toBe(true);
      expect(typeof main!.name).toBe('string');
      expectIsoNow(main!.createdAt, Date.now() - 10 * 60 * 1000, Date.now());
      expect(await count("SELECT COUNT(*) AS n FROM warehouses WHERE code = 'MAIN'")).toBe(1);
    });

    it('POST /api/warehouses → 201 {id, code, name, createdAt}, then listed as created', async () => {
      const code = `EAST-${next()}`;
      const before = Date.now();
      const res = await t.http.post('/api/warehouses').set(as('manager')).send({ code, name: 'East wing' });
      const after = Date.now();
      expectStatus(res, 201);
      expect(Object.keys(res.body).sort()).toEqual(WAREHOUSE_KEYS);
      expect(res.body).toMatchObject({ code, name: 'East wing' });
      expect(Number.isInteger(res.body.id)).toBe(true);
      expectIsoNow(res.body.createdAt, before, after);
      const all = await walk<WarehouseView>('/api/warehouses', {}, 200);
      expect(all.items).toContainEqual(res.body);
    });

    it('admin may create a warehouse too', async () => {
      const warehouse = await createWarehouse({}, 'admin');
      expect(warehouse.code).toMatch(/^W\d+$/);
    });

    it('accepts codes of 1 and 32 characters using every allowed character class', async () => {
      const n = next();
      const long = `AZ09_-${n}`.padEnd(32, 'X');
      expect(long).toHaveLength(32);
      expect((await createWarehouse({ code: long })).code).toBe(long);
      const short = String.fromCharCode(65 + (n % 26));
      const res = await t.http.post('/api/warehouses').set(as('manager')).send({ code: short, name: 'One letter' });
      expectStatus(res, 201);
      expect(res.body.code).toBe(short);
    });

    it.each<[string, Record<string, unknown>]>([
      ['lowercase code', { code: 'east' }],
      ['mixed-case code', { code: 'East' }],
      ['33-character code', { code: 'A'.repeat(33) }],
      ['empty code', { code: '' }],
      ['code with a space', { code: 'A B' }],
      ['code with a dot', { code: 'A.B' }],
      ['code with a non-ASCII letter', { code: 'ÄQZ' }],
      ['numeric code', { code: 123 }],
      ['null code', { code: null }],
      ['missing code', {}],
    ])('rejects a %s with 400 VALIDATION_FAILED naming code', async (_label, fields) => {
      const before = await count('SELECT COUNT(*) AS n FROM warehouses');
      const res = await t.http
        .post('/api/warehouses')
        .set(as('manager'))
        .send({ name: 'Bad code', ...fields });
      expectValidationExactly(res, ['code']);
      expect(await count('SELECT COUNT(*) AS n FROM warehouses')).toBe(before);
    });

    it.each<[string, Record<string, unknown>]>([
      ['missing name', {}],
      ['201-character name', { name: 'n'.repeat(201) }],
      ['numeric name', { name: 42 }],
    ])('rejects a %s with 400 naming name', async (_label, fields) => {
      const before = await count('SELECT COUNT(*) AS n FROM warehouses');
      const res = await t.http
        .post('/api/warehouses')
        .set(as('manager'))
        .send({ code: `NM-${next()}`, ...fields });
      expectValidationExactly(res, ['name']);
      expect(await count('SELECT COUNT(*) AS n FROM warehouses')).toBe(before);
    });

    it('accepts a 200-character name', async () => {
      const name = 'é'.repeat(200);
      expect((await createWarehouse({ name })).name).toBe(name);
    });

    it('rejects unknown fields (id, createdAt) naming each, and creates nothing', async () => {
      const before = await count('SELECT COUNT(*) AS n FROM warehouses');
      const res = await t.http
        .post('/api/warehouses')
        .set(as('manager'))
        .send({ code: `UNK-${next()}`, name: 'Mass assignment', id: 999, createdAt: '2020-01-01T00:00:00.000Z' });
      expectValidationExactly(res, ['id', 'createdAt']);
      expect(await count('SELECT COUNT(*) AS n FROM warehouses')).toBe(before);
    });

    it('answers 409 WAREHOUSE_CODE_TAKEN for a taken code (MAIN included) and keeps one row', async () => {
      const code = `DUP-${next()}`;
      await createWarehouse({ code });
      const again = await t.http.post('/api/warehouses').set(as('manager')).send({ code, name: 'Again' });
      expectError(again, 409, 'WAREHOUSE_CODE_TAKEN');
      const main = await t.http.post('/api/warehouses').set(as('manager')).send({ code: 'MAIN', name: 'Again' });
      expectError(main, 409, 'WAREHOUSE_CODE_TAKEN');
      expect(await count('SELECT COUNT(*) AS n FROM warehouses WHERE code = ?', [code])).toBe(1);
    });

    it('lets exactly one of several concurrent creates of one code win; the rest get 409', async () => {
      const code = `RACE-${next()}`;
      const results = await Promise.all(
        [1, 2, 3, 4].map((i) =>
          t.http
            .post('/api/warehouses')
            .set(as('manager'))
            .send({ code, name: `Racer ${i}` }),
        ),
      );
      expect(results.map((r) => r.status).sort()).toEqual([201, 409, 409, 409]);
      for (const res of results.filter((r) => r.status === 409)) expectError(res, 409, 'WAREHOUSE_CODE_TAKEN');
      expect(await count('SELECT COUNT(*) AS n FROM warehouses WHERE code = ?', [code])).toBe(1);
    });

    it('lists 50 by default; limit=1 walks every warehouse once, the last page with nextCursor null', async () => {
      while ((await warehouseIds()).length < 53) await createWarehouse();
      const ids = await warehouseIds();

      const first = await list<WarehouseView>('/api/warehouses');
      expect(first.items).toHaveLength(50);
      expect(typeof first.nextCursor).toBe('string');
      const rest = await list<WarehouseView>('/api/warehouses', { cursor: first.nextCursor!, limit: 200 });
      expect(rest.nextCursor).toBeNull();
      expect(sortNumbers([...first.items, ...rest.items].map((w) => w.id))).toEqual(ids);

      const walked = await walk<WarehouseView>('/api/warehouses', {}, 1);
      expect(walked.pages).toBe(ids.length);
      expect(sortNumbers(walked.items.map((w) => w.id))).toEqual(ids);
      for (const w of walked.items) expect(Object.keys(w).sort()).toEqual(WAREHOUSE_KEYS);

      const all = await list<WarehouseView>('/api/warehouses', { limit: 200 });
      expect(all.nextCursor).toBeNull();
      expect(sortNumbers(all.items.map((w) => w.id))).toEqual(ids);
    });

    it('keeps pagination stable when a warehouse is created between page fetches', async () => {
      while ((await warehouseIds()).length < 6) await createWarehouse();
      const existing = await warehouseIds();
      let added: WarehouseView | undefined;
      const walked = await walk<WarehouseView>('/api/warehouses', {}, 2, async (page) => {
        if (page === 1) added = await createWarehouse();
      });
      const seen = walked.items.map((w) => w.id);
      expect(new Set(seen).size).toBe(seen.length);
      expect(seen).toEqual(expect.arrayContaining(existing));
      expect(seen.filter((id) => !existing.includes(id) && id !== added!.id)).toEqual([]);
    });

    it.each<[string, Query, string]>([
      ['limit=0', { limit: 0 }, 'limit'],
      ['limit=201', { limit: 201 }, 'limit'],
      ['limit=abc', { limit: 'abc' }, 'limit'],
      ['limit=1.5', { limit: '1.5' }, 'limit'],
      ['a cursor that is not one', { cursor: 'not-a-cursor' }, 'cursor'],
      ['a cursor with a negative key', { cursor: b64url('{"id":-1}') }, 'cursor'],
    ])('GET /api/warehouses with %s → 400 naming it', async (_label, query, field) => {
      const res = await t.http.get('/api/warehouses').query(query).set(as('viewer'));
      expectValidationExactly(res, [field]);
    });

    it('answers 400 for a tampered real cursor', async () => {
      while ((await warehouseIds()).length < 3) await createWarehouse();
      const { nextCursor } = await list<WarehouseView>('/api/warehouses', { limit: 1 });
      expect(typeof nextCursor).toBe('string');
      const res = await t.http
        .get('/api/warehouses')
        .query({ cursor: nextCursor!.slice(0, -2) })
        .set(as('viewer'));
      expectValidationExactly(res, ['cursor']);
    });

    it('writes one warehouse.create audit entry with the actor and before/after', async () => {
      const managerId = await userId('manager');
      const res = await t.http
        .post('/api/warehouses')
        .set(as('manager'))
        .set('X-Request-Id', `wh-audit-${next()}`)
        .send({ code: `AUD-${seq}`, name: 'Audited' });
      expectStatus(res, 201);
      const rows = await audits('warehouse.create', res.body.id);
      expect(rows).toEqual([
        {
          actorId: managerId,
          actor: 'manager-user',
          role: 'manager',
          entityType: 'warehouse',
          entityId: String(res.body.id),
          before: null,
          after: res.body,
          requestId: `wh-audit-${seq}`,
        },
      ]);
    });

    it('has exactly one warehouse.create entry for every warehouse created through the API', async () => {
      const created = await entriesPerEntity('warehouse.create');
      const ids = await sql<{ id: unknown }>("SELECT id FROM warehouses WHERE code <> 'MAIN'");
      expect(ids.length).toBeGreaterThan(0);
      expect(ids.map((r) => [Number(r.id), created.get(String(r.id)) ?? 0]).filter(([, n]) => n !== 1)).toEqual([]);
    });

    it('enforces roles: only manager/admin create; monitor cannot list; no token is 401', async () => {
      for (const role of ['viewer', 'operator', 'monitor'] as const) {
        const res = await t.http
          .post('/api/warehouses')
          .set(as(role))
          .send({ code: `ROLE-${next()}`, name: 'Nope' });
        expectError(res, 403, 'FORBIDDEN');
      }
      for (const role of ['viewer', 'operator', 'manager', 'admin'] as const) {
        expectStatus(await t.http.get('/api/warehouses').set(as(role)), 200);
      }
      expectError(await t.http.get('/api/warehouses').set(as('monitor')), 403, 'FORBIDDEN');
      expectError(await t.http.get('/api/warehouses'), 401, 'UNAUTHORIZED');
      expectError(
        await t.http.post('/api/warehouses').send({ code: `ANON-${next()}`, name: 'Nope' }),
        401,
        'UNAUTHORIZED',
      );
      expect(await count("SELECT COUNT(*) AS n FROM warehouses WHERE code LIKE 'ROLE-%' OR code LIKE 'ANON-%'")).toBe(
        0,
      );
    });
  });

  // ───────────────────────────────────────── Products ─────────────────────────────────────────
  describe('Products', () => {
    let mainId: number;
    let second: WarehouseView;

    /** Gives a product stock without the stock routes: one stock_levels row. */
    /** Counts the level to `onHand` through the stock write path (which keeps each product's low flag). */
    async function setStock(productId: number, warehouseId: number, onHand: number): Promise<void> {
      const warehouse = (await walk<WarehouseView>('/api/warehouses', {}, 200)).items.find(
        (w) => w.id === warehouseId,
      )!;
      const res = await t.http
        .post('/api/stock/adjust')
        .set(as('manager'))
        .send({ productId, warehouse: warehouse.code, countedQuantity: onHand, reason: 'COUNT' });
      expectStatus(res, 201);
    }

    beforeAll(async () => {
      const all = await walk<WarehouseView>('/api/warehouses', {}, 200);
      mainId = all.items.find((w) => w.code === 'MAIN')!.id;
      second = await createWarehouse({ code: `SECOND-${next()}` });
    });

    describe('POST /api/products', () => {
      it('creates many products at once, each found by search (their index rows never deadlock)', async () => {
        const tag = `many${next()}x`;
        const made = await Promise.all(
          Array.from({ length: 24 }, (_, i) => createProduct({ sku: `${tag}-${i}`, name: `${tag} Widget ${i}` })),
        );
        const found = await walk<ProductView>('/api/products', { search: `${tag} wid` }, 200);
        expect(sortNumbers(found.items.map((p) => p.id))).toEqual(sortNumbers(made.map((p) => p.id)));
      });

      it('answers 201 with every contract field and the defaults, and GET by id agrees', async () => {
        const sku = `Def-${next()}`;
        const before = Date.now();
        const res = await t.http.post('/api/products').set(as('manager')).send({ sku, name: 'Default widget' });
        const after = Date.now();
        expectStatus(res, 201);
        expect(Object.keys(res.body).sort()).toEqual(PRODUCT_KEYS);
        expect(res.body).toMatchObject({
          sku,
          name: 'Default widget',
          description: null,
          unit: 'pcs',
          reorderPoint: 0,
          version: 1,
          onHand: 0,
        });
        expect(Number.isInteger(res.body.id)).toBe(true);
        expectIsoNow(res.body.createdAt, before, after);
        expectIsoNow(res.body.updatedAt, before, after);

        const got = await getProduct(res.body.id);
        expectStatus(got, 200);
        expect(Object.keys(got.body).sort()).toEqual([...PRODUCT_KEYS, 'stock'].sort());
        expect(got.body).toEqual({ ...res.body, stock: [] });
      });

      it('keeps the given optional fields and the SKU exactly as written', async () => {
        const sku = `MiXeD.Sku_${next()}-a`;
        const body = { sku, name: 'Flour', description: 'Wheat, type 550', unit: 'kg', reorderPoint: 7 };
        const created = await createProduct(body);
        expect(created).toMatchObject({ ...body, version: 1, onHand: 0 });
        const got = await getProduct(created.id);
        expect(got.body).toMatchObject(body);
      });

      it('treats an explicit null description as empty', async () => {
        const created = await createProduct({ description: null });
        expect(created.description).toBeNull();
        expect((await getProduct(created.id)).body.description).toBeNull();
      });

      it('accepts every limit at its boundary, counting characters (not bytes)', async () => {
        const n = next();
        const sku = `${n}-`.padEnd(64, 'b');
        const body = {
          sku,
          name: 'é'.repeat(200),
          description: 'ü'.repeat(2000),
          unit: 'µ'.repeat(16),
          reorderPoint: MAX_REORDER_POINT,
        };
        const created = await createProduct(body);
        expect(created).toMatchObject(body);
        expect((await getProduct(created.id)).body).toMatchObject(body);
        const tiny = await createProduct({ sku: String.fromCharCode(97 + (n % 26)), reorderPoint: 0 });
        expect(tiny.sku).toHaveLength(1);
        expect(tiny.reorderPoint).toBe(0);
      });

      it.each<[string, (sku: string) => Record<string, unknown>, string[]]>([
        ['missing sku', () => ({ name: 'x' }), ['sku']],
        ['empty sku', () => ({ sku: '', name: 'x' }), ['sku']],
        ['65-character sku', () => ({ sku: 's'.repeat(65), name: 'x' }), ['sku']],
        ['sku with a space', (sku) => ({ sku: `${sku} x`, name: 'x' }), ['sku']],
        ['sku with a slash', (sku) => ({ sku: `${sku}/x`, name: 'x' }), ['sku']],
        ['sku with a percent sign', (sku) => ({ sku: `${sku}%`, name: 'x' }), ['sku']],
        ['sku with a non-ASCII letter', (sku) => ({ sku: `${sku}ü`, name: 'x' }), ['sku']],
        ['numeric sku', () => ({ sku: 12345, name: 'x' }), ['sku']],
        ['missing name', (sku) => ({ sku }), ['name']],
        ['null name', (sku) => ({ sku, name: null }), ['name']],
        ['numeric name', (sku) => ({ sku, name: 42 }), ['name']],
        ['201-character name', (sku) => ({ sku, name: 'n'.repeat(201) }), ['name']],
        ['2001-character description', (sku) => ({ sku, name: 'x', description: 'd'.repeat(2001) }), ['description']],
        ['17-character unit', (sku) => ({ sku, name: 'x', unit: 'u'.repeat(17) }), ['unit']],
        ['negative reorderPoint', (sku) => ({ sku, name: 'x', reorderPoint: -1 }), ['reorderPoint']],
        [
          'reorderPoint above 1 000 000 000',
          (sku) => ({ sku, name: 'x', reorderPoint: MAX_REORDER_POINT + 1 }),
          ['reorderPoint'],
        ],
        ['fractional reorderPoint', (sku) => ({ sku, name: 'x', reorderPoint: 1.5 }), ['reorderPoint']],
        ['string reorderPoint', (sku) => ({ sku, name: 'x', reorderPoint: '5' }), ['reorderPoint']],
        [
          'body with id, version, onHand and createdAt',
          (sku) => ({ sku, name: 'x', id: 999999, version: 7, onHand: 100, createdAt: '2020-01-01T00:00:00.000Z' }),
          ['id', 'version', 'onHand', 'createdAt'],
        ],
        [
          'name, unit and reorderPoint all invalid at once',
          (sku) => ({ sku, name: '', unit: '', reorderPoint: -5 }),
          ['name', 'unit', 'reorderPoint'],
        ],
      ])('rejects a %s with 400 VALIDATION_FAILED naming the fields, creating nothing', async (_l, body, fields) => {
        const before = await count('SELECT COUNT(*) AS n FROM products');
        const res = await t.http
          .post('/api/products')
          .set(as('manager'))
          .send(body(`Bad-${next()}`));
        expectValidationExactly(res, fields);
        expect(await count('SELECT COUNT(*) AS n FROM products')).toBe(before);
      });

      it('answers 409 SKU_TAKEN for a taken SKU, also when only the case differs', async () => {
        const sku = `Case-Sku-${next()}`;
        await createProduct({ sku });
        for (const variant of [sku, sku.toLowerCase(), sku.toUpperCase()]) {
          const res = await t.http.post('/api/products').set(as('manager')).send({ sku: variant, name: 'Twin' });
          expectError(res, 409, 'SKU_TAKEN');
        }
        expect(await count('SELECT COUNT(*) AS n FROM products WHERE sku_key = ?', [sku.toLowerCase()])).toBe(1);
        expect(await count("SELECT COUNT(*) AS n FROM products WHERE name = 'Twin'")).toBe(0);
      });

      it('lets exactly one of several concurrent creates of one SKU (any case) win', async () => {
        const sku = `Race-${next()}`;
        const variants = [sku, sku.toLowerCase(), sku.toUpperCase(), sku];
        const results = await Promise.all(
          variants.map((v) => t.http.post('/api/products').set(as('manager')).send({ sku: v, name: 'Racer' })),
        );
        expect(results.map((r) => r.status).sort()).toEqual([201, 409, 409, 409]);
        for (const res of results.filter((r) => r.status === 409)) expectError(res, 409, 'SKU_TAKEN');
        expect(await count('SELECT COUNT(*) AS n FROM products WHERE sku_key = ?', [sku.toLowerCase()])).toBe(1);
      });

      it('writes one product.create audit entry with the actor and before/after', async () => {
        const managerId = await userId('manager');
        const requestId = `prod-create-${next()}`;
        const res = await t.http
          .post('/api/products')
          .set(as('manager'))
          .set('X-Request-Id', requestId)
          .send({ sku: `Aud-${seq}`, name: 'Audited' });
        expectStatus(res, 201);
        expect(await audits('product.create', res.body.id)).toEqual([
          {
            actorId: managerId,
            actor: 'manager-user',
            role: 'manager',
            entityType: 'product',
            entityId: String(res.body.id),
            before: null,
            after: res.body,
            requestId,
          },
        ]);
        const adminMade = await createProduct({}, 'admin');
        expect((await audits('product.create', adminMade.id)).map((r) => [r.actor, r.role])).toEqual([
          ['admin', 'admin'],
        ]);
      });
    });

    describe('GET /api/products/:id', () => {
      it('sums onHand over warehouses and lists stock per warehouse (also beyond 32 bits)', async () => {
        const product = await createProduct();
        await setStock(product.id, mainId, 3_000_000_000);
        await setStock(product.id, second.id, 4_000_000_000);
        const res = await getProduct(product.id);
        expectStatus(res, 200);
        expect(res.body.onHand).toBe(7_000_000_000);
        const stock = (res.body as ProductDetailView).stock;
        expect(stock).toHaveLength(2);
        expect(stock).toEqual(
          expect.arrayContaining([
            { warehouse: 'MAIN', onHand: 3_000_000_000 },
            { warehouse: second.code, onHand: 4_000_000_000 },
          ]),
        );
        const listed = await list<ProductView>('/api/products', { sku: product.sku });
        expect(listed.items.map((p) => [p.id, p.onHand])).toEqual([[product.id, 7_000_000_000]]);
      });

      it('sends ETag "<version>" that follows every update', async () => {
        const product = await createProduct();
        const first = await getProduct(product.id);
        expect(first.headers.etag).toBe('"1"');
        expectStatus(
          await t.http.patch(`/api/products/${product.id}`).set(as('manager')).send({ name: 'Renamed' }),
          200,
        );
        const second2 = await getProduct(product.id);
        expect(second2.headers.etag).toBe('"2"');
        expect(second2.body.version).toBe(2);
      });

      it.each(['abc', '1.5', '12abc', '1e3', '0x1'])('answers 400 naming id for the non-integer id %s', async (id) => {
        expectValidationExactly(await getProduct(id), ['id']);
        expectValidationExactly(await t.http.patch(`/api/products/${id}`).set(as('manager')).send({ name: 'x' }), [
          'id',
        ]);
        expectValidationExactly(await t.http.delete(`/api/products/${id}`).set(as('manager')), ['id']);
      });

      it.each([99_999_999, 99_999_999_999])('answers 404 NOT_FOUND naming the unknown id %d', async (id) => {
        for (const res of [
          await getProduct(id),
          await t.http.patch(`/api/products/${id}`).set(as('manager')).send({ name: 'x' }),
          await t.http.delete(`/api/products/${id}`).set(as('manager')),
        ]) {
          expectError(res, 404, 'NOT_FOUND');
          expect(res.body.details).toEqual(expect.objectContaining({ productId: id }));
        }
      });
    });

    describe('GET /api/products (keyset pagination)', () => {
      it('answers 50 items by default with a nextCursor', async () => {
        while ((await activeProductIds()).length < 55) await createProduct();
        const page = await list<ProductView>('/api/products');
        expect(page.items).toHaveLength(50);
        expect(typeof page.nextCursor).toBe('string');
        for (const p of page.items) expect(Object.keys(p).sort()).toEqual(PRODUCT_KEYS);
        const ids = page.items.map((p) => p.id);
        expect(new Set(ids).size).toBe(50);
      });

      it('walks every product with limit=1: no duplicates, no gaps, last nextCursor null', async () => {
        while ((await activeProductIds()).length < 55) await createProduct();
        const ids = await activeProductIds();
        const walked = await walk<ProductView>('/api/products', {}, 1);
        expect(walked.pages).toBe(ids.length);
        const seen = walked.items.map((p) => p.id);
        expect(new Set(seen).size).toBe(seen.length);
        expect(sortNumbers(seen)).toEqual(ids);
      });

      it('walks with limit=200 in one page and with limit=7 in several, seeing the same products', async () => {
        const ids = await activeProductIds();
        expect(ids.length).toBeLessThanOrEqual(200);
        const one = await list<ProductView>('/api/products', { limit: 200 });
        expect(one.nextCursor).toBeNull();
        expect(sortNumbers(one.items.map((p) => p.id))).toEqual(ids);
        const walked = await walk<ProductView>('/api/products', {}, 7);
        expect(walked.pages).toBe(Math.ceil(ids.length / 7));
        expect(sortNumbers(walked.items.map((p) => p.id))).toEqual(ids);
      });

      it('stays stable when products are created and the cursor row archived between fetches', async () => {
        while ((await activeProductIds()).length < 12) await createProduct();
        const existing = await activeProductIds();
        const added: number[] = [];
        const walked = await walk<ProductView>('/api/products', {}, 3, async (page, items) => {
          if (page === 1) {
            added.push((await createProduct()).id);
            const res = await t.http.delete(`/api/products/${items[items.length - 1].id}`).set(as('manager'));
            expectStatus(res, 204);
          }
          if (page === 2) added.push((await createProduct()).id);
        });
        const seen = walked.items.map((p) => p.id);
        expect(new Set(seen).size).toBe(seen.length);
        expect(seen).toEqual(expect.arrayContaining(existing));
        expect(seen.filter((id) => !existing.includes(id) && !added.includes(id))).toEqual([]);
      });

      it.each<[string, Query, string]>([
        ['limit=0', { limit: 0 }, 'limit'],
        ['limit=201', { limit: 201 }, 'limit'],
        ['limit=abc', { limit: 'abc' }, 'limit'],
        ['limit=1.5', { limit: '1.5' }, 'limit'],
        ['limit=-1', { limit: -1 }, 'limit'],
        ['a cursor that is not one', { cursor: 'not-a-cursor' }, 'cursor'],
        ['a cursor with a negative key', { cursor: b64url('{"id":-1}') }, 'cursor'],
        ['a cursor with a fractional key', { cursor: b64url('{"id":1.5}') }, 'cursor'],
        ['a cursor with a string key', { cursor: b64url('{"id":"1"}') }, 'cursor'],
        ['a cursor with no key', { cursor: b64url('{}') }, 'cursor'],
        ['a cursor holding an array', { cursor: b64url('[]') }, 'cursor'],
        ['a 600-character cursor', { cursor: 'A'.repeat(600) }, 'cursor'],
      ])('answers 400 VALIDATION_FAILED naming it for %s', async (_label, query, field) => {
        const res = await t.http.get('/api/products').query(query).set(as('viewer'));
        expectValidationExactly(res, [field]);
      });

      it('answers 400 for a tampered real cursor', async () => {
        while ((await activeProductIds()).length < 3) await createProduct();
        const { nextCursor } = await list<ProductView>('/api/products', { limit: 1 });
        expect(typeof nextCursor).toBe('string');
        for (const tampered of [nextCursor!.slice(0, -2), `x${nextCursor}`]) {
          const res = await t.http.get('/api/products').query({ cursor: tampered }).set(as('viewer'));
          expectValidationExactly(res, ['cursor']);
        }
      });
    });

    describe('GET /api/products filters', () => {
      const skusOf = (page: Page<ProductView>) => page.items.map((p) => p.sku).sort();

      it('search matches sku or name, ignoring case, and nothing else', async () => {
        const tag = `qz${next()}x`;
        const bySku = await createProduct({ sku: `${tag}-Alpha`, name: 'Plain hammer' });
        const byName = await createProduct({ sku: `other-${seq}`, name: `The ${tag.toUpperCase()} Cordless Drill` });
        await createProduct({ sku: `none-${seq}`, name: 'Unrelated saw' });
        for (const search of [tag, tag.toUpperCase(), `${tag[0].toUpperCase()}${tag.slice(1)}`]) {
          expect(skusOf(await list<ProductView>('/api/products', { search }))).toEqual([bySku.sku, byName.sku].sort());
        }
        expect(skusOf(await list('/api/products', { search: `${tag}-aLPHA` }))).toEqual([bySku.sku]);
        expect(skusOf(await list('/api/products', { search: `${tag} cordless d` }))).toEqual([byName.sku]);
        expect((await list('/api/products', { search: `${tag}-no-such-thing` })).items).toEqual([]);
      });

      it('search (v2): a SKU prefix, or every word a prefix of a word of the name; pattern characters are no wildcards', async () => {
        const n = next();
        const pct = await createProduct({ name: `pct${n} 50%off` });
        await createProduct({ name: `pct${n} 50Xoff` });
        await createProduct({ name: `pct${n} 50off` });
        expect(skusOf(await list('/api/products', { search: `pct${n} 50%off` }))).toEqual([pct.sku]);
        // no word and no SKU character: nothing to look for
        expect((await list('/api/products', { search: '%' })).items).toEqual([]);

        const under = await createProduct({ sku: `us_a${n}`, name: `under_score${n}` });
        await createProduct({ sku: `usXa${n}`, name: `underXscore${n}` });
        await createProduct({ sku: `usa${n}`, name: `underscore${n}` });
        expect(skusOf(await list('/api/products', { search: `us_a${n}` }))).toEqual([under.sku]);
        expect(skusOf(await list('/api/products', { search: `US_A${n}` }))).toEqual([under.sku]);
        expect(skusOf(await list('/api/products', { search: `under_score${n}` }))).toEqual([under.sku]);
        expect(skusOf(await list('/api/products', { search: `score${n} under` }))).toEqual([under.sku]);
        expect((await list('/api/products', { search: `_a${n}` })).items).toEqual([]); // not a prefix
      });

      it('search (v2): word prefixes in any order, ignoring case and accents; never the middle of a word', async () => {
        const n = next();
        const widget = await createProduct({ name: `Blue Widget w${n}` });
        const menager = await createProduct({ name: `Électro-Ménager ${n}` });
        const find = async (search: string) => skusOf(await list('/api/products', { search }));
        expect(await find(`w${n} wid`)).toEqual([widget.sku]);
        expect(await find(`blue wid w${n}`)).toEqual([widget.sku]);
        expect(await find(`WIDGET BLU w${n}`)).toEqual([widget.sku]);
        expect(await find(`idget w${n}`)).toEqual([]);
        expect(await find(`blue widgets w${n}`)).toEqual([]);
        expect(await find(`electro menager ${n}`)).toEqual([menager.sku]);
        expect(await find(`ÉLECTRO-MÉN ${n}`)).toEqual([menager.sku]);
        expect(await find(`lectro ${n}`)).toEqual([]);
      });

      it('search (v2) finds SKU prefixes longer than the indexed 32 characters exactly', async () => {
        const stem = `long${next()}`.padEnd(36, 'x');
        const one = await createProduct({ sku: `${stem}-ALPHA` });
        const other = await createProduct({ sku: `${stem}-BETA` });
        expect(skusOf(await list('/api/products', { search: `${stem}-a` }))).toEqual([one.sku]);
        expect(sortNumbers((await list('/api/products', { search: stem })).items.map((p) => p.id))).toEqual(
          sortNumbers([one.id, other.id]),
        );
      });

      it('search (v2) is 1..100 characters: longer is 400 naming search', async () => {
        const res = await t.http
          .get('/api/products')
          .query({ search: 'x'.repeat(101) })
          .set(as('viewer'));
        expectValidationExactly(res, ['search']);
        expectStatus(
          await t.http
            .get('/api/products')
            .query({ search: 'x'.repeat(100) })
            .set(as('viewer')),
          200,
        );
      });

      it('search (v2) treats other punctuation as a break between words', async () => {
        const n = next();
        const bang = await createProduct({ name: `bang${n}!x` });
        await createProduct({ name: `bang${n}x` });
        expect(skusOf(await list('/api/products', { search: `bang${n}!x` }))).toEqual([bang.sku]);
        const slash = await createProduct({ name: `back${n}\\slash` });
        await createProduct({ name: `back${n}slash` });
        expect(skusOf(await list('/api/products', { search: `back${n}\\s` }))).toEqual([slash.sku]);
        const quote = await createProduct({ name: `it's ${n} "quoted"` });
        expect(skusOf(await list('/api/products', { search: `'s ${n} "q` }))).toEqual([quote.sku]);
      });

      it('search ignores case beyond ASCII too', async () => {
        const n = next();
        const product = await createProduct({ name: `Ärger Öl ${n}` });
        expect(skusOf(await list('/api/products', { search: `ärger öl ${n}` }))).toEqual([product.sku]);
        expect(skusOf(await list('/api/products', { search: `ÄRGER ÖL ${n}` }))).toEqual([product.sku]);
      });

      it('search keeps its filter across pages', async () => {
        const tag = `pg${next()}q`;
        const made = [await createProduct({ name: `${tag} a` }), await createProduct({ name: `${tag} b` })];
        made.push(await createProduct({ sku: `${tag}-c` }));
        await createProduct({ name: 'not in the search' });
        const walked = await walk<ProductView>('/api/products', { search: tag }, 1);
        expect(walked.pages).toBe(3);
        expect(sortNumbers(walked.items.map((p) => p.id))).toEqual(sortNumbers(made.map((p) => p.id)));
      });

      it('sku filters by the exact SKU, ignoring case', async () => {
        const sku = `Exact-Sku-${next()}`;
        const product = await createProduct({ sku });
        await createProduct({ sku: `${sku}0` });
        await createProduct({ sku: `x${sku}` });
        for (const variant of [sku, sku.toLowerCase(), sku.toUpperCase()]) {
          const page = await list<ProductView>('/api/products', { sku: variant });
          expect(page.items).toEqual([product]);
          expect(page.nextCursor).toBeNull();
        }
        expect((await list('/api/products', { sku: sku.slice(0, -1) })).items).toEqual([]);
      });

      it('lowStock=true keeps exactly the products whose total available is at most reorderPoint (summed over warehouses)', async () => {
        const tag = `low${next()}z`;
        const make = (name: string, reorderPoint: number) => createProduct({ name: `${tag} ${name}`, reorderPoint });
        const zeroNoStock = await make('zero, no stock', 0);
        const equal = await make('equal', 10);
        const above = await make('above', 10);
        const splitAbove = await make('split above', 10);
        const splitEqual = await make('split equal', 11);
        const zeroWithOne = await make('zero with one', 0);
        await setStock(equal.id, mainId, 10);
        await setStock(above.id, mainId, 11);
        await setStock(splitAbove.id, mainId, 6);
        await setStock(splitAbove.id, second.id, 5);
        await setStock(splitEqual.id, mainId, 6);
        await setStock(splitEqual.id, second.id, 5);
        await setStock(zeroWithOne.id, second.id, 1);

        const low = await walk<ProductView>('/api/products', { search: tag, lowStock: 'true' }, 200);
        expect(sortNumbers(low.items.map((p) => p.id))).toEqual(sortNumbers([zeroNoStock.id, equal.id, splitEqual.id]));
        expect(Object.fromEntries(low.items.map((p) => [p.id, p.onHand]))).toEqual({
          [zeroNoStock.id]: 0,
          [equal.id]: 10,
          [splitEqual.id]: 11,
        });
        const everything = await walk<ProductView>('/api/products', { search: tag }, 200);
        expect(everything.items).toHaveLength(6);
        expect(everything.items.find((p) => p.id === splitAbove.id)!.onHand).toBe(11);

        const allLow = await walk<ProductView>('/api/products', { lowStock: 'true' }, 5);
        const allLowIds = allLow.items.map((p) => p.id);
        expect(new Set(allLowIds).size).toBe(allLowIds.length);
        expect(allLowIds).toEqual(expect.arrayContaining([zeroNoStock.id, equal.id, splitEqual.id]));
        expect(allLowIds).not.toEqual(expect.arrayContaining([above.id]));
        expect(allLowIds).not.toEqual(expect.arrayContaining([splitAbove.id]));
        expect(allLowIds).not.toEqual(expect.arrayContaining([zeroWithOne.id]));
      });

      it('lowStock counts reserved units out (v2: available = on hand less reserved), and a reorderPoint change moves it', async () => {
        const tag = `rsv${next()}q`;
        const product = await createProduct({ name: `${tag} held`, reorderPoint: 5 });
        await setStock(product.id, mainId, 8);
        const isLow = async () =>
          (await list('/api/products', { search: tag, lowStock: 'true' })).items.map((p) => p.id).includes(product.id);
        const isNotLow = async () =>
          (await list('/api/products', { search: tag, lowStock: 'false' })).items.map((p) => p.id).includes(product.id);
        expect([await isLow(), await isNotLow()]).toEqual([false, true]);
        const held = await t.http
          .post('/api/stock/reservations')
          .set(as('operator'))
          .send({ lines: [{ productId: product.id, quantity: 4 }] });
        expectStatus(held, 201);
        expect([await isLow(), await isNotLow()]).toEqual([true, false]); // on hand 8 > 5, available 4 <= 5
        const cancelled = await t.http
          .post(`/api/stock/reservations/${held.body.reservation.id}/cancel`)
          .set(as('operator'));
        expectStatus(cancelled, 200);
        expect([await isLow(), await isNotLow()]).toEqual([false, true]);
        expectStatus(
          await t.http.patch(`/api/products/${product.id}`).set(as('manager')).send({ reorderPoint: 8 }),
          200,
        );
        expect([await isLow(), await isNotLow()]).toEqual([true, false]);
      });

      it('combines search, sku and lowStock', async () => {
        const tag = `cmb${next()}k`;
        const product = await createProduct({ sku: `${tag}-one`, name: `${tag}`, reorderPoint: 3 });
        await setStock(product.id, mainId, 3);
        expect(skusOf(await list('/api/products', { sku: product.sku, search: tag, lowStock: 'true' }))).toEqual([
          product.sku,
        ]);
        await setStock(product.id, mainId, 4);
        expect((await list('/api/products', { sku: product.sku, lowStock: 'true' })).items).toEqual([]);
      });
    });

    describe('PATCH /api/products/:id', () => {
      it('updates the given fields, bumps version and updatedAt, keeps sku and createdAt', async () => {
        const product = await createProduct({ description: 'old', unit: 'box', reorderPoint: 2 });
        const changes = { name: 'New name', description: 'new', unit: 'kg', reorderPoint: 9 };
        const res = await t.http.patch(`/api/products/${product.id}`).set(as('manager')).send(changes);
        expectStatus(res, 200);
        expect(Object.keys(res.body).sort()).toEqual(PRODUCT_KEYS);
        expect(res.body).toMatchObject({
          ...changes,
          id: product.id,
          sku: product.sku,
          version: 2,
          onHand: 0,
          createdAt: product.createdAt,
        });
        expect(res.body.updatedAt).toMatch(ISO_UTC_MS);
        expect(Date.parse(res.body.updatedAt)).toBeGreaterThanOrEqual(Date.parse(product.updatedAt));
        const got = await getProduct(product.id);
        expect(got.body).toEqual({ ...res.body, stock: [] });

        const again = await t.http.patch(`/api/products/${product.id}`).set(as('admin')).send({ reorderPoint: 0 });
        expectStatus(again, 200);
        expect(again.body).toMatchObject({ version: 3, reorderPoint: 0, name: 'New name' });
      });

      it('clears the description with null', async () => {
        const product = await createProduct({ description: 'to be cleared' });
        const res = await t.http.patch(`/api/products/${product.id}`).set(as('manager')).send({ description: null });
        expectStatus(res, 200);
        expect(res.body.description).toBeNull();
        expect(res.body.version).toBe(2);
        expect((await getProduct(product.id)).body.description).toBeNull();
      });

      it('accepts If-Match quoted and bare; a stale one gets 412 VERSION_MISMATCH and changes nothing', async () => {
        const product = await createProduct();
        const etag = (await getProduct(product.id)).headers.etag as string;
        expect(etag).toBe('"1"');

        const quoted = await t.http
          .patch(`/api/products/${product.id}`)
          .set(as('manager'))
          .set('If-Match', etag)
          .send({ name: 'quoted' });
        expectStatus(quoted, 200);
        expect(quoted.body.version).toBe(2);

        const bare = await t.http
          .patch(`/api/products/${product.id}`)
          .set(as('manager'))
          .set('If-Match', '2')
          .send({ name: 'bare' });
        expectStatus(bare, 200);
        expect(bare.body.version).toBe(3);

        const before = (await getProduct(product.id)).body;
        for (const stale of ['"1"', '2', '"4"']) {
          const res = await t.http
            .patch(`/api/products/${product.id}`)
            .set(as('manager'))
            .set('If-Match', stale)
            .send({ name: `stale ${stale}`, reorderPoint: 5 });
          expectError(res, 412, 'VERSION_MISMATCH');
        }
        const after = await getProduct(product.id);
        expect(after.body).toEqual(before);
        expect(after.body).toMatchObject({ name: 'bare', version: 3, reorderPoint: 0 });
        expect(after.headers.etag).toBe('"3"');
        expect((await audits('product.update', product.id)).map((r) => (r.after as ProductView).name)).toEqual([
          'quoted',
          'bare',
        ]);
      });

      it.each<[string, Record<string, unknown>, string[]]>([
        ['sku', { sku: 'NEW-SKU' }, ['sku']],
        ['version', { version: 99 }, ['version']],
        ['onHand', { onHand: 500 }, ['onHand']],
        [
          'id, createdAt and updatedAt',
          { id: 1, createdAt: STAMP, updatedAt: STAMP },
          ['id', 'createdAt', 'updatedAt'],
        ],
        ['sku next to a valid name', { name: 'fine', sku: 'NEW-SKU' }, ['sku']],
      ])('refuses to set %s (400 naming it) and changes nothing', async (_label, body, fields) => {
        const product = await createProduct();
        const before = (await getProduct(product.id)).body;
        const res = await t.http.patch(`/api/products/${product.id}`).set(as('manager')).send(body);
        expectValidationExactly(res, fields);
        expect((await getProduct(product.id)).body).toEqual(before);
      });

      it.each<[string, Record<string, unknown>, string[]]>([
        ['an empty name', { name: '' }, ['name']],
        ['a 201-character name', { name: 'n'.repeat(201) }, ['name']],
        ['a null name', { name: null }, ['name']],
        ['a 2001-character description', { description: 'd'.repeat(2001) }, ['description']],
        ['a 17-character unit', { unit: 'u'.repeat(17) }, ['unit']],
        ['a null unit', { unit: null }, ['unit']],
        ['a negative reorderPoint', { reorderPoint: -1 }, ['reorderPoint']],
        ['a reorderPoint above 1 000 000 000', { reorderPoint: MAX_REORDER_POINT + 1 }, ['reorderPoint']],
        ['a fractional reorderPoint', { reorderPoint: 0.5 }, ['reorderPoint']],
        ['a null reorderPoint', { reorderPoint: null }, ['reorderPoint']],
      ])('rejects %s with 400 naming it and changes nothing', async (_label, body, fields) => {
        const product = await createProduct();
        const before = (await getProduct(product.id)).body;
        const res = await t.http.patch(`/api/products/${product.id}`).set(as('manager')).send(body);
        expectValidationExactly(res, fields);
        expect((await getProduct(product.id)).body).toEqual(before);
      });

      it('writes one product.update audit entry per update with the actor and before/after', async () => {
        const product = await createProduct({ name: 'Before name' });
        const adminId = await userId('admin');
        const res = await t.http.patch(`/api/products/${product.id}`).set(as('admin')).send({ name: 'After name' });
        expectStatus(res, 200);
        const rows = await audits('product.update', product.id);
        expect(rows).toHaveLength(1);
        expect(rows[0]).toMatchObject({
          actorId: adminId,
          actor: 'admin',
          role: 'admin',
          entityType: 'product',
          entityId: String(product.id),
          requestId: res.headers['x-request-id'],
        });
        expect(rows[0].before).toMatchObject({ name: 'Before name', version: 1, sku: product.sku });
        expect(rows[0].after).toEqual(res.body);
      });
    });

    describe('DELETE /api/products/:id', () => {
      it('answers 204 and archives: gone from GET and lists, SKU still taken, second DELETE 404', async () => {
        const product = await createProduct({ sku: `Gone-${next()}`, name: `gone${seq} widget` });
        const res = await t.http.delete(`/api/products/${product.id}`).set(as('manager'));
        expect(res.status).toBe(204);
        expect(res.text ?? '').toBe('');

        const got = await getProduct(product.id);
        expectError(got, 404, 'NOT_FOUND');
        expect(got.body.details).toEqual(expect.objectContaining({ productId: product.id }));

        expect((await list('/api/products', { sku: product.sku })).items).toEqual([]);
        expect((await list('/api/products', { search: product.name })).items).toEqual([]);
        expect((await list('/api/products', { search: product.name, lowStock: 'true' })).items).toEqual([]);
        const all = await walk<ProductView>('/api/products', {}, 200);
        expect(all.items.map((p) => p.id)).not.toContain(product.id);

        for (const sku of [product.sku, product.sku.toUpperCase()]) {
          const again = await t.http.post('/api/products').set(as('manager')).send({ sku, name: 'Reborn' });
          expectError(again, 409, 'SKU_TAKEN');
        }
        const patched = await t.http.patch(`/api/products/${product.id}`).set(as('manager')).send({ name: 'zombie' });
        expectError(patched, 404, 'NOT_FOUND');
        const second2 = await t.http.delete(`/api/products/${product.id}`).set(as('manager'));
        expectError(second2, 404, 'NOT_FOUND');
        expect(second2.body.details).toEqual(expect.objectContaining({ productId: product.id }));

        // archived, not erased
        const rows = await sql<{ name: string; archived_at: unknown }>(
          'SELECT name, archived_at FROM products WHERE id = ?',
          [product.id],
        );
        expect(rows).toHaveLength(1);
        expect(rows[0].name).toBe(product.name);
        expect(rows[0].archived_at).not.toBeNull();
      });

      it("keeps an archived product's history readable through the read filters, by id and by SKU", async () => {
        const product = await createProduct();
        const operator = as('operator');
        await t.http.post('/api/stock/in').set(operator).send({ productId: product.id, quantity: 4 }).expect(201);
        await t.http.post('/api/stock/out').set(operator).send({ sku: product.sku, quantity: 4 }).expect(201);
        await t.http.delete(`/api/products/${product.id}`).set(as('manager')).expect(204);

        for (const filter of [{ productId: product.id }, { sku: product.sku }, { sku: product.sku.toLowerCase() }]) {
          const movements = await t.http.get('/api/stock/movements').query(filter).set(as('viewer')).expect(200);
          expect(movements.body.items.map((m: { type: string; quantity: number }) => [m.type, m.quantity])).toEqual([
            ['OUT', -4],
            ['IN', 4],
          ]);
          const levels = await t.http.get('/api/stock').query(filter).set(as('viewer')).expect(200);
          expect(levels.body.items).toEqual([
            expect.objectContaining({ productId: product.id, sku: product.sku, warehouse: 'MAIN', onHand: 0 }),
          ]);
        }
        // unnamed, it has left the levels list; a product that never existed is still 404
        const everything = await walk<{ productId: number }>('/api/stock', {}, 200);
        expect(everything.items.map((l) => l.productId)).not.toContain(product.id);
        expectError(
          await t.http.get('/api/stock/movements').query({ productId: 999999 }).set(as('viewer')),
          404,
          'NOT_FOUND',
        );
        expectError(await t.http.get('/api/stock').query({ sku: 'NEVER-EXISTED' }).set(as('viewer')), 404, 'NOT_FOUND');
        const audit = await t.http
          .get('/api/audit-logs')
          .query({ entityType: 'product', entityId: String(product.id) })
          .set(as('manager'))
          .expect(200);
        expect(audit.body.items.map((e: { action: string }) => e.action)).toEqual(['product.delete', 'product.create']);
      });

      it('writes one product.delete audit entry with the actor and before/after, still readable', async () => {
        const product = await createProduct();
        const managerId = await userId('manager');
        const res = await t.http.delete(`/api/products/${product.id}`).set(as('manager'));
        expect(res.status).toBe(204);
        const rows = await audits('product.delete', product.id);
        expect(rows).toHaveLength(1);
        expect(rows[0]).toMatchObject({
          actorId: managerId,
          actor: 'manager-user',
          role: 'manager',
          entityType: 'product',
          entityId: String(product.id),
          after: null,
          requestId: res.headers['x-request-id'],
        });
        expect(rows[0].before).toMatchObject({ id: product.id, sku: product.sku, name: product.name });
        expect(await audits('product.create', product.id)).toHaveLength(1);
      });

      it('answers 409 PRODUCT_HAS_STOCK while any warehouse holds it, and 204 once all are 0', async () => {
        const product = await createProduct();
        await setStock(product.id, mainId, 0);
        await setStock(product.id, second.id, 5);
        const refused = await t.http.delete(`/api/products/${product.id}`).set(as('manager'));
        expectError(refused, 409, 'PRODUCT_HAS_STOCK');
        expectStatus(await getProduct(product.id), 200);
        expect((await list('/api/products', { sku: product.sku })).items.map((p) => p.id)).toEqual([product.id]);
        expect(await audits('product.delete', product.id)).toEqual([]);

        await setStock(product.id, second.id, 0);
        expect((await t.http.delete(`/api/products/${product.id}`).set(as('manager'))).status).toBe(204);
        expectError(await getProduct(product.id), 404, 'NOT_FOUND');
      });
    });

    describe('roles', () => {
      it('only manager and admin may create, update or delete products; nothing changes otherwise', async () => {
        const product = await createProduct();
        const before = (await getProduct(product.id)).body;
        const productsBefore = await count('SELECT COUNT(*) AS n FROM products');
        for (const role of ['viewer', 'operator', 'monitor'] as const) {
          expectError(
            await t.http
              .post('/api/products')
              .set(as(role))
              .send({ sku: `R-${next()}`, name: 'x' }),
            403,
            'FORBIDDEN',
          );
          expectError(
            await t.http.patch(`/api/products/${product.id}`).set(as(role)).send({ name: 'x' }),
            403,
            'FORBIDDEN',
          );
          expectError(await t.http.delete(`/api/products/${product.id}`).set(as(role)), 403, 'FORBIDDEN');
        }
        expect(await count('SELECT COUNT(*) AS n FROM products')).toBe(productsBefore);
        expect((await getProduct(product.id)).body).toEqual(before);
      });

      it('viewer, operator, manager and admin may read; monitor may not; no token is 401', async () => {
        const product = await createProduct();
        for (const role of ['viewer', 'operator', 'manager', 'admin'] as const) {
          expectStatus(await t.http.get('/api/products').set(as(role)), 200);
          expectStatus(await t.http.get(`/api/products/${product.id}`).set(as(role)), 200);
        }
        expectError(await t.http.get('/api/products').set(as('monitor')), 403, 'FORBIDDEN');
        expectError(await t.http.get(`/api/products/${product.id}`).set(as('monitor')), 403, 'FORBIDDEN');
        expectError(await t.http.get('/api/products'), 401, 'UNAUTHORIZED');
        expectError(await t.http.get(`/api/products/${product.id}`), 401, 'UNAUTHORIZED');
        expectError(await t.http.post('/api/products').send({ sku: `anon-${next()}`, name: 'x' }), 401, 'UNAUTHORIZED');
        expectError(await t.http.delete(`/api/products/${product.id}`), 401, 'UNAUTHORIZED');
        expectStatus(await getProduct(product.id), 200);
      });
    });

    it('has one product.create entry per product and one product.delete entry per archived product', async () => {
      const creates = await entriesPerEntity('product.create');
      const deletes = await entriesPerEntity('product.delete');
      const rows = await sql<{ id: unknown; archived_at: unknown }>('SELECT id, archived_at FROM products');
      expect(rows.length).toBeGreaterThan(50);
      const wrong = rows
        .map((r) => ({
          id: Number(r.id),
          archived: r.archived_at !== null,
          creates: creates.get(String(r.id)) ?? 0,
          deletes: deletes.get(String(r.id)) ?? 0,
        }))
        .filter((r) => r.creates !== 1 || r.deletes !== (r.archived ? 1 : 0));
      expect(wrong).toEqual([]);
    });
  });
});
