import { ArgumentMetadata, PipeTransform, ValidationError, ValidationPipe } from '@nestjs/common';
import { ApiError } from '../errors/api-error';

function collect(errors: ValidationError[], prefix: string, into: Record<string, string[]>): void {
  for (const error of errors) {
    const path = prefix ? `${prefix}.${error.property}` : error.property;
    if (error.constraints) into[path] = Object.values(error.constraints);
    if (error.children?.length) collect(error.children, path, into);
  }
}

/**
 * Path parameters are left to their own pipes, which see the raw text (`1e0` is not an id). Whatever
 * shape a body has, it is a 400: a transformer or validator that trips over one is the client's bad
 * input, never a 500.
 */
class AppValidationPipe extends ValidationPipe {
  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    if (metadata.type === 'param') return value;
    if (metadata.type === 'body' && value === undefined && this.toValidate(metadata)) {
      throw ApiError.validation({ body: ['a JSON object body is required'] });
    }
    try {
      return await super.transform(value, metadata);
    } catch (error) {
      if (error instanceof ApiError) throw error;
      throw ApiError.validation({ [metadata.type]: [`${metadata.type} has a shape this route does not accept`] });
    }
  }
}

/** A POST that takes no fields (a reservation's confirm or cancel): no body, or `{}`. */
export class NoFieldsPipe implements PipeTransform {
  transform(value: unknown): Record<string, never> {
    if (value === undefined) return {};
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      throw ApiError.validation({ body: ['body must be an empty JSON object, or absent'] });
    }
    const fields = Object.keys(value);
    if (fields.length) {
      throw ApiError.validation(Object.fromEntries(fields.map((f) => [f, [`property ${f} should not exist`]])));
    }
    return {};
  }
}

/** How bodies are validated: whitelisting, no unknown fields (the CSV import validates its lines so too). */
export const VALIDATOR_OPTIONS = {
  whitelist: true,
  forbidNonWhitelisted: true,
  forbidUnknownValues: true,
  validationError: { target: false, value: false },
} as const;

/** Whitelisting, no unknown fields, transformed types; failures list each field path. */
export function createValidationPipe(): ValidationPipe {
  return new AppValidationPipe({
    ...VALIDATOR_OPTIONS,
    transform: true,
    exceptionFactory: (errors) => {
      const fields: Record<string, string[]> = {};
      collect(errors, '', fields);
      return ApiError.validation(fields);
    },
  });
}
