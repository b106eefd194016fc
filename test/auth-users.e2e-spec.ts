import { randomBytes } from 'node:crypto';
import jwt from 'jsonwebtoken';
import type { Response } from 'supertest';
import { Role, ROLES } from '../src/common/roles';
import type { UserView } from '../src/modules/users/dto/user.dto';
import { expectError, expectValidation } from './support/errors';
import { ADMIN, PASSWORD } from './support/service-env';
import { bearer, startTestApp, TestApp } from './support/test-app';

/**
 * The contract's Auth and Users sections, over HTTP, on the jest project's driver.
 * Tests run in file order: the last-admin tests revoke and re-issue the admin's token, and the
 * per-address login limit (which locks every later login from this client) comes last of all.
 */

type Json = Record<string, unknown>;

const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const USER_KEYS = ['createdAt', 'disabled', 'id', 'role', 'username'];
const FAILED_LOGINS_PER_USERNAME = 10;
const FAILED_LOGINS_PER_ADDRESS = 100;
const LOGIN_WINDOW_SECONDS = 15 * 60;

let t: TestApp;
/** The bootstrap admin's current token (the last-admin tests revoke and renew it). */
let adminToken: string;
/** Every 401 answer to POST /api/auth/login this file has caused: the per-address limit counts them. */
let failedLogins = 0;
/** Every password this file has sent: none may ever come back in an answer or an audit entry. */
const passwordsUsed = new Set<string>([ADMIN.password, PASSWORD]);

beforeAll(async () => {
  t = await startTestApp();
  adminToken = t.tokens.admin;
});
afterAll(() => t.close());

// ---------------------------------------------------------------- helpers

/** Remembers a password this file sent (long enough to search for; shorter ones are only ever rejected). */
function track(password: unknown): void {
  if (typeof password === 'string' && password.length >= 8) passwordsUsed.add(password);
}

/** A fresh random password of exactly `length` characters. */
function newPassword(length = 20): string {
  const password = randomBytes(length).toString('base64url').slice(0, length);
  track(password);
  return password;
}

/** The same password with the character at `index` replaced by another one. */
function changedAt(password: string, index: number): string {
  const other = password[index] === 'x' ? 'y' : 'x';
  const changed = password.slice(0, index) + other + password.slice(index + 1);
  track(changed);
  return changed;
}

async function postLogin(body: unknown): Promise<Response> {
  const password = (body as { password?: unknown } | null)?.password;
  track(password);
  const res = await t.http.post('/api/auth/login').send(body as object);
  if (res.status === 401) failedLogins += 1;
  return res;
}

const login = (username: string, password: string) => postLogin({ username, password });

async function tokenFor(username: string, password: string): Promise<string> {
  const res = await login(username, password);
  expect(res.status).toBe(200);
  return res.body.accessToken as string;
}

async function createUser(username: string, role: Role, password = PASSWORD): Promise<UserView> {
  track(password);
  const res = await t.http.post('/api/users').set(bearer(adminToken)).send({ username, password, role });
  expect(res.status).toBe(201);
  return res.body as UserView;
}

function postUser(body: Json, token = adminToken) {
  track(body.password);
  return t.http.post('/api/users').set(bearer(token)).send(body);
}

function patchUser(id: number, body: Json, token = adminToken) {
  track(body.password);
  return t.http.patch(`/api/users/${id}`).set(bearer(token)).send(body);
}

const me = (token: string) => t.http.get('/api/auth/me').set(bearer(token));

/** The user as GET /api/users/:id shows it now. */
async function getUser(id: number): Promise<UserView> {
  return (await t.http.get(`/api/users/${id}`).set(bearer(adminToken)).expect(200)).body as UserView;
}

async function userByName(username: string): Promise<UserView | undefined> {
  const res = await t.http.get('/api/users?limit=200').set(bearer(adminToken)).expect(200);
  return (res.body.items as UserView[]).find((u) => u.username === username);
}

/** Every stored password hash right now. */
async function storedHashes(): Promise<string[]> {
  const rows: { password_hash: string }[] = await t.dataSource.query('SELECT password_hash FROM users');
  return rows.map((row) => row.password_hash);
}

/** No password this file ever sent, no stored hash and no "$argon2" text anywhere in `value`; no key about one. */
async function expectNoSecrets(value: unknown): Promise<void> {
  const text = JSON.stringify(value);
  expect(text).not.toContain('$argon2');
  for (const secret of [...passwordsUsed, ...(await storedHashes())]) expect(text).not.toContain(secret);
  const keys: string[] = [];
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(walk);
    else if (node && typeof node === 'object') {
      for (const [key, child] of Object.entries(node)) {
        keys.push(key);
        walk(child);
      }
    }
  };
  walk(value);
  expect(keys.filter((key) => /pass|hash|secret|salt/i.test(key))).toEqual([]);
}

/** Exactly {id, username, role, disabled, createdAt}: an integer id and an ISO-8601 UTC time with ms. */
function expectUserView(body: unknown, expected: Partial<UserView> = {}): void {
  const user = body as UserView;
  expect(Object.keys(user).sort()).toEqual(USER_KEYS);
  expect(Number.isSafeInteger(user.id) && user.id > 0).toBe(true);
  expect(typeof user.username).toBe('string');
  expect(ROLES).toContain(user.role);
  expect(typeof user.disabled).toBe('boolean');
  expect(user.createdAt).toMatch(ISO_MS);
  expect(new Date(user.createdAt).toISOString()).toBe(user.createdAt);
  expect(user).toEqual(expect.objectContaining(expected));
}

const b64url = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
const secret = () => process.env.JWT_SECRET!;
const nowSeconds = () => Math.floor(Date.now() / 1000);

function claimsOf(token: string): { sub: number; tv: number } & jwt.JwtPayload {
  return jwt.decode(token, { json: true }) as { sub: number; tv: number } & jwt.JwtPayload;
}

/** The admin token's claims, signed by this test with the service's secret: valid unless told otherwise. */
function forge(options: jwt.SignOptions = {}, claims: Json = {}, key: string = secret()): string {
  const { sub, tv, iss, aud } = claimsOf(adminToken);
  return jwt.sign({ sub, tv, iss, aud, ...claims }, key, { algorithm: 'HS256', expiresIn: 600, ...options });
}

