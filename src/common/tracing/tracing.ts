import { Attributes, context, Context, Link, SpanStatusCode, trace } from '@opentelemetry/api';
import type { FastifyInstance } from 'fastify';
import { routeTemplate } from '../http/routes';

/** The service's own spans; no-ops unless the SDK started (register.ts). */
const tracer = trace.getTracer('inventory-service');
/** A span links at most this many other contexts. */
const MAX_LINKS = 64;

/** Tracing is on when an OTLP endpoint is set (contract: `OTEL_EXPORTER_OTLP_ENDPOINT`). */
export const tracingConfigured = (env: NodeJS.ProcessEnv = process.env): boolean =>
  Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);

/**
 * Names each request's server span after its route template (`POST /api/stock/out`, never a raw URL
 * with ids in it) and records the template as `http.route`.
 */
export function nameServerSpans(fastify: FastifyInstance): void {
  if (!tracingConfigured()) return;
  fastify.addHook('onRequest', (request, _reply, done) => {
    const route = routeTemplate(request);
    const span = trace.getActiveSpan();
    if (span && route) {
      span.updateName(`${request.method} ${route}`);
      span.setAttribute('http.route', route);
    }
    done();
  });
}

/**
 * Runs `work` in a span with `attributes` that is the child of `parents[0]` — a context captured
 * earlier, such as the request a queued write came from — linked to the others (at most
 * MAX_LINKS); SQL issued inside is its child. Without tracing, just `work`: nothing is built.
 */
export function inSpan<T>(
  name: string,
  parents: Context[],
  attributes: Attributes,
  work: () => Promise<T>,
): Promise<T> {
  if (!tracingConfigured()) return work();
  const links = parents.slice(1, 1 + MAX_LINKS).flatMap(linkTo);
  return tracer.startActiveSpan(name, { links, attributes }, parents[0], async (span) => {
    try {
      return await work();
    } catch (error) {
      span.recordException(error as Error);
      span.setStatus({ code: SpanStatusCode.ERROR });
      throw error;
    } finally {
      span.end();
    }
  });
}

/** The active context, to carry across a queue into work that runs later. */
export const currentContext = (): Context => context.active();

/** A link to the span active in `ctx`, if there is one. */
function linkTo(ctx: Context): Link[] {
  const span = trace.getSpan(ctx);
  return span ? [{ context: span.spanContext() }] : [];
}

/** Attributes on the span active now (none when tracing is off). */
export function annotateSpan(attributes: Attributes): void {
  trace.getActiveSpan()?.setAttributes(attributes);
}
