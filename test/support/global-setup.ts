import { createConnection } from 'mysql2/promise';
import { MYSQL_TEST_SERVER } from './test-database';

/** The MySQL suites never skip: without a server the run fails and says how to get one. */
export default async function globalSetup(): Promise<void> {
  try {
    const conn = await createConnection({ ...MYSQL_TEST_SERVER, connectTimeout: 5000 });
    await conn.query('SELECT 1');
    await conn.end();
  } catch (error) {
    const { host, port, user } = MYSQL_TEST_SERVER;
    throw new Error(
      `The e2e suites need MariaDB 10.6+ or MySQL 8 at ${user}@${host}:${port} (${(error as Error).message}). ` +
        'Start one (e.g. `mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld && mariadbd --user=mysql &`, ' +
        'or `docker run -d -p 3306:3306 -e MYSQL_ALLOW_EMPTY_PASSWORD=1 mysql:8.4`), ' +
        'or point TEST_DB_HOST/TEST_DB_PORT/TEST_DB_USER/TEST_DB_PASSWORD at one.',
    );
  }
}
