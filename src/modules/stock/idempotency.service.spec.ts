import { canonicalJson } from './idempotency.service';

describe('canonicalJson', () => {
  it('sorts object keys at every depth, keeps array order', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: null } })).toBe(
      '{"a":{"c":null,"d":[3,{"y":2,"z":1}]},"b":1}',
    );
    expect(canonicalJson([2, 1])).toBe('[2,1]');
  });

  it('one body, one text, whatever the order its keys arrived in', () => {
    const a = { productId: 1, quantity: 2, reference: 'R' };
    const b = { reference: 'R', quantity: 2, productId: 1 };
    expect(canonicalJson(a)).toBe(canonicalJson(b));
  });

  it('scalars as JSON; undefined as null', () => {
    expect(['x', 1.5, true, null, undefined].map(canonicalJson)).toEqual(['"x"', '1.5', 'true', 'null', 'null']);
  });
});
