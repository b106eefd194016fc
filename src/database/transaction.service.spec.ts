import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { MetricsService } from '../common/metrics/metrics.service';
import { InventoryDataSource } from './data-source.options';
import { TransactionService } from './transaction.service';

/**
 * Another process's connection, on its own thread (this thread's busy wait blocks it): takes the file's
 * write lock, writes 1, raises `locked`, holds the lock `holdMs` longer, then commits.
 */
const HOLDER = `
const { workerData } = require('node:worker_threads');
const Database = require(workerData.module);
const db = new Database(workerData.file, { timeout: 5000 });
db.exec('BEGIN IMMEDIATE');
db.exec('INSERT INTO t VALUES (1)');
Atomics.store(workerData.locked, 0, 1);
Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, workerData.holdMs);
db.exec('COMMIT');
db.close();
`;

/**
 * SQLite with a second process on the same file (the import CLI beside the service). Each transaction
 * takes the write lock at BEGIN, so a read-then-write transaction waits for another process's write
 * (within the busy timeout) instead of failing at its first write, and reads what that write left.
 */
describe('TransactionService on an SQLite file another process writes to', () => {
  let folder: string;
  let file: string;
  let dataSource: InventoryDataSource;
  let other: Database.Database;
  let service: TransactionService;
  const retries: string[] = [];

  beforeEach(async () => {
    folder = mkdtempSync(join(tmpdir(), 'tx-sqlite-'));
    file = join(folder, 'db.sqlite');
    dataSource = new InventoryDataSource({ type: 'better-sqlite3', database: file, enableWAL: true, timeout: 5000 });
    await dataSource.initialize();
    await dataSource.query('CREATE TABLE t (x INTEGER)');
    // no busy wait: this thread would block on it, the transaction under test being on the same thread
    other = new Database(file, { timeout: 0 });
    retries.length = 0;
    const metrics = { dbRetries: { inc: ({ reason }: { reason: string }) => retries.push(reason) } };
    service = new TransactionService(dataSource, metrics as unknown as MetricsService);
  });

  afterEach(async () => {
    other.close();
    await dataSource.destroy();
    rmSync(folder, { recursive: true, force: true });
  });

  const rows = () => other.prepare('SELECT x FROM t ORDER BY x').all();

  /** Starts the holder and waits until it holds the lock; `ended` settles with its exit code. */
  const anotherProcessWriting = async (): Promise<{ ended: Promise<number> }> => {
    const locked = new Int32Array(new SharedArrayBuffer(4));
    const worker = new Worker(HOLDER, {
      eval: true,
      workerData: { module: join(process.cwd(), 'node_modules', 'better-sqlite3'), file, holdMs: 300, locked },
    });
    const ended = new Promise<number>((resolve, reject) => {
      worker.once('exit', resolve);
      worker.once('error', reject);
    });
    while (Atomics.load(locked, 0) === 0) {
      await Promise.race([ended, new Promise((resolve) => setTimeout(resolve, 5))]);
    }
    return { ended };
  };

  it('a read-then-write transaction waits for another process holding the write lock, then reads its row', async () => {
    const { ended } = await anotherProcessWriting();
    let attempts = 0;
    await service.run(async (manager) => {
      attempts++;
      const [{ n }] = await manager.query<{ n: number }[]>('SELECT COUNT(*) AS n FROM t');
      await manager.query('INSERT INTO t VALUES (?)', [10 + n]);
    });
    expect(await ended).toBe(0);
    expect({ attempts, retries }).toEqual({ attempts: 1, retries: [] });
    // the write was decided on the other process's committed row
    expect(rows()).toEqual([{ x: 1 }, { x: 11 }]);
  });

  it('the inline path too', async () => {
    const { ended } = await anotherProcessWriting();
    await service.runInline(async (tx) => {
      const [count] = await tx.query([
        { sql: 'SELECT COUNT(*) AS n FROM t', params: [], read: (r) => (r as { n: number }[])[0].n },
      ]);
      await tx.commitWith([{ sql: 'INSERT INTO t VALUES (?)', params: [10 + count] }]);
    });
    expect(await ended).toBe(0);
    expect(retries).toEqual([]);
    expect(rows()).toEqual([{ x: 1 }, { x: 11 }]);
  });

  it('holds the write lock from BEGIN: another process cannot write between its read and its write', async () => {
    const refused: string[] = [];
    const tryWrite = () => {
      try {
        other.exec('INSERT INTO t VALUES (5)');
      } catch (error) {
        refused.push((error as { code: string }).code);
      }
    };
    await service.run(async (manager) => {
      await manager.query('SELECT COUNT(*) AS n FROM t');
      tryWrite();
      await manager.query('INSERT INTO t VALUES (1)');
    });
    await service.runInline(async (tx) => {
      await tx.query([{ sql: 'SELECT COUNT(*) AS n FROM t', params: [] }]);
      tryWrite();
      await tx.commitWith([{ sql: 'INSERT INTO t VALUES (2)', params: [] }]);
    });
    expect(refused).toEqual(['SQLITE_BUSY', 'SQLITE_BUSY']);
    expect(rows()).toEqual([{ x: 1 }, { x: 2 }]);
  });
});
