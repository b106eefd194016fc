import { ApiError } from '../../common/errors/api-error';
import { Idempotency } from './idempotency.service';

const PRINTABLE_ASCII_KEY = /^[\x20-\x7e]{1,128}$/;

/**
 * The Idempotency-Key of a stock POST, scoped to its route (a name of at most 16 characters, the
 * stored key's column); `body` is what a replay must match (the request body, or the path id where
 * the route takes no body). 400 when the key is present but malformed.
 */
export function idempotencyOf(route: string, key: string | undefined, body: unknown): Idempotency | undefined {
  if (key === undefined) return undefined;
  if (!PRINTABLE_ASCII_KEY.test(key)) {
    throw ApiError.validation({ 'Idempotency-Key': ['Idempotency-Key must be 1..128 printable ASCII characters'] });
  }
  return { route, key, body };
}
