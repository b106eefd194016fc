import { Injectable } from '@nestjs/common';
import { RequestContext } from '../../common/decorators/auth.decorators';
import { ApiError } from '../../common/errors/api-error';
import { Page, PageQuery, decodeCursor, pageSize, toPage } from '../../common/http/pagination';
import { TransactionService } from '../../database/transaction.service';
import { auditEntry } from '../audit/audit-context';
import { AuditRepository } from '../audit/audit.repository';
import { CreateWarehouseDto, toWarehouseView, WarehouseView } from './dto/warehouse.dto';
import { DEFAULT_WAREHOUSE_CODE, Warehouse } from './entities/warehouse.entity';
import { WarehousesRepository } from './warehouses.repository';

@Injectable()
export class WarehousesService {
  private readonly byCode = new Map<string, Warehouse>();

  constructor(
    private readonly warehouses: WarehousesRepository,
    private readonly audit: AuditRepository,
    private readonly tx: TransactionService,
  ) {}

  create(ctx: RequestContext, dto: CreateWarehouseDto): Promise<WarehouseView> {
    return this.tx.run(async (manager) => {
      const warehouse = await this.warehouses.insert(manager, {
        code: dto.code,
        name: dto.name,
        createdAt: new Date(),
      });
      const view = toWarehouseView(warehouse);
      await this.audit.append(manager, auditEntry(ctx, 'warehouse.create', 'warehouse', warehouse.id, null, view));
      return view;
    });
  }

  async list(query: PageQuery): Promise<Page<WarehouseView>> {
    const limit = pageSize(query);
    const rows = await this.warehouses.listAfter(decodeCursor(query.cursor), limit + 1);
    return toPage(rows, limit, toWarehouseView);
  }

  /**
   * Resolves a warehouse code (MAIN when none is given); 404 naming the code when it does not exist.
   * Warehouses are never changed or removed, so a found one is kept in memory: stock writes skip the query.
   */
  async resolve(code: string | undefined): Promise<Warehouse> {
    const wanted = code ?? DEFAULT_WAREHOUSE_CODE;
    const cached = this.byCode.get(wanted);
    if (cached) return cached;
    const warehouse = await this.warehouses.findByCode(wanted);
    if (!warehouse) throw ApiError.notFound('Warehouse', { warehouse: wanted });
    this.byCode.set(wanted, warehouse);
    return warehouse;
  }
}
