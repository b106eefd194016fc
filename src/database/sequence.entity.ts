import { Column, Entity, PrimaryColumn } from 'typeorm';
import { bigintToNumber } from './columns';

/** A named counter of ids handed out under its row lock (sequences.ts). */
@Entity('sequences')
export class Sequence {
  @PrimaryColumn({ type: 'varchar', length: 64 }) name!: string;
  @Column({ name: 'next_value', type: 'bigint', transformer: bigintToNumber }) nextValue!: number;
}
