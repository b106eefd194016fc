import { OmitType } from '@nestjs/swagger';
import { ListProductsQuery } from './product.dto';

/** The list's filters as the contract names them for the export (`search`, `lowStock`): its validation, no paging. */
export class ExportProductsQuery extends OmitType(ListProductsQuery, ['limit', 'cursor', 'sku'] as const) {}

export interface ProductCsvRow extends Record<string, string | number | null> {
  id: number;
  sku: string;
  name: string;
  description: string | null;
  unit: string;
  reorderPoint: number;
  onHand: number;
  reserved: number;
  available: number;
}

export const PRODUCT_CSV_COLUMNS = [
  'id',
  'sku',
  'name',
  'description',
  'unit',
  'reorderPoint',
  'onHand',
  'reserved',
  'available',
] as const satisfies readonly (keyof ProductCsvRow)[];
