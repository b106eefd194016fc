/**
 * The contract's role table ("Roles and who may call what"), checked against every route the running
 * application actually serves. The routes come from the app itself — Nest's controller metadata
 * (found through DiscoveryService) cross-checked with Fastify's router — never from a hand-kept
 * list, so a route added without a matrix entry fails this suite.
 */
import { RequestMethod, Type } from '@nestjs/common';
import { METHOD_METADATA, MODULE_PATH, PATH_METADATA } from '@nestjs/common/constants';
import { DiscoveryService, MetadataScanner, ModulesContainer } from '@nestjs/core';
import type { Response, Test } from 'supertest';
import { errorBodyProblems } from './support/errors';
import { ADMIN, PASSWORD } from './support/service-env';
import { bearer, startTestApp, TestApp } from './support/test-app';

type Role = 'viewer' | 'operator' | 'manager' | 'admin' | 'monitor';
/** A hand-written copy of the contract's roles: not imported from src, so the test can disagree with it. */
const ROLES: readonly Role[] = ['viewer', 'operator', 'manager', 'admin', 'monitor'];

type Access = 'public' | readonly Role[];
const ANY_USER: readonly Role[] = ['viewer', 'operator', 'manager', 'admin', 'monitor'];
const READ: readonly Role[] = ['viewer', 'operator', 'manager', 'admin'];
const STOCK_WRITE: readonly Role[] = ['operator', 'manager', 'admin'];
const MANAGE: readonly Role[] = ['manager', 'admin'];
const ADMIN_ONLY: readonly Role[] = ['admin'];
const METRICS: readonly Role[] = ['admin', 'monitor'];

/** The contract's table, route by route (HEAD on a GET route is judged by the GET entry). */
const MATRIX: Record<string, Access> = {
  'POST /api/auth/login': 'public',
  'GET /api/auth/me': ANY_USER,
  'GET /api/products': READ,
  'GET /api/products/:id': READ,
  'GET /api/warehouses': READ,
  'GET /api/stock': READ,
  'GET /api/stock/movements': READ,
  'POST /api/stock/in': STOCK_WRITE,
  'POST /api/stock/out': STOCK_WRITE,
  'POST /api/stock/transfer': STOCK_WRITE,
  'POST /api/stock/batch': STOCK_WRITE,
  'POST /api/stock/adjust': MANAGE,
  'GET /api/stock/reconcile': MANAGE,
  'POST /api/products': MANAGE,
  'PATCH /api/products/:id': MANAGE,
  'DELETE /api/products/:id': MANAGE,
  'POST /api/warehouses': MANAGE,
  'GET /api/audit-logs': MANAGE,
  'POST /api/users': ADMIN_ONLY,
  'GET /api/users': ADMIN_ONLY,
  'GET /api/users/:id': ADMIN_ONLY,
  'PATCH /api/users/:id': ADMIN_ONLY,
  'GET /metrics': METRICS,
  'GET /health/live': 'public',
  'GET /health/ready': 'public',
  // v2
  'GET /api/stock/reservations': READ,
  'GET /api/stock/reservations/:id': READ,
  'POST /api/stock/reservations': STOCK_WRITE,
  'POST /api/stock/reservations/:id/confirm': STOCK_WRITE,
  'POST /api/stock/reservations/:id/cancel': STOCK_WRITE,
  'GET /api/products/export.csv': READ,
  'GET /api/stock/movements/export.csv': READ,
  'GET /api/events': MANAGE,
  'POST /api/webhooks': ADMIN_ONLY,
  'GET /api/webhooks': ADMIN_ONLY,
  'GET /api/webhooks/:id': ADMIN_ONLY,
  'PATCH /api/webhooks/:id': ADMIN_ONLY,
  'DELETE /api/webhooks/:id': ADMIN_ONLY,
  'GET /api/webhooks/:id/deliveries': ADMIN_ONLY,
  'POST /api/webhooks/:id/deliveries/:deliveryId/retry': ADMIN_ONLY,
};

/** Table routes the service may not have yet; every other table route must exist. */
const MAY_BE_MISSING = new Set<string>(['GET /api/products/export.csv', 'GET /api/stock/movements/export.csv']);

const FIXTURE_SKU = 'MATRIX-SKU-1';
const FIXTURE_WAREHOUSE = 'MATRIX-WH';
let unique = 0;
const next = () => ++unique;

