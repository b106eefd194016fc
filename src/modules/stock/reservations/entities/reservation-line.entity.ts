import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/** One line of a reservation; lines never change once written. */
@Entity('reservation_lines')
@Index('IDX_reservation_lines_product', ['productId', 'reservationId'])
export class ReservationLine {
  @PrimaryColumn({ name: 'reservation_id', type: 'int' }) reservationId!: number;
  @PrimaryColumn({ name: 'line_no', type: 'int' }) lineNo!: number;
  @Column({ name: 'product_id', type: 'int' }) productId!: number;
  @Column({ name: 'warehouse_id', type: 'int' }) warehouseId!: number;
  @Column({ type: 'int' }) quantity!: number;
}
