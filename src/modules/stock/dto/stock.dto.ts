import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  IsDateString,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
  NotEquals,
  ValidateIf,
  IsDefined,
} from 'class-validator';
import { ArrayOfObjects } from '../../../common/http/nested-array';
import { PageQuery } from '../../../common/http/pagination';
import { MAX_LEVEL, MAX_QUANTITY } from '../../../common/quantities';
import { SKU_PATTERN } from '../../products/dto/product.dto';
import { WAREHOUSE_CODE_PATTERN } from '../../warehouses/dto/warehouse.dto';
import { ADJUST_REASONS, AdjustReason, MOVEMENT_TYPES, MovementType } from '../entities/stock-movement.entity';

const ONE_OF = { message: 'exactly one of productId or sku is required' };

/** A line names its product by exactly one of productId or sku. */
export class ProductLine {
  @ValidateIf((o: ProductLine) => o.sku === undefined || o.productId !== undefined)
  @IsDefined(ONE_OF)
  @IsInt()
  @Min(1)
  productId?: number;

  @ValidateIf((o: ProductLine) => o.productId === undefined || o.sku !== undefined)
  @IsDefined(ONE_OF)
  @IsString()
  @Matches(SKU_PATTERN, { message: 'sku must be 1..64 of [A-Za-z0-9._-]' })
  sku?: string;
}

export class QuantityLine extends ProductLine {
  @IsInt() @Min(1) @Max(MAX_QUANTITY) quantity!: number;
  @IsOptional()
  @IsString()
  @Matches(WAREHOUSE_CODE_PATTERN, { message: 'warehouse must be a warehouse code' })
  warehouse?: string;
}

export class StockMoveDto extends QuantityLine {
  @IsOptional() @IsString() @MaxLength(128) reference?: string;
  @IsOptional() @IsString() @MaxLength(500) note?: string;
}

export class AdjustDto extends ProductLine {
  @IsOptional()
  @IsString()
  @Matches(WAREHOUSE_CODE_PATTERN, { message: 'warehouse must be a warehouse code' })
  warehouse?: string;

  @ValidateIf((o: AdjustDto) => o.delta === undefined || o.countedQuantity !== undefined)
  @IsDefined({ message: 'exactly one of countedQuantity or delta is required' })
  @IsInt()
  @Min(0)
  @Max(MAX_LEVEL)
  countedQuantity?: number;

  // explicit: the swagger plugin leaves this property out of the document (it trips on @Min(-MAX_QUANTITY))
  @ApiPropertyOptional({
    type: 'integer',
    minimum: -MAX_QUANTITY,
    maximum: MAX_QUANTITY,
    description: 'A non-zero change; exactly one of countedQuantity or delta',
  })
  @ValidateIf((o: AdjustDto) => o.countedQuantity === undefined || o.delta !== undefined)
  @IsDefined({ message: 'exactly one of countedQuantity or delta is required' })
  @IsInt()
  @NotEquals(0)
  @Min(-MAX_QUANTITY)
  @Max(MAX_QUANTITY)
  delta?: number;

  @IsIn(ADJUST_REASONS) reason!: AdjustReason;
  @IsOptional() @IsString() @MaxLength(500) note?: string;
}

export class TransferDto extends ProductLine {
  @IsString() @Matches(WAREHOUSE_CODE_PATTERN, { message: 'from must be a warehouse code' }) from!: string;
  @IsString() @Matches(WAREHOUSE_CODE_PATTERN, { message: 'to must be a warehouse code' }) to!: string;
  @IsInt() @Min(1) @Max(MAX_QUANTITY) quantity!: number;
  @IsOptional() @IsString() @MaxLength(128) reference?: string;
}

export class BatchDto {
  @IsIn(['IN', 'OUT']) type!: 'IN' | 'OUT';
  @IsOptional() @IsString() @MaxLength(128) reference?: string;
  @ArrayOfObjects(() => QuantityLine, 1, 100)
  lines!: QuantityLine[];
}

export class LevelsQuery extends PageQuery {
  @IsOptional() @Type(() => Number) @IsInt() @Min(1) productId?: number;
  @IsOptional() @IsString() @Matches(SKU_PATTERN, { message: 'sku must be 1..64 of [A-Za-z0-9._-]' }) sku?: string;
  @IsOptional()
  @IsString()
  @Matches(WAREHOUSE_CODE_PATTERN, { message: 'warehouse must be a warehouse code' })
  warehouse?: string;
}

export class MovementsQuery extends LevelsQuery {
  @IsOptional() @IsIn(MOVEMENT_TYPES) type?: MovementType;
  @IsOptional() @IsDateString({ strict: true }) from?: string;
  @IsOptional() @IsDateString({ strict: true }) to?: string;
}
