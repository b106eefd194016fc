import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager, LessThan } from 'typeorm';
import { IdempotencyKey } from './entities/idempotency-key.entity';

export interface IdempotencyScope {
  userId: number;
  route: string;
  key: string;
}

@Injectable()
export class IdempotencyRepository {
  constructor(private readonly dataSource: DataSource) {}

  find(scope: IdempotencyScope): Promise<IdempotencyKey | null> {
    return this.dataSource.manager.findOneBy(IdempotencyKey, scope);
  }

  /** Inside the write's own transaction: a duplicate key rolls the whole write back. */
  async insert(manager: EntityManager, row: IdempotencyKey): Promise<void> {
    await manager.insert(IdempotencyKey, row);
  }

  async deleteOlderThan(cutoff: Date): Promise<number> {
    const result = await this.dataSource.manager.delete(IdempotencyKey, { createdAt: LessThan(cutoff) });
    return result.affected ?? 0;
  }
}
