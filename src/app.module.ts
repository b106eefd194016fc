import { Module, RequestMethod } from '@nestjs/common';
import { APP_FILTER, APP_PIPE, DiscoveryModule } from '@nestjs/core';
import { LoggerModule } from 'nestjs-pino';
import { serializeError } from './common/error-serializer';
import { logDestination, prettyDestination } from './common/log-destination';
import { AllExceptionsFilter } from './all-exceptions.filter';
import { createValidationPipe } from './common/http/validation.pipe';
import { MetricsModule } from './common/metrics/metrics.module';
import { TypedConfigService } from './config';
import { AppConfigModule } from './config/config.module';
import { DatabaseModule } from './database/database.module';
import { ENTITIES } from './entities';
import { AuditModule } from './modules/audit/audit.module';
import { AuthModule } from './modules/auth/auth.module';
import { EventsModule } from './modules/events/events.module';
import { HealthModule } from './modules/health/health.module';
import { MetricsEndpointModule } from './modules/metrics/metrics-endpoint.module';
import { ProductsModule } from './modules/products/products.module';
import { StockModule } from './modules/stock/stock.module';
import { UsersModule } from './modules/users/users.module';
import { WarehousesModule } from './modules/warehouses/warehouses.module';

@Module({
  imports: [
    DiscoveryModule,
    AppConfigModule,
    LoggerModule.forRootAsync({
      inject: [TypedConfigService],
      useFactory: async (config: TypedConfigService) => {
        const app = config.getOrThrow('app', { infer: true });
        return {
          forRoutes: [{ path: '*path', method: RequestMethod.ALL }],
          pinoHttp: [
            {
              level: app.logLevel,
              // Fastify already chose the id (the client's X-Request-Id or a new one)
              genReqId: (req) => (req as { id?: string }).id ?? 'unknown',
              redact: ['req.headers.authorization', 'req.headers.cookie', 'req.body.password'],
              serializers: {
                req: (req: { id: string; method: string; url: string; remoteAddress?: string }) => ({
                  id: req.id,
                  method: req.method,
                  url: req.url,
                  remoteAddress: req.remoteAddress,
                }),
                res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
                err: serializeError,
              },
            },
            app.logFormat === 'pretty' ? await prettyDestination() : logDestination,
          ],
        };
      },
    }),
    MetricsModule,
    MetricsEndpointModule,
    DatabaseModule.forRoot(ENTITIES),
    AuditModule,
    UsersModule,
    AuthModule,
    WarehousesModule,
    ProductsModule,
    StockModule,
    EventsModule,
    HealthModule,
  ],
  providers: [
    { provide: APP_PIPE, useFactory: createValidationPipe },
    { provide: APP_FILTER, useClass: AllExceptionsFilter },
  ],
})
export class AppModule {}