/** The admin token's claims with `iat` and `exp` of the caller's choosing, signed with the service's secret. */
function expired(iat: number, exp: number): string {
  const { sub, tv, iss, aud } = claimsOf(adminToken);
  return jwt.sign({ sub, tv, iss, aud, iat, exp }, secret(), { algorithm: 'HS256' });
}

async function auditRows(where: string, params: unknown[]): Promise<Json[]> {
  return t.dataSource.query(`SELECT * FROM audit_logs WHERE ${where} ORDER BY id`, params);
}

// ---------------------------------------------------------------- auth

describe('POST /api/auth/login', () => {
  it('answers 200 {accessToken, tokenType: "Bearer", expiresIn (seconds), user {id, username, role}}', async () => {
    const res = await login(ADMIN.username, ADMIN.password);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(Object.keys(res.body).sort()).toEqual(['accessToken', 'expiresIn', 'tokenType', 'user']);
    expect(res.body.tokenType).toBe('Bearer');
    expect(Number.isInteger(res.body.expiresIn) && res.body.expiresIn > 0).toBe(true);
    expect(Object.keys(res.body.user).sort()).toEqual(['id', 'role', 'username']);
    expect(res.body.user).toEqual({ id: expect.any(Number), username: 'admin', role: 'admin' });

    const token = jwt.decode(res.body.accessToken, { complete: true, json: true });
    expect(token).not.toBeNull();
    expect(token!.header.alg).toBe('HS256');
    const claims = token!.payload as jwt.JwtPayload;
    expect(String(claims.sub)).toBe(String(res.body.user.id));
    // expiresIn is the token's lifetime in seconds, not milliseconds nor a date
    expect(claims.exp! - claims.iat!).toBe(res.body.expiresIn);
    await expectNoSecrets(res.body);

    // the token it hands out is accepted
    await me(res.body.accessToken).expect(200);
  });

  it('GET /api/auth/me answers {id, username, role} for every role', async () => {
    for (const role of ROLES) {
      const res = await me(t.tokens[role]);
      expect({ role, status: res.status }).toEqual({ role, status: 200 });
      expect(Object.keys(res.body).sort()).toEqual(['id', 'role', 'username']);
      expect(res.body).toEqual({
        id: expect.any(Number),
        username: role === 'admin' ? ADMIN.username : `${role}-user`,
        role,
      });
      expect(String(claimsOf(t.tokens[role]).sub)).toBe(String(res.body.id));
    }
  });

  it('unknown user, wrong password and disabled user all get the same 401 INVALID_CREDENTIALS', async () => {
    const password = newPassword();
    const disabled = await createUser('cred-disabled', 'viewer', password);
    await patchUser(disabled.id, { disabled: true }).expect(200);
    const wrongPassword = newPassword();

    const answers = [
      await login('cred-nobody', password),
      await login('cred-disabled', wrongPassword),
      await login(ADMIN.username, wrongPassword),
      await login('cred-disabled', password),
    ];
    for (const res of answers) {
      expectError(res, 401, 'INVALID_CREDENTIALS');
      expect(res.body.accessToken).toBeUndefined();
      expect(res.headers['www-authenticate']).toBe(answers[0].headers['www-authenticate']);
    }
    const withoutRequestId = answers.map(({ body }) => ({ ...body, requestId: undefined }));
    for (const body of withoutRequestId) expect(body).toEqual(withoutRequestId[0]);
    expect(new Set(answers.map((res) => res.body.requestId)).size).toBe(answers.length);
  });

  it('keeps a well-formed client X-Request-Id in the header and the error body', async () => {
    const res = await t.http
      .post('/api/auth/login')
      .set('X-Request-Id', 'auth-users:login.1')
      .send({ username: 'nobody-here', password: newPassword() });
    failedLogins += res.status === 401 ? 1 : 0;
    expectError(res, 401, 'INVALID_CREDENTIALS');
    expect(res.body.requestId).toBe('auth-users:login.1');
  });

  it('a username differing in case is not that user: "ADMIN" with the admin password gets 401', async () => {
    const res = await login('ADMIN', ADMIN.password);
    expectError(res, 401, 'INVALID_CREDENTIALS');
  });

  it('a username with surrounding spaces is not that user: "admin " with the admin password gets 401', async () => {
    for (const username of ['admin ', ' admin']) {
      const res = await login(username, ADMIN.password);
      expect({ username, status: res.status }).toEqual({ username, status: 401 });
      expectError(res, 401, 'INVALID_CREDENTIALS');
    }
  });

  it('rejects missing, mistyped and unknown fields with 400 VALIDATION_FAILED naming each field', async () => {
    const cases: [unknown, string[]][] = [
      [{}, ['username', 'password']],
      [{ username: ADMIN.username }, ['password']],
      [{ password: ADMIN.password }, ['username']],
      [{ username: ADMIN.username, password: ADMIN.password, extra: 1 }, ['extra']],
      [{ username: ADMIN.username, password: ADMIN.password, role: 'admin' }, ['role']],
      [{ username: 42, password: ADMIN.password }, ['username']],
      [{ username: ADMIN.username, password: ['admin-password-123'] }, ['password']],
      [{ username: null, password: null }, ['username', 'password']],
    ];
    for (const [body, fields] of cases) {
      const res = await postLogin(body);
      expect({ body, status: res.status }).toEqual({ body, status: 400 });
      expectValidation(res, fields);
      expect(res.body.accessToken).toBeUndefined();
    }
  });

  it('rejects malformed JSON with 400 VALIDATION_FAILED and a non-JSON body with 415', async () => {
    const malformed = await t.http
      .post('/api/auth/login')
      .set('Content-Type', 'application/json')
      .send('{"username": "admin", "password": ');
    expectError(malformed, 400, 'VALIDATION_FAILED');

    const text = await t.http
      .post('/api/auth/login')
      .set('Content-Type', 'text/plain')
      .send(`username=${ADMIN.username}&password=${ADMIN.password}`);
    expectError(text, 415, 'UNSUPPORTED_MEDIA_TYPE');
  });
});

