import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';
import { TIMESTAMP } from '../../../database/columns';

export const DEFAULT_WAREHOUSE_CODE = 'MAIN';

@Entity('warehouses')
@Index('UQ_warehouses_code', ['code'], { unique: true })
export class Warehouse {
  @PrimaryGeneratedColumn() id!: number;
  @Column({ type: 'varchar', length: 32 }) code!: string;
  @Column({ type: 'varchar', length: 200 }) name!: string;
  @Column({ name: 'created_at', ...TIMESTAMP }) createdAt!: Date;
}
