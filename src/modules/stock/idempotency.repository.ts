import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager, LessThan } from 'typeorm';
import { InsertedIds, Statement } from '../../database/dialect';
import { IdempotencyKey } from './entities/idempotency-key.entity';

export interface IdempotencyScope {
  userId: number;
  route: string;
  key: string;
}

/** A first answer to keep: its body may hold placeholder movement ids (see InsertedIds). */
export interface StoredAnswer extends IdempotencyScope {
  requestHash: string;
  responseStatus: number;
  responseBody: unknown;
}

/** The SQL of idempotency_keys: one row per (user, route, key), holding the first answer. */
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

  /** One INSERT of the answers of a stock write's batch, their movement ids filled in there (see InsertedIds). */
  insertAnswers(answers: StoredAnswer[], now: Date, ids: InsertedIds): Statement {
    const params: unknown[] = [];
    const rows = answers.map((answer) => {
      const body = ids.json(answer.responseBody);
      const { userId, route, key, requestHash, responseStatus } = answer;
      params.push(userId, route, key, requestHash, responseStatus, ...body.params, now);
      return `(?, ?, ?, ?, ?, ${body.sql}, ?)`;
    });
    return {
      sql: `INSERT INTO idempotency_keys (user_id, route, idempotency_key, request_hash, response_status, response_body, created_at) VALUES ${rows.join(', ')}`,
      params,
    };
  }

  async deleteOlderThan(cutoff: Date): Promise<number> {
    const result = await this.dataSource.manager.delete(IdempotencyKey, { createdAt: LessThan(cutoff) });
    return result.affected ?? 0;
  }
}