describe('access tokens', () => {
  it('issues tokens naming this service as issuer and audience', () => {
    expect(claimsOf(adminToken)).toMatchObject({ iss: 'inventory-service', aud: 'inventory-api' });
  });

  it('accepts a token this test signs like the service does (so the rejections below are meaningful)', async () => {
    await t.http.get('/api/users').set(bearer(forge())).expect(200);
    await me(forge()).expect(200);
  });

  it('without an Authorization header: 401 UNAUTHORIZED', async () => {
    expectError(await t.http.get('/api/auth/me'), 401, 'UNAUTHORIZED');
    expectError(await t.http.get('/api/users'), 401, 'UNAUTHORIZED');
  });

  const rejected: [string, () => string][] = [
    ['expired an hour ago', () => expired(nowSeconds() - 7200, nowSeconds() - 3600)],
    ['expired a second ago', () => expired(nowSeconds() - 60, nowSeconds() - 1)],
    ['signed with another secret', () => forge({}, {}, 'another-secret-that-is-long-enough-for-hs256-98765')],
    ['HS512 with the right secret (algorithm pinned to HS256)', () => forge({ algorithm: 'HS512' })],
    ['HS384 with the right secret', () => forge({ algorithm: 'HS384' })],
    [
      'alg: none',
      () => {
        const { sub, tv } = claimsOf(adminToken);
        return `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url({ sub, tv, iat: nowSeconds(), exp: nowSeconds() + 600 })}.`;
      },
    ],
    [
      'alg: none keeping a real signature',
      () => {
        const [, payload, signature] = adminToken.split('.');
        return `${b64url({ alg: 'none', typ: 'JWT' })}.${payload}.${signature}`;
      },
    ],
    [
      "tampered payload (a viewer's token claiming the admin's id)",
      () => {
        const [header, , signature] = t.tokens.viewer.split('.');
        const { sub, tv } = claimsOf(adminToken);
        return `${header}.${b64url({ ...claimsOf(t.tokens.viewer), sub, tv })}.${signature}`;
      },
    ],
    [
      'tampered payload (expiry pushed out)',
      () => {
        const [header, , signature] = adminToken.split('.');
        return `${header}.${b64url({ ...claimsOf(adminToken), exp: nowSeconds() + 86400 * 365 })}.${signature}`;
      },
    ],
    [
      'tampered signature',
      () => {
        const [header, payload, signature] = adminToken.split('.');
        const flipped = signature.slice(0, 5) + (signature[5] === 'A' ? 'Q' : 'A') + signature.slice(6);
        return `${header}.${payload}.${flipped}`;
      },
    ],
    ['without a signature', () => adminToken.split('.').slice(0, 2).join('.') + '.'],
    ['for a user that does not exist', () => forge({}, { sub: 999999, tv: 0 })],
    ['without an issuer', () => forge({}, { iss: undefined })],
    ['from another issuer', () => forge({}, { iss: 'another-service' })],
    ['without an audience', () => forge({}, { aud: undefined })],
    ['for another audience', () => forge({}, { aud: 'another-api' })],
    ['garbage', () => 'garbage'],
    ['three garbage segments', () => 'a.b.c'],
    ['a JSON payload that is not an object', () => `${b64url({ alg: 'HS256', typ: 'JWT' })}.${b64url([1])}.x`],
  ];

  it.each(rejected)('%s: 401 UNAUTHORIZED', async (_name, build) => {
    const token = build();
    expectError(await t.http.get('/api/users').set(bearer(token)), 401, 'UNAUTHORIZED');
    expectError(await me(token), 401, 'UNAUTHORIZED');
  });

  it('a token without the "Bearer " prefix, or under another scheme: 401 UNAUTHORIZED', async () => {
    const headers = [
      adminToken,
      `Token ${adminToken}`,
      `Basic ${Buffer.from(`${ADMIN.username}:${ADMIN.password}`).toString('base64')}`,
      'Bearer',
      'Bearer ',
    ];
    for (const header of headers) {
      const res = await t.http.get('/api/users').set('Authorization', header);
      expect({ header, status: res.status }).toEqual({ header, status: 401 });
      expectError(res, 401, 'UNAUTHORIZED');
    }
  });
});

describe('login throttling', () => {
  const username = 'throttled-user';
  let password: string;

  it('after 10 failed logins for one username the next gets 429 RATE_LIMITED with Retry-After, even with the right password', async () => {
    password = newPassword();
    await createUser(username, 'viewer', password);
    await tokenFor(username, password);

    for (let attempt = 1; attempt <= FAILED_LOGINS_PER_USERNAME; attempt++) {
      const res = await login(username, newPassword());
      expect({ attempt, status: res.status }).toEqual({ attempt, status: 401 });
      expectError(res, 401, 'INVALID_CREDENTIALS');
    }

    for (const attempt of [password, newPassword()]) {
      const res = await login(username, attempt);
      expectError(res, 429, 'RATE_LIMITED');
      expect(res.body.accessToken).toBeUndefined();
      expect(res.headers['retry-after']).toMatch(/^\d+$/);
      const seconds = Number(res.headers['retry-after']);
      expect(seconds).toBeGreaterThanOrEqual(1);
      expect(seconds).toBeLessThanOrEqual(LOGIN_WINDOW_SECONDS);
    }
  });

  it('the lock is per username: other users still log in', async () => {
    const bystander = newPassword();
    await createUser('throttle-bystander', 'viewer', bystander);
    await tokenFor('throttle-bystander', bystander);
    await tokenFor(ADMIN.username, ADMIN.password);
  });

  it('the locked username cannot be reached by changing its case or padding it with spaces', async () => {
    for (const variant of ['THROTTLED-USER', 'Throttled-User', `${username} `, ` ${username}`, `${username}  `]) {
      const res = await login(variant, password);
      expect({ variant, status: res.status }).not.toEqual({ variant, status: 200 });
      expect({ variant, refused: [401, 429].includes(res.status) }).toEqual({ variant, refused: true });
      expectError(res, res.status, res.status === 429 ? 'RATE_LIMITED' : 'INVALID_CREDENTIALS');
    }
  });
});

