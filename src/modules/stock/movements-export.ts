import { Injectable, Logger } from '@nestjs/common';
import { Readable } from 'node:stream';
import { csvStream, everyPage, EXPORT_PAGE_SIZE } from '../../common/http/csv';
import { ExportMovementsQuery, MOVEMENT_CSV_COLUMNS, MovementCsvRow } from './dto/export-movements.dto';
import { StockService } from './stock.service';
import { MovementView } from './stock.views';

const toRow = (m: MovementView): MovementCsvRow => ({ ...m, actor: m.actor.username });

/**
 * GET /api/stock/movements/export.csv: the movement list (newest first), read page after page through
 * StockService.movements, so its filters and their 404s are the list's own.
 */
@Injectable()
export class MovementsExport {
  private readonly logger = new Logger(MovementsExport.name);

  constructor(private readonly stock: StockService) {}

  stream(query: ExportMovementsQuery, requestId: string): Promise<Readable> {
    const pages = everyPage((cursor) => this.stock.movements({ ...query, cursor, limit: EXPORT_PAGE_SIZE }));
    return csvStream(MOVEMENT_CSV_COLUMNS, rows(pages), (err) =>
      this.logger.error({ requestId, err }, 'Movements CSV export failed after it started: response cut short'),
    );
  }
}

async function* rows(pages: AsyncGenerator<MovementView[]>): AsyncGenerator<MovementCsvRow[]> {
  for await (const page of pages) yield page.map(toRow);
}
