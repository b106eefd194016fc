import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { MySQL2Instrumentation } from '@opentelemetry/instrumentation-mysql2';
import { PinoInstrumentation } from '@opentelemetry/instrumentation-pino';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import { isProbeOrScrape } from '../http/routes';

/**
 * The OpenTelemetry SDK: spans exported over OTLP/HTTP (the exporter reads the endpoint, headers and
 * the `OTEL_BSP_*` / `OTEL_TRACES_SAMPLER*` settings from the environment itself), a server span per
 * request continuing an incoming W3C `traceparent`, a span per MySQL statement, and
 * `trace_id`/`span_id` in every log line written inside a span. Returns its shutdown, which sends
 * the spans still buffered.
 */
export function startTracing(env: NodeJS.ProcessEnv): () => Promise<void> {
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: env.OTEL_SERVICE_NAME ?? 'inventory-service' }),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter())],
  });
  provider.register(); // AsyncLocalStorage context and the W3C trace-context propagator
  registerInstrumentations({
    tracerProvider: provider,
    instrumentations: [
      new HttpInstrumentation({
        // probes and scrapes come every few seconds and say nothing about a request's path
        ignoreIncomingRequestHook: (request) => isProbeOrScrape(request.url?.split('?')[0]),
        // webhook deliveries go through undici, not http: nothing outgoing worth a span
        disableOutgoingRequestInstrumentation: true,
      }),
      // the statements as sent, placeholders and all: never the bound values (rows, password hashes)
      new MySQL2Instrumentation({ maskStatement: true, maskStatementHook: (sql) => sql }),
      new PinoInstrumentation(),
    ],
  });
  return () => provider.shutdown();
}
