import { Controller, Get } from '@nestjs/common';
import { HealthCheck, HealthCheckService, HealthIndicatorService } from '@nestjs/terminus';
import { Public } from '../../common/decorators/auth.decorators';
import { ReadinessCheck } from './readiness';
import { ShutdownState } from './shutdown-state';

@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    private readonly readiness: ReadinessCheck,
    private readonly shutdown: ShutdownState,
  ) {}

  /** 200 while the process runs. */
  @Public()
  @Get('live')
  live() {
    return { status: 'ok' };
  }

  /**
   * 200 when the database answers and the schema is current; 503 (terminus body) otherwise. The body
   * says which part is down, never why in the driver's words (host names, user names).
   */
  @Public()
  @Get('ready')
  @HealthCheck()
  async ready() {
    const database = await this.readiness.database();
    const up = (key: string, isUp: boolean, reason: string) => {
      const indicator = this.indicators.check(key);
      return isUp ? indicator.up() : indicator.down(reason);
    };
    return this.health.check([
      () => up('database', database.reachable, 'unreachable'),
      () => up('schema', database.schemaCurrent, database.reachable ? 'migrations pending' : 'unknown'),
      () => up('process', !this.shutdown.shuttingDown, 'shutting down'),
    ]);
  }
}
