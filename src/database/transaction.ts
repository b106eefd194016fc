import { QueryRunner } from 'typeorm';
import { Dialect, Insert, InsertedIds, Statement } from './dialect';

export interface TransactionOptions {
  /**
   * READ COMMITTED instead of REPEATABLE READ (MySQL): for a queue-like claim (`FOR UPDATE SKIP LOCKED`
   * over a range), which must not take gap locks that would stall the writers appending to that range.
   */
  readCommitted?: boolean;
}

type Results<S extends readonly Statement<unknown>[]> = { [K in keyof S]: S[K] extends Statement<infer T> ? T : never };

/**
 * A transaction on one connection that owns its BEGIN, COMMIT and ROLLBACK. BEGIN goes out with the
 * first statements and COMMIT with the last ones — one round trip each on MySQL — and `release` rolls
 * back unless COMMIT went out. Made and ended by TransactionService.runInline.
 */
export class Transaction {
  private begun = false;
  private committed = false;

  constructor(
    private readonly runner: QueryRunner,
    private readonly dialect: Dialect,
    private readonly options: TransactionOptions = {},
  ) {}

  /** Sends `statements` (one round trip on MySQL), BEGIN in front of the first ones; each one's result, read. */
  async query<const S extends readonly Statement<unknown>[]>(statements: S): Promise<Results<S>> {
    return (await this.send(statements, false)) as Results<S>;
  }

  /** The last statements, with COMMIT in the same round trip. */
  async commitWith(statements: Statement[]): Promise<unknown[]> {
    return this.send(statements, true);
  }

  /** COMMIT alone, if anything went out and COMMIT has not. */
  async commit(): Promise<void> {
    if (this.begun && !this.committed) await this.send([], true);
  }

  /**
   * The writes that end the transaction, around one multi-row INSERT: `before`, `insert`, then what
   * `after` builds — naming the inserted rows' ids through `ids` — then COMMIT; one round trip on MySQL.
   * Returns the first inserted id.
   */
  commitWithInsert(before: Statement[], insert: Insert, after: (ids: InsertedIds) => Statement[]): Promise<number> {
    return this.dialect.commitWithInsert(this, before, insert, after);
  }

  /** Hands the connection back, rolling back first when BEGIN went out and COMMIT did not. */
  async release(): Promise<void> {
    try {
      if (this.begun && !this.committed) {
        await this.dialect.send(this.runner, [{ sql: this.dialect.rollback, params: [] }]).catch(() => undefined);
      }
    } finally {
      await this.runner.release();
    }
  }

  private async send(statements: readonly Statement<unknown>[], commit: boolean): Promise<unknown[]> {
    if (this.committed) throw new Error('The transaction has already committed');
    const isolation =
      this.options.readCommitted && this.dialect.readCommitted ? [{ sql: this.dialect.readCommitted, params: [] }] : [];
    const begin = this.begun ? [] : [...isolation, { sql: this.dialect.begin, params: [] }];
    const end = commit ? [{ sql: this.dialect.commit, params: [] }] : [];
    const all = [...begin, ...statements, ...end];
    this.begun = true; // from here a failure may leave the transaction open: release rolls back
    const results = await this.dialect.send(this.runner, all);
    if (commit) this.committed = true;
    return statements.map((statement, i) => {
      const raw = results[begin.length + i];
      return statement.read ? statement.read(raw) : raw;
    });
  }
}
