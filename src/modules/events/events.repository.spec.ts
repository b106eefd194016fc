import { DataSource } from 'typeorm';
import { EventsRepository } from './events.repository';

describe('EventsRepository.place', () => {
  const events = new EventsRepository({} as DataSource);

  it('gives consecutive ids their positions with one range update', () => {
    expect(events.place([7, 8, 9], 100)).toEqual([
      { sql: 'UPDATE events SET position = id + ? WHERE id BETWEEN ? AND ?', params: [93, 7, 9] },
    ]);
  });

  it('splits at every gap (an event still in flight), positions still in id order with no hole', () => {
    const statements = events.place([3, 4, 6, 9, 10], 1);
    expect(statements.map((s) => s.params)).toEqual([
      [-2, 3, 4], // 3 -> 1, 4 -> 2
      [-3, 6, 6], // 6 -> 3
      [-5, 9, 10], // 9 -> 4, 10 -> 5
    ]);
    // each id's position as the statements set it
    const positions = statements.flatMap(({ params: [offset, from, to] }) =>
      Array.from(
        { length: (to as number) - (from as number) + 1 },
        (_, i) => (from as number) + i + (offset as number),
      ),
    );
    expect(positions).toEqual([1, 2, 3, 4, 5]);
  });
});
