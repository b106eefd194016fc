import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';
import { TIMESTAMP } from '../../../database/columns';

@Entity('products')
@Index('UQ_products_sku_key', ['skuKey'], { unique: true })
@Index('IDX_products_low', ['low', 'id'])
export class Product {
  @PrimaryGeneratedColumn() id!: number;
  @Column({ type: 'varchar', length: 64 }) sku!: string;
  /** Lower-cased SKU: the unique key, so SKUs are unique ignoring case on every driver. */
  @Column({ name: 'sku_key', type: 'varchar', length: 64 }) skuKey!: string;
  @Column({ type: 'varchar', length: 200 }) name!: string;
  @Column({ type: 'varchar', length: 2000, nullable: true, default: null }) description!: string | null;
  @Column({ type: 'varchar', length: 16 }) unit!: string;
  @Column({ name: 'reorder_point', type: 'int' }) reorderPoint!: number;
  @Column({ type: 'int' }) version!: number;
  @Column({ name: 'created_at', ...TIMESTAMP }) createdAt!: Date;
  @Column({ name: 'updated_at', ...TIMESTAMP }) updatedAt!: Date;
  @Column({ name: 'archived_at', ...TIMESTAMP, nullable: true, default: null }) archivedAt!: Date | null;
  /**
   * Low: its total available (on hand less reserved, over all warehouses) is at most its reorder point.
   * Kept by the writes that change either (stock writes when they cross it, a reorder-point change), so
   * `lowStock=` reads an index instead of summing every product's levels.
   */
  @Column({ type: 'boolean', default: true }) low!: boolean;
}
