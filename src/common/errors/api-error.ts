import { ERROR_STATUS, ErrorBody, ErrorCode, RETRY_AFTER_SECONDS } from './error-codes';

/** A domain error: carries the contract's code; the exception filter turns it into the error body. */
export class ApiError extends Error {
  readonly status: number;

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
    /** Seconds, sent as Retry-After (429 and 503). */
    readonly retryAfter?: number,
  ) {
    super(message);
    this.status = ERROR_STATUS[code];
  }

  static validation(fields: Record<string, string[]>): ApiError {
    return new ApiError('VALIDATION_FAILED', 'Request validation failed', { fields });
  }

  static notFound(what: string, details: Record<string, unknown>): ApiError {
    return new ApiError('NOT_FOUND', `${what} not found`, details);
  }

  /** 503 with Retry-After: nothing was done, the client may send it again shortly. */
  static unavailable(message: string): ApiError {
    return new ApiError('SERVICE_UNAVAILABLE', message, undefined, RETRY_AFTER_SECONDS);
  }
}

/** The contract's error body for an error answered to the request `requestId`. */
export function errorBody(error: ApiError, requestId: string): ErrorBody {
  return {
    statusCode: error.status,
    code: error.code,
    message: error.message,
    ...(error.details ? { details: error.details } : {}),
    requestId,
  };
}
