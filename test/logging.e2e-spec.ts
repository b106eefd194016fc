import { readFileSync } from 'node:fs';
import { ADMIN, serviceEnv } from './support/service-env';
import { ServiceProcess, startServiceProcess } from './support/service-process';
import { loginTo } from './support/service-client';
import { createTestDatabase, TestDatabase, testDbType } from './support/test-database';
import { waitFor } from './support/wait';

describe('structured logs', () => {
  let database: TestDatabase;
  let service: ServiceProcess;

  beforeAll(async () => {
    database = await createTestDatabase();
    service = await startServiceProcess(serviceEnv(database));
  });
  afterAll(async () => {
    await service?.stop();
    await database?.drop();
  });

  it('logs each request as JSON with its request id, and never a password or a token', async () => {
    const login = await fetch(`${service.url}/api/auth/login`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Request-Id': 'log-test-login' },
      body: JSON.stringify(ADMIN),
    });
    const { accessToken } = (await login.json()) as { accessToken: string };
    await fetch(`${service.url}/api/auth/me`, {
      headers: { Authorization: `Bearer ${accessToken}`, 'X-Request-Id': 'log-test-me' },
    });
    await fetch(`${service.url}/api/users`, {
      method: 'POST',
      headers: {
        Authorization: `Bearer ${accessToken}`,
        'Content-Type': 'application/json',
        'X-Request-Id': 'log-test-user',
      },
      body: JSON.stringify({ username: 'logged-user', password: 'another-secret-password', role: 'viewer' }),
    });
    // the log destination writes asynchronously: wait until all three requests are in it
    const logged = (id: string) => readFileSync(service.logFile, 'utf8').includes(`"id":"${id}"`);
    await waitFor('the three request log lines', () =>
      ['log-test-login', 'log-test-me', 'log-test-user'].every(logged),
    );

    const log = readFileSync(service.logFile, 'utf8');
    const lines = log
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map(
        (line) => JSON.parse(line) as { msg: string; req?: { id: string; url: string }; res?: { statusCode: number } },
      );
    const me = lines.find((l) => l.req?.id === 'log-test-me');
    expect(me).toMatchObject({ msg: 'request completed', req: { url: '/api/auth/me' }, res: { statusCode: 200 } });
    // without OTEL_EXPORTER_OTLP_ENDPOINT nothing is traced: no line carries a trace id
    expect(log).not.toContain('"trace_id"');
    expect(lines.some((l) => l.req?.id === 'log-test-login')).toBe(true);
    expect(log).not.toContain(ADMIN.password);
    expect(log).not.toContain('another-secret-password');
    expect(log).not.toContain(accessToken);
    expect(log).not.toContain(accessToken.split('.')[2]); // not even the signature
  });

  it('never logs the statement or its parameters (an argon2 hash) when the database refuses a user write', async () => {
    const refuse = (event: 'INSERT' | 'UPDATE', username: string, name: string) =>
      testDbType() === 'sqlite'
        ? `CREATE TRIGGER ${name} BEFORE ${event} ON users WHEN ${event === 'INSERT' ? 'NEW' : 'OLD'}.username = '${username}' BEGIN SELECT RAISE(ABORT, 'refused by the test'); END`
        : `CREATE TRIGGER ${name} BEFORE ${event} ON users FOR EACH ROW BEGIN IF ${event === 'INSERT' ? 'NEW' : 'OLD'}.username = '${username}' THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'refused by the test'; END IF; END`;
    await database.query(refuse('INSERT', 'doomed-create', 'refuse_create'));
    await database.query(refuse('UPDATE', 'doomed-update', 'refuse_update'));
    const token = await loginTo(service.url, ADMIN);
    const headers = { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' };
    const send = async (method: string, path: string, body: object, requestId: string) =>
      (
        await fetch(`${service.url}${path}`, {
          method,
          headers: { ...headers, 'X-Request-Id': requestId },
          body: JSON.stringify(body),
        })
      ).status;

    const created = await fetch(`${service.url}/api/users`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ username: 'doomed-update', password: 'first-password-123', role: 'viewer' }),
    });
    const { id } = (await created.json()) as { id: number };
    expect(
      await send(
        'POST',
        '/api/users',
        { username: 'doomed-create', password: 'a-password-123', role: 'viewer' },
        'log-refused-create',
      ),
    ).toBe(500);
    expect(await send('PATCH', `/api/users/${id}`, { password: 'second-password-123' }, 'log-refused-update')).toBe(
      500,
    );

    const errorLines = () =>
      readFileSync(service.logFile, 'utf8')
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as Record<string, unknown>)
        .filter((l) => l.level === 50 && ['log-refused-create', 'log-refused-update'].includes(String(l.requestId)));
    await waitFor('both refusals logged', () => errorLines().length === 2);
    const errors = errorLines();
    for (const line of errors) expect(JSON.stringify(line)).toContain('refused by the test'); // the cause is there
    const log = readFileSync(service.logFile, 'utf8');
    expect(log).not.toMatch(/\$argon2/);
    expect(log).not.toMatch(/INSERT INTO|UPDATE [`"]?users/i);
  });
});
