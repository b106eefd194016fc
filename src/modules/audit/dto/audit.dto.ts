import { IsDateString, IsIn, IsOptional, IsString, Length } from 'class-validator';
import { PageQuery } from '../../../common/http/pagination';
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

export interface AuditView {
  id: number;
  at: string;
  actor: { id: number | null; username: string | null; role: string | null };
  action: string;
  entityType: string;
  entityId: string | null;
  before: object | null;
  after: object | null;
  requestId: string | null;
  ip: string | null;
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
