import { readFileSync } from 'node:fs';
import { ADMIN, serviceEnv } from './support/service-env';
import { ServiceProcess, startServiceProcess } from './support/service-process';
import { createTestDatabase, TestDatabase } from './support/test-database';
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
    expect(lines.some((l) => l.req?.id === 'log-test-login')).toBe(true);
    expect(log).not.toContain(ADMIN.password);
    expect(log).not.toContain('another-secret-password');
    expect(log).not.toContain(accessToken);
    expect(log).not.toContain(accessToken.split('.')[2]); // not even the signature
  });
});