describe('revocation', () => {
  it('a role change revokes the old tokens; a fresh login carries the new role', async () => {
    const password = newPassword();
    const user = await createUser('revoke-role', 'operator', password);
    const oldToken = await tokenFor(user.username, password);
    await me(oldToken).expect(200);

    const patched = await patchUser(user.id, { role: 'viewer' }).expect(200);
    expectUserView(patched.body, { id: user.id, role: 'viewer' });

    expectError(await me(oldToken), 401, 'UNAUTHORIZED');
    expectError(await t.http.get('/api/products').set(bearer(oldToken)), 401, 'UNAUTHORIZED');

    const fresh = await login(user.username, password);
    expect(fresh.status).toBe(200);
    expect(fresh.body.user).toEqual({ id: user.id, username: user.username, role: 'viewer' });
    const res = await me(fresh.body.accessToken).expect(200);
    expect(res.body).toEqual({ id: user.id, username: user.username, role: 'viewer' });
    // still revoked, and nobody else's token was touched
    expectError(await me(oldToken), 401, 'UNAUTHORIZED');
    await me(t.tokens.viewer).expect(200);
    await me(adminToken).expect(200);
  });

  it('a password change revokes every earlier token; only the new password logs in', async () => {
    const oldPassword = newPassword();
    const user = await createUser('revoke-password', 'manager', oldPassword);
    const first = await tokenFor(user.username, oldPassword);
    const second = await tokenFor(user.username, oldPassword);
    await me(first).expect(200);
    await me(second).expect(200);

    const newPass = newPassword();
    const patched = await patchUser(user.id, { password: newPass }).expect(200);
    expectUserView(patched.body, { id: user.id, role: 'manager', disabled: false });
    await expectNoSecrets(patched.body);

    expectError(await me(first), 401, 'UNAUTHORIZED');
    expectError(await me(second), 401, 'UNAUTHORIZED');
    expectError(await login(user.username, oldPassword), 401, 'INVALID_CREDENTIALS');
    const fresh = await tokenFor(user.username, newPass);
    const res = await me(fresh).expect(200);
    expect(res.body).toEqual({ id: user.id, username: user.username, role: 'manager' });
    await me(t.tokens.manager).expect(200);
  });

  it('disabling revokes the old tokens and refuses logins; re-enabling lets fresh logins in, not old tokens', async () => {
    const password = newPassword();
    const user = await createUser('revoke-disabled', 'operator', password);
    const oldToken = await tokenFor(user.username, password);
    await me(oldToken).expect(200);

    const patched = await patchUser(user.id, { disabled: true }).expect(200);
    expectUserView(patched.body, { id: user.id, disabled: true });
    expectError(await me(oldToken), 401, 'UNAUTHORIZED');
    expectError(await login(user.username, password), 401, 'INVALID_CREDENTIALS');
    expectUserView((await t.http.get(`/api/users/${user.id}`).set(bearer(adminToken)).expect(200)).body, {
      disabled: true,
    });

    const enabled = await patchUser(user.id, { disabled: false }).expect(200);
    expectUserView(enabled.body, { id: user.id, disabled: false });
    expectError(await me(oldToken), 401, 'UNAUTHORIZED');
    const fresh = await tokenFor(user.username, password);
    await me(fresh).expect(200);
    await me(t.tokens.operator).expect(200);
  });
});

// ---------------------------------------------------------------- users

