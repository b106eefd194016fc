import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { Warehouse } from './entities/warehouse.entity';

@Injectable()
export class WarehousesRepository {
  constructor(private readonly dataSource: DataSource) {}

  findByCode(code: string): Promise<Warehouse | null> {
    return this.dataSource.manager.findOneBy(Warehouse, { code });
  }

  listAfter(afterId: number | null, take: number): Promise<Warehouse[]> {
    const query = this.dataSource.manager.createQueryBuilder(Warehouse, 'w').orderBy('w.id', 'ASC').take(take);
    if (afterId !== null) query.where('w.id > :afterId', { afterId });
    return query.getMany();
  }

  async insert(manager: EntityManager, warehouse: Omit<Warehouse, 'id'>): Promise<Warehouse> {
    const result = await manager.insert(Warehouse, { ...warehouse }); // a copy: the driver may write back into it
    return { ...warehouse, id: Number(result.identifiers[0].id) };
  }
}
