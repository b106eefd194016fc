import helmet from 'helmet';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { Logger } from 'nestjs-pino';
import { AppModule } from './app.module';
import { useDepthLimitedJsonParser } from './common/http/json-body';
import { installLoadShedding } from './common/http/load-shedding';
import { requestIdFor } from './common/http/request-id';
import { MetricsService } from './common/metrics/metrics.service';
import { serveOpenApi } from './openapi';
import { ShutdownState } from './modules/health/shutdown-state';
import { ApiError } from './common/errors/api-error';
import { sendError } from './all-exceptions.filter';
import { readAppConfig, TrustProxy } from './config/app.config';
import { nameServerSpans } from './common/tracing/tracing';
import { routeTemplate } from './common/http/routes';
import { quietBootLogger } from './common/quiet-boot-logger';

export const BODY_LIMIT_BYTES = 1024 * 1024;

/**
 * helmet's headers (nosniff, frame, referrer and cross-origin policies, a CSP that still lets /docs load
 * its own scripts), built once: @fastify/helmet rebuilds the middleware on every request, a quarter of
 * a cheap route's throughput here.
 */
const securityHeaders = helmet({
  contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } },
  crossOriginResourcePolicy: { policy: 'same-site' },
});

/** A hop count as the function Fastify makes of one (its option type leaves numbers out). */
const fastifyTrustProxy = (trust: TrustProxy) =>
  typeof trust === 'number' ? (_address: string, hop: number) => hop < trust : trust;

/**
 * Builds the application exactly as production runs it — Fastify options, hooks and AppModule —
 * for main.ts and for the e2e suites alike.
 */
export async function createApp(): Promise<NestFastifyApplication> {
  const config = readAppConfig();
  const adapter = new FastifyAdapter({
    bodyLimit: BODY_LIMIT_BYTES,
    // request.ip: the socket's peer, or the client a trusted proxy names in X-Forwarded-For
    trustProxy: fastifyTrustProxy(config.trustProxy),
    genReqId: requestIdFor,
    requestIdHeader: false,
    // the drain hooks below answer with the contract's body instead of Fastify's own 503
    return503OnClosing: false,
  });
  // bodyParser off: Nest would add a form parser; Fastify's own JSON parser is the only one wanted
  const app = await NestFactory.create<NestFastifyApplication>(AppModule, adapter, {
    bufferLogs: true,
    bodyParser: false,
  });
  app.useLogger(quietBootLogger(app.get(Logger)));
  const fastify = app.getHttpAdapter().getInstance();
  // JSON only: any other body type is 415 rather than a string handed to validation
  fastify.removeContentTypeParser(['text/plain']);
  useDepthLimitedJsonParser(fastify);
  nameServerSpans(fastify);
  const shutdown = app.get(ShutdownState);
  fastify.addHook('onRequest', (request, reply, done) => {
    void reply.header('X-Request-Id', request.id);
    securityHeaders(request.raw, reply.raw, () => undefined);
    // stock levels and users are not for a shared cache or the browser's history, error answers neither
    if (request.url.startsWith('/api')) void reply.header('Cache-Control', 'no-store');
    // the probes keep answering: readiness says 503 itself (terminus body), liveness stays 200
    if (!shutdown.shuttingDown || request.routeOptions.url?.startsWith('/health/')) return done();
    // arrived on a kept-alive connection while draining: not started, so safe for the client to retry
    sendError(reply, ApiError.unavailable('The service is shutting down; retry shortly'), request.id);
  });
  const metrics = app.get(MetricsService);
  installLoadShedding(fastify, config.maxInFlight, {
    inFlight: (count) => metrics.httpInFlight.set(count),
    shed: (request, reply) => {
      metrics.httpShed.inc();
      sendError(reply, ApiError.unavailable('The service is at capacity; retry shortly'), request.id);
    },
  });
  // while draining, every response closes its connection: keep-alive sockets would hold the close open
  fastify.addHook('onSend', (_request, reply, payload, done) => {
    if (shutdown.shuttingDown) void reply.header('Connection', 'close');
    done(null, payload);
  });
  if (config.openApi) serveOpenApi(app);
  if (config.httpMetrics) {
    fastify.addHook('onResponse', (request, reply, done) => {
      metrics.observeRequest(request.method, routeTemplate(request), reply.statusCode, reply.elapsedTime / 1000);
      done();
    });
  }
  return app;
}
