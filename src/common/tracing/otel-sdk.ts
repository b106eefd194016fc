import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { MySQL2Instrumentation } from '@opentelemetry/instrumentation-mysql2';
import { PinoInstrumentation } from '@opentelemetry/instrumentation-pino';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';

/** Probes and scrapes come every few seconds and say nothing about a request's path: not traced. */
const UNTRACED = /^\/(health\/|metrics)/;

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
        ignoreIncomingRequestHook: (request) => UNTRACED.test(request.url ?? ''),
        // webhook deliveries go through undici, not http: nothing outgoing worth a span
        disableOutgoingRequestInstrumentation: true,
      }),
      new MySQL2Instrumentation(),
      new PinoInstrumentation(),
    ],
  });
  return () => provider.shutdown();
}
