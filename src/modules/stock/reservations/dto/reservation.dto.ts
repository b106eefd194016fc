import { Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, Length, Matches, Max, MaxLength, Min } from 'class-validator';
import { ArrayOfObjects } from '../../../../common/http/nested-array';
import { PageQuery } from '../../../../common/http/pagination';
import { SKU_PATTERN } from '../../../products/dto/product.dto';
import { QuantityLine } from '../../dto/stock.dto';
import { RESERVATION_STATUSES, ReservationStatus } from '../entities/reservation.entity';

export const DEFAULT_RESERVATION_TTL_SECONDS = 900;
export const MAX_RESERVATION_TTL_SECONDS = 604_800;

export class CreateReservationDto {
  @ArrayOfObjects(() => QuantityLine, 1, 100)
  lines!: QuantityLine[];

  @IsOptional() @IsInt() @Min(1) @Max(MAX_RESERVATION_TTL_SECONDS) ttlSeconds?: number;
  @IsOptional() @IsString() @MaxLength(128) reference?: string;
  @IsOptional() @IsString() @MaxLength(500) note?: string;
}

export class ReservationsQuery extends PageQuery {
  @IsOptional() @IsIn(RESERVATION_STATUSES) status?: ReservationStatus;
  @IsOptional() @Type(() => Number) @IsInt() @Min(1) productId?: number;
  @IsOptional() @IsString() @Matches(SKU_PATTERN, { message: 'sku must be 1..64 of [A-Za-z0-9._-]' }) sku?: string;
  @IsOptional() @IsString() @Length(1, 128) reference?: string;
}
