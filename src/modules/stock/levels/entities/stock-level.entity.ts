import { Check, Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { bigintToNumber, TIMESTAMP } from '../../../../database/columns';

/** One row per warehouse × product; the row the stock write path locks. */
@Entity('stock_levels')
@Check('CHK_stock_levels_on_hand', 'on_hand >= 0')
@Index('IDX_stock_levels_product', ['productId'])
export class StockLevel {
  @PrimaryColumn({ name: 'warehouse_id', type: 'int' }) warehouseId!: number;
  @PrimaryColumn({ name: 'product_id', type: 'int' }) productId!: number;
  @Column({ name: 'on_hand', type: 'bigint', transformer: bigintToNumber }) onHand!: number;
  @Column({ name: 'updated_at', ...TIMESTAMP }) updatedAt!: Date;
}
