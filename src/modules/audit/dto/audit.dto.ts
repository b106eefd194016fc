import { ApiProperty } from '@nestjs/swagger';
import { IsDateString, IsIn, IsOptional, IsString, Length } from 'class-validator';
import { PageQuery } from '../../../common/http/pagination';
import { ROLES } from '../../../common/roles';
import { AuditLog } from '../entities/audit-log.entity';

export const ENTITY_TYPES = ['product', 'warehouse', 'user', 'movement', 'reservation', 'webhook'] as const;

export class AuditQuery extends PageQuery {
  @IsOptional() @IsString() @Length(1, 128) actor?: string;
  @IsOptional() @IsString() @Length(1, 64) action?: string;
  @IsOptional() @IsIn(ENTITY_TYPES) entityType?: (typeof ENTITY_TYPES)[number];
  @IsOptional() @IsString() @Length(1, 64) entityId?: string;
  @IsOptional() @IsDateString({ strict: true }) from?: string;
  @IsOptional() @IsDateString({ strict: true }) to?: string;
}

/** Who made a change; all null for the expiry sweep, id and role null on auth.login_failed. */
export class AuditActorView {
  @ApiProperty({ type: 'integer', nullable: true }) id!: number | null;
  @ApiProperty({ type: String, nullable: true }) username!: string | null;
  @ApiProperty({ type: String, enum: ROLES, nullable: true }) role!: string | null;
}

export class AuditView {
  @ApiProperty({ type: 'integer' }) id!: number;
  @ApiProperty({ format: 'date-time' }) at!: string;
  @ApiProperty({ type: AuditActorView }) actor!: AuditActorView;
  @ApiProperty({ description: 'Dotted, e.g. product.create, stock.out, auth.login_failed' }) action!: string;
  @ApiProperty({ description: `One of ${ENTITY_TYPES.join(', ')}` }) entityType!: string;
  @ApiProperty({ type: String, nullable: true }) entityId!: string | null;
  @ApiProperty({ type: 'object', nullable: true, additionalProperties: true }) before!: object | null;
  @ApiProperty({ type: 'object', nullable: true, additionalProperties: true }) after!: object | null;
  @ApiProperty({ type: String, nullable: true }) requestId!: string | null;
  @ApiProperty({ type: String, nullable: true }) ip!: string | null;
}

export function toAuditView(row: AuditLog): AuditView {
  return {
    id: row.id,
    at: row.at.toISOString(),
    actor: { id: row.actorId, username: row.actorUsername, role: row.actorRole },
    action: row.action,
    entityType: row.entityType,
    entityId: row.entityId,
    before: row.before,
    after: row.after,
    requestId: row.requestId,
    ip: row.ip,
  };
}
