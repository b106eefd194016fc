process.env.TEST_DB_TYPE = 'sqlite';
