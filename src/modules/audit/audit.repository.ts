import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { InsertedIds, NO_INSERTED_IDS, runStatements, Statement } from '../../database/dialect';
import { AuditLog } from './entities/audit-log.entity';

export type EntityType = 'product' | 'warehouse' | 'user' | 'movement' | 'reservation' | 'webhook';

export interface AuditActor {
  id: number | null;
  /** null for the service's own changes (a reservation's expiry). */
  username: string | null;
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

/**
 * An entry written in a batch that inserts rows (a stock write's movements): its entity is inserted row
 * `entityRow`, or the row `entityId` names; placeholder ids in `after` are the inserted rows'.
 */
export type InsertedRowEntry = Omit<AuditEntry, 'entityId' | 'after'> & { after: object } & (
    { entityRow: number } | { entityId: string }
  );

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
    await this.appendMany(manager, [entry]);
  }

  /** Several entries in one multi-row INSERT, inside the caller's transaction. */
  async appendMany(manager: EntityManager, entries: AuditEntry[]): Promise<void> {
    if (entries.length) await runStatements(manager, [this.appendForInserted(entries, new Date(), NO_INSERTED_IDS)]);
  }

  /**
   * One INSERT of entries about rows the same batch inserts (a stock write's movements), for a
   * Transaction's last round trip: each entry's entity is inserted row `entityRow`, and the placeholder
   * ids in its `after` become the real ones (see InsertedIds).
   */
  appendForInserted(entries: (InsertedRowEntry | AuditEntry)[], at: Date, ids: InsertedIds): Statement {
    const params: unknown[] = [];
    const rows = entries.map((entry) => {
      const entityId = 'entityRow' in entry ? ids.id(entry.entityRow) : { sql: '?', params: [entry.entityId] };
      const after = entry.after === null ? { sql: '?', params: [null] } : ids.json(entry.after);
      const { actor } = entry;
      params.push(at, actor.id, actor.username, actor.role, entry.action, entry.entityType, ...entityId.params);
      params.push(entry.before && JSON.stringify(entry.before), ...after.params, entry.requestId, entry.ip);
      return `(?, ?, ?, ?, ?, ?, ${entityId.sql}, ?, ${after.sql}, ?, ?)`;
    });
    return {
      sql: `INSERT INTO audit_logs (at, actor_id, actor_username, actor_role, action, entity_type, entity_id, \`before\`, \`after\`, request_id, ip) VALUES ${rows.join(', ')}`,
      params,
    };
  }
}
