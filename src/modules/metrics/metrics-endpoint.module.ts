import { Module } from '@nestjs/common';
import { MetricsController } from './metrics.controller';

/** GET /metrics: the registry (common/metrics) in Prometheus text. */
@Module({
  controllers: [MetricsController],
})
export class MetricsEndpointModule {}
