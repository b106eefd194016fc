import { ApiProperty } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, Length, Matches, Max, MaxLength, Min } from 'class-validator';
import { Optional } from '../../../common/http/optional';
import { MAX_QUANTITY } from '../../../common/quantities';
import { PageQuery } from '../../../common/http/pagination';
import { Product } from '../entities/product.entity';

export const SKU_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

export class CreateProductDto {
  @IsString() @Matches(SKU_PATTERN, { message: 'sku must be 1..64 of [A-Za-z0-9._-]' }) sku!: string;
  @IsString() @Length(1, 200) name!: string;
  @IsOptional() @IsString() @MaxLength(2000) description?: string | null;
  @Optional() @IsString() @Length(1, 16) unit?: string;
  @Optional() @IsInt() @Min(0) @Max(MAX_QUANTITY) reorderPoint?: number;
}

export class UpdateProductDto {
  @Optional() @IsString() @Length(1, 200) name?: string;
  @IsOptional() @IsString() @MaxLength(2000) description?: string | null;
  @Optional() @IsString() @Length(1, 16) unit?: string;
  @Optional() @IsInt() @Min(0) @Max(MAX_QUANTITY) reorderPoint?: number;
}

export class ListProductsQuery extends PageQuery {
  @IsOptional() @IsString() @Length(1, 100) search?: string;
  @IsOptional() @IsString() @Matches(SKU_PATTERN, { message: 'sku must be 1..64 of [A-Za-z0-9._-]' }) sku?: string;
  @IsOptional()
  @IsIn([true, false], { message: 'lowStock must be true or false' })
  @Transform(({ value }) => (value === 'true' ? true : value === 'false' ? false : value))
  lowStock?: boolean;
}

// Answers are classes rather than interfaces so the OpenAPI document can describe them.

export class ProductView {
  @ApiProperty({ type: 'integer' }) id!: number;
  @ApiProperty() sku!: string;
  @ApiProperty() name!: string;
  @ApiProperty({ type: String, nullable: true }) description!: string | null;
  @ApiProperty() unit!: string;
  @ApiProperty({ type: 'integer' }) reorderPoint!: number;
  @ApiProperty({ type: 'integer', description: 'Bumped by each update; send it back in If-Match' }) version!: number;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
  @ApiProperty({ format: 'date-time' }) updatedAt!: string;
  @ApiProperty({ type: 'integer', description: 'Summed over warehouses' }) onHand!: number;
}

export class WarehouseStockView {
  @ApiProperty({ description: 'Warehouse code' }) warehouse!: string;
  @ApiProperty({ type: 'integer' }) onHand!: number;
}

export class ProductDetailView extends ProductView {
  @ApiProperty({ type: [WarehouseStockView] }) stock!: WarehouseStockView[];
}

export function toProductView(product: Product, onHand: number): ProductView {
  return {
    id: product.id,
    sku: product.sku,
    name: product.name,
    description: product.description,
    unit: product.unit,
    reorderPoint: product.reorderPoint,
    version: product.version,
    createdAt: product.createdAt.toISOString(),
    updatedAt: product.updatedAt.toISOString(),
    onHand,
  };
}
