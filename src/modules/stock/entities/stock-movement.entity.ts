import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';
import { bigintToNumber, TIMESTAMP } from '../../../database/columns';

export const MOVEMENT_TYPES = ['IN', 'OUT', 'ADJUST', 'TRANSFER_OUT', 'TRANSFER_IN'] as const;
export type MovementType = (typeof MOVEMENT_TYPES)[number];
export const ADJUST_REASONS = ['COUNT', 'DAMAGE', 'LOSS', 'FOUND', 'CORRECTION', 'OTHER'] as const;
export type AdjustReason = (typeof ADJUST_REASONS)[number];

/** The ledger: append-only (database triggers refuse UPDATE and DELETE). */
@Entity('stock_movements')
@Index('IDX_stock_movements_level', ['productId', 'warehouseId', 'id'])
@Index('IDX_stock_movements_warehouse', ['warehouseId', 'id'])
@Index('IDX_stock_movements_product', ['productId', 'id'])
@Index('IDX_stock_movements_created', ['createdAt'])
export class StockMovement {
  @PrimaryGeneratedColumn() id!: number;
  @Column({ type: 'varchar', length: 16 }) type!: MovementType;
  @Column({ name: 'product_id', type: 'int' }) productId!: number;
  @Column({ name: 'warehouse_id', type: 'int' }) warehouseId!: number;
  /** The signed change. */
  @Column({ type: 'bigint', transformer: bigintToNumber }) quantity!: number;
  @Column({ name: 'balance_after', type: 'bigint', transformer: bigintToNumber }) balanceAfter!: number;
  @Column({ type: 'varchar', length: 128, nullable: true, default: null }) reference!: string | null;
  @Column({ type: 'varchar', length: 500, nullable: true, default: null }) note!: string | null;
  @Column({ type: 'varchar', length: 16, nullable: true, default: null }) reason!: AdjustReason | null;
  @Column({ name: 'actor_id', type: 'int' }) actorId!: number;
  @Column({ name: 'actor_username', type: 'varchar', length: 64 }) actorUsername!: string;
  @Column({ name: 'request_id', type: 'varchar', length: 128, nullable: true, default: null }) requestId!:
    string | null;
  @Column({ name: 'created_at', ...TIMESTAMP }) createdAt!: Date;
}
