import { Controller, Get } from '@nestjs/common';
import { HealthCheck, HealthCheckService, HealthIndicatorService, TypeOrmHealthIndicator } from '@nestjs/terminus';
import { DataSource } from 'typeorm';
import { Public } from '../../common/decorators/auth.decorators';
import { ShutdownState } from './shutdown-state';

const PING_TIMEOUT_MS = 1500;

@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly database: TypeOrmHealthIndicator,
    private readonly indicators: HealthIndicatorService,
    private readonly dataSource: DataSource,
    private readonly shutdown: ShutdownState,
  ) {}

  /** 200 while the process runs. */
  @Public()
  @Get('live')
  live() {
    return { status: 'ok' };
  }

  /** 200 when the database answers and the schema is current; 503 (terminus body) otherwise. */
  @Public()
  @Get('ready')
  @HealthCheck()
  ready() {
    return this.health.check([
      () => this.database.pingCheck('database').withTimeout(PING_TIMEOUT_MS),
      async () => {
        const schema = this.indicators.check('schema');
        try {
          return (await this.dataSource.showMigrations()) ? schema.down('migrations pending') : schema.up();
        } catch {
          return schema.down('cannot read the migrations table');
        }
      },
      () => {
        const process = this.indicators.check('process');
        return this.shutdown.shuttingDown ? process.down('shutting down') : process.up();
      },
    ]);
  }
}
