import request from 'supertest';
import { startServiceProcess, ServiceProcess } from './support/service-process';
import { PASSWORD } from './support/service-env';
import { bearer, startTestApp, TestApp } from './support/test-app';
import { within } from './support/wait';

const REVOCATION_SPREAD_MS = 1000;

describe('two instances on one database', () => {
  let a: TestApp;
  let other: ServiceProcess;
  // the second instance is its own process, as in production: nothing in memory is shared
  const b = {
    http: () => request(other.url),
    login: async (username: string, password: string) =>
      (await request(other.url).post('/api/auth/login').send({ username, password }).expect(200)).body
        .accessToken as string,
  };
  beforeAll(async () => {
    a = await startTestApp();
    other = await startServiceProcess({ ...a.database.env, JWT_SECRET: process.env.JWT_SECRET! });
  });
  afterAll(async () => {
    await other?.stop();
    await a.close();
  });

  it('share users: a user created on one logs in on the other', async () => {
    await a.createUser('shared-user', 'viewer');
    const token = await b.login('shared-user', PASSWORD);
    await b.http().get('/api/auth/me').set(bearer(token)).expect(200);
  });

  it('revoke tokens everywhere within a second of a role change', async () => {
    const { id, token } = await a.createUser('revoked-user', 'operator');
    await b.http().get('/api/auth/me').set(bearer(token)).expect(200); // b now holds the user in its cache
    await a.http.patch(`/api/users/${id}`).set(bearer(a.tokens.admin)).send({ role: 'viewer' }).expect(200);
    await a.http.get('/api/auth/me').set(bearer(token)).expect(401); // at once on the instance that changed it
    // the other instance, polled: refused within the second the contract allows
    let answer = { status: 0, code: undefined as unknown };
    const revoked = await within(REVOCATION_SPREAD_MS, async () => {
      const res = await b.http().get('/api/auth/me').set(bearer(token));
      answer = { status: res.status, code: res.body.code };
      return res.status === 401;
    });
    expect({ revoked, ...answer }).toEqual({ revoked: true, status: 401, code: 'UNAUTHORIZED' });
  });

  it('see each other’s products', async () => {
    const created = await a.http
      .post('/api/products')
      .set(bearer(a.tokens.manager))
      .send({ sku: 'SHARED-1', name: 'Shared' })
      .expect(201);
    const res = await b.http().get(`/api/products/${created.body.id}`).set(bearer(a.tokens.viewer)).expect(200);
    expect(res.body.sku).toBe('SHARED-1');
    await b
      .http()
      .post('/api/products')
      .set(bearer(a.tokens.manager))
      .send({ sku: 'shared-1', name: 'Dup' })
      .expect(409);
  });
});
