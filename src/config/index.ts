import { ConfigService } from '@nestjs/config';
import { AppConfig, appConfig } from './app.config';
import { AuthConfig, authConfig } from './auth.config';
import { DatabaseConfig, databaseConfig } from './database.config';

export const configLoaders = [appConfig, databaseConfig, authConfig];

export interface Config {
  app: AppConfig;
  database: DatabaseConfig;
  auth: AuthConfig;
}

/** Inject this to read config with types: `config.getOrThrow('auth', { infer: true })`. */
export type TypedConfigService = ConfigService<Config, true>;
