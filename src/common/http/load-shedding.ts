import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isProbeOrScrape } from './routes';

export interface InFlightObserver {
  /** The number of requests being served changed. */
  inFlight(count: number): void;
  /** Answers (503) a request refused because `max` were already being served. */
  shed(request: FastifyRequest, reply: FastifyReply): void;
}

/** Probes and the metrics scrape are answered whatever the load: an overloaded instance must still say so. */

/**
 * MAX_IN_FLIGHT: past `max` requests served at once, a new one is answered 503 with Retry-After at
 * once, before its body is read — a fast refusal the client can retry elsewhere, instead of a queue
 * that makes every answer slow. `max` 0 turns it off (the gauge still counts).
 */
export function installLoadShedding(fastify: FastifyInstance, max: number, observer: InFlightObserver): void {
  let inFlight = 0;
  fastify.addHook('onRequest', (request, reply, done) => {
    if (isProbeOrScrape(request.routeOptions.url)) return done();
    if (max > 0 && inFlight >= max) return observer.shed(request, reply);
    observer.inFlight(++inFlight);
    // 'close' follows the last byte of the answer, or the client going away: either way it is no longer served
    reply.raw.once('close', () => observer.inFlight(--inFlight));
    done();
  });
}
