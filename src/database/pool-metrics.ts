import { Injectable, OnModuleInit } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { MetricsService } from '../common/metrics/metrics.service';
import { dialectOf } from './dialect';

/** mysql2's pool keeps its counts in fields it does not document; read defensively. */
interface Mysql2PoolInternals {
  _allConnections?: { length: number };
  _freeConnections?: { length: number };
  _connectionQueue?: { length: number };
}

/** Publishes the connection pool's state at every scrape. */
@Injectable()
export class PoolMetrics implements OnModuleInit {
  constructor(
    private readonly dataSource: DataSource,
    private readonly metrics: MetricsService,
  ) {}

  onModuleInit(): void {
    if (dialectOf(this.dataSource).sharedConnection) {
      this.metrics.poolSnapshot = () => ({ open: 1, idle: 0, waiting: 0 });
      return;
    }
    const pool = (this.dataSource.driver as unknown as { pool?: Mysql2PoolInternals }).pool;
    this.metrics.poolSnapshot = () => ({
      open: pool?._allConnections?.length ?? 0,
      idle: pool?._freeConnections?.length ?? 0,
      waiting: pool?._connectionQueue?.length ?? 0,
    });
  }
}
