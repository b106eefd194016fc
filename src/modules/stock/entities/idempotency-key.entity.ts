import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { LongTextColumn, TIMESTAMP } from '../../../database/columns';

/**
 * One row per (user, route, key), written in the same transaction as the stock change it answers,
 * so a key exists exactly when its first request committed.
 */
@Entity('idempotency_keys')
@Index('IDX_idempotency_keys_created', ['createdAt'])
export class IdempotencyKey {
  @PrimaryColumn({ name: 'user_id', type: 'int' }) userId!: number;
  @PrimaryColumn({ type: 'varchar', length: 16 }) route!: string;
  @PrimaryColumn({ name: 'idempotency_key', type: 'varchar', length: 128 }) key!: string;
  /** sha256 of the canonical request body: the same key with another body is refused. */
  @Column({ name: 'request_hash', type: 'varchar', length: 64 }) requestHash!: string;
  @Column({ name: 'response_status', type: 'int' }) responseStatus!: number;
  @LongTextColumn({ name: 'response_body' }) responseBody!: string;
  @Column({ name: 'created_at', ...TIMESTAMP }) createdAt!: Date;
}
