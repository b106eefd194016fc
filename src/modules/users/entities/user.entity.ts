import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';
import { TIMESTAMP } from '../../../database/columns';
import { Role } from '../../../common/roles';

@Entity('users')
@Index('UQ_users_username', ['username'], { unique: true })
export class User {
  @PrimaryGeneratedColumn() id!: number;
  @Column({ type: 'varchar', length: 64 }) username!: string;
  @Column({ name: 'password_hash', type: 'varchar', length: 255 }) passwordHash!: string;
  @Column({ type: 'varchar', length: 16 }) role!: Role;
  @Column({ type: 'boolean', default: false }) disabled!: boolean;
  /** Bumped on every role, password or disable change; tokens carrying an older value are refused. */
  @Column({ name: 'token_version', type: 'int', default: 0 }) tokenVersion!: number;
  @Column({ name: 'created_at', ...TIMESTAMP }) createdAt!: Date;
  @Column({ name: 'updated_at', ...TIMESTAMP }) updatedAt!: Date;
}
