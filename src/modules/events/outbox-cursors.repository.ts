import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { Dialect, dialectOf, rawDate, Statement } from '../../database/dialect';

export interface CursorState {
  position: number;
  leaseOwner: string | null;
  leaseUntil: Date | null;
}

/** The SQL of `outbox_cursors`: how far an in-order destination has got, and who holds it. */
@Injectable()
export class OutboxCursorsRepository {
  private readonly dialect: Dialect;

  constructor(private readonly dataSource: DataSource) {
    this.dialect = dialectOf(dataSource);
  }

  /** Creates the cursor at `position` unless it exists (several instances may start at once). */
  create(name: string, position: number): Statement {
    return {
      sql: `${this.dialect.insertIgnore} INTO outbox_cursors (name, position, lease_owner, lease_until) VALUES (?, ?, NULL, NULL)`,
      params: [name, position],
    };
  }

  lock(name: string): Statement<CursorState | null> {
    return {
      sql: `SELECT position, lease_owner, lease_until FROM outbox_cursors WHERE name = ?${this.dialect.forUpdate}`,
      params: [name],
      read: (rows) => {
        const [row] = rows as {
          position: string | number;
          lease_owner: string | null;
          lease_until: Date | string | null;
        }[];
        if (!row) return null;
        return {
          position: Number(row.position),
          leaseOwner: row.lease_owner,
          leaseUntil: row.lease_until === null ? null : rawDate(row.lease_until),
        };
      },
    };
  }

  lease(name: string, owner: string, until: Date): Statement {
    return {
      sql: 'UPDATE outbox_cursors SET lease_owner = ?, lease_until = ? WHERE name = ?',
      params: [owner, until, name],
    };
  }

  /** Moves the cursor on, if `owner` still holds it. */
  advance(name: string, owner: string, position: number): Statement {
    return {
      sql: 'UPDATE outbox_cursors SET position = ? WHERE name = ? AND lease_owner = ? AND position < ?',
      params: [position, name, owner, position],
    };
  }

  /** The cursor's position if a destination has held its lease since `since` (is still in use), else null. */
  positionIfLeasedSince(name: string, since: Date): Statement<number | null> {
    return {
      sql: 'SELECT position FROM outbox_cursors WHERE name = ? AND lease_until >= ?',
      params: [name, since],
      read: (rows) => {
        const [row] = rows as { position: string | number }[];
        return row ? Number(row.position) : null;
      },
    };
  }

  async position(name: string): Promise<number | null> {
    const [row] = (await this.dataSource.query('SELECT position FROM outbox_cursors WHERE name = ?', [name])) as {
      position: string | number;
    }[];
    return row ? Number(row.position) : null;
  }
}
