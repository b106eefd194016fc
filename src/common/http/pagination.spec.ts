import { decodeCursor, encodeCursor, toPage } from './pagination';

describe('pagination', () => {
  it('round-trips a cursor', () => {
    expect(decodeCursor(encodeCursor(42))).toBe(42);
  });

  it('treats an absent cursor as the first page', () => {
    expect(decodeCursor(undefined)).toBeNull();
  });

  it.each(['', 'abc', Buffer.from('{"id":"x"}').toString('base64url'), Buffer.from('{"id":-1}').toString('base64url')])(
    'rejects the malformed cursor %p with VALIDATION_FAILED',
    (cursor) => {
      expect(() => decodeCursor(cursor)).toThrow(expect.objectContaining({ code: 'VALIDATION_FAILED' }));
    },
  );

  it('gives a next cursor only when a row beyond the page exists', () => {
    const rows = [{ id: 1 }, { id: 2 }, { id: 3 }];
    expect(toPage(rows, 2, (r) => r.id)).toEqual({ items: [1, 2], nextCursor: encodeCursor(2) });
    expect(toPage(rows, 3, (r) => r.id)).toEqual({ items: [1, 2, 3], nextCursor: null });
  });
});
