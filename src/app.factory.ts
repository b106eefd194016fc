import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { Logger } from 'nestjs-pino';
import { AppModule } from './app.module';
import { requestIdFor } from './common/http/request-id';
import { MetricsService } from './common/metrics/metrics.service';
import { serveOpenApi } from './openapi';
import { ShutdownState } from './modules/health/shutdown-state';
import { ApiError } from './common/errors/api-error';
import { sendError } from './all-exceptions.filter';
import { TypedConfigService } from './config';

export const BODY_LIMIT_BYTES = 1024 * 1024;

/**
 * Builds the application exactly as production runs it — Fastify options, hooks and AppModule —
 * for main.ts and for the e2e suites alike.
 */
export async function createApp(): Promise<NestFastifyApplication> {
  const adapter = new FastifyAdapter({
    bodyLimit: BODY_LIMIT_BYTES,
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
  app.useLogger(app.get(Logger));
  const fastify = app.getHttpAdapter().getInstance();
  // JSON only: any other body type is 415 rather than a string handed to validation
  fastify.removeContentTypeParser(['text/plain']);
  const shutdown = app.get(ShutdownState);
  fastify.addHook('onRequest', (request, reply, done) => {
    void reply.header('X-Request-Id', request.id);
    // the probes keep answering: readiness says 503 itself (terminus body), liveness stays 200
    if (!shutdown.shuttingDown || request.routeOptions.url?.startsWith('/health/')) return done();
    // arrived on a kept-alive connection while draining: not started, so safe for the client to retry
    sendError(reply, ApiError.unavailable('The service is shutting down; retry shortly'), request.id);
  });
  // while draining, every response closes its connection: keep-alive sockets would hold the close open
  fastify.addHook('onSend', (_request, reply, payload, done) => {
    if (shutdown.shuttingDown) void reply.header('Connection', 'close');
    done(null, payload);
  });
  const config = app.get(TypedConfigService).getOrThrow('app', { infer: true });
  if (config.openApi) serveOpenApi(app);
  if (config.httpMetrics) {
    const metrics = app.get(MetricsService);
    fastify.addHook('onResponse', (request, reply, done) => {
      // routeOptions.url is the template (/api/products/:id); unmatched requests have none
      const route = request.is404 ? undefined : request.routeOptions.url;
      metrics.observeRequest(request.method, route, reply.statusCode, reply.elapsedTime / 1000);
      done();
    });
  }
  return app;
}
