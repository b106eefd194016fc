import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';
import { jsonText, LongTextColumn, TIMESTAMP } from '../../../database/columns';

@Entity('audit_logs')
@Index('IDX_audit_logs_action', ['action'])
@Index('IDX_audit_logs_entity', ['entityType', 'entityId'])
@Index('IDX_audit_logs_actor', ['actorUsername'])
@Index('IDX_audit_logs_at', ['at'])
export class AuditLog {
  @PrimaryGeneratedColumn() id!: number;
  @Column(TIMESTAMP) at!: Date;
  @Column({ name: 'actor_id', type: 'int', nullable: true, default: null }) actorId!: number | null;
  /** null for the service's own changes (a reservation's expiry). */
  @Column({ name: 'actor_username', type: 'varchar', length: 128, nullable: true, default: null }) actorUsername!:
    string | null;
  @Column({ name: 'actor_role', type: 'varchar', length: 16, nullable: true, default: null }) actorRole!: string | null;
  @Column({ type: 'varchar', length: 64 }) action!: string;
  @Column({ name: 'entity_type', type: 'varchar', length: 32 }) entityType!: string;
  @Column({ name: 'entity_id', type: 'varchar', length: 64, nullable: true, default: null }) entityId!: string | null;
  @LongTextColumn({ nullable: true, default: null, transformer: jsonText }) before!: object | null;
  @LongTextColumn({ nullable: true, default: null, transformer: jsonText }) after!: object | null;
  @Column({ name: 'request_id', type: 'varchar', length: 128, nullable: true, default: null }) requestId!:
    string | null;
  @Column({ type: 'varchar', length: 64, nullable: true, default: null }) ip!: string | null;
}
