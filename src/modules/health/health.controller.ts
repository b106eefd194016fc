import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiServiceUnavailableResponse, SchemaObject } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, HealthIndicatorService } from '@nestjs/terminus';
import { Public } from '../../common/decorators/auth.decorators';
import { ReadinessCheck } from './readiness';
import { ShutdownState } from './shutdown-state';

const indicators: SchemaObject = {
  type: 'object',
  nullable: true,
  additionalProperties: {
    type: 'object',
    required: ['status'],
    properties: { status: { type: 'string', enum: ['up', 'down'] }, message: { type: 'string' } },
  },
};
/** Terminus's body (its own swagger decorator is not applied when the package loads as ESM). */
const readiness = (status: string[]): SchemaObject => ({
  type: 'object',
  required: ['status', 'details'],
  properties: {
    status: { type: 'string', enum: status },
    info: indicators,
    error: indicators,
    details: { ...indicators, nullable: false },
  },
});

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
  @ApiOperation({ summary: 'Liveness probe' })
  @ApiOkResponse({
    description: 'The process runs',
    schema: { type: 'object', required: ['status'], properties: { status: { type: 'string', enum: ['ok'] } } },
  })
  live() {
    return { status: 'ok' };
  }

  /**
   * 200 when the database answers and the schema is current; 503 (terminus body) otherwise. The body
   * says which part is down, never why in the driver's words (host names, user names).
   */
  @Public()
  @Get('ready')
  @ApiOperation({ summary: 'Readiness probe', description: 'Answered from a check at most 1 second old.' })
  @ApiOkResponse({ description: 'The database answers and the schema is current', schema: readiness(['ok']) })
  @ApiServiceUnavailableResponse({ description: 'A part is down', schema: readiness(['error', 'shutting_down']) })
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
