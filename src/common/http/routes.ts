import type { FastifyRequest } from 'fastify';

/** The route template a request matched (`/api/products/:id`), never its raw URL; none when unmatched. */
export const routeTemplate = (request: FastifyRequest): string | undefined =>
  request.is404 ? undefined : request.routeOptions.url;

/** Probes and the Prometheus scrape: never shed, never traced. */
export const isProbeOrScrape = (path: string | undefined): boolean =>
  path === '/metrics' || path?.startsWith('/health/') === true;