/** A small, valid-looking body per write route, so allowed roles reach the handler. */
const BODIES: Record<string, () => object> = {
  'POST /api/auth/login': () => ({ username: ADMIN.username, password: ADMIN.password }),
  'POST /api/stock/in': () => ({ sku: FIXTURE_SKU, quantity: 1 }),
  'POST /api/stock/out': () => ({ sku: FIXTURE_SKU, quantity: 1 }),
  'POST /api/stock/transfer': () => ({ sku: FIXTURE_SKU, from: 'MAIN', to: FIXTURE_WAREHOUSE, quantity: 1 }),
  'POST /api/stock/batch': () => ({ type: 'IN', lines: [{ sku: FIXTURE_SKU, quantity: 1 }] }),
  'POST /api/stock/adjust': () => ({ sku: FIXTURE_SKU, delta: 1, reason: 'CORRECTION' }),
  'POST /api/products': () => ({ sku: `MATRIX-NEW-${next()}`, name: 'Matrix product' }),
  'PATCH /api/products/:id': () => ({ name: `Renamed ${next()}` }),
  'POST /api/warehouses': () => ({ code: `MX-${next()}`, name: 'Matrix warehouse' }),
  'POST /api/users': () => ({ username: `matrix-user-${next()}`, password: PASSWORD, role: 'viewer' }),
  'PATCH /api/users/:id': () => ({ disabled: false }),
  'POST /api/stock/reservations': () => ({ lines: [{ sku: FIXTURE_SKU, quantity: 1 }] }),
  'POST /api/webhooks': () => ({ url: `http://127.0.0.1:9/matrix-${next()}`, events: ['stock.low'] }),
  'PATCH /api/webhooks/:id': () => ({ description: `Matrix ${next()}` }),
};

interface AppRoute {
  method: string;
  /** The path as the router holds it, e.g. /api/products/:id */
  path: string;
}

/** Route identity with parameter names erased: `/api/products/:productId` matches `/api/products/:id`. */
const routeKey = (method: string, path: string) => `${method} ${path.replace(/:[^/]+/g, ':param')}`;
const MATRIX_BY_KEY = new Map(
  Object.entries(MATRIX).map(([route, access]) => {
    const [method, path] = route.split(' ');
    return [routeKey(method, path), { route, access }] as const;
  }),
);

/** The matrix entry for a route; HEAD (which Fastify adds to each GET) follows its GET. */
function entryFor(route: AppRoute): { route: string; access: Access } | undefined {
  const method = route.method === 'HEAD' ? 'GET' : route.method;
  return MATRIX_BY_KEY.get(routeKey(route.method, route.path)) ?? MATRIX_BY_KEY.get(routeKey(method, route.path));
}

const asArray = (value: unknown): string[] => (Array.isArray(value) ? value.map(String) : [String(value ?? '')]);

function joinPath(...parts: string[]): string {
  const path = parts
    .flatMap((part) => part.split('/'))
    .filter((segment) => segment.length > 0)
    .join('/');
  return `/${path}`;
}

/** Every route Nest mapped from controller metadata (module paths from RouterModule included). */
function nestRoutes(t: TestApp): AppRoute[] {
  const modules = t.app.get(ModulesContainer);
  // DiscoveryService is only injectable where DiscoveryModule is imported; otherwise build it on the container
  const registered = [...modules.values()].some((module) => module.providers.has(DiscoveryService));
  const discovery = registered ? t.app.get(DiscoveryService) : new DiscoveryService(modules);
  const scanner = new MetadataScanner();
  const routes: AppRoute[] = [];
  for (const wrapper of discovery.getControllers()) {
    const controller = wrapper.metatype as Type | null;
    if (!controller) continue;
    const hostModule = wrapper.host?.metatype;
    const modulePath: string =
      (hostModule &&
        (Reflect.getMetadata(MODULE_PATH + modules.applicationId, hostModule) ??
          Reflect.getMetadata(MODULE_PATH, hostModule))) ??
      '';
    const prototype = controller.prototype as Record<string, unknown>;
    for (const name of scanner.getAllMethodNames(prototype)) {
      const handler = prototype[name];
      if (typeof handler !== 'function') continue;
      const handlerPaths: unknown = Reflect.getMetadata(PATH_METADATA, handler);
      if (handlerPaths === undefined) continue;
      const method = RequestMethod[Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod];
      for (const prefix of asArray(Reflect.getMetadata(PATH_METADATA, controller))) {
        for (const path of asArray(handlerPaths)) routes.push({ method, path: joinPath(modulePath, prefix, path) });
      }
    }
  }
  return routes;
}

