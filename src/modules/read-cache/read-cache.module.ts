import { Module } from '@nestjs/common';
import { ReadCache } from './read-cache.service';

/** The Redis read cache of product and level reads (CACHE_REDIS_URL), for their readers and their writers. */
@Module({
  providers: [ReadCache],
  exports: [ReadCache],
})
export class ReadCacheModule {}
