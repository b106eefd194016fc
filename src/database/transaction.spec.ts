import { QueryRunner } from 'typeorm';
import { dialectOf, PLACEHOLDER_ID } from './dialect';
import { Transaction } from './transaction';

/** A connection that records each round trip and answers from a script. */
function connection(answers: unknown[] = []) {
  const trips: { sql: string; params: unknown[] }[] = [];
  let released = false;
  const runner = {
    query: async (sql: string, params: unknown[]) => {
      trips.push({ sql, params });
      const answer = answers.shift();
      if (answer instanceof Error) throw answer;
      return answer;
    },
    release: async () => {
      released = true;
    },
  } as unknown as QueryRunner;
  return { runner, trips, released: () => released };
}

const mysql = dialectOf({ options: { type: 'mariadb' } });
const sqlite = dialectOf({ options: { type: 'better-sqlite3' } });
const select = (sql: string) => ({ sql, params: [1], read: (rows: unknown) => (rows as unknown[]).length });

describe('Transaction on MySQL: BEGIN rides with the first round trip, COMMIT with the last', () => {
  it('locks with BEGIN in one round trip, writes with COMMIT in one more, and reads each result', async () => {
    const db = connection([
      [{}, [1, 2], [3]],
      [{}, {}],
    ]);
    const tx = new Transaction(db.runner, mysql);
    expect(await tx.query([select('SELECT a'), select('SELECT b')])).toEqual([2, 1]);
    await tx.commitWith([{ sql: 'UPDATE t', params: [2] }]);
    await tx.release();
    expect(db.trips).toEqual([
      { sql: 'START TRANSACTION;\nSELECT a;\nSELECT b', params: [1, 1] },
      { sql: 'UPDATE t;\nCOMMIT', params: [2] },
    ]);
    expect(db.released()).toBe(true);
  });

  it('an INSERT, statements naming its ids through @first_insert_id, and COMMIT: one round trip', async () => {
    const db = connection([[{}], [{}, { insertId: 41 }, {}, {}, {}]]);
    const tx = new Transaction(db.runner, mysql);
    await tx.query([{ sql: 'SELECT', params: [] }]);
    const firstId = await tx.commitWithInsert(
      [{ sql: 'UPDATE', params: [1] }],
      { sql: 'INSERT m', params: [2, 3], rows: 2 },
      (ids) => [{ sql: `INSERT a ${ids.id(1).sql} ${ids.json({ id: PLACEHOLDER_ID(1) }).sql}`, params: [] }],
    );
    expect(firstId).toBe(41);
    expect(db.trips[1].sql).toBe(
      `UPDATE;\nINSERT m;\nSET @first_insert_id = LAST_INSERT_ID();\nINSERT a @first_insert_id + 1 CONCAT(?, '"id":', @first_insert_id + 1, ?);\nCOMMIT`,
    );
  });

  it('rolls back on release when COMMIT never went out, even after a failed round trip', async () => {
    const db = connection([[{}, []], new Error('deadlock')]);
    const tx = new Transaction(db.runner, mysql);
    await tx.query([select('SELECT')]);
    await expect(tx.commitWith([{ sql: 'UPDATE', params: [] }])).rejects.toThrow('deadlock');
    await tx.release();
    expect(db.trips.map((t) => t.sql)).toEqual(['START TRANSACTION;\nSELECT', 'UPDATE;\nCOMMIT', 'ROLLBACK']);
  });

  it('sends nothing at all when nothing was asked; COMMIT alone when only reads went out', async () => {
    const idle = connection();
    const untouched = new Transaction(idle.runner, mysql);
    await untouched.commit();
    await untouched.release();
    expect(idle.trips).toEqual([]);

    const db = connection([[{}, []], undefined]);
    const tx = new Transaction(db.runner, mysql);
    await tx.query([select('SELECT')]);
    await tx.commit();
    await tx.release();
    expect(db.trips.map((t) => t.sql)).toEqual(['START TRANSACTION;\nSELECT', 'COMMIT']);
  });
});

describe('Transaction on SQLite: an ordinary transaction, one statement at a time', () => {
  it('knows the inserted ids before the statements that name them, and binds dates as UTC text', async () => {
    const at = new Date('2026-03-04T05:06:07.089Z');
    const db = connection([undefined, 7, undefined, undefined]);
    const tx = new Transaction(db.runner, sqlite);
    const firstId = await tx.commitWithInsert(
      [],
      { sql: 'INSERT m', params: [at], rows: 3 }, // better-sqlite3 answers the last row's id: 7
      (ids) => [{ sql: 'INSERT a', params: [...ids.id(2).params, ...ids.json([{ id: PLACEHOLDER_ID(0) }]).params] }],
    );
    await tx.release();
    expect(firstId).toBe(5);
    expect(db.trips).toEqual([
      { sql: 'BEGIN IMMEDIATE TRANSACTION', params: [] },
      { sql: 'INSERT m', params: ['2026-03-04 05:06:07.089'] },
      { sql: 'INSERT a', params: [7n, '[{"id":5}]'] },
      { sql: 'COMMIT', params: [] },
    ]);
  });
});