/**
 * Every route Fastify's router holds, parsed from `printRoutes({ commonPrefix: false })`: this also
 * catches routes registered on Fastify directly (health, metrics…) that no controller declares.
 */
function fastifyRoutes(t: TestApp): AppRoute[] {
  const tree = t.app.getHttpAdapter().getInstance().printRoutes({ commonPrefix: false });
  const keys: string[] = [];
  const routes: AppRoute[] = [];
  let current: string | null = null;
  const add = (methods: string) => {
    for (const method of methods.split(',').map((m) => m.trim())) {
      if (current !== null && method) routes.push({ method, path: current });
    }
  };
  for (const line of tree.split('\n')) {
    const node = /^((?:│ {3}| {4})*)(?:├── |└── )(\S+)(.*)$/.exec(line);
    if (node) {
      const depth = node[1].length / 4;
      keys.length = depth;
      keys[depth] = node[2];
      current = keys.join('');
      const methods = /^ \(([^)]*)\)/.exec(node[3]);
      if (methods) add(methods[1]);
      continue;
    }
    // a second line for the same node: routes with other constraints
    const more = /^[│ ]*\(([^)]*)\)/.exec(line);
    if (more) add(more[1]);
  }
  return routes;
}

describe('access matrix: who may call what', () => {
  let t: TestApp;
  let routes: AppRoute[];
  let productId: number;
  let userId: number;
  let requests = 0;

  beforeAll(async () => {
    t = await startTestApp();
    const seen = new Map<string, AppRoute>();
    for (const route of [...nestRoutes(t), ...fastifyRoutes(t)]) {
      // the API documentation (outside production only) is not part of the contract's table; openapi.e2e-spec.ts covers it
      if (route.path === '/docs' || route.path.startsWith('/docs/') || route.path.startsWith('/docs-')) continue;
      seen.set(`${route.method} ${route.path}`, route);
    }
    routes = [...seen.values()].sort((a, b) => a.path.localeCompare(b.path) || a.method.localeCompare(b.method));

    // something real behind the :id of each family, so allowed roles reach past "not found"
    const product = await t.http
      .post('/api/products')
      .set(bearer(t.tokens.admin))
      .send({ sku: FIXTURE_SKU, name: 'Matrix fixture' })
      .expect(201);
    productId = product.body.id;
    await t.http
      .post('/api/warehouses')
      .set(bearer(t.tokens.admin))
      .send({ code: FIXTURE_WAREHOUSE, name: 'Matrix fixture' })
      .expect(201);
    userId = (await t.createUser('matrix-target', 'viewer')).id;
  });
  afterAll(() => t?.close());

  function urlFor(route: AppRoute): string {
    const id = route.path.startsWith('/api/users') ? userId : route.path.startsWith('/api/products') ? productId : 1;
    return route.path.replace(/:[^/]+/g, String(id));
  }

  /** One request to the route, as a client would send it; no `authorization` sends no Authorization header. */
  function call(route: AppRoute, authorization?: string): Test {
    const agent = t.http as unknown as Record<string, (url: string) => Test>;
    const send = agent[route.method.toLowerCase()];
    if (typeof send !== 'function') throw new Error(`Cannot send ${describeRoute(route)}: no such HTTP method`);
    const request = send.call(t.http, urlFor(route)).set('X-Request-Id', `matrix-${++requests}`);
    if (authorization !== undefined) request.set('Authorization', authorization);
    if (['POST', 'PUT', 'PATCH'].includes(route.method)) {
      const body = BODIES[entryFor(route)?.route ?? ''];
      request.send(body ? body() : {});
    }
    return request;
  }

  const describeRoute = (route: AppRoute) => `${route.method} ${route.path}`;

  /** null when the answer is the contract's error (status, code, body); else what was wrong. */
  function errorMismatch(route: AppRoute, res: Response, status: number, code: string): string | null {
    const got = `${describeRoute(route)}: expected ${status} ${code}, got ${res.status} ${JSON.stringify(res.body)}`;
    if (res.status !== status) return got;
    if (route.method === 'HEAD') return null; // no body on HEAD
    const problems = errorBodyProblems(res, status, code);
    return problems.length ? `${got} (${problems.join(', ')})` : null;
  }

  it('finds the routes in the running app (Nest metadata and the Fastify router agree)', () => {
    const fastify = t.app.getHttpAdapter().getInstance();
    const nest = nestRoutes(t);
    expect(nest.length).toBeGreaterThan(0);
    // every controller route is served by Fastify under the path computed from the metadata
    const unserved = nest.filter((route) => !fastify.hasRoute({ method: route.method as 'GET', url: route.path }));
    expect(unserved).toEqual([]);
    const fromRouter = new Set(fastifyRoutes(t).map((route) => routeKey(route.method, route.path)));
    expect(nest.map((route) => routeKey(route.method, route.path)).filter((key) => !fromRouter.has(key))).toEqual([]);
  });

  it('has every route of the contract table the service already implements', () => {
    const present = new Set(routes.map((route) => routeKey(route.method, route.path)));
    const missing = Object.keys(MATRIX).filter((route) => {
      const [method, path] = route.split(' ');
      return !MAY_BE_MISSING.has(route) && !present.has(routeKey(method, path));
    });
    expect(missing).toEqual([]);
  });

  it('has a matrix entry for every route of the app (a new route needs one)', () => {
    const unlisted = routes.filter((route) => !entryFor(route)).map(describeRoute);
    expect(unlisted).toEqual([]);
  });

  it('answers 401 UNAUTHORIZED on every non-public route without a token', async () => {
    const mismatches: string[] = [];
    let checked = 0;
    for (const route of routes) {
      if (entryFor(route)?.access === 'public') continue;
      checked++;
      const problem = errorMismatch(route, await call(route), 401, 'UNAUTHORIZED');
      if (problem) mismatches.push(problem);
    }
    expect(mismatches).toEqual([]);
    expect(checked).toBeGreaterThan(0);
  });

  it.each([
    ['a token that is not a JWT', 'Bearer not-a-jwt'],
    ['a non-Bearer scheme', 'Basic YWRtaW46YWRtaW4tcGFzc3dvcmQtMTIz'],
    ['an empty Bearer', 'Bearer '],
  ])('answers 401 UNAUTHORIZED on every non-public route with %s', async (_, authorization) => {
    const mismatches: string[] = [];
    let checked = 0;
    for (const route of routes) {
      if (entryFor(route)?.access === 'public') continue;
      checked++;
      const problem = errorMismatch(route, await call(route, authorization), 401, 'UNAUTHORIZED');
      if (problem) mismatches.push(problem);
    }
    expect(mismatches).toEqual([]);
    expect(checked).toBeGreaterThan(0);
  });

  it('lets anyone call the public routes without a token', async () => {
    const publicRoutes = routes.filter((route) => entryFor(route)?.access === 'public');
    expect(publicRoutes.map(describeRoute)).toContain('POST /api/auth/login');
    const mismatches: string[] = [];
    for (const route of publicRoutes) {
      const res = await call(route);
      if (res.status === 401 || res.status === 403) {
        mismatches.push(`${describeRoute(route)}: got ${res.status} ${JSON.stringify(res.body)}`);
      }
    }
    expect(mismatches).toEqual([]);
    // the login route really works without a token (the body carries the admin's credentials)
    const login = await t.http.post('/api/auth/login').send({ username: ADMIN.username, password: ADMIN.password });
    expect(login.status).toBe(200);
  });

  it.each(ROLES)(
    'role %s: 403 FORBIDDEN where the table denies it, neither 401 nor 403 where it allows',
    async (role) => {
      const token = t.tokens[role];
      expect(token).toEqual(expect.any(String));
      const mismatches: string[] = [];
      let checked = 0;
      for (const route of routes) {
        const entry = entryFor(route);
        if (!entry) continue; // reported by the "matrix entry for every route" test
        checked++;
        const res = await call(route, `Bearer ${token}`);
        const allowed = entry.access === 'public' || entry.access.includes(role);
        if (allowed) {
          if (res.status === 401 || res.status === 403) {
            mismatches.push(`${describeRoute(route)}: allowed, got ${res.status} ${JSON.stringify(res.body)}`);
          }
        } else {
          const problem = errorMismatch(route, res, 403, 'FORBIDDEN');
          if (problem) mismatches.push(problem);
        }
      }
      expect(mismatches).toEqual([]);
      expect(checked).toBeGreaterThan(0);
    },
  );
});
