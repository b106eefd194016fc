import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { MetricsService } from '../common/metrics/metrics.service';
import { TransactionService } from './transaction.service';

/**
 * SQLite with a second process on the same file (the import CLI beside the service): the other
 * connection here stands in for it, writing between this process's read and write.
 */
describe('TransactionService on an SQLite file another process writes to', () => {
  let folder: string;
  let dataSource: DataSource;
  let other: Database.Database;
  let service: TransactionService;
  const retries: string[] = [];

  beforeEach(async () => {
    folder = mkdtempSync(join(tmpdir(), 'tx-sqlite-'));
    const file = join(folder, 'db.sqlite');
    dataSource = new DataSource({ type: 'better-sqlite3', database: file, enableWAL: true, timeout: 5000 });
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

  it('tries a transaction again from the start when another write made its snapshot stale', async () => {
    let attempts = 0;
    await service.run(async (manager) => {
      attempts++;
      const [{ n }] = await manager.query<{ n: number }[]>('SELECT COUNT(*) AS n FROM t');
      if (attempts === 1) other.exec('INSERT INTO t VALUES (1)'); // between the read and the write
      await manager.query('INSERT INTO t VALUES (?)', [10 + n]);
    });
    expect(attempts).toBe(2);
    expect(retries).toEqual(['snapshot_conflict']);
    // the retry read the other process's row: its write was decided on what is there
    expect(rows()).toEqual([{ x: 1 }, { x: 11 }]);
  });

  it('the inline path too: a read takes no write lock, and a write on a stale snapshot is tried again', async () => {
    let attempts = 0;
    await service.runInline(async (tx) => {
      attempts++;
      await tx.query([{ sql: 'SELECT COUNT(*) AS n FROM t', params: [] }]);
      // the read left the file's write lock free: another process writes meanwhile
      if (attempts === 1) other.exec('INSERT INTO t VALUES (1)');
      await tx.commitWith([{ sql: 'INSERT INTO t VALUES (2)', params: [] }]);
    });
    expect(attempts).toBe(2);
    expect(retries).toEqual(['snapshot_conflict']);
    expect(rows()).toEqual([{ x: 1 }, { x: 2 }]);
  });
});
