import { ConfigService } from '@nestjs/config';
import { AppConfig, appConfig } from './app.config';
import { AuthConfig, authConfig } from './auth.config';
import { CacheConfig, cacheConfig } from './cache.config';
import { DatabaseConfig, databaseConfig } from './database.config';
import { EventsConfig, eventsConfig } from './events.config';
import { StockConfig, stockConfig } from './stock.config';

export const configLoaders = [appConfig, databaseConfig, authConfig, eventsConfig, stockConfig, cacheConfig];

export interface Config {
  app: AppConfig;
  database: DatabaseConfig;
  auth: AuthConfig;
  events: EventsConfig;
  stock: StockConfig;
  cache: CacheConfig;
}

/**
 * Inject this to read config with types: `config.getOrThrow('auth', { infer: true })`. A class, not a
 * type alias, so that it can be the injection token (AppConfigModule makes it Nest's ConfigService).
 */
export abstract class TypedConfigService extends ConfigService<Config, true> {}
