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

export interface ProductView {
  id: number;
  sku: string;
  name: string;
  description: string | null;
  unit: string;
  reorderPoint: number;
  version: number;
  createdAt: string;
  updatedAt: string;
  onHand: number;
}

export interface ProductDetailView extends ProductView {
  stock: { warehouse: string; onHand: number }[];
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
