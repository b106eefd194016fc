import { RequestMethod } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { DiscoveryService } from '@nestjs/core';
import { startTestApp, TestApp } from './support/test-app';

interface Operation {
  security?: Record<string, string[]>[];
  'x-roles'?: string[];
  responses: Record<string, { description: string }>;
}

describe('OpenAPI document', () => {
  let t: TestApp;
  let document: { paths: Record<string, Record<string, Operation>>; components: { securitySchemes: object } };

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
});
