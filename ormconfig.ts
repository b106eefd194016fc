// The DataSource the TypeORM CLI uses: `npm run migration:generate -- src/database/migrations/<driver>/Name`
import { readDatabaseConfig } from './src/config/database.config';
import { dataSourceOptions, InventoryDataSource } from './src/database/data-source.options';
import { ENTITIES } from './src/entities';

export default new InventoryDataSource(dataSourceOptions(readDatabaseConfig(), ENTITIES));
