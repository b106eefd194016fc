import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { AuditLog } from './entities/audit-log.entity';

export type EntityType = 'product' | 'warehouse' | 'user' | 'movement';

export interface AuditActor {
  id: number | null;
  username: string;
  role: string | null;
}

export interface AuditEntry {
  actor: AuditActor;
  action: string;
  entityType: EntityType;
  entityId: string | null;
  before: object | null;
  after: object | null;
  requestId: string | null;
  ip: string | null;
}

@Injectable()
export class AuditRepository {
  /** Appends inside the caller's transaction, so an entry exists exactly when its change does. */
  async append(manager: EntityManager, entry: AuditEntry): Promise<void> {
    await manager.insert(AuditLog, {
      at: new Date(),
      actorId: entry.actor.id,
      actorUsername: entry.actor.username,
      actorRole: entry.actor.role,
      action: entry.action,
      entityType: entry.entityType,
      entityId: entry.entityId,
      before: entry.before,
      after: entry.after,
      requestId: entry.requestId,
      ip: entry.ip,
    });
  }
}
