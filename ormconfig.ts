// The DataSource the TypeORM CLI uses: `npm run migration:generate -- src/database/migrations/<driver>/Name`
import { DataSource } from 'typeorm';
import { readDatabaseConfig } from './src/config/database.config';
import { dataSourceOptions } from './src/database/data-source.options';

export default new DataSource(dataSourceOptions(readDatabaseConfig()));
