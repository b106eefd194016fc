import { RequestMethod } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { DiscoveryService } from '@nestjs/core';
import { startTestApp, TestApp } from './support/test-app';

interface Operation {
  summary?: string;
  security?: Record<string, string[]>[];
  'x-roles'?: string[];
  parameters?: { name?: string; in?: string; $ref?: string }[];
  requestBody?: { content: Record<string, { examples?: object }> };
  responses: Record<
    string,
    { description: string; headers?: Record<string, unknown>; content?: Record<string, object> }
  >;
}

describe('OpenAPI document', () => {
  let t: TestApp;
  let document: {
    servers?: { url: string }[];
    paths: Record<string, Record<string, Operation>>;
    components: { securitySchemes: object };
  };
  const operations = () =>
    Object.entries(document.paths).flatMap(([path, methods]) =>
      Object.entries(methods).map(([method, op]) => ({ key: `${method} ${path}`, op })),
    );

  /** Every route the app serves, from its controllers: `get /api/products/{id}`. */
  const routes = () =>
    t.app
      .get(DiscoveryService)
      .getControllers()
      .flatMap(({ metatype }) => {
        const base = String(Reflect.getMetadata(PATH_METADATA, metatype!) ?? '');
        return Object.getOwnPropertyNames(metatype!.prototype)
          .map((name) => metatype!.prototype[name] as object)
          .filter((handler) => typeof handler === 'function' && Reflect.hasMetadata(METHOD_METADATA, handler))
          .map((handler) => {
            const method = RequestMethod[Reflect.getMetadata(METHOD_METADATA, handler) as number].toLowerCase();
            const path = `/${[base, String(Reflect.getMetadata(PATH_METADATA, handler))].filter((p) => p && p !== '/').join('/')}`;
            return { method, path: path.replace(/:(\w+)/g, '{$1}') };
          });
      });

  beforeAll(async () => {
    t = await startTestApp();
    document = (await t.http.get('/docs-json').expect(200)).body;
  });
  afterAll(() => t.close());

  it('is served outside production, with the UI at /docs', async () => {
    await t.http.get('/docs').expect(200);
  });

  it('documents every route the app serves', () => {
    const all = routes();
    expect(all.length).toBeGreaterThan(15);
    const missing = all.filter((r) => !document.paths[r.path]?.[r.method]).map((r) => `${r.method} ${r.path}`);
    expect(missing).toEqual([]);
  });

  it('declares bearer auth and each protected route’s roles', () => {
    expect(document.components.securitySchemes).toHaveProperty('bearer');
    const products = document.paths['/api/products'].post;
    expect(products.security).toEqual([{ bearer: [] }]);
    expect(products['x-roles']).toEqual(['manager', 'admin']);
    expect(document.paths['/api/auth/login'].post.security).toEqual([]);
    for (const [path, methods] of Object.entries(document.paths)) {
      for (const [method, op] of Object.entries(methods)) {
        const isPublic = ['/api/auth/login', '/health/live', '/health/ready'].includes(path);
        expect([`${method} ${path}`, isPublic || (op['x-roles'] ?? []).length > 0]).toEqual([
          `${method} ${path}`,
          true,
        ]);
      }
    }
  });

  it('lists the contract error codes a route can answer', () => {
    const out = document.paths['/api/stock/out'].post.responses;
    expect(out['409'].description).toContain('INSUFFICIENT_STOCK');
    expect(out['422'].description).toContain('IDEMPOTENCY_KEY_REUSED');
    expect(out['401'].description).toContain('UNAUTHORIZED');
    expect(document.paths['/api/products/{id}'].patch.responses['412'].description).toContain('VERSION_MISMATCH');
    expect(document.paths['/api/users/{id}'].patch.responses['409'].description).toContain('LAST_ADMIN');
  });

  it('gives every operation a summary and every success answer a schema, and names a server', () => {
    expect(document.servers).toEqual([expect.objectContaining({ url: '/' })]);
    expect(
      operations()
        .filter(({ op }) => !op.summary)
        .map(({ key }) => key),
    ).toEqual([]);
    const untyped = operations().flatMap(({ key, op }) =>
      Object.entries(op.responses)
        .filter(([status]) => status.startsWith('2') && status !== '204')
        .filter(([, r]) => !r.content || Object.values(r.content).some((c) => !('schema' in c)))
        .map(([status]) => `${key} ${status}`),
    );
    expect(untyped).toEqual([]);
    const page = document.paths['/api/products'].get.responses['200'].content!['application/json'];
    expect(page).toEqual({ schema: { $ref: '#/components/schemas/ProductPage' } });
  });

  it('declares the contract’s headers where they apply', () => {
    for (const { key, op } of operations()) {
      expect([key, op.parameters]).toEqual([
        key,
        expect.arrayContaining([{ $ref: '#/components/parameters/RequestId' }]),
      ]);
      for (const [status, response] of Object.entries(op.responses)) {
        expect([key, status, Object.keys(response.headers ?? {})]).toEqual([
          key,
          status,
          expect.arrayContaining(['X-Request-Id', ...(['429', '503'].includes(status) ? ['Retry-After'] : [])]),
        ]);
      }
    }
    const idempotent = operations()
      .filter(({ op }) => op.parameters?.some((p) => p.name === 'Idempotency-Key' && p.in === 'header'))
      .map(({ key }) => key);
    expect(idempotent.sort()).toEqual(
      [
        ...['in', 'out', 'adjust', 'transfer', 'batch', 'reservations'].map((r) => `post /api/stock/${r}`),
        'post /api/stock/reservations/{id}/confirm',
        'post /api/stock/reservations/{id}/cancel',
      ].sort(),
    );
    expect(document.paths['/api/stock/out'].post.responses['201'].headers).toHaveProperty('Idempotent-Replayed');
    expect(document.paths['/api/stock/out'].post.responses['409'].headers).toHaveProperty('Idempotent-Replayed');
    expect(document.paths['/api/products/{id}'].get.responses['200'].headers).toHaveProperty('ETag');
    expect(document.paths['/api/products/{id}'].patch.parameters).toEqual(
      expect.arrayContaining([expect.objectContaining({ name: 'If-Match', in: 'header' })]),
    );
    for (const route of ['in', 'out', 'adjust', 'transfer', 'batch']) {
      expect(
        document.paths[`/api/stock/${route}`].post.requestBody!.content['application/json'].examples,
      ).toBeDefined();
    }
  });
});
