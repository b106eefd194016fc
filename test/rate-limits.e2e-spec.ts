import { randomBytes } from 'node:crypto';
import { bearer, startTestApp, TestApp } from './support/test-app';

describe('per-user request limit', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ RATE_LIMIT_PER_MINUTE: '5', REDIS_URL: '' });
  });
  afterAll(() => t.close());

  it('answers 429 RATE_LIMITED with Retry-After past RATE_LIMIT_PER_MINUTE, per user', async () => {
    for (let i = 0; i < 5; i++) await t.http.get('/api/auth/me').set(bearer(t.tokens.viewer)).expect(200);
    const limited = await t.http.get('/api/auth/me').set(bearer(t.tokens.viewer)).expect(429);
    expect(limited.body).toMatchObject({ statusCode: 429, code: 'RATE_LIMITED' });
    expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    // another user has a budget of its own
    await t.http.get('/api/auth/me').set(bearer(t.tokens.monitor)).expect(200);
  });
});

describe('limits shared through REDIS_URL', () => {
  const redis = { REDIS_URL: 'redis://127.0.0.1:6379', RATE_LIMIT_PER_MINUTE: '0' };
  let a: TestApp;
  let b: TestApp;
  beforeAll(async () => {
    a = await startTestApp(redis);
    b = await startTestApp(redis);
  });
  afterAll(async () => {
    await a.close();
    await b.close();
  });

  it('counts failed logins on one instance against the same username on another', async () => {
    const username = `nobody-${randomBytes(6).toString('hex')}`;
    for (let i = 0; i < 10; i++) {
      await a.http.post('/api/auth/login').send({ username, password: 'wrong-password-x' }).expect(401);
    }
    const res = await b.http.post('/api/auth/login').send({ username, password: 'wrong-password-x' }).expect(429);
    expect(res.body.code).toBe('RATE_LIMITED');
    expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
  });

  it('lets at most 10 of a burst of simultaneous wrong logins spread over both instances be checked', async () => {
    const username = `burst-${randomBytes(6).toString('hex')}`;
    const attempts = Array.from({ length: 60 }, (_, i) =>
      (i % 2 ? a : b).http.post('/api/auth/login').send({ username, password: `wrong-password-${i}` }),
    );
    const statuses = (await Promise.all(attempts)).map((res) => res.status);
    expect(statuses.filter((status) => status !== 401 && status !== 429)).toEqual([]);
    expect(statuses.filter((status) => status === 401).length).toBeLessThanOrEqual(10);
    expect(statuses.filter((status) => status === 429).length).toBeGreaterThanOrEqual(50);
  });
});
