import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';
import { bigintToNumber, jsonText, TIMESTAMP } from '../../../../database/columns';

@Entity('webhooks')
export class Webhook {
  @PrimaryGeneratedColumn() id!: number;
  @Column({ type: 'varchar', length: 2048 }) url!: string;
  /** Event types it receives, or ['*']. */
  @Column({ type: 'text', transformer: jsonText }) events!: string[];
  @Column({ type: 'varchar', length: 2000, nullable: true, default: null }) description!: string | null;
  @Column({ type: 'boolean' }) enabled!: boolean;
  /** The signing secret, sealed with AES-256-GCM (secret-box.ts): a database dump alone does not reveal it. */
  @Column({ name: 'sealed_secret', type: 'varchar', length: 255 }) sealedSecret!: string;
  /**
   * The feed position up to which its events have deliveries: past it, the worker fans the next ones
   * out as deliveries drain (webhook-delivery.worker.ts), never more than a window ahead.
   */
  @Column({ name: 'event_cursor', type: 'bigint', transformer: bigintToNumber }) eventCursor!: number;
  @Column({ name: 'created_at', ...TIMESTAMP }) createdAt!: Date;
  @Column({ name: 'updated_at', ...TIMESTAMP }) updatedAt!: Date;
}
