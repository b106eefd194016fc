import { createConnection, RowDataPacket } from 'mysql2/promise';
import type { AuditView } from '../src/modules/audit/dto/audit.dto';
import type { ReservationView } from '../src/modules/stock/reservations/reservation.views';
import type { LevelView, MovementView } from '../src/modules/stock/stock.views';
import { errorBodyProblems, expectError } from './support/errors';
import { loginTo } from './support/service-client';
import { ADMIN, PASSWORD, serviceEnv } from './support/service-env';
import { localPortsOf } from './support/process-sockets';
import { ServiceProcess, startServiceProcess } from './support/service-process';
import type { TestApp } from './support/test-app';
import { createTestDatabase, MYSQL_TEST_SERVER, TestDatabase, testDbType } from './support/test-database';
import { waitFor } from './support/wait';

/**
 * Reservations under concurrency (issue 10), against the contract's "Reservations (v2)": holds never
 * exceed available stock, every level stays consistent with its movements and its ACTIVE reservation
 * lines, a confirm/cancel race has one winner, expiry is exactly once within 2 s of expiresAt (even when
 * a sweeping process is SIGKILLed), and Idempotency-Key replays never hold or move twice.
 *
 * MariaDB: two service processes on one database (round-robin, as a load balancer would), and a third
 * one killed mid-sweep. SQLite: one in-process app (one process per database file), the same parallel
 * requests.
 */
const MYSQL = testDbType() === 'mysql';
const R = '/api/stock/reservations';

type Body = Record<string, unknown>;
interface Reply {
  status: number;
  body: Body;
  headers: Record<string, string>;
}
interface Line {
  productId: number;
  quantity: number;
  warehouse?: string;
}
type Status = ReservationView['status'];

/** 32-bit seeded PRNG (mulberry32): the mix of test 2 is the same for the same seed. */
function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `fn` over `items`, at most `size` at a time (reads that need not be a burst). */
async function inBatches<T, U>(items: T[], size: number, fn: (item: T) => Promise<U>): Promise<U[]> {
  const out: U[] = [];
  for (let i = 0; i < items.length; i += size) out.push(...(await Promise.all(items.slice(i, i + size).map(fn))));
  return out;
}

const levelKey = (productId: number, warehouse = 'MAIN') => `${productId}@${warehouse}`;
const detailsOf = (res: Reply) => (res.body.details ?? {}) as { status?: Status; lines?: Body[] };
const describeReply = (what: string, res: Reply) => `${what}: ${res.status} ${JSON.stringify(res.body)}`;

