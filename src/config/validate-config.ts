import { plainToInstance } from 'class-transformer';
import { Matches, validateSync } from 'class-validator';
import { readFileSync } from 'node:fs';

/** Secrets that may instead come from a file named by `<NAME>_FILE` (Docker and Kubernetes secrets). */
export const SECRET_VARIABLES = [
  'JWT_SECRET',
  'DB_PASSWORD',
  'ADMIN_PASSWORD',
  'EVENTS_AMQP_URL',
  'WEBHOOK_SECRET_KEY',
] as const;

/** The environment with each `<SECRET>_FILE` read into `<SECRET>` (one trailing newline dropped). */
export function withSecretFiles(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const resolved = { ...env };
  for (const name of SECRET_VARIABLES) {
    const file = env[`${name}_FILE`];
    if (!file) continue;
    if (env[name])
      throw new ConfigError(`Invalid configuration: ${name}: set either ${name} or ${name}_FILE, not both`);
    try {
      resolved[name] = readFileSync(file, 'utf8').replace(/\r?\n$/, '');
    } catch (error) {
      throw new ConfigError(
        `Invalid configuration: ${name}_FILE: cannot read ${file} (${(error as NodeJS.ErrnoException).code})`,
      );
    }
  }
  return resolved;
}

/** Validates one config namespace's variables; the thrown message is one line naming the variable. */
export function validateConfig<T extends object>(env: NodeJS.ProcessEnv, validator: new () => T): T {
  // an empty variable (`REDIS_URL=`) means unset, as in most deployment tools
  const given = Object.fromEntries(Object.entries(withSecretFiles(env)).filter(([, value]) => value !== ''));
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

/** A setting that names a Redis server (REDIS_URL, CACHE_REDIS_URL). */
export const IsRedisUrl = () => Matches(/^rediss?:\/\/\S+$/, { message: 'must be a redis:// or rediss:// URL' });
