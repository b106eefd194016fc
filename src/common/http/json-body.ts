import type { FastifyInstance } from 'fastify';
import { ApiError } from '../errors/api-error';

/** The deepest nesting of arrays and objects a request body may have (the contract's limit). */
export const MAX_JSON_DEPTH = 32;

const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * Whether JSON text nests arrays and objects deeper than `max`, read before parsing: a deep body must
 * never reach the recursive transformers and validators behind the parser (5,000 levels overflow the stack).
 */
export function jsonNestsDeeperThan(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) inString = true;
    else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (++depth > max) return true;
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) depth--;
  }
  return false;
}

/** Fastify's own JSON parser (prototype poisoning refused), behind the depth limit. */
export function useDepthLimitedJsonParser(fastify: FastifyInstance): void {
  const parse = fastify.getDefaultJsonParser('error', 'error');
  fastify.removeContentTypeParser('application/json');
  fastify.addContentTypeParser('application/json', { parseAs: 'string' }, (request, raw, done) => {
    const body = raw as string;
    if (body === '') return done(null, undefined); // as if none was sent: a route that needs one says so
    if (jsonNestsDeeperThan(body, MAX_JSON_DEPTH)) {
      return done(ApiError.validation({ body: [`JSON may nest at most ${MAX_JSON_DEPTH} levels deep`] }), undefined);
    }
    parse(request, body, done);
  });
}
