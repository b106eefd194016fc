import { Module } from '@nestjs/common';
import { StockLevelsRepository } from './stock-levels.repository';

/**
 * stock_levels, owned by stock: its own module so that products can read on-hand through it while
 * stock itself depends on products (stock → products → stock-levels, never back).
 */
@Module({
  providers: [StockLevelsRepository],
  exports: [StockLevelsRepository],
})
export class StockLevelsModule {}
