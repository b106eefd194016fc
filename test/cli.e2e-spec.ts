import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { serviceEnv } from './support/service-env';
import { ServiceProcess, startServiceProcess } from './support/service-process';
import { MYSQL_MIGRATIONS, SQLITE_MIGRATIONS } from '../src/database/migrations';
import { createTestDatabase, TestDatabase, testDbType } from './support/test-database';

const CLI = join(process.cwd(), 'dist', 'src', 'cli', 'main.js');

describe('operator CLI', () => {
  let database: TestDatabase;
  let env: Record<string, string>;
  let service: ServiceProcess;

  /** Runs the built CLI; resolves with its exit code and output, never throws on a non-zero exit. */
  const cli = async (args: string[], input?: string) => {
    const child = execFile(process.execPath, [CLI, ...args], { env: { ...process.env, ...env, LOG_LEVEL: 'warn' } });
    if (input !== undefined) child.stdin!.end(input);
    else child.stdin!.end();
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? -1)));
    return { code, stdout, stderr };
  };
  const login = async (username: string, password: string) =>
    fetch(`${service.url}/api/auth/login`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ username, password }),
    });

  beforeAll(async () => {
    database = await createTestDatabase();
    env = serviceEnv(database);
    await promisify(execFile)(process.execPath, [CLI, 'migrate'], { env: { ...process.env, ...env } });
    service = await startServiceProcess(env);
  });
  afterAll(async () => {
    await service?.stop();
    await database?.drop();
  });

  it('lists its commands with --help and explains each one', async () => {
    const help = await cli(['--help']);
    expect(help.code).toBe(0);
    for (const command of ['user:create', 'token:issue', 'migrate', 'reconcile'])
      expect(help.stdout).toContain(command);
    const tokenHelp = await cli(['token:issue', '--help']);
    expect(tokenHelp.code).toBe(0);
    expect(tokenHelp.stdout).toMatch(/--username/);
    expect(tokenHelp.stdout).toMatch(/--ttl/);
  });

  it('migrate reports a current schema', async () => {
    const res = await cli(['migrate']);
    expect(res.code).toBe(0);
    const migrations = testDbType() === 'mysql' ? MYSQL_MIGRATIONS : SQLITE_MIGRATIONS;
    expect(res.stdout).toContain(`Schema current on ${testDbType()}: ${migrations.length} migrations applied`);
  });

  it('user:create makes a user who can log in, with a generated or a given password', async () => {
    const generated = await cli(['user:create', '--username', 'prometheus', '--role', 'monitor']);
    expect(generated.code).toBe(0);
    const password = /with password: (\S+)/.exec(generated.stdout)![1];
    expect((await login('prometheus', password)).status).toBe(200);

    const given = await cli(
      ['user:create', '-u', 'clerk', '-r', 'operator', '--password-stdin'],
      'a-long-clerk-password\n',
    );
    expect(given.code).toBe(0);
    expect(given.stdout).not.toContain('a-long-clerk-password');
    expect((await login('clerk', 'a-long-clerk-password')).status).toBe(200);
  });

  it.each([
    [['user:create', '--username', 'Bad Name', '--role', 'viewer'], /username/],
    [['user:create', '--username', 'someone', '--role', 'boss'], /role/],
    [['user:create', '--username', 'prometheus', '--role', 'viewer'], /already taken/],
    [['user:create', '--role', 'viewer'], /username/],
    [['token:issue', '--username', 'nobody'], /No user "nobody"/],
    [['token:issue', '--username', 'prometheus', '--ttl', 'forever'], /not a duration/],
    [['token:issue', '--username', 'prometheus', '--ttl', '401d'], /at most|between 1 second and 400 days/],
    [['token:issue', '--username', 'admin', '--ttl', '25h'], /monitor users.*--allow-long-lived/],
    [['token:issue', '--username', 'clerk', '--ttl', '30d'], /monitor users.*--allow-long-lived/],
    [['no-such-command'], /unknown command/],
  ])('refuses %j with a clear error and exit code 1', async (args, message) => {
    const res = await cli(args);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(message);
    expect(res.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('token:issue prints a long-lived token the service accepts', async () => {
    const res = await cli(['token:issue', '--username', 'prometheus', '--ttl', '400d']); // the longest there is
    expect(res.code).toBe(0);
    const token = res.stdout.trim();
    const payload = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()) as {
      exp: number;
      iat: number;
    };
    expect(payload.exp - payload.iat).toBe(400 * 86400);
    const metrics = await fetch(`${service.url}/metrics`, { headers: { Authorization: `Bearer ${token}` } });
    expect(metrics.status).toBe(200);
  });

  it('token:issue gives other roles the login lifetime, and more than 24 hours only when told --allow-long-lived', async () => {
    const lifetime = (token: string) => {
      const { iat, exp } = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()) as Record<
        string,
        number
      >;
      return exp - iat;
    };
    const monitor = await cli(['token:issue', '--username', 'prometheus']);
    expect(lifetime(monitor.stdout.trim())).toBe(365 * 86400);
    const admin = await cli(['token:issue', '--username', 'admin']);
    expect(admin.code).toBe(0);
    expect(lifetime(admin.stdout.trim())).toBe(3600); // JWT_TTL's default
    const insisted = await cli(['token:issue', '--username', 'admin', '--ttl', '7d', '--allow-long-lived']);
    expect(insisted.code).toBe(0);
    expect(lifetime(insisted.stdout.trim())).toBe(7 * 86400);
    const me = await fetch(`${service.url}/api/auth/me`, {
      headers: { Authorization: `Bearer ${insisted.stdout.trim()}` },
    });
    expect(me.status).toBe(200);
  });

  it('reconcile prints the report and exits 0 on a consistent ledger', async () => {
    const res = await cli(['reconcile']);
    expect(res.code).toBe(0);
    expect(JSON.parse(res.stdout)).toEqual({ checkedLevels: 0, mismatches: [] });
  });
});
