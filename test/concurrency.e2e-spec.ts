import { createTestDatabase, TestDatabase, testDbType } from './support/test-database';
import { ServiceProcess, startServiceProcess } from './support/service-process';
import { loginTo } from './support/service-client';
import { ADMIN, PASSWORD, serviceEnv } from './support/service-env';

/**
 * Many parallel requests against the service running as several processes on one database
 * (MySQL/MariaDB; SQLite runs one process), each suite then checked against the ledger.
 */
const PROCESSES = testDbType() === 'mysql' ? 2 : 1;

interface Answer {
  status: number;
  body: Record<string, unknown> & { movement?: { balanceAfter: number; id: number } };
}

describe(`concurrency (${PROCESSES} process${PROCESSES > 1 ? 'es' : ''})`, () => {
  let database: TestDatabase;
  let services: ServiceProcess[] = [];
  let operator: string;
  let manager: string;
  let next = 0;

  /** Round-robin over the service processes, as a load balancer would. */
  const call = async (
    method: string,
    path: string,
    token: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ) => {
    const service = services[next++ % services.length];
    const res = await fetch(`${service.url}${path}`, {
      method,
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Answer['body'], headers: res.headers };
  };
  const login = (username: string, password: string) => loginTo(services[0].url, { username, password });
  const createProduct = async (sku: string) =>
    (await call('POST', '/api/products', manager, { sku, name: sku })).body.id as number;
  const onHand = async (productId: number, warehouse = 'MAIN') => {
    const res = await call('GET', `/api/stock?productId=${productId}&warehouse=${warehouse}`, operator);
    return ((res.body.items as { onHand: number }[])[0]?.onHand ?? 0) as number;
  };
  const movements = async (productId: number) => {
    const all: { type: string; quantity: number; balanceAfter: number; warehouse: string }[] = [];
    let cursor: string | null = null;
    do {
      const res = await call(
        'GET',
        `/api/stock/movements?productId=${productId}&limit=200${cursor ? `&cursor=${cursor}` : ''}`,
        operator,
      );
      all.push(...(res.body.items as typeof all));
      cursor = res.body.nextCursor as string | null;
    } while (cursor);
    return all;
  };
  const expectLedgerConsistent = async () => {
    const res = await call('GET', '/api/stock/reconcile', manager);
    expect(res.status).toBe(200);
    expect(res.body.mismatches).toEqual([]);
  };

  beforeAll(async () => {
    database = await createTestDatabase();
    const env = serviceEnv(database);
    services.push(await startServiceProcess(env)); // the first migrates and creates the admin
    for (let i = 1; i < PROCESSES; i++) services.push(await startServiceProcess(env));
    const admin = await login(ADMIN.username, ADMIN.password);
    for (const [username, role] of [
      ['operator1', 'operator'],
      ['manager1', 'manager'],
    ]) {
      const res = await call('POST', '/api/users', admin, { username, password: PASSWORD, role });
      expect(res.status).toBe(201);
    }
    operator = await login('operator1', PASSWORD);
    manager = await login('manager1', PASSWORD);
    expect((await call('POST', '/api/warehouses', manager, { code: 'EAST', name: 'East' })).status).toBe(201);
  });

  afterAll(async () => {
    await Promise.all(services.map((s) => s.stop()));
    services = [];
    await database?.drop();
  });

  it('never oversells: 200 parallel outs of 1 against 50 on hand', async () => {
    const productId = await createProduct('HOT-1');
    expect((await call('POST', '/api/stock/in', operator, { productId, quantity: 50 })).status).toBe(201);

    const answers = await Promise.all(
      Array.from({ length: 200 }, () => call('POST', '/api/stock/out', operator, { productId, quantity: 1 })),
    );
    const statuses = answers.map((a) => a.status);
    expect(statuses.filter((s) => s === 201)).toHaveLength(50);
    expect(statuses.filter((s) => s === 409)).toHaveLength(150);
    expect(await onHand(productId)).toBe(0);

    const outs = (await movements(productId)).filter((m) => m.type === 'OUT');
    expect(outs).toHaveLength(50);
    // each balance from 49 down to 0 exactly once: no two outs saw the same stock
    expect(outs.map((m) => m.balanceAfter).sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    await expectLedgerConsistent();
  });

  it('keeps level = start + accepted ins − accepted outs under a random mix', async () => {
    const productId = await createProduct('MIX-1');
    expect((await call('POST', '/api/stock/in', operator, { productId, quantity: 20 })).status).toBe(201);
    const requests = Array.from({ length: 150 }, (_, i) => ({
      path: i % 3 === 0 ? '/api/stock/in' : '/api/stock/out',
      quantity: 1 + (i % 4),
    }));
    const answers = await Promise.all(
      requests.map((r) => call('POST', r.path, operator, { productId, quantity: r.quantity })),
    );
    let expected = 20;
    answers.forEach((a, i) => {
      expect([201, 409]).toContain(a.status);
      if (a.status === 201) expected += requests[i].path.endsWith('/in') ? requests[i].quantity : -requests[i].quantity;
    });
    expect(await onHand(productId)).toBe(expected);
    await expectLedgerConsistent();
  });

  it('conserves stock under transfers in both directions (deadlock bait)', async () => {
    const productId = await createProduct('TRF-1');
    // enough on both sides for every transfer (60 × at most 5 each way): any refusal would be a fault
    await call('POST', '/api/stock/in', operator, { productId, quantity: 300 });
    await call('POST', '/api/stock/in', operator, { productId, quantity: 300, warehouse: 'EAST' });
    const answers = await Promise.all(
      Array.from({ length: 120 }, (_, i) =>
        call('POST', '/api/stock/transfer', operator, {
          productId,
          from: i % 2 ? 'MAIN' : 'EAST',
          to: i % 2 ? 'EAST' : 'MAIN',
          quantity: 1 + (i % 5),
        }),
      ),
    );
    const statuses = answers.map((a) => a.status);
    expect(statuses.filter((s) => s !== 201 && s !== 503)).toEqual([]);
    expect(statuses.filter((s) => s === 503).length).toBeLessThanOrEqual(6); // retries absorb the deadlocks
    // each warehouse moved by exactly the accepted transfers
    const net = answers.reduce((sum, a, i) => (a.status === 201 ? sum + (i % 2 ? -1 : 1) * (1 + (i % 5)) : sum), 0);
    expect(await onHand(productId, 'MAIN')).toBe(300 + net);
    expect(await onHand(productId, 'EAST')).toBe(300 - net);
    await expectLedgerConsistent();
  });

  it('group commit: writes committed together; a refused one leaves no trace and costs the others nothing', async () => {
    const never = await createProduct('GRP-NEVER'); // never stocked: every out is refused
    const stocked = await Promise.all(Array.from({ length: 5 }, (_, i) => createProduct(`GRP-${i}`)));
    for (const productId of stocked) await call('POST', '/api/stock/in', operator, { productId, quantity: 10 });
    const groupWrites = async () => {
      const admin = await login(ADMIN.username, ADMIN.password);
      let sum = 0;
      let count = 0;
      for (const service of services) {
        const text = await (
          await fetch(`${service.url}/metrics`, { headers: { Authorization: `Bearer ${admin}` } })
        ).text();
        sum += Number(/^inventory_stock_group_writes_sum (\d+)$/m.exec(text)![1]);
        count += Number(/^inventory_stock_group_writes_count (\d+)$/m.exec(text)![1]);
      }
      return { sum, count };
    };
    const before = await groupWrites();

    const writes = Array.from({ length: 90 }, (_, i) =>
      i % 3 === 0
        ? i % 2 // refused either way; the transfer would have created the EAST level row
          ? { path: '/api/stock/out', body: { productId: never, quantity: 1 } }
          : { path: '/api/stock/transfer', body: { productId: never, from: 'MAIN', to: 'EAST', quantity: 1 } }
        : { path: i % 3 === 1 ? '/api/stock/in' : '/api/stock/out', body: { productId: stocked[i % 5], quantity: 1 } },
    );
    const answers = await Promise.all(writes.map((w) => call('POST', w.path, operator, w.body)));
    answers.forEach((a, i) => {
      if (i % 3 === 0) {
        expect(a.status).toBe(409);
        expect(a.body.code).toBe('INSUFFICIENT_STOCK');
      } else {
        expect(a.status).toBe(201); // 10 on hand covers every out here
      }
    });
    // no level row and no movement for the refused product; the others moved by exactly what was accepted
    expect((await call('GET', `/api/stock?productId=${never}`, operator)).body.items).toEqual([]);
    expect(await movements(never)).toEqual([]);
    for (const [k, productId] of stocked.entries()) {
      const net = writes.reduce(
        (sum, w, i) => (i % 3 !== 0 && i % 5 === k ? sum + (w.path === '/api/stock/in' ? 1 : -1) : sum),
        0,
      );
      expect(await onHand(productId)).toBe(10 + net);
    }
    // every write counted once; on MySQL fewer transactions than writes: some were committed together
    // (SQLite never waits on the database, so a write commits before the next request is even read)
    const after = await groupWrites();
    expect(after.sum - before.sum).toBe(90);
    if (testDbType() === 'mysql') expect(after.count - before.count).toBeLessThan(90);
    else expect(after.count - before.count).toBe(90);
    await expectLedgerConsistent();
  });

  it('applies two-line batches listed in opposite orders all or nothing', async () => {
    const a = await createProduct('BAT-A');
    const b = await createProduct('BAT-B');
    await call('POST', '/api/stock/batch', operator, {
      type: 'IN',
      lines: [
        { productId: a, quantity: 30 },
        { productId: b, quantity: 30 },
      ],
    });
    const answers = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        call('POST', '/api/stock/batch', operator, {
          type: 'OUT',
          lines:
            i % 2
              ? [
                  { productId: a, quantity: 1 },
                  { productId: b, quantity: 1 },
                ]
              : [
                  { productId: b, quantity: 1 },
                  { productId: a, quantity: 1 },
                ],
        }),
      ),
    );
    const accepted = answers.filter((x) => x.status === 201).length;
    expect(answers.filter((x) => ![201, 409, 503].includes(x.status))).toEqual([]);
    expect(accepted).toBeGreaterThanOrEqual(25);
    // all or nothing: both products moved by exactly the accepted orders
    expect(await onHand(a)).toBe(30 - accepted);
    expect(await onHand(b)).toBe(30 - accepted);
    await expectLedgerConsistent();
  });

  it('gives one effect for 20 parallel duplicates of one idempotent request', async () => {
    const productId = await createProduct('IDEM-1');
    await call('POST', '/api/stock/in', operator, { productId, quantity: 10 });
    const answers = await Promise.all(
      Array.from({ length: 20 }, () =>
        call('POST', '/api/stock/out', operator, { productId, quantity: 3 }, { 'Idempotency-Key': 'order-4711' }),
      ),
    );
    for (const a of answers) expect([201, 409]).toContain(a.status);
    const created = answers.filter((a) => a.status === 201);
    expect(created.length).toBeGreaterThanOrEqual(1);
    // a 409 here may only be IDEMPOTENCY_KEY_IN_USE, never a second effect
    for (const a of answers.filter((x) => x.status === 409)) expect(a.body.code).toBe('IDEMPOTENCY_KEY_IN_USE');
    expect(new Set(created.map((a) => a.body.movement!.id)).size).toBe(1);
    expect(await onHand(productId)).toBe(7);
    expect((await movements(productId)).filter((m) => m.type === 'OUT')).toHaveLength(1);
    await expectLedgerConsistent();
  });
});
