import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { Warehouse } from './entities/warehouse.entity';

@Injectable()
export class WarehousesRepository {
  constructor(private readonly dataSource: DataSource) {}

  findByCode(code: string, manager: EntityManager = this.dataSource.manager): Promise<Warehouse | null> {
    return manager.findOneBy(Warehouse, { code });
  }

  listAfter(afterId: number | null, take: number): Promise<Warehouse[]> {
    const query = this.dataSource.manager.createQueryBuilder(Warehouse, 'w').orderBy('w.id', 'ASC').take(take);
    if (afterId !== null) query.where('w.id > :afterId', { afterId });
    return query.getMany();
  }

  async insert(manager: EntityManager, warehouse: Omit<Warehouse, 'id'>): Promise<Warehouse> {
    const result = await manager.insert(Warehouse, warehouse);
    return { ...warehouse, id: Number(result.identifiers[0].id) };
  }
}
