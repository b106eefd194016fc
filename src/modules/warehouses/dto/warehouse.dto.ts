import { ApiProperty } from '@nestjs/swagger';
import { IsString, Length, Matches } from 'class-validator';
import { Warehouse } from '../entities/warehouse.entity';

export const WAREHOUSE_CODE_PATTERN = /^[A-Z0-9_-]{1,32}$/;

export class CreateWarehouseDto {
  @IsString() @Matches(WAREHOUSE_CODE_PATTERN, { message: 'code must be 1..32 of [A-Z0-9_-]' }) code!: string;
  @IsString() @Length(1, 200) name!: string;
}

export class WarehouseView {
  @ApiProperty({ type: 'integer' }) id!: number;
  @ApiProperty() code!: string;
  @ApiProperty() name!: string;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
}

export function toWarehouseView(warehouse: Warehouse): WarehouseView {
  return { id: warehouse.id, code: warehouse.code, name: warehouse.name, createdAt: warehouse.createdAt.toISOString() };
}
