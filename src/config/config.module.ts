import { Global, Module } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { configLoaders, TypedConfigService } from '.';

/** Every namespace loaded and validated once; read through TypedConfigService anywhere. */
@Global()
@Module({
  imports: [ConfigModule.forRoot({ isGlobal: true, ignoreEnvFile: true, load: configLoaders })],
  providers: [{ provide: TypedConfigService, useExisting: ConfigService }],
  exports: [TypedConfigService],
})
export class AppConfigModule {}
