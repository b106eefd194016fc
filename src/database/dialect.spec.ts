import { QueryFailedError } from 'typeorm';
import {
  assertConsecutiveIds,
  assertRowBinlog,
  dialectOf,
  duplicateKey,
  isDatabaseUnavailable,
  jsonWithIdsSql,
  PLACEHOLDER_ID,
  retryReason,
  withIds,
} from './dialect';

const driverFailure = (driverError: object) => new QueryFailedError('SELECT 1', [], driverError as Error);

describe('dialectOf', () => {
  it('SQLite runs without row locks on one shared connection; MySQL and MariaDB lock rows', () => {
    const sqlite = dialectOf({ options: { type: 'better-sqlite3' } });
    expect(sqlite).toMatchObject({ sharedConnection: true, shareLock: '', forUpdate: '' });
    for (const type of ['mysql', 'mariadb']) {
      expect(dialectOf({ options: { type } })).toMatchObject({
        sharedConnection: false,
        shareLock: ' LOCK IN SHARE MODE',
        forUpdate: ' FOR UPDATE',
      });
    }
  });
});

describe('movement ids filled in', () => {
  const answer = {
    movements: [
      { id: PLACEHOLDER_ID(3), productId: 7, actor: { id: 2, username: 'op' } },
      { id: PLACEHOLDER_ID(4), note: '"id":-1 stays text' },
    ],
    level: { productId: 7, onHand: -1 },
  };

  it('withIds: each placeholder becomes first id + its index; other ids, other keys and text stay', () => {
    expect(withIds(answer, 100)).toEqual({
      movements: [
        { id: 103, productId: 7, actor: { id: 2, username: 'op' } },
        { id: 104, note: '"id":-1 stays text' },
      ],
      level: { productId: 7, onHand: -1 },
    });
  });

  it('jsonWithIdsSql: the same text, built by CONCAT around the first id', () => {
    const { sql, params } = jsonWithIdsSql(JSON.stringify(answer), '@first');
    expect(sql).toBe(`CONCAT(?, '"id":', @first + 3, ?, '"id":', @first + 4, ?)`);
    const [a, b, c] = params as string[];
    expect(JSON.parse(`${a}"id":103${b}"id":104${c}`)).toEqual(withIds(answer, 100)); // what the server makes of it, @first = 100
  });

  it('JSON without placeholders is one parameter', () => {
    expect(jsonWithIdsSql('{"a":1}', '@first')).toEqual({ sql: 'CONCAT(?)', params: ['{"a":1}'] });
  });
});

describe('what a driver error means', () => {
  it('retryReason names deadlock, lock-wait timeout and snapshot conflict; nothing else is retried', () => {
    expect(retryReason(driverFailure({ errno: 1213 }))).toBe('deadlock');
    expect(retryReason(driverFailure({ errno: 1205 }))).toBe('lock_wait_timeout');
    expect(retryReason(driverFailure({ errno: 1020 }))).toBe('snapshot_conflict');
    expect(retryReason(driverFailure({ errno: 1062 }))).toBeNull();
    expect(retryReason(driverFailure({ code: 'SQLITE_BUSY_SNAPSHOT' }))).toBeNull(); // cannot arise: BEGIN IMMEDIATE
    expect(retryReason(driverFailure({ code: 'SQLITE_BUSY' }))).toBeNull(); // waited out the busy timeout
    expect(retryReason(new Error('deadlock'))).toBeNull();
  });

  it('duplicateKey: MySQL and SQLite unique and primary-key violations, with the message naming the index', () => {
    for (const code of ['ER_DUP_ENTRY', 'SQLITE_CONSTRAINT_UNIQUE', 'SQLITE_CONSTRAINT_PRIMARYKEY']) {
      expect(duplicateKey(driverFailure({ code, message: `dup ${code}` }))).toEqual({ message: `dup ${code}` });
    }
    expect(duplicateKey(driverFailure({ code: 'SQLITE_CONSTRAINT_CHECK' }))).toBeNull();
    expect(duplicateKey({ code: 'ER_DUP_ENTRY' })).toBeNull();
  });

  it('isDatabaseUnavailable: connection codes and closed pools, raw or wrapped', () => {
    expect(isDatabaseUnavailable({ code: 'ECONNREFUSED' })).toBe(true);
    expect(isDatabaseUnavailable(driverFailure({ code: 'PROTOCOL_CONNECTION_LOST' }))).toBe(true);
    expect(isDatabaseUnavailable(new Error('Pool is closed.'))).toBe(true);
    expect(isDatabaseUnavailable(driverFailure({ code: 'ER_DUP_ENTRY' }))).toBe(false);
    expect(isDatabaseUnavailable(null)).toBe(false);
  });
});

describe('what a server needs at start', () => {
  const server = (step: unknown) => ({ query: async () => [{ step }] });

  it('accepts a MySQL/MariaDB server that steps ids by 1 (mysql2 may answer a string)', async () => {
    await expect(assertConsecutiveIds(server(1))).resolves.toBeUndefined();
    await expect(assertConsecutiveIds(server('1'))).resolves.toBeUndefined();
  });

  it('refuses a server that steps ids by more, naming the setting', async () => {
    await expect(assertConsecutiveIds(server(3))).rejects.toThrow(
      /^auto_increment_increment is 3 on this database server; the service needs 1/,
    );
  });

  it('refuses a statement-based binary log (READ COMMITTED writes cannot be logged there), accepts row or mixed', async () => {
    const binlog = (logBin: unknown, format: string) => ({ query: async () => [{ logBin, format }] });
    await expect(assertRowBinlog(binlog(1, 'STATEMENT'))).rejects.toThrow(
      /^binlog_format is STATEMENT on this database server; the service writes in READ COMMITTED/,
    );
    await expect(assertRowBinlog(binlog('1', 'statement'))).rejects.toThrow(/binlog_format is STATEMENT/);
    for (const format of ['ROW', 'MIXED']) await expect(assertRowBinlog(binlog(1, format))).resolves.toBeUndefined();
    await expect(assertRowBinlog(binlog(0, 'STATEMENT'))).resolves.toBeUndefined(); // no binary log
  });

  it('asks nothing of SQLite', async () => {
    const asked: string[] = [];
    const dataSource = { options: { type: 'better-sqlite3' }, query: async (sql: string) => asked.push(sql) };
    await dialectOf(dataSource).prepare(dataSource as never);
    expect(asked).toEqual([]);
  });
});
