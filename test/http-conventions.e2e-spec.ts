/**
 * The contract's "Conventions": X-Request-Id, JSON-only bodies and their size limit, 404 for unknown
 * routes and methods, and error bodies that never leak internals — down to an error the service
 * does not expect (a table gone from under it), which must be a clean 500 that keeps nothing half-done.
 */
import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Response, Test } from 'supertest';
import { expectError, expectValidation } from './support/errors';
import { bearer, startTestApp, TestApp } from './support/test-app';

const MIB = 1024 * 1024;
const CLIENT_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

/** What must never reach a client in an error body. */
const LEAKS: [string, RegExp][] = [
  ['a stack property', /"stack"\s*:/i],
  ['a stack frame', /\bat \S+ \(|\bat (?:file:|node:|\/)|\.[cm]?[jt]s:\d+/],
  [
    'SQL',
    /\b(?:SELECT\s.+\sFROM|INSERT\s+INTO|UPDATE\s+\S+\s+SET|DELETE\s+FROM|CREATE\s+TABLE|DROP\s+TABLE|ALTER\s+TABLE)\b/i,
  ],
  [
    'a driver error',
    /SQLITE_|\bER_[A-Z_]{3,}|QueryFailed|sqlMessage|sqlState|errno|typeorm|better-sqlite3|mysql|mariadb/i,
  ],
  ['a table name', /audit_logs|stock_levels|\bno such table\b|doesn't exist/i],
];

function leaksIn(text: string): string[] {
  return LEAKS.filter(([, pattern]) => pattern.test(text)).map(([what]) => what);
}

/** A minimal view of an answer, whether from supertest or from a raw node:http request. */
interface Answer {
  status: number;
  headers: Record<string, unknown>;
  text: string;
  body: Record<string, unknown>;
}

const fromSupertest = (res: Response): Answer => ({
  status: res.status,
  headers: res.headers,
  text: res.text ?? '',
  body: (res.body ?? {}) as Record<string, unknown>,
});

/** The contract's error body (support/errors), and nothing internal in its text. */
function expectErrorBody(res: Answer, status: number, code: string): void {
  expectError(res, status, code);
  expect(leaksIn(res.text)).toEqual([]);
}

/** VALIDATION_FAILED lists fields: `{ fields: { "<path>": ["<message>", ...] } }`, at least one. */
function expectValidationFailed(res: Answer): void {
  expectValidation(res);
  expect(leaksIn(res.text)).toEqual([]);
}

describe('HTTP conventions', () => {
  let t: TestApp;
  let manager: Record<string, string>;
  let productId: number;
  let sequence = 0;
  const uniqueCode = (prefix: string) => `${prefix}-${++sequence}`;

  beforeAll(async () => {
    t = await startTestApp();
    manager = bearer(t.tokens.manager);
    const product = await t.http
      .post('/api/products')
      .set(manager)
      .send({ sku: 'CONV-1', name: 'Conventions product' })
      .expect(201);
    productId = product.body.id;
  });
  afterAll(() => t?.close());

  async function warehouseCodes(): Promise<string[]> {
    const codes: string[] = [];
    let cursor: string | null = null;
    do {
      const res: Response = await t.http
        .get('/api/warehouses')
        .query({ limit: 200, ...(cursor ? { cursor } : {}) })
        .set(manager)
        .expect(200);
      codes.push(...res.body.items.map((w: { code: string }) => w.code));
      cursor = res.body.nextCursor;
    } while (cursor);
    return codes;
  }

  /**
   * A raw node:http request, for what supertest cannot shape: no Content-Type at all, or a chunked
   * body without Content-Length. Sent through a throwaway server that hands requests to the app.
   */
  async function rawRequest(options: {
    method: string;
    path: string;
    headers: Record<string, string>;
    chunks: string[];
  }): Promise<Answer> {
    const server = createServer((req, res) => t.app.getHttpServer().emit('request', req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      return await new Promise<Answer>((resolve, reject) => {
        const req = httpRequest(
          { host: '127.0.0.1', port, method: options.method, path: options.path, headers: options.headers },
          (res) => {
            let text = '';
            res.setEncoding('utf8');
            res.on('data', (chunk: string) => (text += chunk));
            res.on('end', () => {
              let body: Record<string, unknown> = {};
              try {
                body = JSON.parse(text) as Record<string, unknown>;
              } catch {
                // not JSON: the assertions on the body say so
              }
              resolve({ status: res.statusCode ?? 0, headers: res.headers, text, body });
            });
          },
        );
        // the server may answer (413) and close before the whole body is written
        req.on('error', (error: NodeJS.ErrnoException) => {
          if (error.code !== 'EPIPE' && error.code !== 'ECONNRESET') reject(error);
        });
        for (const chunk of options.chunks) req.write(chunk);
        req.end();
      });
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }

  describe('security headers', () => {
    it('sends nosniff on every answer, and Cache-Control: no-store on every /api answer, errors included', async () => {
      const monitor = bearer(t.tokens.monitor);
      const answers: [string, Answer][] = [
        ['200 /api', fromSupertest(await t.http.get('/api/auth/me').set(manager))],
        ['201 /api', fromSupertest(await t.http.post('/api/warehouses').set(manager).send({ code: 'HDR', name: 'H' }))],
        ['401 /api', fromSupertest(await t.http.get('/api/products'))],
        ['404 /api', fromSupertest(await t.http.get('/api/no-such-route').set(manager))],
        [
          '400 /api (malformed JSON)',
          fromSupertest(
            await t.http.post('/api/warehouses').set(manager).set('Content-Type', 'application/json').send('{'),
          ),
        ],
        [
          '415 /api',
          fromSupertest(await t.http.post('/api/warehouses').set(manager).set('Content-Type', 'text/plain').send('x')),
        ],
        [
          '413 /api',
          fromSupertest(
            await t.http
              .post('/api/warehouses')
              .set(manager)
              .send({ code: 'X', name: 'n'.repeat(MIB) }),
          ),
        ],
        ['200 /health/live', fromSupertest(await t.http.get('/health/live'))],
        ['200 /health/ready', fromSupertest(await t.http.get('/health/ready'))],
        ['200 /metrics', fromSupertest(await t.http.get('/metrics').set(monitor))],
        ['404 elsewhere', fromSupertest(await t.http.get('/no-such-page'))],
      ];
      const seen = answers.map(([what, res]) => ({
        what,
        status: res.status,
        nosniff: res.headers['x-content-type-options'],
        cacheControl: what.includes('/api') ? res.headers['cache-control'] : 'n/a',
      }));
      expect(seen).toEqual(
        answers.map(([what, res]) => ({
          what,
          status: Number(what.split(' ')[0]) || res.status,
          nosniff: 'nosniff',
          cacheControl: what.includes('/api') ? 'no-store' : 'n/a',
        })),
      );
    });
  });

  describe('X-Request-Id', () => {
    const VALID_IDS: [string, string][] = [
      ['one character', 'a'],
      ['a UUID', '3f1c2a9e-5b7d-4e8f-9a0b-1c2d3e4f5a6b'],
      ['every allowed kind of character', 'Az09._:-'],
      ['128 characters', 'r'.repeat(128)],
    ];

    it.each(VALID_IDS)("echoes the client's id (%s) on a 200, a 401 and a 404", async (_, id) => {
      const ok = await t.http.get('/api/auth/me').set(manager).set('X-Request-Id', id);
      expect(ok.status).toBe(200);
      expect(ok.headers['x-request-id']).toBe(id);

      const unauthorized = fromSupertest(await t.http.get('/api/auth/me').set('X-Request-Id', id));
      expectErrorBody(unauthorized, 401, 'UNAUTHORIZED');
      expect(unauthorized.headers['x-request-id']).toBe(id);

      const notFound = fromSupertest(await t.http.get('/api/no-such-route').set(manager).set('X-Request-Id', id));
      expectErrorBody(notFound, 404, 'NOT_FOUND');
      expect(notFound.body.requestId).toBe(id);
    });

    const INVALID_IDS: [string, string][] = [
      ['129 characters', 'r'.repeat(129)],
      ['a space', 'abc def'],
      ['a slash', 'abc/def'],
      ['an empty value', ''],
      ['a character outside ASCII', 'café'],
      ['markup', '<script>'],
      ['a comma', 'abc,def'],
    ];

    it.each(INVALID_IDS)("replaces a client's id with %s by a generated one", async (_, id) => {
      const ok = await t.http.get('/api/auth/me').set(manager).set('X-Request-Id', id);
      expect(ok.status).toBe(200);
      const generated = ok.headers['x-request-id'];
      expect(generated).not.toBe(id);
      expect(generated).toMatch(CLIENT_ID_PATTERN);

      const notFound = fromSupertest(await t.http.get('/api/no-such-route').set(manager).set('X-Request-Id', id));
      expectErrorBody(notFound, 404, 'NOT_FOUND');
      expect(notFound.headers['x-request-id']).not.toBe(id);
      expect(notFound.headers['x-request-id']).toMatch(CLIENT_ID_PATTERN);
    });

    it('replaces the id when the client sends two X-Request-Id headers', async () => {
      const res = await t.http
        .get('/api/auth/me')
        .set(manager)
        .set('X-Request-Id', ['first', 'second'] as unknown as string);
      expect(res.status).toBe(200);
      expect(res.headers['x-request-id']).toMatch(CLIENT_ID_PATTERN);
      expect(['first', 'second', 'first, second']).not.toContain(res.headers['x-request-id']);
    });

    it('generates a different id for each request that sends none', async () => {
      const ids: string[] = [];
      for (let i = 0; i < 20; i++) {
        const res = await t.http.get('/api/auth/me').set(manager);
        expect(res.status).toBe(200);
        ids.push(res.headers['x-request-id']);
      }
      expect(ids.every((id) => CLIENT_ID_PATTERN.test(id))).toBe(true);
      expect(new Set(ids).size).toBe(ids.length);
    });

    /** Each case makes one request carrying the given X-Request-Id (or none) and names its expected status. */
    const EVERY_KIND_OF_RESPONSE: [string, number, (id: string | undefined) => Promise<Answer>][] = [
      ['200 list', 200, async (id) => fromSupertest(await withId(t.http.get('/api/warehouses').set(manager), id))],
      [
        '201 create',
        201,
        async (id) =>
          fromSupertest(
            await withId(
              t.http
                .post('/api/warehouses')
                .set(manager)
                .send({ code: uniqueCode('RID'), name: 'Request id' }),
              id,
            ),
          ),
      ],
      [
        '204 delete',
        204,
        async (id) => {
          const created = await t.http
            .post('/api/products')
            .set(manager)
            .send({ sku: uniqueCode('RID-SKU'), name: 'To archive' })
            .expect(201);
          return fromSupertest(await withId(t.http.delete(`/api/products/${created.body.id}`).set(manager), id));
        },
      ],
      ['200 HEAD', 200, async (id) => fromSupertest(await withId(t.http.head('/api/warehouses').set(manager), id))],
      [
        '400 malformed JSON',
        400,
        async (id) =>
          fromSupertest(
            await withId(
              t.http.post('/api/warehouses').set(manager).set('Content-Type', 'application/json').send('{"code":'),
              id,
            ),
          ),
      ],
      [
        '400 invalid field',
        400,
        async (id) =>
          fromSupertest(
            await withId(t.http.post('/api/warehouses').set(manager).send({ code: 'lower case', name: 'x' }), id),
          ),
      ],
      ['401 no token', 401, async (id) => fromSupertest(await withId(t.http.get('/api/warehouses'), id))],
      [
        '403 wrong role',
        403,
        async (id) => fromSupertest(await withId(t.http.get('/api/users').set(bearer(t.tokens.viewer)), id)),
      ],
      ['404 unknown route', 404, async (id) => fromSupertest(await withId(t.http.get('/nowhere').set(manager), id))],
      [
        '404 unknown product',
        404,
        async (id) => fromSupertest(await withId(t.http.get('/api/products/999999').set(manager), id)),
      ],
      [
        '409 conflict',
        409,
        async (id) =>
          fromSupertest(
            await withId(t.http.post('/api/warehouses').set(manager).send({ code: 'MAIN', name: 'Again' }), id),
          ),
      ],
      [
        '413 body too large',
        413,
        async (id) =>
          fromSupertest(
            await withId(
              t.http
                .post('/api/warehouses')
                .set(manager)
                .set('Content-Type', 'application/json')
                .send(JSON.stringify({ code: 'BIG', name: 'x'.repeat(MIB) })),
              id,
            ),
          ),
      ],
      [
        '415 text body',
        415,
        async (id) =>
          fromSupertest(
            await withId(
              t.http.post('/api/warehouses').set(manager).set('Content-Type', 'text/plain').send('code=X'),
              id,
            ),
          ),
      ],
    ];

    function withId<T extends { set(field: string, value: string): T }>(request: T, id: string | undefined): T {
      return id === undefined ? request : request.set('X-Request-Id', id);
    }

    it.each(EVERY_KIND_OF_RESPONSE)(
      "is on a %s answer: the client's id, equal to the body's requestId",
      async (_, status, send) => {
        const id = `client-${status}-${++sequence}`;
        const res = await send(id);
        expect(res.status).toBe(status);
        expect(res.headers['x-request-id']).toBe(id);
        if (status >= 400) expect(res.body.requestId).toBe(id);
      },
    );

    it.each(EVERY_KIND_OF_RESPONSE)(
      "is on a %s answer without a client id: generated, equal to the body's requestId",
      async (_, status, send) => {
        const res = await send(undefined);
        expect(res.status).toBe(status);
        expect(res.headers['x-request-id']).toMatch(CLIENT_ID_PATTERN);
        if (status >= 400) expect(res.body.requestId).toBe(res.headers['x-request-id']);
      },
    );
  });

  describe('body size', () => {
    /** A warehouse body padded (in `name`) to exactly `bytes` bytes of JSON. */
    function paddedBody(code: string, bytes: number): string {
      const empty = JSON.stringify({ code, name: '' });
      return JSON.stringify({ code, name: 'n'.repeat(bytes - Buffer.byteLength(empty)) });
    }

    it('answers 413 PAYLOAD_TOO_LARGE to a body one byte over 1 MiB, and creates nothing', async () => {
      const code = uniqueCode('BIG');
      const body = paddedBody(code, MIB + 1);
      expect(Buffer.byteLength(body)).toBe(MIB + 1);
      const res = await t.http.post('/api/warehouses').set(manager).set('Content-Type', 'application/json').send(body);
      expectErrorBody(fromSupertest(res), 413, 'PAYLOAD_TOO_LARGE');
      expect(await warehouseCodes()).not.toContain(code);
    });

    it('answers 413 PAYLOAD_TOO_LARGE to a chunked body over 1 MiB (no Content-Length)', async () => {
      const code = uniqueCode('CHUNK');
      const body = paddedBody(code, 2 * MIB);
      const chunks = body.match(/[\s\S]{1,65536}/g)!;
      const res = await rawRequest({
        method: 'POST',
        path: '/api/warehouses',
        headers: { ...manager, 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' },
        chunks,
      });
      expectErrorBody(res, 413, 'PAYLOAD_TOO_LARGE');
      expect(await warehouseCodes()).not.toContain(code);
    });

    it('accepts a body of exactly 1 MiB (validation, not size, rejects this one)', async () => {
      const body = paddedBody(uniqueCode('EXACT'), MIB);
      expect(Buffer.byteLength(body)).toBe(MIB);
      const res = fromSupertest(
        await t.http.post('/api/warehouses').set(manager).set('Content-Type', 'application/json').send(body),
      );
      expectValidationFailed(res);
      expect(Object.keys((res.body.details as { fields: object }).fields)).toContain('name');
    });
  });

  describe('media type', () => {
    const NOT_JSON: [string, string, string][] = [
      ['text/plain', 'text/plain', '{"code":"TXT","name":"Text"}'],
      ['text/plain with a charset', 'text/plain; charset=utf-8', '{"code":"TXT","name":"Text"}'],
      ['form-urlencoded', 'application/x-www-form-urlencoded', 'code=FORM&name=Form'],
      [
        'multipart',
        'multipart/form-data; boundary=XyZ',
        '--XyZ\r\nContent-Disposition: form-data; name="code"\r\n\r\nMP\r\n--XyZ--\r\n',
      ],
      ['XML', 'application/xml', '<warehouse><code>XML</code></warehouse>'],
      ['octet-stream', 'application/octet-stream', '{"code":"BIN","name":"Binary"}'],
    ];

    it.each(NOT_JSON)(
      'answers 415 UNSUPPORTED_MEDIA_TYPE to a body of type %s, and creates nothing',
      async (_, type, payload) => {
        const before = await warehouseCodes();
        const res = await t.http.post('/api/warehouses').set(manager).set('Content-Type', type).send(payload);
        expectErrorBody(fromSupertest(res), 415, 'UNSUPPORTED_MEDIA_TYPE');
        expect(await warehouseCodes()).toEqual(before);
      },
    );

    it('answers 415 UNSUPPORTED_MEDIA_TYPE to a PATCH with a text body, and changes nothing', async () => {
      const before = await t.http.get(`/api/products/${productId}`).set(manager).expect(200);
      const res = await t.http
        .patch(`/api/products/${productId}`)
        .set(manager)
        .set('Content-Type', 'text/plain')
        .send('{"name":"Changed by text"}');
      expectErrorBody(fromSupertest(res), 415, 'UNSUPPORTED_MEDIA_TYPE');
      const after = await t.http.get(`/api/products/${productId}`).set(manager).expect(200);
      expect(after.body).toEqual(before.body);
    });

    it('answers 415 UNSUPPORTED_MEDIA_TYPE to a body without any Content-Type', async () => {
      const code = uniqueCode('NOTYPE');
      const body = JSON.stringify({ code, name: 'No type' });
      const res = await rawRequest({
        method: 'POST',
        path: '/api/warehouses',
        headers: { ...manager, 'Content-Length': String(Buffer.byteLength(body)) },
        chunks: [body],
      });
      expect(res.headers['content-type']).toBeDefined();
      expectErrorBody(res, 415, 'UNSUPPORTED_MEDIA_TYPE');
      expect(await warehouseCodes()).not.toContain(code);
    });

    it('takes application/json with a charset parameter', async () => {
      const code = uniqueCode('CHARSET');
      const res = await t.http
        .post('/api/warehouses')
        .set(manager)
        .set('Content-Type', 'application/json; charset=utf-8')
        .send(JSON.stringify({ code, name: 'Charset' }));
      expect(res.status).toBe(201);
      expect(String(res.headers['content-type'])).toMatch(/^application\/json/);
      expect(await warehouseCodes()).toContain(code);
    });
  });

  describe('malformed and non-object JSON', () => {
    const MALFORMED: [string, string][] = [
      ['a truncated object', '{"code": "BAD", "name":'],
      ['unquoted keys', '{code: "BAD", name: "x"}'],
      ['single quotes', "{'code': 'BAD', 'name': 'x'}"],
      ['trailing garbage', '{"code": "BAD", "name": "x"}}'],
      ['a trailing comma', '{"code": "BAD", "name": "x",}'],
      ['an empty body', ''],
      ['plain words', 'hello'],
    ];

    it.each(MALFORMED)('answers 400 VALIDATION_FAILED with details.fields to %s', async (_, payload) => {
      const res = await t.http
        .post('/api/warehouses')
        .set(manager)
        .set('Content-Type', 'application/json')
        .send(payload);
      expectValidationFailed(fromSupertest(res));
    });

    const NOT_AN_OBJECT: [string, string][] = [
      ['an array of valid bodies', '[{"code":"ARRAY","name":"Array"}]'],
      ['an empty array', '[]'],
      ['a string', '"ARRAY"'],
      ['a number', '42'],
      ['true', 'true'],
      ['null', 'null'],
    ];

    it.each(NOT_AN_OBJECT)(
      'answers 400 VALIDATION_FAILED to %s as the body, and creates nothing',
      async (_, payload) => {
        const before = await warehouseCodes();
        const res = await t.http
          .post('/api/warehouses')
          .set(manager)
          .set('Content-Type', 'application/json')
          .send(payload);
        expectValidationFailed(fromSupertest(res));
        expect(await warehouseCodes()).toEqual(before);
      },
    );

    it('answers 400 VALIDATION_FAILED to an array as a PATCH body', async () => {
      const res = await t.http
        .patch(`/api/products/${productId}`)
        .set(manager)
        .set('Content-Type', 'application/json')
        .send('[{"name":"Renamed"}]');
      expectValidationFailed(fromSupertest(res));
    });
  });

  describe('unknown routes and methods', () => {
    const UNKNOWN_ROUTES: [string, string][] = [
      ['GET', '/nowhere'],
      ['GET', '/api'],
      ['GET', '/api/no-such-thing'],
      ['GET', `/api/products/1/extra`],
      ['POST', '/api/no-such-thing'],
      ['GET', '/api/warehouses/1'],
    ];

    it.each(UNKNOWN_ROUTES)('answers 404 NOT_FOUND to %s %s', async (method, url) => {
      const agent = t.http as unknown as Record<string, (url: string) => Test>;
      const res = await agent[method.toLowerCase()](url)
        .set(manager)
        .send(method === 'POST' ? {} : undefined);
      expectErrorBody(fromSupertest(res), 404, 'NOT_FOUND');
    });

    it('answers 404 NOT_FOUND to an unknown route without a token too', async () => {
      const res = await t.http.get('/api/no-such-thing');
      expectErrorBody(fromSupertest(res), 404, 'NOT_FOUND');
    });

    const UNKNOWN_METHODS: [string, string][] = [
      ['PUT', '/api/products'],
      ['DELETE', '/api/products'],
      ['PUT', '/api/products/:id'],
      ['POST', '/api/products/:id'],
      ['PUT', '/api/warehouses'],
      ['PATCH', '/api/warehouses'],
      ['DELETE', '/api/warehouses'],
      ['DELETE', '/api/users/1'],
      ['PUT', '/api/users'],
      ['POST', '/api/auth/me'],
      ['GET', '/api/auth/login'],
      ['DELETE', '/api/auth/login'],
    ];

    it.each(UNKNOWN_METHODS)('answers 404 NOT_FOUND to %s on the known path %s', async (method, path) => {
      const url = path.replace(':id', String(productId));
      const agent = t.http as unknown as Record<string, (url: string) => Test>;
      const request = agent[method.toLowerCase()](url).set(bearer(t.tokens.admin));
      const res = ['POST', 'PUT', 'PATCH'].includes(method) ? await request.send({ name: 'x' }) : await request;
      expectErrorBody(fromSupertest(res), 404, 'NOT_FOUND');
    });
  });

  describe('error bodies', () => {
    /** Errors most likely to carry internals: those that come out of the database and the parsers. */
    const PROVOKED: [string, number, string, () => Promise<Response>][] = [
      [
        'a duplicate warehouse code (unique index)',
        409,
        'WAREHOUSE_CODE_TAKEN',
        () => t.http.post('/api/warehouses').set(manager).send({ code: 'MAIN', name: 'Duplicate' }),
      ],
      [
        'a duplicate SKU in another case (unique index)',
        409,
        'SKU_TAKEN',
        () => t.http.post('/api/products').set(manager).send({ sku: 'conv-1', name: 'Duplicate' }),
      ],
      [
        'a duplicate username (unique index)',
        409,
        'USERNAME_TAKEN',
        () =>
          t.http
            .post('/api/users')
            .set(bearer(t.tokens.admin))
            .send({ username: 'viewer-user', password: 'long-enough-password', role: 'viewer' }),
      ],
      ['a product that does not exist', 404, 'NOT_FOUND', () => t.http.get('/api/products/987654').set(manager)],
      ['an id that is not a number', 400, 'VALIDATION_FAILED', () => t.http.get('/api/products/abc').set(manager)],
      [
        'an id too large for the database',
        400,
        'VALIDATION_FAILED',
        () => t.http.get('/api/products/99999999999999999999').set(manager),
      ],
      [
        'a cursor that is not ours',
        400,
        'VALIDATION_FAILED',
        () => t.http.get('/api/warehouses').query({ cursor: "' OR 1=1 --" }).set(manager),
      ],
      [
        'a stale If-Match',
        412,
        'VERSION_MISMATCH',
        () => t.http.patch(`/api/products/${productId}`).set(manager).set('If-Match', '"999"').send({ name: 'Stale' }),
      ],
      [
        'an unknown body field',
        400,
        'VALIDATION_FAILED',
        () => t.http.post('/api/warehouses').set(manager).send({ code: 'UNK', name: 'x', id: 7 }),
      ],
      [
        'malformed JSON',
        400,
        'VALIDATION_FAILED',
        () => t.http.post('/api/warehouses').set(manager).set('Content-Type', 'application/json').send('{"a":'),
      ],
      [
        'a forged token',
        401,
        'UNAUTHORIZED',
        () => t.http.get('/api/auth/me').set('Authorization', 'Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOjF9.'),
      ],
    ];

    it.each(PROVOKED)('carry no stack and no SQL: %s', async (_, status, code, send) => {
      const res = fromSupertest(await send());
      expectErrorBody(res, status, code);
      if (code === 'VALIDATION_FAILED') expectValidationFailed(res);
    });
  });

  // Last: this breaks the database under the running app on purpose.
  describe('an error the service does not expect', () => {
    let before: { name: string; version: number };
    let stockBefore: { levels: unknown[]; movements: unknown[] };

    const stockOf = async (sku: string) => ({
      levels: (await t.http.get('/api/stock').query({ sku }).set(manager).expect(200)).body.items,
      movements: (await t.http.get('/api/stock/movements').query({ sku }).set(manager).expect(200)).body.items,
    });

    beforeAll(async () => {
      await t.http.post('/api/stock/in').set(manager).send({ sku: 'CONV-1', quantity: 5 }).expect(201);
      stockBefore = await stockOf('CONV-1');
      expect(stockBefore.levels).toHaveLength(1);
      const product = await t.http.get(`/api/products/${productId}`).set(manager).expect(200);
      before = { name: product.body.name, version: product.body.version };
      await t.dataSource.query('DROP TABLE audit_logs');
    });

    function expectInternal(res: Response, id: string): void {
      const answer = fromSupertest(res);
      expectErrorBody(answer, 500, 'INTERNAL');
      expect(answer.headers['x-request-id']).toBe(id);
      expect(answer.body.details).toBeUndefined();
      expect(String(answer.body.message)).not.toMatch(/audit|table|sql|insert|select|stack|query|column/i);
    }

    it('answers 500 INTERNAL to POST /api/warehouses, without internals, and creates no warehouse', async () => {
      const code = uniqueCode('HALF');
      const res = await t.http
        .post('/api/warehouses')
        .set(manager)
        .set('X-Request-Id', 'internal-1')
        .send({ code, name: 'Half done' });
      expectInternal(res, 'internal-1');
      expect(await warehouseCodes()).not.toContain(code);
    });

    it('answers 500 INTERNAL to PATCH /api/products/:id, and leaves the product as it was', async () => {
      const res = await t.http
        .patch(`/api/products/${productId}`)
        .set(manager)
        .set('X-Request-Id', 'internal-2')
        .send({ name: 'Half renamed' });
      expectInternal(res, 'internal-2');
      const product = await t.http.get(`/api/products/${productId}`).set(manager).expect(200);
      expect({ name: product.body.name, version: product.body.version }).toEqual(before);
    });

    it('answers 500 INTERNAL to POST /api/products, and creates no product', async () => {
      const res = await t.http
        .post('/api/products')
        .set(manager)
        .set('X-Request-Id', 'internal-3')
        .send({ sku: 'HALF-SKU', name: 'Half created' });
      expectInternal(res, 'internal-3');
      const list = await t.http.get('/api/products').query({ sku: 'HALF-SKU' }).set(manager).expect(200);
      expect(list.body.items).toEqual([]);
    });

    it('answers 500 INTERNAL to POST /api/stock/in, and moves nothing', async () => {
      const res = await t.http
        .post('/api/stock/in')
        .set(manager)
        .set('X-Request-Id', 'internal-5')
        .send({ sku: 'CONV-1', quantity: 3 });
      expectInternal(res, 'internal-5');
      expect(await stockOf('CONV-1')).toEqual(stockBefore);
    });

    it('answers 500 INTERNAL to POST /api/users, and creates no user', async () => {
      const admin = bearer(t.tokens.admin);
      const res = await t.http
        .post('/api/users')
        .set(admin)
        .set('X-Request-Id', 'internal-4')
        .send({ username: 'half-created', password: 'long-enough-password', role: 'viewer' });
      expectInternal(res, 'internal-4');
      const list = await t.http.get('/api/users').query({ limit: 200 }).set(admin).expect(200);
      expect(list.body.items.map((u: { username: string }) => u.username)).not.toContain('half-created');
    });
  });
});