describe('users', () => {
  it('POST /api/users → 201 {id, username, role, disabled, createdAt}, nothing more, and GET /:id answers the same', async () => {
    const before = Date.now();
    const password = newPassword();
    const res = await postUser({ username: 'shape-user', password, role: 'operator' });
    const after = Date.now();
    expect(res.status).toBe(201);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expectUserView(res.body, { username: 'shape-user', role: 'operator', disabled: false });
    expect(Date.parse(res.body.createdAt)).toBeGreaterThanOrEqual(before - 1000);
    expect(Date.parse(res.body.createdAt)).toBeLessThanOrEqual(after + 1000);
    await expectNoSecrets(res.body);

    const got = await t.http.get(`/api/users/${res.body.id}`).set(bearer(adminToken)).expect(200);
    expectUserView(got.body);
    expect(got.body).toEqual(res.body);
    await expectNoSecrets(got.body);

    const token = await tokenFor('shape-user', password);
    expect((await me(token).expect(200)).body).toEqual({ id: res.body.id, username: 'shape-user', role: 'operator' });
  });

  it('the bootstrap admin exists, enabled, from ADMIN_USERNAME / ADMIN_PASSWORD', async () => {
    const admin = await userByName(ADMIN.username);
    expectUserView(admin, { username: ADMIN.username, role: 'admin', disabled: false });
    expect((await me(adminToken).expect(200)).body.id).toBe(admin!.id);
  });

  it('creates a user of each of the five roles, each of which logs in with that role', async () => {
    for (const role of ROLES) {
      const password = newPassword();
      const user = await createUser(`each-role-${role}`, role, password);
      expect(user).toEqual(expect.objectContaining({ username: `each-role-${role}`, role }));
      expectUserView(await getUser(user.id), { username: `each-role-${role}`, role, disabled: false });
      const res = await login(user.username, password);
      expect(res.status).toBe(200);
      expect(res.body.user).toEqual({ id: user.id, username: user.username, role });
      // keep "admin" the only enabled admin for the last-admin tests
      if (role === 'admin') await patchUser(user.id, { disabled: true }).expect(200);
    }
  });

  it('username: 3..64 of [a-z0-9._-]; anything else 400 VALIDATION_FAILED naming username', async () => {
    const rejected: unknown[] = [
      'ab',
      'a',
      '',
      'u'.repeat(65),
      'Alice',
      'ALICE',
      'alice smith',
      ' alice',
      'alice ',
      'alice@example',
      'ålice',
      'alice/x',
      'alice+x',
      42,
      null,
      undefined,
    ];
    for (const username of rejected) {
      const res = await postUser({ username, password: PASSWORD, role: 'viewer' });
      expect({ username, status: res.status }).toEqual({ username, status: 400 });
      expectValidation(res, ['username']);
    }
    for (const username of ['abc', 'v'.repeat(64), 'a.b_c-9', '0.1', '---']) {
      const res = await postUser({ username, password: PASSWORD, role: 'viewer' });
      expect({ username, status: res.status }).toEqual({ username, status: 201 });
      expect(res.body.username).toBe(username);
      expectUserView(await getUser(res.body.id), { username });
    }
    const res = await t.http.get('/api/users?limit=200').set(bearer(adminToken)).expect(200);
    const names = (res.body.items as UserView[]).map((u) => u.username);
    for (const username of rejected) expect(names).not.toContain(username);
    expect(names.filter((name) => name.toLowerCase() === 'alice')).toEqual([]);
  });

  it('password: 12..128 characters; 11 and 129 are rejected on create and on PATCH', async () => {
    for (const length of [0, 1, 11, 129, 200]) {
      const res = await postUser({ username: `pw-len-${length}`, password: newPassword(length), role: 'viewer' });
      expect({ length, status: res.status }).toEqual({ length, status: 400 });
      expectValidation(res, ['password']);
    }
    for (const password of [123456789012, null, ['x'.repeat(12)]]) {
      expectValidation(await postUser({ username: 'pw-type', password, role: 'viewer' }), ['password']);
    }
    const twelve = newPassword(12);
    const user = await createUser('pw-len-12', 'viewer', twelve);
    await tokenFor(user.username, twelve);

    for (const password of [newPassword(11), newPassword(129), 123456789012, ['x'.repeat(12)]]) {
      const res = await patchUser(user.id, { password });
      expect({ password, status: res.status }).toEqual({ password, status: 400 });
      expectValidation(res, ['password']);
    }
    // the rejected changes changed nothing
    await tokenFor(user.username, twelve);
    const names = (await t.http.get('/api/users?limit=200').set(bearer(adminToken)).expect(200)).body.items.map(
      (u: UserView) => u.username,
    );
    expect(names).not.toContain('pw-len-11');
    expect(names).not.toContain('pw-len-129');
  });

  it('a 128-character password works and every character counts (nothing truncated)', async () => {
    const password = newPassword(128);
    expect(password).toHaveLength(128);
    const user = await createUser('pw-long', 'viewer', password);
    await tokenFor(user.username, password);

    for (const index of [99, 72, 127]) {
      const res = await login(user.username, changedAt(password, index));
      expect({ index, status: res.status }).toEqual({ index, status: 401 });
      expectError(res, 401, 'INVALID_CREDENTIALS');
    }
    expectError(await login(user.username, password.slice(0, 127)), 401, 'INVALID_CREDENTIALS');
    expectError(await login(user.username, password.slice(0, 72)), 401, 'INVALID_CREDENTIALS');

    // the same through PATCH
    const other = newPassword(128);
    await patchUser(user.id, { password: other }).expect(200);
    expectError(await login(user.username, changedAt(other, 99)), 401, 'INVALID_CREDENTIALS');
    await tokenFor(user.username, other);
  });

  it('password length counts characters, not bytes', async () => {
    const twelve = '€'.repeat(12);
    const long = '€'.repeat(127) + 'é';
    track(twelve);
    track(long);
    const a = await createUser('pw-euro-12', 'viewer', twelve);
    await tokenFor(a.username, twelve);
    const b = await createUser('pw-euro-128', 'viewer', long);
    await tokenFor(b.username, long);
    expectError(await login(b.username, '€'.repeat(127) + 'e'), 401, 'INVALID_CREDENTIALS');
    track('€'.repeat(129));
    expectValidation(await postUser({ username: 'pw-euro-129', password: '€'.repeat(129), role: 'viewer' }), [
      'password',
    ]);
  });

  it('role must be one of admin, manager, operator, viewer, monitor', async () => {
    for (const role of ['superuser', 'Admin', 'ADMIN', 'root', '', ' admin', null, 1, ['admin'], undefined]) {
      const res = await postUser({ username: 'bad-role', password: PASSWORD, role });
      expect({ role, status: res.status }).toEqual({ role, status: 400 });
      expectValidation(res, ['role']);
    }
    expect(await userByName('bad-role')).toBeUndefined();

    const user = await createUser('patch-role', 'viewer');
    for (const role of ['superuser', 'Manager', '', 1]) {
      const res = await patchUser(user.id, { role });
      expect({ role, status: res.status }).toEqual({ role, status: 400 });
      expectValidation(res, ['role']);
    }
    expectUserView((await t.http.get(`/api/users/${user.id}`).set(bearer(adminToken)).expect(200)).body, {
      role: 'viewer',
    });
  });

  it('unknown or unlisted body fields are rejected (no mass assignment)', async () => {
    const extras: Json[] = [
      { id: 4242 },
      { disabled: true },
      { tokenVersion: 7 },
      { passwordHash: 'x' },
      { createdAt: '2000-01-01T00:00:00.000Z' },
      { nickname: 'x' },
    ];
    for (const extra of extras) {
      const res = await postUser({ username: 'mass-assign', password: PASSWORD, role: 'viewer', ...extra });
      expect({ extra, status: res.status }).toEqual({ extra, status: 400 });
      expectValidation(res, Object.keys(extra));
    }
    expect(await userByName('mass-assign')).toBeUndefined();

    const user = await getUser((await createUser('patch-extra', 'viewer')).id);
    const patches: Json[] = [
      { username: 'renamed' },
      { id: 4242 },
      { createdAt: '2000-01-01T00:00:00.000Z' },
      { passwordHash: 'x' },
      { tokenVersion: 0 },
      { nickname: 'x' },
      { role: 'manager', nickname: 'x' },
    ];
    for (const patch of patches) {
      const res = await patchUser(user.id, patch);
      expect({ patch, status: res.status }).toEqual({ patch, status: 400 });
      expectValidation(
        res,
        Object.keys(patch).filter((key) => key !== 'role'),
      );
    }
    for (const disabled of ['true', 1, 'false', 0]) {
      expectValidation(await patchUser(user.id, { disabled }), ['disabled']);
    }
    const got = await t.http.get(`/api/users/${user.id}`).set(bearer(adminToken)).expect(200);
    expect(got.body).toEqual(user);
  });

  it('PATCH with null for role, password or disabled: 400 VALIDATION_FAILED naming it, and nothing changes', async () => {
    const password = newPassword();
    const user = await getUser((await createUser('patch-null', 'operator', password)).id);
    const token = await tokenFor(user.username, password);
    for (const field of ['role', 'password', 'disabled']) {
      const res = await patchUser(user.id, { [field]: null });
      expect({ field, status: res.status }).toEqual({ field, status: 400 });
      expectValidation(res, [field]);
    }
    expect(await getUser(user.id)).toEqual(user);
    await me(token).expect(200);
    await tokenFor(user.username, password);
  });

  it('a taken username: 409 USERNAME_TAKEN, and the existing user is unchanged', async () => {
    const original = newPassword();
    const user = await getUser((await createUser('taken-name', 'operator', original)).id);
    const res = await postUser({ username: 'taken-name', password: newPassword(), role: 'admin' });
    expectError(res, 409, 'USERNAME_TAKEN');
    expectError(
      await postUser({ username: ADMIN.username, password: newPassword(), role: 'admin' }),
      409,
      'USERNAME_TAKEN',
    );

    const got = await t.http.get(`/api/users/${user.id}`).set(bearer(adminToken)).expect(200);
    expect(got.body).toEqual(user);
    const token = await tokenFor('taken-name', original);
    expect((await me(token).expect(200)).body.role).toBe('operator');
    await tokenFor(ADMIN.username, ADMIN.password);
  });

  it('GET /api/users: {items, nextCursor}, users only in the public shape', async () => {
    const res = await t.http.get('/api/users').set(bearer(adminToken)).expect(200);
    expect(Object.keys(res.body).sort()).toEqual(['items', 'nextCursor']);
    expect(res.body.items.length).toBeGreaterThan(5);
    expect(res.body.items.length).toBeLessThanOrEqual(50);
    for (const user of res.body.items) expectUserView(user);
    await expectNoSecrets(res.body);
    const names = (res.body.items as UserView[]).map((u) => u.username);
    for (const role of ROLES.filter((r) => r !== 'admin')) expect(names).toContain(`${role}-user`);
  });

  it('GET /api/users pages by limit and cursor, with no user twice or missing, stable under inserts', async () => {
    const all = await t.http.get('/api/users?limit=200').set(bearer(adminToken)).expect(200);
    expect(all.body.nextCursor).toBeNull();
    const everyone = (all.body.items as UserView[]).map((u) => u.id);
    expect(everyone.length).toBeGreaterThan(6);

    const seen: number[] = [];
    let cursor: string | null = null;
    let pages = 0;
    let inserted: UserView | null = null;
    do {
      const query: string = cursor === null ? '?limit=3' : `?limit=3&cursor=${encodeURIComponent(cursor)}`;
      const res = await t.http.get(`/api/users${query}`).set(bearer(adminToken)).expect(200);
      expect(Object.keys(res.body).sort()).toEqual(['items', 'nextCursor']);
      expect(res.body.items.length).toBeLessThanOrEqual(3);
      for (const user of res.body.items) expectUserView(user);
      await expectNoSecrets(res.body);
      seen.push(...(res.body.items as UserView[]).map((u) => u.id));
      cursor = res.body.nextCursor as string | null;
      if (cursor !== null) {
        expect(typeof cursor).toBe('string');
        expect(res.body.items).toHaveLength(3);
      }
      pages += 1;
      if (pages === 1) inserted = await createUser('page-inserted', 'viewer');
      expect(pages).toBeLessThan(100);
    } while (cursor !== null);

    expect(pages).toBeGreaterThanOrEqual(Math.ceil(everyone.length / 3));
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).toEqual(expect.arrayContaining(everyone));
    expect(seen.filter((id) => !everyone.includes(id))).toEqual(seen.includes(inserted!.id) ? [inserted!.id] : []);

    const one = await t.http.get('/api/users?limit=1').set(bearer(adminToken)).expect(200);
    expect(one.body.items).toHaveLength(1);
    expect(typeof one.body.nextCursor).toBe('string');
    const max = await t.http.get('/api/users?limit=200').set(bearer(adminToken)).expect(200);
    expect(max.body.items.length).toBe(everyone.length + 1);
  });

  it('GET /api/users: limit outside 1..200 or a bad cursor is 400 VALIDATION_FAILED', async () => {
    for (const limit of ['0', '201', '-1', 'abc', '1.5']) {
      const res = await t.http.get(`/api/users?limit=${limit}`).set(bearer(adminToken));
      expect({ limit, status: res.status }).toEqual({ limit, status: 400 });
      expectValidation(res, ['limit']);
    }
    const badCursors = [
      'not-a-cursor!',
      'garbage',
      Buffer.from('{"id":"a"}').toString('base64url'),
      Buffer.from('[1]').toString('base64url'),
      Buffer.from('{"id":-5}').toString('base64url'),
    ];
    for (const cursor of badCursors) {
      const res = await t.http.get(`/api/users?cursor=${encodeURIComponent(cursor)}`).set(bearer(adminToken));
      expect({ cursor, status: res.status }).toEqual({ cursor, status: 400 });
      expectValidation(res, ['cursor']);
    }
  });

  it('GET and PATCH /api/users/999999: 404 NOT_FOUND', async () => {
    expectError(await t.http.get('/api/users/999999').set(bearer(adminToken)), 404, 'NOT_FOUND');
    expectError(await patchUser(999999, { disabled: true }), 404, 'NOT_FOUND');
    expectError(await patchUser(999999, { role: 'viewer' }), 404, 'NOT_FOUND');
  });

  it('GET and PATCH /api/users/<not an integer>: 400 VALIDATION_FAILED', async () => {
    // '1e0', '0x1' and ' 1' are not integer ids, even though Number() makes 1 of each
    for (const id of ['abc', '12abc', '1.5', '1e0', '0x1', '1%20', '%201', '1e3']) {
      const got = await t.http.get(`/api/users/${id}`).set(bearer(adminToken));
      expect({ id, status: got.status }).toEqual({ id, status: 400 });
      expectError(got, 400, 'VALIDATION_FAILED');
      const patched = await t.http.patch(`/api/users/${id}`).set(bearer(adminToken)).send({ disabled: false });
      expect({ id, status: patched.status }).toEqual({ id, status: 400 });
      expectError(patched, 400, 'VALIDATION_FAILED');
    }
  });

  it('PATCH answers the public shape and GET reflects it; nothing about the password comes back', async () => {
    const user = await getUser((await createUser('patch-shape', 'viewer')).id);
    const password = newPassword();
    const res = await patchUser(user.id, { role: 'manager', password, disabled: false }).expect(200);
    expect(res.body).toEqual({ ...user, role: 'manager' });
    expectUserView(res.body);
    await expectNoSecrets(res.body);
    const got = await t.http.get(`/api/users/${user.id}`).set(bearer(adminToken)).expect(200);
    expect(got.body).toEqual(res.body);
    await tokenFor(user.username, password);
  });

  it('users are disabled, never deleted: DELETE /api/users/:id is 404 and the user stays', async () => {
    const user = await getUser((await createUser('never-deleted', 'viewer')).id);
    expectError(await t.http.delete(`/api/users/${user.id}`).set(bearer(adminToken)), 404, 'NOT_FOUND');
    const got = await t.http.get(`/api/users/${user.id}`).set(bearer(adminToken)).expect(200);
    expect(got.body).toEqual(user);
  });

  it('only admins may call POST/GET/PATCH /api/users: other roles 403, no token 401', async () => {
    const target = await getUser((await createUser('forbidden-target', 'viewer')).id);
    for (const role of ROLES.filter((r) => r !== 'admin')) {
      const token = t.tokens[role];
      const answers = [
        await postUser({ username: `forbidden-${role}`, password: PASSWORD, role: 'admin' }, token),
        await t.http.get('/api/users').set(bearer(token)),
        await t.http.get(`/api/users/${target.id}`).set(bearer(token)),
        await patchUser(target.id, { role: 'admin' }, token),
      ];
      for (const res of answers) {
        expect({ role, status: res.status }).toEqual({ role, status: 403 });
        expectError(res, 403, 'FORBIDDEN');
      }
    }
    const anonymous = [
      await t.http.post('/api/users').send({ username: 'forbidden-anon', password: PASSWORD, role: 'admin' }),
      await t.http.get('/api/users'),
      await t.http.get(`/api/users/${target.id}`),
      await t.http.patch(`/api/users/${target.id}`).send({ role: 'admin' }),
    ];
    for (const res of anonymous) expectError(res, 401, 'UNAUTHORIZED');

    const names = (await t.http.get('/api/users?limit=200').set(bearer(adminToken)).expect(200)).body.items.map(
      (u: UserView) => u.username,
    );
    expect(names.filter((name: string) => name.startsWith('forbidden-') && name !== 'forbidden-target')).toEqual([]);
    expect((await t.http.get(`/api/users/${target.id}`).set(bearer(adminToken)).expect(200)).body).toEqual(target);
  });
});

