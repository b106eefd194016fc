import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';

/** Validates one config namespace's variables; the thrown message is one line naming the variable. */
export function validateConfig<T extends object>(env: NodeJS.ProcessEnv, validator: new () => T): T {
  // an empty variable (`REDIS_URL=`) means unset, as in most deployment tools
  const given = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== ''));
  const validated = plainToInstance(validator, given, { enableImplicitConversion: true });
  const errors = validateSync(validated, { skipMissingProperties: false });
  if (errors.length > 0) {
    const first = errors[0];
    const reason = Object.values(first.constraints ?? {})[0] ?? 'is invalid';
    throw new ConfigError(`Invalid configuration: ${first.property}: ${reason}`);
  }
  return validated;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}
