import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export const CLIENT_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Fastify's genReqId: keeps the client's X-Request-Id when it is well-formed, else makes one.
 * Also set on the raw request so pino-http logs the same id.
 */
export function requestIdFor(raw: IncomingMessage): string {
  const given = raw.headers['x-request-id'];
  const id = typeof given === 'string' && CLIENT_REQUEST_ID.test(given) ? given : randomUUID();
  (raw as IncomingMessage & { id?: string }).id = id;
  return id;
}