// ---------------------------------------------------------------- audit

describe('audit entries', () => {
  it('user.create and user.update are recorded for the user, by the admin', async () => {
    const password = newPassword();
    const user = await createUser('audited-user', 'viewer', password);
    const created = await auditRows('action = ? AND entity_id = ?', ['user.create', String(user.id)]);
    expect(created).toHaveLength(1);
    expect(created[0]).toEqual(
      expect.objectContaining({ actor_username: ADMIN.username, actor_role: 'admin', entity_type: 'user' }),
    );
    expect(String(created[0].after)).toContain('audited-user');

    const updatesBefore = (await auditRows('action = ? AND entity_id = ?', ['user.update', String(user.id)])).length;
    await patchUser(user.id, { role: 'operator' }).expect(200);
    await patchUser(user.id, { password: newPassword() }).expect(200);
    await patchUser(user.id, { disabled: true }).expect(200);
    const updates = await auditRows('action = ? AND entity_id = ?', ['user.update', String(user.id)]);
    expect(updates).toHaveLength(updatesBefore + 3);
    for (const row of updates) {
      expect(row).toEqual(expect.objectContaining({ actor_username: ADMIN.username, entity_type: 'user' }));
    }
    const [roleChange, , disabling] = updates.slice(-3);
    expect(String(roleChange.before)).toContain('viewer');
    expect(String(roleChange.after)).toContain('operator');
    expect(String(disabling.after)).toContain('true');
  });

  it('auth.login and auth.login_failed are recorded, with the username tried', async () => {
    const password = newPassword();
    const user = await createUser('audited-login', 'viewer', password);
    await tokenFor(user.username, password);
    const ok = await auditRows('action = ? AND actor_username = ?', ['auth.login', user.username]);
    expect(ok).toHaveLength(1);
    expect(Number(ok[0].actor_id)).toBe(user.id);

    await login(user.username, newPassword());
    await login('audited-nobody', newPassword());
    const failed = await auditRows('action = ? AND actor_username IN (?, ?)', [
      'auth.login_failed',
      user.username,
      'audited-nobody',
    ]);
    expect(failed.map((row) => row.actor_username)).toEqual([user.username, 'audited-nobody']);
    for (const row of failed) {
      expect(row.actor_id).toBeNull();
      expect(row.actor_role).toBeNull();
    }
  });

  it('no audit entry holds a password or a hash', async () => {
    const hashes = await storedHashes();
    expect(hashes.length).toBeGreaterThan(10);
    for (const hash of hashes) {
      // stored hashed, so a hash is something to look for (and never the password itself)
      expect(hash.length).toBeGreaterThan(20);
      for (const password of passwordsUsed) expect(hash).not.toContain(password);
    }
    const rows = await auditRows('1 = 1', []);
    const actions = new Set(rows.map((row) => row.action));
    for (const action of ['user.create', 'user.update', 'auth.login', 'auth.login_failed']) {
      expect(actions).toContain(action);
    }
    expect(passwordsUsed.size).toBeGreaterThan(40);
    for (const row of rows) {
      const text = JSON.stringify(row);
      expect(text).not.toContain('$argon2');
      for (const hash of hashes) expect(text).not.toContain(hash);
      for (const password of passwordsUsed) {
        if (text.includes(password)) throw new Error(`audit row ${String(row.id)} holds a password: ${text}`);
      }
    }
  });
});

