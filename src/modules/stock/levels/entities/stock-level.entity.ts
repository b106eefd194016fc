import { Check, Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { bigintToNumber, TIMESTAMP } from '../../../../database/columns';

/** One row per warehouse × product; the row the stock write path locks. */
@Entity('stock_levels')
@Check('CHK_stock_levels_on_hand', 'on_hand >= 0')
@Check('CHK_stock_levels_reserved', 'reserved >= 0')
@Index('IDX_stock_levels_product', ['productId'])
export class StockLevel {
  @PrimaryColumn({ name: 'warehouse_id', type: 'int' }) warehouseId!: number;
  @PrimaryColumn({ name: 'product_id', type: 'int' }) productId!: number;
  @Column({ name: 'on_hand', type: 'bigint', transformer: bigintToNumber }) onHand!: number;
  /** The sum of the level's ACTIVE reservation lines; available = onHand - reserved (below 0 after a count found less). */
  @Column({ type: 'bigint', transformer: bigintToNumber, default: 0 }) reserved!: number;
  @Column({ name: 'updated_at', ...TIMESTAMP }) updatedAt!: Date;
}
