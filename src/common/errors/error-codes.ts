/** The contract's error codes with their HTTP status. */
export const ERROR_STATUS = {
  VALIDATION_FAILED: 400,
  UNAUTHORIZED: 401,
  INVALID_CREDENTIALS: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  SKU_TAKEN: 409,
  WAREHOUSE_CODE_TAKEN: 409,
  USERNAME_TAKEN: 409,
  INSUFFICIENT_STOCK: 409,
  PRODUCT_HAS_STOCK: 409,
  QUANTITY_OUT_OF_RANGE: 409,
  LAST_ADMIN: 409,
  IDEMPOTENCY_KEY_IN_USE: 409,
  RESERVATION_NOT_ACTIVE: 409,
  VERSION_MISMATCH: 412,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  IDEMPOTENCY_KEY_REUSED: 422,
  RATE_LIMITED: 429,
  INTERNAL: 500,
  SERVICE_UNAVAILABLE: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

/** Seconds a client waits before retrying a 429 or a 503 (sent as Retry-After). */
export const RETRY_AFTER_SECONDS = 1;

export interface ErrorBody {
  statusCode: number;
  code: ErrorCode;
  message: string;
  details?: Record<string, unknown>;
  requestId: string;
}
