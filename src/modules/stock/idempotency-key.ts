import { applyDecorators } from '@nestjs/common';
import { ApiHeader } from '@nestjs/swagger';
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

/** Declares the optional `Idempotency-Key` request header of a stock write (its answers then carry Idempotent-Replayed). */
export const ApiIdempotencyKey = () =>
  applyDecorators(
    ApiHeader({
      name: 'Idempotency-Key',
      required: false,
      description:
        '1..128 printable ASCII characters, scoped to the user and the route. The same key with the same body ' +
        'replays the first answer (2xx, 404 or 409; header Idempotent-Replayed: true) and moves nothing; with ' +
        'another body: 422 IDEMPOTENCY_KEY_REUSED; while the first is in flight: 409 IDEMPOTENCY_KEY_IN_USE. ' +
        'Kept at least 24 hours.',
      schema: { type: 'string', minLength: 1, maxLength: 128, pattern: PRINTABLE_ASCII_KEY.source },
    }),
  );
