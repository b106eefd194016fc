import { RequestMethod } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { DiscoveryService } from '@nestjs/core';
import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import type { HeaderObject, ParameterObject, ResponseObject } from '@nestjs/swagger';
import { IS_PUBLIC, Roles } from './common/decorators/auth.decorators';
import { ERROR_STATUS, ErrorCode } from './common/errors/error-codes';
import { CLIENT_REQUEST_ID } from './common/http/request-id';

/** Error codes particular to a route, beyond those every route may answer. */
const ROUTE_ERRORS: Record<string, ErrorCode[]> = {
  'POST /api/auth/login': ['INVALID_CREDENTIALS'],
  'POST /api/users': ['USERNAME_TAKEN'],
  'GET /api/users/{id}': ['NOT_FOUND'],
  'PATCH /api/users/{id}': ['NOT_FOUND', 'LAST_ADMIN'],
  'POST /api/warehouses': ['WAREHOUSE_CODE_TAKEN'],
  'POST /api/products': ['SKU_TAKEN'],
  'GET /api/products/{id}': ['NOT_FOUND'],
  'PATCH /api/products/{id}': ['NOT_FOUND', 'VERSION_MISMATCH'],
  'DELETE /api/products/{id}': ['NOT_FOUND', 'PRODUCT_HAS_STOCK'],
  'GET /api/stock': ['NOT_FOUND'],
  'GET /api/stock/movements': ['NOT_FOUND'],
  'GET /api/stock/movements/export.csv': ['NOT_FOUND'],
  'GET /api/stock/reservations': ['NOT_FOUND'],
  'GET /api/stock/reservations/{id}': ['NOT_FOUND'],
  'GET /api/webhooks/{id}': ['NOT_FOUND'],
  'PATCH /api/webhooks/{id}': ['NOT_FOUND'],
  'DELETE /api/webhooks/{id}': ['NOT_FOUND'],
  'GET /api/webhooks/{id}/deliveries': ['NOT_FOUND'],
  'POST /api/webhooks/{id}/deliveries/{deliveryId}/retry': ['NOT_FOUND'],
  ...Object.fromEntries(
    ['confirm', 'cancel'].map((route) => [
      `POST /api/stock/reservations/{id}/${route}`,
      [
        'NOT_FOUND',
        'RESERVATION_NOT_ACTIVE',
        ...(route === 'confirm' ? (['INSUFFICIENT_STOCK'] as const) : []),
        'IDEMPOTENCY_KEY_IN_USE',
        'IDEMPOTENCY_KEY_REUSED',
      ] as ErrorCode[],
    ]),
  ),
  ...Object.fromEntries(
    ['in', 'out', 'adjust', 'transfer', 'batch', 'reservations'].map((route) => [
      `POST /api/stock/${route}`,
      [
        'NOT_FOUND',
        'INSUFFICIENT_STOCK',
        'QUANTITY_OUT_OF_RANGE',
        'IDEMPOTENCY_KEY_IN_USE',
        'IDEMPOTENCY_KEY_REUSED',
      ] as ErrorCode[],
    ]),
  ),
};

const EVERY_ROUTE: ErrorCode[] = ['VALIDATION_FAILED', 'RATE_LIMITED', 'INTERNAL', 'SERVICE_UNAVAILABLE'];
const AUTHENTICATED: ErrorCode[] = ['UNAUTHORIZED', 'FORBIDDEN'];

interface RouteRule {
  key: string;
  roles: readonly string[] | null;
}

/** Every controller route with its role rule (null: public), keyed like the document: `GET /api/products/{id}`. */
function routeRules(app: NestFastifyApplication): RouteRule[] {
  return app
    .get(DiscoveryService)
    .getControllers()
    .flatMap(({ metatype }) => {
      if (!metatype) return [];
      const base = String(Reflect.getMetadata(PATH_METADATA, metatype) ?? '');
      return Object.getOwnPropertyNames(metatype.prototype).flatMap((name) => {
        const handler = metatype.prototype[name] as object;
        if (typeof handler !== 'function' || !Reflect.hasMetadata(METHOD_METADATA, handler)) return [];
        const method = RequestMethod[Reflect.getMetadata(METHOD_METADATA, handler) as number];
        const path =
          `/${[base, String(Reflect.getMetadata(PATH_METADATA, handler))].filter((p) => p && p !== '/').join('/')}`
            .replace(/\/+/g, '/')
            .replace(/:(\w+)/g, '{$1}');
        const isPublic = Reflect.getMetadata(IS_PUBLIC, handler) ?? Reflect.getMetadata(IS_PUBLIC, metatype);
        const roles = Reflect.getMetadata(Roles.KEY, handler) ?? Reflect.getMetadata(Roles.KEY, metatype) ?? [];
        return [{ key: `${method} ${path}`, roles: isPublic ? null : roles }];
      });
    });
}

/**
 * The OpenAPI document: routes and DTOs from Nest (the swagger CLI plugin reads the DTOs at build),
 * plus what Nest cannot see — each route's roles, bearer auth and the contract's error codes.
 */