// ---------------------------------------------------------------- last admin (renews adminToken)

describe('the last enabled admin', () => {
  let adminId: number;

  beforeAll(async () => {
    adminId = (await me(adminToken).expect(200)).body.id;
  });

  /** Leaves "admin" the only enabled admin. */
  async function onlyAdminEnabled(): Promise<void> {
    const res = await t.http.get('/api/users?limit=200').set(bearer(adminToken)).expect(200);
    for (const user of res.body.items as UserView[]) {
      if (user.role === 'admin' && !user.disabled && user.id !== adminId) {
        await patchUser(user.id, { disabled: true }).expect(200);
      }
    }
  }

  async function expectAdminUnchanged(): Promise<void> {
    const got = await t.http.get(`/api/users/${adminId}`).set(bearer(adminToken)).expect(200);
    expectUserView(got.body, { id: adminId, username: ADMIN.username, role: 'admin', disabled: false });
  }

  it('cannot be demoted or disabled: 409 LAST_ADMIN, and nothing changes', async () => {
    await onlyAdminEnabled();
    for (const role of ROLES.filter((r) => r !== 'admin')) {
      const res = await patchUser(adminId, { role });
      expect({ role, status: res.status }).toEqual({ role, status: 409 });
      expectError(res, 409, 'LAST_ADMIN');
    }
    expectError(await patchUser(adminId, { disabled: true }), 409, 'LAST_ADMIN');
    expectError(await patchUser(adminId, { role: 'manager', disabled: true }), 409, 'LAST_ADMIN');
    // refused changes revoke nothing
    await me(adminToken).expect(200);
    await expectAdminUnchanged();
  });

  it('a disabled second admin does not count', async () => {
    await onlyAdminEnabled();
    const second = await createUser('admin-disabled-second', 'admin');
    await patchUser(second.id, { disabled: true }).expect(200);
    expectError(await patchUser(adminId, { role: 'viewer' }), 409, 'LAST_ADMIN');
    expectError(await patchUser(adminId, { disabled: true }), 409, 'LAST_ADMIN');
    await expectAdminUnchanged();
  });

  it('with a second enabled admin, demoting the first works, and then the second is the last', async () => {
    await onlyAdminEnabled();
    const secondPassword = newPassword();
    const second = await createUser('admin-second', 'admin', secondPassword);
    const secondToken = await tokenFor(second.username, secondPassword);

    const demoted = await patchUser(adminId, { role: 'manager' }).expect(200);
    expectUserView(demoted.body, { id: adminId, role: 'manager', disabled: false });
    expectError(await me(adminToken), 401, 'UNAUTHORIZED');
    const asManager = await login(ADMIN.username, ADMIN.password);
    expect(asManager.status).toBe(200);
    expect(asManager.body.user.role).toBe('manager');
    expectError(await t.http.get('/api/users').set(bearer(asManager.body.accessToken)), 403, 'FORBIDDEN');

    expectError(await patchUser(second.id, { role: 'viewer' }, secondToken), 409, 'LAST_ADMIN');
    expectError(await patchUser(second.id, { disabled: true }, secondToken), 409, 'LAST_ADMIN');
    await me(secondToken).expect(200);

    // restore: "admin" is an admin again
    await patchUser(adminId, { role: 'admin' }, secondToken).expect(200);
    adminToken = await tokenFor(ADMIN.username, ADMIN.password);
    await patchUser(second.id, { disabled: true }).expect(200);
    await expectAdminUnchanged();
  });

  it('two concurrent changes cannot remove both of the last two admins', async () => {
    for (let round = 1; round <= 3; round++) {
      await onlyAdminEnabled();
      const password = newPassword();
      const other = await createUser(`admin-race-${round}`, 'admin', password);
      const otherToken = await tokenFor(other.username, password);

      // each admin removes the other at the same moment
      const [first, second] = await Promise.all([
        patchUser(other.id, { role: 'viewer' }, adminToken),
        patchUser(adminId, round === 2 ? { disabled: true } : { role: 'viewer' }, otherToken),
      ]);
      const statuses = [first.status, second.status];
      expect({ round, statuses }).not.toEqual({ round, statuses: [200, 200] });
      for (const res of [first, second]) {
        if (res.status !== 200) expect([409, 401]).toContain(res.status);
        if (res.status === 409) expectError(res, 409, 'LAST_ADMIN');
      }
      const enabled: { n: number | string }[] = await t.dataSource.query(
        "SELECT COUNT(*) AS n FROM users WHERE role = 'admin' AND disabled = 0",
      );
      expect(Number(enabled[0].n)).toBeGreaterThanOrEqual(1);

      // restore "admin" as the enabled admin
      if (second.status === 200) {
        await patchUser(adminId, { role: 'admin', disabled: false }, otherToken).expect(200);
        adminToken = await tokenFor(ADMIN.username, ADMIN.password);
      }
      await patchUser(other.id, { disabled: true }).expect(200);
      await expectAdminUnchanged();
    }
  });
});

