import { jest } from '@jest/globals';
import { DataSource } from 'typeorm';
import { MetricsService } from '../../common/metrics/metrics.service';
import { READINESS_CHECK_MAX_AGE_MS, ReadinessCheck } from './readiness';
import { ShutdownState } from './shutdown-state';

describe('inventory_ready', () => {
  let database: { up: boolean; pendingMigrations: boolean };
  let metrics: MetricsService;
  let shutdown: ShutdownState;
  let readiness: ReadinessCheck;

  const scrape = async () => (await metrics.registry.getSingleMetricAsString('inventory_ready')).split('\n').at(-1);

  beforeEach(() => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
    database = { up: true, pendingMigrations: false };
    const dataSource = {
      query: () => (database.up ? Promise.resolve([{ 1: 1 }]) : Promise.reject(new Error('ECONNREFUSED'))),
      showMigrations: () => Promise.resolve(database.pendingMigrations),
    } as unknown as DataSource;
    metrics = new MetricsService();
    shutdown = new ShutdownState();
    readiness = new ReadinessCheck(dataSource, shutdown, metrics);
  });
  afterEach(() => jest.useRealTimers());

  it('is refreshed by a scrape when nobody probes: 1, 0 while the database is gone, 1 again', async () => {
    expect(await scrape()).toBe('inventory_ready 1');
    database.up = false;
    jest.advanceTimersByTime(READINESS_CHECK_MAX_AGE_MS);
    expect(await scrape()).toBe('inventory_ready 0');
    database.up = true;
    jest.advanceTimersByTime(READINESS_CHECK_MAX_AGE_MS);
    expect(await scrape()).toBe('inventory_ready 1');
  });

  it('is 0 while migrations are pending and once shutdown has begun', async () => {
    database.pendingMigrations = true;
    expect(await scrape()).toBe('inventory_ready 0');
    database.pendingMigrations = false;
    jest.advanceTimersByTime(READINESS_CHECK_MAX_AGE_MS);
    expect(await scrape()).toBe('inventory_ready 1');
    shutdown.begin();
    expect(await scrape()).toBe('inventory_ready 0');
  });

  it("answers a scrape within the second of a probe from that probe's check", async () => {
    const checks = jest.spyOn(readiness, 'check');
    database.up = false;
    await readiness.database();
    database.up = true; // a new check would answer 1
    expect(await scrape()).toBe('inventory_ready 0');
    expect(checks).toHaveBeenCalledTimes(1);
  });
});