export function buildOpenApiDocument(app: NestFastifyApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('Inventory service')
    .setDescription(
      'Products, warehouses and stock that never goes wrong. Every route needs a bearer token and one of ' +
        'the roles listed on it (x-roles), except login and the health probes. Errors answer ' +
        '{statusCode, code, message, details?, requestId}. Any route may answer 503 SERVICE_UNAVAILABLE with ' +
        'Retry-After when the instance already serves MAX_IN_FLIGHT requests or no database connection frees up ' +
        'within DB_POOL_ACQUIRE_TIMEOUT_MS; login also when more than LOGIN_CONCURRENCY password checks are ' +
        'waiting. Bodies nested deeper than 32 levels are 400. Every /api answer carries Cache-Control: no-store; ' +
        'access tokens carry iss "inventory-service" and aud "inventory-api" and live at most 24 hours.',
    )
    .setVersion('1')
    .addBearerAuth({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' }, 'bearer')
    .addServer('/', 'This service (paths are absolute from its root)')
    .build();
  const document = SwaggerModule.createDocument(app, config);
  document.components = {
    ...document.components,
    headers: { ...document.components?.headers, ...RESPONSE_HEADERS },
    parameters: { ...document.components?.parameters, RequestId: REQUEST_ID_PARAMETER },
    schemas: {
      ...document.components?.schemas,
      Error: {
        type: 'object',
        required: ['statusCode', 'code', 'message', 'requestId'],
        properties: {
          statusCode: { type: 'integer' },
          code: { type: 'string', enum: Object.keys(ERROR_STATUS) },
          message: { type: 'string' },
          details: { type: 'object', description: 'VALIDATION_FAILED: {fields: {"<path>": ["<message>"]}}' },
          requestId: { type: 'string' },
        },
      },
    },
  };
  for (const rule of routeRules(app)) {
    const [method, path] = rule.key.split(' ');
    const operation = document.paths[path]?.[method.toLowerCase() as 'get'];
    if (!operation) continue;
    const codes = [...EVERY_ROUTE, ...(rule.roles ? AUTHENTICATED : []), ...(ROUTE_ERRORS[rule.key] ?? [])];
    if (rule.roles) {
      operation.security = [{ bearer: [] }];
      (operation as unknown as Record<string, unknown>)['x-roles'] = rule.roles;
      operation.description = `Roles: ${rule.roles.join(', ')}.${operation.description ? ` ${operation.description}` : ''}`;
    } else {
      operation.security = [];
      operation.description = `Public.${operation.description ? ` ${operation.description}` : ''}`;
    }
    for (const code of codes) {
      const status = String(ERROR_STATUS[code]);
      const existing = operation.responses[status] as ResponseObject | undefined;
      const error = { $ref: '#/components/schemas/Error' };
      // a route's own body for this status (the readiness probe's terminus body) stays, next to the error body
      const own = existing?.content?.['application/json']?.schema;
      operation.responses[status] = {
        description: existing?.description ? `${existing.description}, ${code}` : code,
        content: { 'application/json': { schema: own && !isErrorSchema(own) ? { anyOf: [own, error] } : error } },
      };
    }
    addHeaders(operation);
  }
  return document;
}

const ref = (name: string) => ({ $ref: `#/components/headers/${name}` });
const isErrorSchema = (schema: object) => (schema as { $ref?: string }).$ref === '#/components/schemas/Error';

const RESPONSE_HEADERS: Record<string, HeaderObject> = {
  'X-Request-Id': {
    description: 'The request’s X-Request-Id when it was 1..128 of [A-Za-z0-9._:-], else a generated one',
    schema: { type: 'string' },
  },
  'Retry-After': { description: 'Seconds to wait before trying again', schema: { type: 'integer', minimum: 0 } },
  'Idempotent-Replayed': {
    description: 'true when this is the stored answer of an earlier request with the same Idempotency-Key',
    schema: { type: 'string', enum: ['true'] },
  },
};

const REQUEST_ID_PARAMETER: ParameterObject = {
  name: 'X-Request-Id',
  in: 'header',
  required: false,
  description: 'Echoed back and logged when 1..128 of [A-Za-z0-9._:-]; otherwise a new id is generated',
  schema: { type: 'string', maxLength: 128, pattern: CLIENT_REQUEST_ID.source },
};

/**
 * Headers the contract puts on answers: X-Request-Id on every one, Retry-After on 429 and 503, and
 * Idempotent-Replayed on the answers an Idempotency-Key can replay (success, 404, 409).
 */
function addHeaders(operation: OpenAPIObject['paths'][string]['get'] & object): void {
  const parameters = (operation.parameters ??= []);
  const idempotent = parameters.some((p) => 'name' in p && p.name === 'Idempotency-Key');
  parameters.push({ $ref: '#/components/parameters/RequestId' });
  for (const [status, response] of Object.entries(operation.responses) as [string, ResponseObject][]) {
    const headers: ResponseObject['headers'] = { ...response.headers, 'X-Request-Id': ref('X-Request-Id') };
    if (status === '429' || status === '503') headers['Retry-After'] = ref('Retry-After');
    if (idempotent && (status.startsWith('2') || status === '404' || status === '409')) {
      headers['Idempotent-Replayed'] = ref('Idempotent-Replayed');
    }
    response.headers = headers;
  }
}

/** Serves the document at /docs (UI) and /docs-json; the document is built by the first request for it. */
export function serveOpenApi(app: NestFastifyApplication): void {
  SwaggerModule.setup('docs', app, () => buildOpenApiDocument(app), { jsonDocumentUrl: 'docs-json', raw: ['json'] });
  // the UI's assets plugin imports @fastify/static only as Fastify starts listening, after the first
  // run's admin hash: imported now, it loads while that hash runs instead of after it
  void import('@fastify/static');
}
