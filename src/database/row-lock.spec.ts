import { assertConsecutiveIds } from './row-lock';

const server = (type: string, step: unknown) => ({
  options: { type },
  query: async () => [{ step }],
});

describe('assertConsecutiveIds', () => {
  it('accepts a MySQL/MariaDB server that steps ids by 1 (mysql2 may answer a string)', async () => {
    await expect(assertConsecutiveIds(server('mysql', 1))).resolves.toBeUndefined();
    await expect(assertConsecutiveIds(server('mariadb', '1'))).resolves.toBeUndefined();
  });

  it('refuses a server that steps ids by more, naming the setting', async () => {
    await expect(assertConsecutiveIds(server('mariadb', 3))).rejects.toThrow(
      /^auto_increment_increment is 3 on this database server; the service needs 1/,
    );
  });

  it('asks nothing of SQLite', async () => {
    const asked: string[] = [];
    await assertConsecutiveIds({ options: { type: 'better-sqlite3' }, query: async (sql) => asked.push(sql) });
    expect(asked).toEqual([]);
  });
});
