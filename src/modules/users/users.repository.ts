import { Injectable } from '@nestjs/common';
import { forUpdate } from '../../database/dialect';
import { DataSource, EntityManager } from 'typeorm';
import { User } from './entities/user.entity';

@Injectable()
export class UsersRepository {
  constructor(private readonly dataSource: DataSource) {}

  findById(id: number, manager: EntityManager = this.dataSource.manager): Promise<User | null> {
    return manager.findOneBy(User, { id });
  }

  findByUsername(username: string): Promise<User | null> {
    return this.dataSource.manager.findOneBy(User, { username });
  }

  count(): Promise<number> {
    return this.dataSource.manager.count(User);
  }

  /** Keyset page in id order: rows after `afterId`, `take` of them. */
  listAfter(afterId: number | null, take: number): Promise<User[]> {
    const query = this.dataSource.manager.createQueryBuilder(User, 'u').orderBy('u.id', 'ASC').take(take);
    if (afterId !== null) query.where('u.id > :afterId', { afterId });
    return query.getMany();
  }

  /** Locks the user row for the rest of the transaction (FOR UPDATE on MySQL; SQLite writes are serialized). */
  lockById(manager: EntityManager, id: number): Promise<User | null> {
    const query = manager.createQueryBuilder(User, 'u').where('u.id = :id', { id });
    return forUpdate(query).getOne();
  }

  /** Locks every enabled admin, so two concurrent demotions cannot both see "another admin is left". */
  async lockEnabledAdminIds(manager: EntityManager): Promise<number[]> {
    const query = manager
      .createQueryBuilder(User, 'u')
      .select('u.id', 'id')
      .where('u.role = :role AND u.disabled = 0', { role: 'admin' });
    const rows = await forUpdate(query).getRawMany<{ id: number }>();
    return rows.map((row) => Number(row.id));
  }

  async insert(manager: EntityManager, user: Omit<User, 'id'>): Promise<User> {
    const result = await manager.insert(User, { ...user }); // a copy: the driver may write back into it
    return { ...user, id: Number(result.identifiers[0].id) };
  }

  async update(manager: EntityManager, id: number, changes: Partial<User>): Promise<void> {
    await manager.update(User, { id }, changes);
  }
}
