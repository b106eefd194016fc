/**
 * The first start as a new user sees it in a terminal (LOG_FORMAT=pretty, the default on a TTY):
 * human-readable lines, none of Nest's module and route map, and a closing banner with where it
 * listens, the docs and the admin's generated password — which logs in.
 */
import { readFileSync } from 'node:fs';
import { serviceEnv } from './support/service-env';
import { ServiceProcess, startServiceProcess } from './support/service-process';
import { createTestDatabase, TestDatabase } from './support/test-database';
import { waitFor } from './support/wait';

describe('first run in a terminal (LOG_FORMAT=pretty)', () => {
  let database: TestDatabase;
  let service: ServiceProcess;
  const log = () => readFileSync(service.logFile, 'utf8');

  beforeAll(async () => {
    database = await createTestDatabase();
    const env = serviceEnv(database, { LOG_FORMAT: 'pretty', OPENAPI_ENABLED: 'true' });
    delete env.ADMIN_PASSWORD; // a first start: the admin's password is generated
    service = await startServiceProcess(env);
  });
  afterAll(async () => {
    await service?.stop();
    await database?.drop();
  });

  it('prints readable lines and a banner whose generated admin password logs in', async () => {
    await waitFor('the banner', () => log().includes('Log in:'));
    const port = new URL(service.url).port;
    const banner = log();
    expect(banner).toContain(`Inventory service ready: http://localhost:${port}`);
    expect(banner).toContain(`API docs:  http://localhost:${port}/docs`);
    const password = /Admin: {5}admin \/ (\S+) {3}\(generated now/.exec(banner)?.[1];
    expect(password).toBeDefined();
    const login = await fetch(`${service.url}/api/auth/login`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Request-Id': 'pretty-login' },
      body: JSON.stringify({ username: 'admin', password }),
    });
    expect(login.status).toBe(200);
    await waitFor('the request line', () => log().includes('POST /api/auth/login 200'));

    const lines = log().split('\n').filter(Boolean);
    expect(lines.filter((line) => line.startsWith('{'))).toEqual([]); // no JSON
    const logLines = lines.filter((line) => !line.startsWith('  '));
    for (const line of logLines) expect(line).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] (INFO|WARN|ERROR|DEBUG):/);
    // the start says what a person needs; Nest's module and route map is at debug
    expect(log()).not.toMatch(/InstanceLoader|RouterExplorer|RoutesResolver|dependencies initialized|Mapped \{/);
    expect(logLines.length).toBeLessThan(10);
  });
});
