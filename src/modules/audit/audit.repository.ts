import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
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

export interface AuditFilter {
  actor?: string;
  action?: string;
  entityType?: string;
  entityId?: string;
  from?: Date;
  to?: Date;
  beforeId: number | null;
  take: number;
}

@Injectable()
export class AuditRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** Newest first, keyset on id. */
  list(filter: AuditFilter): Promise<AuditLog[]> {
    const query = this.dataSource.manager.createQueryBuilder(AuditLog, 'a').orderBy('a.id', 'DESC').limit(filter.take);
    if (filter.beforeId !== null) query.andWhere('a.id < :beforeId', { beforeId: filter.beforeId });
    if (filter.actor !== undefined) query.andWhere('a.actor_username = :actor', { actor: filter.actor });
    if (filter.action !== undefined) query.andWhere('a.action = :action', { action: filter.action });
    if (filter.entityType !== undefined)
      query.andWhere('a.entity_type = :entityType', { entityType: filter.entityType });
    if (filter.entityId !== undefined) query.andWhere('a.entity_id = :entityId', { entityId: filter.entityId });
    if (filter.from !== undefined) query.andWhere('a.at >= :from', { from: filter.from });
    if (filter.to !== undefined) query.andWhere('a.at <= :to', { to: filter.to });
    return query.getMany();
  }

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
