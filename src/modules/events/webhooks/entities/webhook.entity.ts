import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';
import { jsonText, TIMESTAMP } from '../../../../database/columns';

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
  @Column({ name: 'created_at', ...TIMESTAMP }) createdAt!: Date;
  @Column({ name: 'updated_at', ...TIMESTAMP }) updatedAt!: Date;
}
