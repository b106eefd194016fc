import { OmitType } from '@nestjs/swagger';
import { MovementsQuery } from './stock.dto';

/** The movement list's filters and their validation, without paging. */
export class ExportMovementsQuery extends OmitType(MovementsQuery, ['limit', 'cursor'] as const) {}

export interface MovementCsvRow extends Record<string, string | number | null> {
  id: number;
  type: string;
  productId: number;
  sku: string;
  warehouse: string;
  quantity: number;
  balanceAfter: number;
  reference: string | null;
  note: string | null;
  reason: string | null;
  actor: string;
  requestId: string | null;
  createdAt: string;
}

export const MOVEMENT_CSV_COLUMNS = [
  'id',
  'type',
  'productId',
  'sku',
  'warehouse',
  'quantity',
  'balanceAfter',
  'reference',
  'note',
  'reason',
  'actor',
  'requestId',
  'createdAt',
] as const satisfies readonly (keyof MovementCsvRow)[];