describe(`reservations under concurrency (${MYSQL ? '2 service processes on one MariaDB database' : 'SQLite, in process'})`, () => {
  let database: TestDatabase | undefined;
  let services: ServiceProcess[] = [];
  let app: TestApp | undefined;
  let operator: string;
  let manager: string;
  let env: Record<string, string>;
  let turn = 0;

  /**
   * One request. MariaDB: to service process `via`, else round-robin over the two; SQLite: the in-process
   * app. Headers come back as a plain object with lower-case names (for errors.ts).
   */
  async function call(
    method: 'GET' | 'POST',
    path: string,
    token: string,
    body?: unknown,
    headers: Record<string, string> = {},
    via?: ServiceProcess,
  ): Promise<Reply> {
    if (app) {
      let req = (method === 'GET' ? app.http.get(path) : app.http.post(path))
        .set('Authorization', `Bearer ${token}`)
        .set(headers);
      if (body !== undefined) req = req.send(body as object);
      const res = await req;
      return { status: res.status, body: (res.body ?? {}) as Body, headers: res.headers as Record<string, string> };
    }
    const service = via ?? services[turn++ % services.length];
    const res = await fetch(`${service.url}${path}`, {
      method,
      headers: {
        Authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return {
      status: res.status,
      body: (text ? JSON.parse(text) : {}) as Body,
      headers: Object.fromEntries(res.headers.entries()),
    };
  }

  /** Every item of a list route, walking its cursors 200 at a time. */
  async function walk<T>(path: string, token = operator): Promise<T[]> {
    const items: T[] = [];
    let cursor: string | null = null;
    do {
      const sep = path.includes('?') ? '&' : '?';
      const res = await call(
        'GET',
        `${path}${sep}limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
        token,
      );
      if (res.status !== 200) throw new Error(describeReply(`GET ${path}`, res));
      items.push(...(res.body.items as T[]));
      cursor = res.body.nextCursor as string | null;
    } while (cursor);
    return items;
  }

  let skuCount = 0;
  async function createProduct(prefix: string): Promise<number> {
    const sku = `${prefix}-${++skuCount}`;
    const res = await call('POST', '/api/products', manager, { sku, name: `Product ${sku}` });
    if (res.status !== 201) throw new Error(describeReply(`create ${sku}`, res));
    return res.body.id as number;
  }

  async function stockIn(productId: number, quantity: number, warehouse = 'MAIN'): Promise<MovementView> {
    const res = await call('POST', '/api/stock/in', operator, { productId, quantity, warehouse });
    if (res.status !== 201) throw new Error(describeReply(`in ${productId}`, res));
    return res.body.movement as MovementView;
  }

  async function reserve(lines: Line[], extra: Body = {}, via?: ServiceProcess): Promise<ReservationView> {
    const res = await call('POST', R, operator, { lines, ...extra }, {}, via);
    if (res.status !== 201) throw new Error(describeReply(`reserve ${JSON.stringify(lines)}`, res));
    return res.body.reservation as ReservationView;
  }

  async function levelOf(
    productId: number,
    warehouse = 'MAIN',
  ): Promise<Pick<LevelView, 'onHand' | 'reserved' | 'available'>> {
    const res = await call('GET', `/api/stock?productId=${productId}&warehouse=${warehouse}`, operator);
    expect(res.status).toBe(200);
    const items = res.body.items as LevelView[];
    expect(items.length).toBeLessThanOrEqual(1);
    const { onHand, reserved, available } = items[0] ?? { onHand: 0, reserved: 0, available: 0 };
    return { onHand, reserved, available };
  }

  async function audits(query: string): Promise<AuditView[]> {
    return walk<AuditView>(`/api/audit-logs?${query}`, manager);
  }

  /**
   * On EVERY level: onHand = Σ its movements' quantities, reserved = Σ quantities of the ACTIVE
   * reservation lines on it (both computed here from the list routes), available = onHand − reserved;
   * and GET /api/stock/reconcile agrees (no mismatch, reservedSum included). Run while nothing is in flight.
   */
  async function expectEveryLevelConsistent(): Promise<void> {
    const levels = await walk<LevelView>('/api/stock');
    const active = await walk<ReservationView>(`${R}?status=ACTIVE`);
    const movements = await walk<MovementView>('/api/stock/movements');
    const held = new Map<string, number>();
    for (const reservation of active) {
      expect(reservation.status).toBe('ACTIVE');
      for (const l of reservation.lines)
        held.set(levelKey(l.productId, l.warehouse), (held.get(levelKey(l.productId, l.warehouse)) ?? 0) + l.quantity);
    }
    const ledger = new Map<string, number>();
    for (const m of movements)
      ledger.set(
        levelKey(m.productId, m.warehouse),
        (ledger.get(levelKey(m.productId, m.warehouse)) ?? 0) + m.quantity,
      );
    const keys = new Set(levels.map((l) => levelKey(l.productId, l.warehouse)));
    const wrong = levels.flatMap((l) => {
      const key = levelKey(l.productId, l.warehouse);
      const expected = {
        onHand: ledger.get(key) ?? 0,
        reserved: held.get(key) ?? 0,
        available: (ledger.get(key) ?? 0) - (held.get(key) ?? 0),
      };
      const got = { onHand: l.onHand, reserved: l.reserved, available: l.available };
      return JSON.stringify(got) === JSON.stringify(expected) ? [] : [{ level: key, got, expected }];
    });
    expect(wrong).toEqual([]);
    // no hold and no movement on a level that GET /api/stock does not show
    expect([...held.keys(), ...ledger.keys()].filter((key) => !keys.has(key))).toEqual([]);
    const reconcile = await call('GET', '/api/stock/reconcile', manager);
    expect(reconcile.status).toBe(200);
    expect(reconcile.body).toEqual({ checkedLevels: levels.length, mismatches: [] });
  }

  beforeAll(async () => {
    if (MYSQL) {
      database = await createTestDatabase();
      env = serviceEnv(database);
      services.push(await startServiceProcess(env)); // the first migrates and creates the admin
      services.push(await startServiceProcess(env));
      const admin = await loginTo(services[0].url, ADMIN);
      for (const [username, role] of [
        ['res-operator', 'operator'],
        ['res-manager', 'manager'],
      ]) {
        const res = await call('POST', '/api/users', admin, { username, password: PASSWORD, role });
        expect(res.status).toBe(201);
      }
      operator = await loginTo(services[1].url, { username: 'res-operator', password: PASSWORD });
      manager = await loginTo(services[0].url, { username: 'res-manager', password: PASSWORD });
    } else {
      const { startTestApp } = await import('./support/test-app');
      app = await startTestApp();
      operator = app.tokens.operator;
      manager = app.tokens.manager;
    }
    expect((await call('POST', '/api/warehouses', manager, { code: 'EAST', name: 'East' })).status).toBe(201);
  });

  afterAll(async () => {
    await Promise.all(services.map((s) => s.stop()));
    services = [];
    await app?.close();
    await database?.drop();
  });

  it('1. 200 parallel reservations of 1 against 50 available: exactly 50 held, 150 refused; outs then refused', async () => {
    const productId = await createProduct('HOLD');
    const stocked = await stockIn(productId, 50);

    const answers = await Promise.all(
      Array.from({ length: 200 }, () => call('POST', R, operator, { lines: [{ productId, quantity: 1 }] })),
    );
    const created = answers.filter((a) => a.status === 201);
    const refused = answers.filter((a) => a.status !== 201);
    expect({ created: created.length, refused: refused.length }).toEqual({ created: 50, refused: 150 });
    for (const res of refused) {
      expectError(res, 409, 'INSUFFICIENT_STOCK');
      expect(res.body.details).toEqual({ lines: [{ productId, warehouse: 'MAIN', requested: 1, available: 0 }] });
    }
    const reservations = created.map((a) => a.body.reservation as ReservationView);
    expect(new Set(reservations.map((r) => r.id)).size).toBe(50);
    for (const [i, reservation] of reservations.entries()) {
      expect(reservation).toEqual(
        expect.objectContaining({
          status: 'ACTIVE',
          lines: [{ productId, sku: stocked.sku, warehouse: 'MAIN', quantity: 1 }],
          closedAt: null,
        }),
      );
      expect(Date.parse(reservation.expiresAt) - Date.parse(reservation.createdAt)).toBe(900_000);
      const levels = created[i].body.levels as LevelView[];
      expect(levels).toHaveLength(1);
      expect(levels[0]).toEqual(expect.objectContaining({ productId, warehouse: 'MAIN', onHand: 50 }));
      expect(levels[0].available).toBe(50 - levels[0].reserved);
    }
    // each hold saw the ones before it: reserved 1..50, each exactly once (no two holds took the same unit)
    const reservedAfter = created.map((a) => (a.body.levels as LevelView[])[0].reserved).sort((a, b) => a - b);
    expect(reservedAfter).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));

    // while the 50 are held, nothing else may take the stock: out, transfer, batch OUT, another hold
    const takers = await Promise.all([
      ...Array.from({ length: 20 }, () => call('POST', '/api/stock/out', operator, { productId, quantity: 1 })),
      call('POST', '/api/stock/transfer', operator, { productId, from: 'MAIN', to: 'EAST', quantity: 1 }),
      call('POST', '/api/stock/batch', operator, { type: 'OUT', lines: [{ productId, quantity: 1 }] }),
      call('POST', R, operator, { lines: [{ productId, quantity: 1 }] }),
    ]);
    for (const res of takers) {
      expectError(res, 409, 'INSUFFICIENT_STOCK');
      expect(res.body.details).toEqual({ lines: [{ productId, warehouse: 'MAIN', requested: 1, available: 0 }] });
    }
    expect(await levelOf(productId)).toEqual({ onHand: 50, reserved: 50, available: 0 });
    const active = await walk<ReservationView>(`${R}?productId=${productId}&status=ACTIVE`);
    expect(active.map((r) => r.id).sort((a, b) => a - b)).toEqual(reservations.map((r) => r.id).sort((a, b) => a - b));
    // holding moves nothing: the one IN is the product's only movement
    expect((await walk<MovementView>(`/api/stock/movements?productId=${productId}`)).map((m) => m.id)).toEqual([
      stocked.id,
    ]);
    await expectEveryLevelConsistent();
  });

  it('2. seeded random mixes of reserve/confirm/cancel/out/in in parallel: every level and every 2xx answer consistent', async () => {
    const seed = Number(process.env.RESERVATIONS_SEED ?? Date.now() % 2 ** 31);
    console.log(`reservations-concurrency mix seed ${seed} (RESERVATIONS_SEED=${seed} runs the same mix)`);
    const random = seededRandom(seed);
    const int = (lo: number, hi: number) => lo + Math.floor(random() * (hi - lo + 1));
    const pick = <T>(xs: T[]): T => xs[Math.floor(random() * xs.length)];

    const START = 30;
    const reference = `mix-${seed}`;
    const products = [await createProduct('MIX'), await createProduct('MIX'), await createProduct('MIX')];
    const warehouses = ['MAIN', 'EAST'];
    const levels = products.flatMap((productId) => warehouses.map((warehouse) => ({ productId, warehouse })));
    const initial = await Promise.all(levels.map((l) => stockIn(l.productId, START, l.warehouse)));

    const problems: string[] = [];
    const created = new Map<number, ReservationView>();
    const ended = new Map<number, { status: Status; reservation: ReservationView; movements: MovementView[] }>();
    const notActive: { id: number; status: Status | undefined; by: string }[] = [];
    const moved: MovementView[] = [];
    const counts = { created: 0, insufficient: 0, notActive: 0, confirmed: 0, cancelled: 0, outs: 0, ins: 0 };

    const expectInsufficient = (what: string, res: Reply) => {
      const bad = errorBodyProblems(res, 409, 'INSUFFICIENT_STOCK');
      const lines = detailsOf(res).lines ?? [];
      if (!lines.length || lines.some((l) => !((l.requested as number) > (l.available as number))))
        bad.push('details.lines');
      if (bad.length) problems.push(`${describeReply(what, res)} (${bad.join(', ')})`);
      counts.insufficient++;
    };
    const unexpected = (what: string, res: Reply) => problems.push(`unexpected ${describeReply(what, res)}`);

    async function reserveStep(lines: Line[]): Promise<number | null> {
      const res = await call('POST', R, operator, { lines, reference });
      if (res.status === 201) {
        const reservation = res.body.reservation as ReservationView;
        if (created.has(reservation.id)) problems.push(`reservation id ${reservation.id} given twice`);
        created.set(reservation.id, reservation);
        counts.created++;
        const want = lines.map((l) => ({ productId: l.productId, warehouse: l.warehouse, quantity: l.quantity }));
        const got = reservation.lines.map((l) => ({
          productId: l.productId,
          warehouse: l.warehouse,
          quantity: l.quantity,
        }));
        if (reservation.status !== 'ACTIVE' || JSON.stringify(got) !== JSON.stringify(want)) {
          problems.push(describeReply(`reserve ${JSON.stringify(lines)} answered another reservation`, res));
        }
        return reservation.id;
      }
      if (res.status === 409 && res.body.code === 'INSUFFICIENT_STOCK')
        expectInsufficient(`reserve ${JSON.stringify(lines)}`, res);
      else unexpected(`reserve ${JSON.stringify(lines)}`, res);
      return null;
    }

    async function endStep(id: number, how: 'confirm' | 'cancel'): Promise<void> {
      const res = await call('POST', `${R}/${id}/${how}`, operator);
      const status: Status = how === 'confirm' ? 'CONFIRMED' : 'CANCELLED';
      if (res.status === (how === 'confirm' ? 201 : 200)) {
        const reservation = res.body.reservation as ReservationView;
        const movements = (res.body.movements ?? []) as MovementView[];
        if (ended.has(id)) problems.push(`reservation ${id} ended twice (${ended.get(id)!.status}, then ${status})`);
        ended.set(id, { status, reservation, movements });
        if (how === 'confirm') counts.confirmed++;
        else counts.cancelled++;
        if (reservation.id !== id || reservation.status !== status || reservation.closedAt === null) {
          problems.push(describeReply(`${how} ${id}: wrong reservation`, res));
        }
        return;
      }
      if (res.status === 409 && res.body.code === 'RESERVATION_NOT_ACTIVE') {
        const bad = errorBodyProblems(res, 409, 'RESERVATION_NOT_ACTIVE');
        if (bad.length) problems.push(`${describeReply(`${how} ${id}`, res)} (${bad.join(', ')})`);
        notActive.push({ id, status: detailsOf(res).status, by: how });
        counts.notActive++;
        return;
      }
      unexpected(`${how} ${id}`, res);
    }

    async function moveStep(
      route: 'in' | 'out',
      productId: number,
      warehouse: string,
      quantity: number,
    ): Promise<void> {
      const res = await call('POST', `/api/stock/${route}`, operator, { productId, warehouse, quantity });
      if (res.status === 201) {
        moved.push(res.body.movement as MovementView);
        if (route === 'in') counts.ins++;
        else counts.outs++;
      } else if (route === 'out' && res.status === 409 && res.body.code === 'INSUFFICIENT_STOCK') {
        expectInsufficient(`out ${quantity} of ${levelKey(productId, warehouse)}`, res);
      } else unexpected(`${route} ${quantity} of ${levelKey(productId, warehouse)}`, res);
    }

    // the mix: each step is drawn from the seed; confirm/cancel of "older" ones pick among those created by
    // the rounds before (a reservation may be ended already: then 409 RESERVATION_NOT_ACTIVE)
    const ROUNDS = 3;
    const STEPS = 70;
    for (let round = 0; round < ROUNDS; round++) {
      const older = [...created.keys()];
      const steps: (() => Promise<unknown>)[] = [];
      for (let i = 0; i < STEPS; i++) {
        const draw = random();
        const lines = Array.from({ length: int(1, 3) }, () => {
          const level = pick(levels);
          return { productId: level.productId, warehouse: level.warehouse, quantity: int(1, 4) };
        });
        const level = pick(levels);
        const quantity = int(1, 4);
        const target = older.length ? pick(older) : null;
        if (draw < 0.25) steps.push(() => reserveStep(lines));
        else if (draw < 0.4) steps.push(async () => (await reserveStep(lines)) ?? null);
        else if (draw < 0.45)
          steps.push(async () => {
            const id = await reserveStep(lines);
            if (id !== null) await endStep(id, 'cancel');
          });
        else if (draw < 0.55)
          steps.push(async () => {
            const id = await reserveStep(lines);
            if (id !== null) await endStep(id, 'confirm');
          });
        else if (draw < 0.63 && target !== null) steps.push(() => endStep(target, 'confirm'));
        else if (draw < 0.71 && target !== null) steps.push(() => endStep(target, 'cancel'));
        else if (draw < 0.9) steps.push(() => moveStep('out', level.productId, level.warehouse, quantity));
        else steps.push(() => moveStep('in', level.productId, level.warehouse, quantity));
      }
      await Promise.all(steps.map((step) => step()));
    }
    expect(problems).toEqual([]);
    // the mix exercised every outcome
    console.log(`reservations-concurrency mix seed ${seed}: ${JSON.stringify(counts)}`);
    expect(counts.created).toBeGreaterThan(0);
    expect(counts.confirmed).toBeGreaterThan(0);
    expect(counts.cancelled).toBeGreaterThan(0);
    expect(counts.outs).toBeGreaterThan(0);

    // every reservation the mix made, as the service now shows it: exactly the 201s, in the state their answers left
    const final = new Map((await walk<ReservationView>(`${R}?reference=${reference}`)).map((r) => [r.id, r]));
    expect([...final.keys()].sort((a, b) => a - b)).toEqual([...created.keys()].sort((a, b) => a - b));
    for (const [id, first] of created) {
      const now = final.get(id)!;
      const end = ended.get(id);
      expect({ id, status: now.status, closedAt: now.closedAt }).toEqual({
        id,
        status: end?.status ?? 'ACTIVE',
        closedAt: end?.reservation.closedAt ?? null,
      });
      expect({ ...now, status: first.status, closedAt: null }).toEqual(first); // nothing else changed
    }
    // a 409 RESERVATION_NOT_ACTIVE names the status the reservation really has (closed for good)
    for (const refusal of notActive) {
      expect({ ...refusal, status: final.get(refusal.id)?.status }).toEqual(refusal);
      expect(refusal.status).not.toBe('ACTIVE');
    }

    // the ledger: exactly the movements the 2xx answers reported — the initial INs, each accepted in/out,
    // and per confirmed reservation one OUT per line with note `reservation <id>` and its reference
    const ledger = (
      await Promise.all(products.map((p) => walk<MovementView>(`/api/stock/movements?productId=${p}`)))
    ).flat();
    const confirmations = [...ended.entries()].filter(([, e]) => e.status === 'CONFIRMED');
    const answered = [...initial, ...moved, ...confirmations.flatMap(([, e]) => e.movements)];
    expect(ledger.map((m) => m.id).sort((a, b) => a - b)).toEqual(answered.map((m) => m.id).sort((a, b) => a - b));
    const byId = new Map(ledger.map((m) => [m.id, m]));
    for (const m of answered) expect(byId.get(m.id)).toEqual(m);
    const outsByReservation = new Map<number, MovementView[]>();
    for (const m of ledger) {
      const note = /^reservation (\d+)$/.exec(m.note ?? '');
      if (note) outsByReservation.set(Number(note[1]), [...(outsByReservation.get(Number(note[1])) ?? []), m]);
    }
    expect([...outsByReservation.keys()].sort((a, b) => a - b)).toEqual(
      confirmations.map(([id]) => id).sort((a, b) => a - b),
    );
    for (const [id, entry] of confirmations) {
      const outs = outsByReservation.get(id)!.sort((a, b) => a.id - b.id);
      expect(
        outs.map((m) => ({
          type: m.type,
          productId: m.productId,
          warehouse: m.warehouse,
          quantity: m.quantity,
          reference: m.reference,
        })),
      ).toEqual(
        created.get(id)!.lines.map((l) => ({
          type: 'OUT',
          productId: l.productId,
          warehouse: l.warehouse,
          quantity: -l.quantity,
          reference,
        })),
      );
      expect(entry.movements.map((m) => m.id)).toEqual(outs.map((m) => m.id));
    }

    // the model: each level is where the 2xx answers alone take it
    const expected = new Map(levels.map((l) => [levelKey(l.productId, l.warehouse), { onHand: START, reserved: 0 }]));
    for (const m of moved) expected.get(levelKey(m.productId, m.warehouse))!.onHand += m.quantity;
    for (const [id, reservation] of created) {
      for (const l of reservation.lines) {
        const level = expected.get(levelKey(l.productId, l.warehouse))!;
        if (!ended.has(id)) level.reserved += l.quantity;
        else if (ended.get(id)!.status === 'CONFIRMED') level.onHand -= l.quantity;
      }
    }
    for (const l of levels) {
      const want = expected.get(levelKey(l.productId, l.warehouse))!;
      expect({ level: levelKey(l.productId, l.warehouse), ...(await levelOf(l.productId, l.warehouse)) }).toEqual({
        level: levelKey(l.productId, l.warehouse),
        ...want,
        available: want.onHand - want.reserved,
      });
    }
    await expectEveryLevelConsistent();
  });

  it('3. confirm and cancel racing on one reservation (40 pairs at once): exactly one wins each, the loser learns its status', async () => {
    const productId = await createProduct('RACE');
    await stockIn(productId, 200, 'MAIN');
    await stockIn(productId, 200, 'EAST');
    const PAIRS = 40;
    const reservations = await Promise.all(
      Array.from({ length: PAIRS }, (_, i) =>
        reserve([
          { productId, quantity: 1 + (i % 3) },
          { productId, quantity: 1 + (i % 2), warehouse: 'EAST' },
        ]),
      ),
    );
    expect(await levelOf(productId)).toEqual(
      expect.objectContaining({ onHand: 200, reserved: reservations.reduce((s, r) => s + r.lines[0].quantity, 0) }),
    );

    // each pair on both processes (MariaDB): the confirm on one, the cancel on the other, sent in alternating order
    const other = (i: number) => (services.length ? services[(i + 1) % services.length] : undefined);
    const same = (i: number) => (services.length ? services[i % services.length] : undefined);
    const pairs = await Promise.all(
      reservations.map(async (r, i) => {
        const confirm = () => call('POST', `${R}/${r.id}/confirm`, operator, undefined, {}, same(i));
        const cancel = () => call('POST', `${R}/${r.id}/cancel`, operator, undefined, {}, other(i));
        const [first, second] = i % 2 ? [cancel(), confirm()] : [confirm(), cancel()];
        const [a, b] = await Promise.all([first, second]);
        return i % 2 ? { confirm: b, cancel: a } : { confirm: a, cancel: b };
      }),
    );
    const winners = new Map<number, Status>();
    for (const [i, { confirm, cancel }] of pairs.entries()) {
      const id = reservations[i].id;
      const confirmed = confirm.status === 201;
      const cancelled = cancel.status === 200;
      expect({ id, oneWinner: confirmed !== cancelled, confirm: confirm.status, cancel: cancel.status }).toEqual({
        id,
        oneWinner: true,
        confirm: confirmed ? 201 : 409,
        cancel: cancelled ? 200 : 409,
      });
      const status: Status = confirmed ? 'CONFIRMED' : 'CANCELLED';
      const [won, lost] = confirmed ? [confirm, cancel] : [cancel, confirm];
      winners.set(id, status);
      expect(won.body.reservation).toEqual(expect.objectContaining({ id, status, closedAt: expect.any(String) }));
      expectError(lost, 409, 'RESERVATION_NOT_ACTIVE');
      expect(lost.body.details).toEqual({ status });
      if (confirmed) {
        expect((won.body.movements as MovementView[]).map((m) => [m.type, m.warehouse, m.quantity, m.note])).toEqual(
          reservations[i].lines.map((l) => ['OUT', l.warehouse, -l.quantity, `reservation ${id}`]),
        );
      } else expect(won.body.movements).toBeUndefined();
    }
    console.log(
      `reservations-concurrency race: ${[...winners.values()].filter((s) => s === 'CONFIRMED').length} of ${PAIRS} won by confirm`,
    );

    // the service's record agrees: status, one closing audit entry each, one OUT per line per confirmed one
    const final = new Map((await walk<ReservationView>(`${R}?productId=${productId}`)).map((r) => [r.id, r.status]));
    expect(final).toEqual(winners);
    const trails = await inBatches(reservations, 20, async (r) =>
      (await audits(`entityType=reservation&entityId=${r.id}`)).map((a) => a.action).sort(),
    );
    trails.forEach((actions, i) =>
      expect({ id: reservations[i].id, actions }).toEqual({
        id: reservations[i].id,
        actions: [
          winners.get(reservations[i].id) === 'CONFIRMED' ? 'stock.reservation.confirm' : 'stock.reservation.cancel',
          'stock.reserve',
        ].sort(),
      }),
    );
    const outs = (await walk<MovementView>(`/api/stock/movements?productId=${productId}&type=OUT`))
      .map((m) => m.note)
      .sort();
    const confirmedOnes = reservations.filter((r) => winners.get(r.id) === 'CONFIRMED');
    expect(outs).toEqual(confirmedOnes.flatMap((r) => r.lines.map(() => `reservation ${r.id}`)).sort());
    for (const warehouse of ['MAIN', 'EAST']) {
      const taken = confirmedOnes.reduce((s, r) => s + r.lines.find((l) => l.warehouse === warehouse)!.quantity, 0);
      expect(await levelOf(productId, warehouse)).toEqual({ onHand: 200 - taken, reserved: 0, available: 200 - taken });
    }
    await expectEveryLevelConsistent();
  });

  it('5. Idempotency-Key replays: create never holds twice, confirm never moves twice, cancel never releases twice', async () => {
    const productId = await createProduct('IDEM');
    await stockIn(productId, 10, 'MAIN');
    await stockIn(productId, 10, 'EAST');
    const send = (path: string, key: string, body?: unknown) =>
      call('POST', path, operator, body, { 'Idempotency-Key': key });
    const replayed = (res: Reply) => res.headers['idempotent-replayed'] === 'true';

    /** n at once, then `sequential` one after another: exactly one original answer, every other one its replay (or 409 IN_USE while in flight). */
    async function replays(path: string, key: string, body: unknown, status: number, n: number, sequential: number) {
      const parallel = await Promise.all(Array.from({ length: n }, () => send(path, key, body)));
      const later: Reply[] = [];
      for (let i = 0; i < sequential; i++) later.push(await send(path, key, body));
      for (const res of parallel.filter((a) => a.status !== status)) expectError(res, 409, 'IDEMPOTENCY_KEY_IN_USE');
      const answered = parallel.filter((a) => a.status === status);
      const originals = answered.filter((a) => !replayed(a));
      expect(originals).toHaveLength(1);
      for (const res of [...answered, ...later]) {
        expect({ status: res.status, body: res.body }).toEqual({ status, body: originals[0].body });
      }
      for (const res of later) expect(res.headers['idempotent-replayed']).toBe('true');
      return originals[0];
    }

    // create, the same key 12 times at once and 3 times after: one reservation, held once
    const body = {
      lines: [
        { productId, quantity: 3 },
        { productId, quantity: 2, warehouse: 'EAST' },
      ],
      reference: 'idem-create',
    };
    const createdRes = await replays(R, 'idem-create-1', body, 201, 12, 3);
    const reservation = createdRes.body.reservation as ReservationView;
    expect((await walk<ReservationView>(`${R}?reference=idem-create`)).map((r) => r.id)).toEqual([reservation.id]);
    expect(await levelOf(productId, 'MAIN')).toEqual({ onHand: 10, reserved: 3, available: 7 });
    expect(await levelOf(productId, 'EAST')).toEqual({ onHand: 10, reserved: 2, available: 8 });
    expect((await audits(`action=stock.reserve&entityType=reservation&entityId=${reservation.id}`)).length).toBe(1);
    // the key with another body is refused, and holds nothing either
    expectError(await send(R, 'idem-create-1', { ...body, reference: 'other' }), 422, 'IDEMPOTENCY_KEY_REUSED');

    // confirm: one OUT per line, however often the key comes
    const confirmed = await replays(`${R}/${reservation.id}/confirm`, 'idem-confirm-1', undefined, 201, 12, 3);
    expect(confirmed.body.reservation).toEqual(expect.objectContaining({ id: reservation.id, status: 'CONFIRMED' }));
    const outs = await walk<MovementView>(`/api/stock/movements?productId=${productId}&type=OUT`);
    expect(outs.map((m) => [m.warehouse, m.quantity, m.note]).sort()).toEqual([
      ['EAST', -2, `reservation ${reservation.id}`],
      ['MAIN', -3, `reservation ${reservation.id}`],
    ]);
    expect((confirmed.body.movements as MovementView[]).map((m) => m.id).sort()).toEqual(outs.map((m) => m.id).sort());
    expect(await levelOf(productId, 'MAIN')).toEqual({ onHand: 7, reserved: 0, available: 7 });
    expect(await levelOf(productId, 'EAST')).toEqual({ onHand: 8, reserved: 0, available: 8 });
    // without the key it is a new request: the reservation is not ACTIVE any more
    const again = await call('POST', `${R}/${reservation.id}/confirm`, operator);
    expectError(again, 409, 'RESERVATION_NOT_ACTIVE');
    expect(again.body.details).toEqual({ status: 'CONFIRMED' });

    // cancel: released once
    const second = await reserve([{ productId, quantity: 4 }], { reference: 'idem-cancel' });
    const held = await reserve([{ productId, quantity: 1 }], { reference: 'idem-stays' }); // must stay held
    expect(await levelOf(productId, 'MAIN')).toEqual({ onHand: 7, reserved: 5, available: 2 });
    const cancelled = await replays(`${R}/${second.id}/cancel`, 'idem-cancel-1', undefined, 200, 8, 2);
    expect(cancelled.body.reservation).toEqual(expect.objectContaining({ id: second.id, status: 'CANCELLED' }));
    expect(await levelOf(productId, 'MAIN')).toEqual({ onHand: 7, reserved: 1, available: 6 });
    expect((await call('GET', `${R}/${held.id}`, operator)).body).toEqual(
      expect.objectContaining({ status: 'ACTIVE' }),
    );

    // a first 409 is the key's answer too: replayed even once the stock would cover it, and it holds nothing
    const short = { lines: [{ productId, quantity: 50 }], reference: 'idem-short' };
    const refused = await send(R, 'idem-short-1', short);
    expectError(refused, 409, 'INSUFFICIENT_STOCK');
    await stockIn(productId, 100);
    const replay = await send(R, 'idem-short-1', short);
    expect({ status: replay.status, body: replay.body, replayed: replayed(replay) }).toEqual({
      status: 409,
      body: refused.body,
      replayed: true,
    });
    expect(await walk<ReservationView>(`${R}?reference=idem-short`)).toEqual([]);
    expect(await levelOf(productId, 'MAIN')).toEqual({ onHand: 107, reserved: 1, available: 106 });
    await expectEveryLevelConsistent();
  });
  /** Each reservation EXPIRED, closedAt − expiresAt in 0..2000 ms (server times), exactly one expire audit entry, nothing else closed it. */
  async function expectExpiredOnce(
    reservations: ReservationView[],
    ttl: (r: ReservationView) => number,
  ): Promise<number> {
    const now = await inBatches(
      reservations,
      20,
      async (r) => (await call('GET', `${R}/${r.id}`, operator)).body as unknown as ReservationView,
    );
    let latest = 0;
    for (const [i, r] of now.entries()) {
      const late = Date.parse(r.closedAt ?? '') - Date.parse(r.expiresAt);
      latest = Math.max(latest, late);
      expect({ id: r.id, status: r.status, lateWithin2s: late >= 0 && late <= 2000, late }).toEqual({
        id: reservations[i].id,
        status: 'EXPIRED',
        lateWithin2s: true,
        late,
      });
      expect(Date.parse(r.expiresAt) - Date.parse(r.createdAt)).toBe(ttl(reservations[i]) * 1000);
    }
    const trails = await inBatches(reservations, 20, async (r) => ({
      id: r.id,
      expiries: await audits(`action=stock.reservation.expire&entityType=reservation&entityId=${r.id}`),
      actions: (await audits(`entityType=reservation&entityId=${r.id}`)).map((a) => a.action).sort(),
    }));
    for (const { id, expiries, actions } of trails) {
      expect({
        id,
        expiries: expiries.map((a) => ({ action: a.action, entityId: a.entityId, actor: a.actor })),
        actions,
      }).toEqual({
        id,
        expiries: [
          { action: 'stock.reservation.expire', entityId: String(id), actor: { id: null, username: null, role: null } },
        ],
        actions: ['stock.reservation.expire', 'stock.reserve'],
      });
    }
    return latest;
  }

  it('4. expiry under load: every short-TTL reservation EXPIRED within 2 s of its expiresAt, exactly once, hold released', async () => {
    const productId = await createProduct('EXP');
    await stockIn(productId, 300, 'MAIN');
    await stockIn(productId, 300, 'EAST');
    const busy = await createProduct('EXPLOAD');
    await stockIn(busy, 100);
    const SHORT = 60;
    const ttlOf = (i: number) => 1 + (i % 2);
    const short = Array.from({ length: SHORT }, (_, i) =>
      call('POST', R, operator, {
        lines: [{ productId, quantity: 1 + (i % 3), warehouse: i % 4 < 2 ? 'MAIN' : 'EAST' }],
        ttlSeconds: ttlOf(i),
        reference: 'exp-load',
      }),
    );
    // the load around them: outs, ins, holds confirmed and cancelled on another product
    const load = Array.from({ length: 90 }, async (_, i) => {
      if (i % 3 === 0) return [await call('POST', '/api/stock/out', operator, { productId: busy, quantity: 1 })];
      if (i % 3 === 1) return [await call('POST', '/api/stock/in', operator, { productId: busy, quantity: 1 })];
      const held = await call('POST', R, operator, { lines: [{ productId: busy, quantity: 2 }] });
      if (held.status !== 201) return [held];
      const id = (held.body.reservation as ReservationView).id;
      return [held, await call('POST', `${R}/${id}/${i % 2 ? 'confirm' : 'cancel'}`, operator)];
    });
    const [answers, loadAnswers] = await Promise.all([Promise.all(short), Promise.all(load)]);
    expect(answers.map((a) => a.status)).toEqual(answers.map(() => 201));
    expect(
      loadAnswers
        .flat()
        .filter((a) => ![200, 201].includes(a.status) && a.body.code !== 'INSUFFICIENT_STOCK')
        .map((a) => describeReply('load', a)),
    ).toEqual([]);
    const reservations = answers.map((a) => a.body.reservation as ReservationView);
    const ttl = new Map(reservations.map((r, i) => [r.id, ttlOf(i)]));

    // a confirm or cancel that arrives after expiresAt is refused as EXPIRED, swept or not
    const early = reservations.filter((_, i) => ttlOf(i) === 1).slice(0, 6);
    const late = await Promise.all(
      early.map(async (r, i) => {
        await waitFor(`past the expiresAt of ${r.id}`, () => Date.now() > Date.parse(r.expiresAt), 5000);
        return call('POST', `${R}/${r.id}/${i % 2 ? 'cancel' : 'confirm'}`, operator);
      }),
    );
    for (const res of late) {
      expectError(res, 409, 'RESERVATION_NOT_ACTIVE');
      expect(res.body.details).toEqual({ status: 'EXPIRED' });
    }

    await waitFor(
      'every short-TTL reservation EXPIRED',
      async () =>
        ((await call('GET', `${R}?reference=exp-load&status=ACTIVE`, operator)).body.items as unknown[]).length === 0,
      15_000,
    );
    const latest = await expectExpiredOnce(reservations, (r) => ttl.get(r.id)!);
    console.log(`reservations-concurrency expiry under load: latest closedAt − expiresAt ${latest} ms`);
    expect(await levelOf(productId, 'MAIN')).toEqual({ onHand: 300, reserved: 0, available: 300 });
    expect(await levelOf(productId, 'EAST')).toEqual({ onHand: 300, reserved: 0, available: 300 });
    await expectEveryLevelConsistent();
  });

  (MYSQL ? it : it.skip)(
    '4b. expiry exactly once within 2 s while a third process is SIGKILLed mid-sweep, holding reservations (MariaDB)',
    async () => {
      const sweeper = await startServiceProcess(env);
      const conn = await createConnection({ ...MYSQL_TEST_SERVER, database: env.DB_NAME });
      const held: Promise<Reply>[] = [];
      try {
        const productId = await createProduct('KILL');
        const other = await createProduct('KILL-BUSY');
        await stockIn(productId, 500);
        await stockIn(other, 10);
        const [[main]] = await conn.query<RowDataPacket[]>("SELECT id FROM warehouses WHERE code = 'MAIN'");
        const [a, b] = services;
        const processes = [a, b, sweeper];
        const N = 90;
        const reservations = await Promise.all(
          Array.from({ length: N }, (_, i) =>
            reserve(
              [{ productId, quantity: 1 + (i % 2) }],
              { ttlSeconds: 2, reference: 'kill-sweep' },
              processes[i % 3],
            ),
          ),
        );
        const dueAt = Math.min(...reservations.map((r) => Date.parse(r.expiresAt)));

        // The test holds both level rows (its own connection, FOR UPDATE). Just before the reservations fall
        // due, the two survivors get writes on the other product: they stall on its level (or on its product
        // row, which the first of them holds) and fill every group slot, so the survivors' sweeps queue behind them and only the third process starts expiry
        // transactions: it locks reservation rows (SKIP LOCKED) and stalls on the reserved level. Seen there,
        // it is SIGKILLed mid-sweep, holding reservations; then the test lets go. Its transactions must roll
        // back and the survivors expire every reservation, each exactly once, within 2 s of expiresAt.
        await conn.query('BEGIN');
        await conn.query(
          'SELECT on_hand FROM stock_levels WHERE warehouse_id = ? AND product_id IN (?, ?) ORDER BY product_id FOR UPDATE',
          [main.id, productId, other],
        );
        /**
         * Threads of process `pid` waiting in a stock write's locking reads: on the test's level locks, or on
         * the product row a first write of the process holds while it waits for them.
         */
        const stalled = async (pid: number): Promise<number> => {
          const [rows] = await conn.query<RowDataPacket[]>(
            `SELECT HOST AS host FROM information_schema.PROCESSLIST
             WHERE DB = ? AND COMMAND = 'Query' AND INFO LIKE '%FOR UPDATE%'
               AND (INFO LIKE '%FROM stock_levels%' OR INFO LIKE '%FROM products%')`,
            [env.DB_NAME],
          );
          const ports = localPortsOf(pid);
          return rows.filter((r) => ports.has(Number(String(r.host).split(':').pop()))).length;
        };
        const SLOTS = 4; // groups in flight per process (stock-ledger.service.ts)
        await waitFor('shortly before the reservations fall due', () => Date.now() >= dueAt - 300, 5000);
        for (const survivor of [a, b]) {
          for (let i = 0; i <= SLOTS; i++) {
            held.push(call('POST', '/api/stock/in', operator, { productId: other, quantity: 1 }, {}, survivor));
          }
        }
        await waitFor(
          'the survivors busy (every group slot waiting on the other level)',
          async () => (await stalled(a.child.pid!)) >= SLOTS && (await stalled(b.child.pid!)) >= SLOTS,
          5000,
        );
        await waitFor(
          'the third process mid-sweep (its expiry transactions waiting on the reserved level)',
          async () => (await stalled(sweeper.child.pid!)) > 0,
          5000,
        );
        // the reservations locked now, by a probe on a connection of its own (SKIP LOCKED, rolled back at
        // once): only the third process is expiring any, so they are its
        const ids = reservations.map((r) => r.id);
        const probe = await createConnection({ ...MYSQL_TEST_SERVER, database: env.DB_NAME });
        let free: RowDataPacket[];
        try {
          await probe.query('BEGIN');
          [free] = await probe.query<RowDataPacket[]>(
            'SELECT id FROM reservations WHERE id IN (?) FOR UPDATE SKIP LOCKED',
            [ids],
          );
        } finally {
          await probe.end(); // rolls back
        }
        const heldBySweeper = ids.filter((id) => !free.some((row) => Number(row.id) === id));
        const waiting = await stalled(sweeper.child.pid!);
        sweeper.child.kill('SIGKILL');
        await waitFor('the third process gone', () => sweeper.child.signalCode !== null, 5000);
        await conn.query('ROLLBACK');
        console.log(
          `reservations-concurrency SIGKILL mid-sweep: the killed process had ${waiting} expiry transaction(s) waiting, ` +
            `holding reservations ${heldBySweeper.join(', ')} of the ${N}`,
        );
        expect(sweeper.child.signalCode).toBe('SIGKILL');
        expect(heldBySweeper.length).toBeGreaterThan(0);
        expect((await Promise.all(held)).map((res) => res.status)).toEqual(held.map(() => 201));

        await waitFor(
          'every reservation of the killed sweep EXPIRED',
          async () =>
            ((await call('GET', `${R}?reference=kill-sweep&status=ACTIVE`, operator)).body.items as unknown[])
              .length === 0,
          15_000,
        );
        const latest = await expectExpiredOnce(reservations, () => 2);
        console.log(`reservations-concurrency SIGKILL mid-sweep: latest closedAt − expiresAt ${latest} ms`);
        expect(await levelOf(productId)).toEqual({ onHand: 500, reserved: 0, available: 500 });
        expect(await levelOf(other)).toEqual({ onHand: 10 + held.length, reserved: 0, available: 10 + held.length });
        await expectEveryLevelConsistent();
      } finally {
        if (sweeper.child.exitCode === null && sweeper.child.signalCode === null) sweeper.child.kill('SIGKILL');
        await conn.end(); // rolls back whatever the test still holds
        await Promise.allSettled(held);
      }
    },
  );
});
