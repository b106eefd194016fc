import { Injectable } from '@nestjs/common';
import { randomInt } from 'node:crypto';
import { DataSource } from 'typeorm';
import { Dialect, dialectOf, Statement } from './dialect';

/**
 * The `sequences` table: named counters whose ids a transaction takes under the counter's row lock,
 * so a write knows the ids of the rows it inserts before it commits (a reservation's id in its answer,
 * its lines and its audit entry) — what AUTO_INCREMENT tells only after the INSERT.
 */
@Injectable()
export class SequencesRepository {
  private readonly dialect: Dialect;

  constructor(private readonly dataSource: DataSource) {
    this.dialect = dialectOf(dataSource);
  }

  /**
   * A number drawn at random the first time this database is asked for `name`, and the same one ever
   * after, for every process on it: a name for the database that no two databases share (the read
   * cache's keys in a Redis several deployments may use). Kept as a counter no one advances.
   */
  async drawnOnce(name: string): Promise<number> {
    await this.dataSource.query(`${this.dialect.insertIgnore} INTO sequences (name, next_value) VALUES (?, ?)`, [
      name,
      randomInt(2 ** 47),
    ]);
    const rows: { next_value: string | number }[] = await this.dataSource.query(
      'SELECT next_value FROM sequences WHERE name = ?',
      [name],
    );
    return Number(rows[0].next_value);
  }

  /** Locks the counter for the rest of the transaction and reads the next id it hands out. */
  lockNext(name: string): Statement<number> {
    return {
      sql: `SELECT next_value FROM sequences WHERE name = ?${this.dialect.forUpdate}`,
      params: [name],
      read: (rows) => Number((rows as { next_value: string | number }[])[0].next_value),
    };
  }

  /** Moves the counter on to `next` (the first id not handed out), in the transaction that locked it. */
  advance(name: string, next: number): Statement {
    return { sql: 'UPDATE sequences SET next_value = ? WHERE name = ?', params: [next, name] };
  }
}
