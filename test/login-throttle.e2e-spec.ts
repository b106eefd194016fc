/**
 * Login throttling under a burst, the cap on concurrent password checks, and which client address a
 * proxy may name (TRUST_PROXY; IPv6 counted by its /64).
 */
import { readFileSync } from 'node:fs';
import { ADMIN, serviceEnv } from './support/service-env';
import { ServiceProcess, startServiceProcess } from './support/service-process';
import { createTestDatabase, TestDatabase } from './support/test-database';
import { bearer, startTestApp, TestApp } from './support/test-app';

const MIB = 1024 * 1024;

/** The most memory the process has held so far (VmHWM), in bytes. */
function peakRss(pid: number): number {
  const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(match![1]) * 1024;
}

function countBy<T>(items: T[], key: (item: T) => string | number): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const item of items) counts[key(item)] = (counts[key(item)] ?? 0) + 1;
  return counts;
}

describe('a burst of logins against one service process', () => {
  let database: TestDatabase;
  let service: ServiceProcess;
  const login = async (username: string, password: string) => {
    const res = await fetch(`${service.url}/api/auth/login`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ username, password }),
    });
    return {
      status: res.status,
      retryAfter: res.headers.get('retry-after'),
      body: (await res.json()) as { code: string },
    };
  };

  beforeAll(async () => {
    database = await createTestDatabase();
    service = await startServiceProcess(
      serviceEnv(database, {
        LOGIN_CONCURRENCY: '1',
        // room for 16 argon2 runs at once (64 MiB each): only the cap keeps them to one
        UV_THREADPOOL_SIZE: '16',
      }),
    );
  });
  afterAll(async () => {
    await service?.stop();
    await database?.drop();
  });

  it('lets at most 10 of 200 simultaneous wrong passwords for one username be checked; the rest are 429, then the right one is too', async () => {
    const before = peakRss(service.child.pid!);
    const answers = await Promise.all(
      Array.from({ length: 200 }, (_, i) => login(ADMIN.username, `wrong-password-${i}`)),
    );
    const statuses = countBy(answers, (a) => a.status);
    // the 10 attempts let through to a check, with one check at a time, may overflow its queue (503)
    expect(Object.keys(statuses).filter((status) => !['401', '429', '503'].includes(status))).toEqual([]);
    expect((statuses[401] ?? 0) + (statuses[503] ?? 0)).toBeLessThanOrEqual(10);
    expect(statuses[401]).toBeGreaterThan(0);
    expect(statuses[429]).toBeGreaterThanOrEqual(190);
    for (const limited of answers.filter((a) => a.status === 429)) {
      expect(limited.body.code).toBe('RATE_LIMITED');
      expect(Number(limited.retryAfter)).toBeGreaterThan(0);
    }
    const right = await login(ADMIN.username, ADMIN.password);
    expect({ status: right.status, code: right.body.code }).toEqual({ status: 429, code: 'RATE_LIMITED' });
    expect(peakRss(service.child.pid!) - before).toBeLessThan(200 * MIB);
  });

  it('checks LOGIN_CONCURRENCY passwords at a time: past a short queue, 503 with Retry-After, and memory stays bounded', async () => {
    const before = peakRss(service.child.pid!);
    const answers = await Promise.all(
      Array.from({ length: 60 }, (_, i) => login(`burst-user-${i}`, 'wrong-password-00')),
    );
    const statuses = countBy(answers, (a) => a.status);
    expect(Object.keys(statuses).sort()).toEqual(['401', '503']);
    for (const busy of answers.filter((a) => a.status === 503)) {
      expect(busy.body.code).toBe('SERVICE_UNAVAILABLE');
      expect(Number(busy.retryAfter)).toBeGreaterThan(0);
    }
    // one check at a time: the process never held more than about one argon2 run's memory more
    expect(peakRss(service.child.pid!) - before).toBeLessThan(200 * MIB);
  });
});

/** The client address each audit entry of a failed login for `username` recorded. */
async function failedLoginAddresses(t: TestApp, username: string): Promise<string[]> {
  const res = await t.http
    .get('/api/audit-logs')
    .query({ action: 'auth.login_failed', actor: username })
    .set(bearer(t.tokens.admin))
    .expect(200);
  return (res.body.items as { ip: string }[]).map((entry) => entry.ip);
}

describe('client addresses without TRUST_PROXY', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  it('ignores X-Forwarded-For: the socket peer is the client', async () => {
    await t.http
      .post('/api/auth/login')
      .set('X-Forwarded-For', '198.51.100.9')
      .send({ username: 'xff-ignored', password: 'wrong-password-00' })
      .expect(401);
    const [ip] = await failedLoginAddresses(t, 'xff-ignored');
    expect(ip).toMatch(/^(::ffff:)?127\.0\.0\.1$|^::1$/);
  });
});

describe('client addresses behind a trusted proxy (TRUST_PROXY=1)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ TRUST_PROXY: '1' });
  });
  afterAll(() => t.close());

  const loginFrom = (forwardedFor: string | null, username: string) => {
    const req = t.http.post('/api/auth/login');
    if (forwardedFor) void req.set('X-Forwarded-For', forwardedFor);
    return req.send({ username, password: 'wrong-password-00' });
  };

  it("records the client the proxy names, not the proxy's address", async () => {
    await loginFrom('198.51.100.9', 'behind-proxy').expect(401);
    await loginFrom('203.0.113.50, 198.51.100.10', 'behind-proxy').expect(401); // the last hop is the one the proxy saw
    expect((await failedLoginAddresses(t, 'behind-proxy')).sort()).toEqual(['198.51.100.10', '198.51.100.9']);
  });

  it('counts failed logins per client address, IPv6 by its /64', async () => {
    // 100 failures from 100 addresses of one /64, each a different username
    for (let start = 0; start < 100; start += 10) {
      const batch = Array.from({ length: 10 }, (_, i) => start + i);
      const statuses = await Promise.all(
        batch.map(async (n) => {
          const res = await loginFrom(`2001:db8:1:2::${n.toString(16)}`, `v6-user-${n}`);
          return `${res.status} ${res.body.code}`;
        }),
      );
      expect(statuses).toEqual(batch.map(() => '401 INVALID_CREDENTIALS'));
    }
    const sameNetwork = await loginFrom('2001:db8:1:2:ffff::1', 'v6-user-fresh');
    expect({ status: sameNetwork.status, code: sameNetwork.body.code }).toEqual({ status: 429, code: 'RATE_LIMITED' });
    // another /64, and the proxy's own address, are other clients
    await loginFrom('2001:db8:1:3::1', 'v6-user-fresh').expect(401);
    await loginFrom(null, 'v6-user-fresh').expect(401);
    await loginFrom('198.51.100.77', 'v6-user-fresh').expect(401);
  }, 180_000); // 100 password checks (argon2id, 64 MiB each): over a minute when the suites beside it load both cores
});
