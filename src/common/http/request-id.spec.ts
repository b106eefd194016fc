import type { IncomingMessage } from 'node:http';
import { requestIdFor } from './request-id';

const withHeader = (value?: string) =>
  ({ headers: value === undefined ? {} : { 'x-request-id': value } }) as IncomingMessage;

describe('requestIdFor', () => {
  it.each(['abc', 'a.b_c:d-1', 'x'.repeat(128)])('keeps the well-formed client id %p', (id) => {
    expect(requestIdFor(withHeader(id))).toBe(id);
  });

  it.each([undefined, '', 'x'.repeat(129), 'has space', 'a/b', 'ünï'])('replaces %p with a generated id', (id) => {
    const generated = requestIdFor(withHeader(id));
    expect(generated).not.toBe(id);
    expect(generated).toMatch(/^[0-9a-f-]{36}$/);
  });
});
