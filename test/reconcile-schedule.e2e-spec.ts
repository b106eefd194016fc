import { bearer, startTestApp, TestApp } from './support/test-app';
import { waitFor } from './support/wait';

/**
 * inventory_reconcile_mismatches and inventory_reconcile_last_run_timestamp_seconds, set by every reconcile
 * run: GET /api/stock/reconcile, and the run RECONCILE_INTERVAL schedules; inventory_ready after boot.
 * A level is corrupted by SQL on a connection of its own, as an operator's mistake would.
 */

const scrape = async (t: TestApp) => (await t.http.get('/metrics').set(bearer(t.tokens.monitor)).expect(200)).text;

/** The value of an unlabelled series in Prometheus text, or undefined when it is absent. */
function gauge(text: string, name: string): number | undefined {
  const match = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  return match ? Number(match[1]) : undefined;
}

const MISMATCHES = 'inventory_reconcile_mismatches';
const LAST_RUN = 'inventory_reconcile_last_run_timestamp_seconds';

/** A product with 5 on hand in MAIN; returns its id. */
async function stockedProduct(t: TestApp, sku: string): Promise<number> {
  const product = await t.http.post('/api/products').set(bearer(t.tokens.manager)).send({ sku, name: sku }).expect(201);
  const id = product.body.id as number;
  await t.http.post('/api/stock/in').set(bearer(t.tokens.operator)).send({ productId: id, quantity: 5 }).expect(201);
  return id;
}

/** Moves a level's on-hand away from its ledger (by +1) or back (by -1), behind the service's back. */
const shiftOnHand = (t: TestApp, productId: number, by: 1 | -1) =>
  t.database.query('UPDATE stock_levels SET on_hand = on_hand + ? WHERE product_id = ?', [by, productId]);

describe('reconcile on demand and readiness gauges', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  it('exports inventory_ready 1 after boot, and no reconcile run yet (the first scheduled one is an hour away)', async () => {
    const text = await scrape(t);
    expect(gauge(text, 'inventory_ready')).toBe(1);
    expect(gauge(text, 'inventory_reconcile_interval_seconds')).toBe(3600);
    expect(gauge(text, MISMATCHES)).toBe(0);
    expect(gauge(text, LAST_RUN)).toBe(0);
  });

  it('sets the gauges on GET /api/stock/reconcile: 0 when clean, 1 once a level is corrupted, 0 when fixed', async () => {
    const productId = await stockedProduct(t, 'RECON-DEMAND');
    const startedAt = Date.now() / 1000;
    const clean = await t.http.get('/api/stock/reconcile').set(bearer(t.tokens.manager)).expect(200);
    expect(clean.body.mismatches).toEqual([]);
    let text = await scrape(t);
    expect(gauge(text, MISMATCHES)).toBe(0);
    expect(gauge(text, LAST_RUN)).toBeGreaterThanOrEqual(startedAt);
    const cleanRunAt = gauge(text, LAST_RUN)!;

    await shiftOnHand(t, productId, 1);
    const corrupt = await t.http.get('/api/stock/reconcile').set(bearer(t.tokens.manager)).expect(200);
    expect(corrupt.body.mismatches).toEqual([expect.objectContaining({ productId, onHand: 6, ledgerSum: 5 })]);
    text = await scrape(t);
    expect(gauge(text, MISMATCHES)).toBe(1);
    expect(gauge(text, LAST_RUN)).toBeGreaterThan(cleanRunAt);

    await shiftOnHand(t, productId, -1);
    await t.http.get('/api/stock/reconcile').set(bearer(t.tokens.manager)).expect(200);
    expect(gauge(await scrape(t), MISMATCHES)).toBe(0);
  });
});

describe('reconcile on a schedule (RECONCILE_INTERVAL=1)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ RECONCILE_INTERVAL: '1' });
  });
  afterAll(() => t.close());

  it('runs without any request: finds a corrupted level, keeps running, and clears once it is fixed', async () => {
    const productId = await stockedProduct(t, 'RECON-SCHEDULE');
    let text = await scrape(t);
    expect(gauge(text, 'inventory_reconcile_interval_seconds')).toBe(1);

    await waitFor('a first scheduled run', async () => ((text = await scrape(t)), gauge(text, LAST_RUN)! > 0));
    expect(gauge(text, MISMATCHES)).toBe(0);

    await shiftOnHand(t, productId, 1);
    const corruptedAt = Date.now() / 1000;
    await waitFor(
      'a scheduled run that finds the corrupted level',
      async () => ((text = await scrape(t)), gauge(text, MISMATCHES) === 1 && gauge(text, LAST_RUN)! > corruptedAt),
    );
    const foundAt = gauge(text, LAST_RUN)!;
    await waitFor('the next scheduled run', async () => ((text = await scrape(t)), gauge(text, LAST_RUN)! > foundAt));
    expect(gauge(text, MISMATCHES)).toBe(1);

    await shiftOnHand(t, productId, -1);
    const fixedAt = Date.now() / 1000;
    await waitFor(
      'a scheduled run that finds the level fixed',
      async () => ((text = await scrape(t)), gauge(text, MISMATCHES) === 0 && gauge(text, LAST_RUN)! > fixedAt),
    );
    // the schedule did it all: nobody asked the route
    expect(text).not.toMatch(/route="\/api\/stock\/reconcile"/);
  });
});
