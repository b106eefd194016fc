import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError, errorBody } from './common/errors/api-error';
import { ErrorCode, RETRY_AFTER_SECONDS } from './common/errors/error-codes';
import { IdempotentReplay } from './common/errors/idempotent-replay';
import { duplicateKey, isDatabaseUnavailable } from './database/dialect';

const CODE_BY_STATUS: Partial<Record<number, ErrorCode>> = {
  400: 'VALIDATION_FAILED',
  401: 'UNAUTHORIZED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  405: 'NOT_FOUND',
  412: 'VERSION_MISMATCH',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  429: 'RATE_LIMITED',
  503: 'SERVICE_UNAVAILABLE',
};

/** Which unique index means which 409: matched against the driver's message (index name on MySQL, table.column on SQLite). */
const UNIQUE_VIOLATIONS: [RegExp, ErrorCode, string][] = [
  [/UQ_products_sku_key|products\.sku_key/, 'SKU_TAKEN', 'SKU is already taken'],
  [/UQ_warehouses_code|warehouses\.code/, 'WAREHOUSE_CODE_TAKEN', 'Warehouse code is already taken'],
  [/UQ_users_username|users\.username/, 'USERNAME_TAKEN', 'Username is already taken'],
];

/** The 409 a unique-index violation means, or null when it is not one the contract names. */
export function uniqueViolation(error: unknown): ApiError | null {
  const duplicate = duplicateKey(error);
  const match = duplicate && UNIQUE_VIOLATIONS.find(([pattern]) => pattern.test(duplicate.message));
  return match ? new ApiError(match[1], match[2]) : null;
}

/** Fastify's own errors (body limit, content type, malformed JSON) carry a status and an FST_ code. */
function frameworkError(error: unknown): ApiError | null {
  const e = error as { statusCode?: number; code?: string; message?: string };
  if (typeof e?.statusCode !== 'number' || e.statusCode >= 500) return null;
  if (!(error instanceof SyntaxError) && !e.code?.startsWith('FST_')) return null;
  const code = CODE_BY_STATUS[e.statusCode] ?? 'VALIDATION_FAILED';
  const message = code === 'VALIDATION_FAILED' ? 'Request body is not valid JSON' : (e.message ?? code);
  return new ApiError(code, message, code === 'VALIDATION_FAILED' ? { fields: { body: [message] } } : undefined);
}

function fromHttpException(exception: HttpException): ApiError {
  const status = exception.getStatus();
  const code = CODE_BY_STATUS[status] ?? (status >= 500 ? 'INTERNAL' : 'VALIDATION_FAILED');
  const message = status === 404 ? 'Not found' : exception.message;
  if (code === 'VALIDATION_FAILED') return ApiError.validation({ body: [message] });
  const retryAfter = code === 'RATE_LIMITED' || code === 'SERVICE_UNAVAILABLE' ? RETRY_AFTER_SECONDS : undefined;
  return new ApiError(code, message, undefined, retryAfter);
}

function isTerminusReport(exception: unknown): exception is HttpException {
  if (!(exception instanceof HttpException) || exception.getStatus() !== 503) return false;
  const body = exception.getResponse() as { status?: unknown; details?: unknown };
  return body?.status === 'error' && typeof body.details === 'object';
}

/** Answers `error` with the contract's body (and Retry-After on 429/503). */
export function sendError(reply: FastifyReply, error: ApiError, requestId: string): void {
  if (error.retryAfter !== undefined) void reply.header('Retry-After', String(error.retryAfter));
  void reply
    .status(error.status)
    .header('Content-Type', 'application/json; charset=utf-8')
    .send(errorBody(error, requestId));
}

/**
 * The one place every error becomes the contract's error body. It sits above common/ and database/
 * (beside app.module.ts, which registers it): it reads driver errors through database/dialect.
 */
@Catch()
export class AllExceptionsFilter implements ExceptionFilter {
  private readonly logger = new Logger('Errors');

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const request = http.getRequest<FastifyRequest>();
    const reply = http.getResponse<FastifyReply>();
    if (exception instanceof IdempotentReplay) {
      void reply.status(exception.status).header('Idempotent-Replayed', 'true').send(exception.body);
      return;
    }
    if (isTerminusReport(exception)) {
      // the readiness probe answers terminus' own body, as the contract says
      void reply.status(503).header('Retry-After', String(RETRY_AFTER_SECONDS)).send(exception.getResponse());
      return;
    }
    sendError(reply, this.toApiError(exception, request.id), request.id);
  }

  private toApiError(exception: unknown, requestId: string): ApiError {
    if (exception instanceof ApiError) return exception;
    if (exception instanceof HttpException) return fromHttpException(exception);
    const known = frameworkError(exception) ?? uniqueViolation(exception);
    if (known) return known;
    if (isDatabaseUnavailable(exception)) {
      this.logger.warn({ requestId, err: exception }, 'Database unavailable');
      return ApiError.unavailable('The database is unavailable; retry shortly');
    }
    this.logger.error({ requestId, err: exception }, 'Unhandled error');
    return new ApiError('INTERNAL', 'Internal server error');
  }
}
