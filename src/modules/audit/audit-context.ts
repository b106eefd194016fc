import { RequestContext } from '../../common/decorators/auth.decorators';
import { AuditEntry, EntityType } from './audit.repository';

/** Builds an audit entry for a change made by the request's user. */
export function auditEntry(
  ctx: RequestContext,
  action: string,
  entityType: EntityType,
  entityId: number | string,
  before: object | null,
  after: object | null,
): AuditEntry {
  return {
    actor: { id: ctx.user.id, username: ctx.user.username, role: ctx.user.role },
    action,
    entityType,
    entityId: String(entityId),
    before,
    after,
    requestId: ctx.requestId,
    ip: ctx.ip,
  };
}