// ---------------------------------------------------------------- per-address login limit (last: it locks this client out)

describe('per-address login throttling', () => {
  it('after 100 failed logins from one address, the next gets 429 RATE_LIMITED, even with the right password', async () => {
    const remaining = FAILED_LOGINS_PER_ADDRESS - failedLogins;
    expect(remaining).toBeGreaterThan(0);
    const names = Array.from({ length: remaining }, (_, i) => `address-flood-${i}`);
    for (let start = 0; start < names.length; start += 8) {
      const batch = await Promise.all(names.slice(start, start + 8).map((name) => login(name, 'wrong-password-00')));
      for (const res of batch) expectError(res, 401, 'INVALID_CREDENTIALS');
    }
    expect(failedLogins).toBe(FAILED_LOGINS_PER_ADDRESS);

    for (const [username, password] of [
      [ADMIN.username, ADMIN.password],
      ['address-flood-new', 'wrong-password-00'],
    ]) {
      const res = await login(username, password);
      expectError(res, 429, 'RATE_LIMITED');
      expect(res.headers['retry-after']).toMatch(/^\d+$/);
      expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect(Number(res.headers['retry-after'])).toBeLessThanOrEqual(LOGIN_WINDOW_SECONDS);
    }
    // tokens already issued keep working: only logins are throttled
    await me(adminToken).expect(200);
  }, 180_000);
});
