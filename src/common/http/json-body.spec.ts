import fc from 'fast-check';
import { jsonNestsDeeperThan } from './json-body';

/** The nesting depth of a parsed JSON value, counted the way the scanner counts brackets. */
function depthOf(value: unknown): number {
  if (Array.isArray(value)) return 1 + Math.max(0, ...value.map(depthOf));
  if (value !== null && typeof value === 'object') return 1 + Math.max(0, ...Object.values(value).map(depthOf));
  return 0;
}

describe('jsonNestsDeeperThan', () => {
  it('agrees with the depth of the parsed value, brackets inside strings and escapes included', () => {
    const text = fc.string({ unit: fc.constantFrom('[', ']', '{', '}', '"', '\\', 'a') });
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 40 }), fc.integer({ min: 0, max: 40 }), text, (value, max, noise) => {
        const json = JSON.stringify([value, noise]); // noise lands inside a string: it must not count
        expect(jsonNestsDeeperThan(json, max)).toBe(depthOf([value, noise]) > max);
      }),
    );
  });

  it('stops at 32 levels whatever follows', () => {
    expect(jsonNestsDeeperThan('['.repeat(32) + ']'.repeat(32), 32)).toBe(false);
    expect(jsonNestsDeeperThan('['.repeat(33) + ']'.repeat(33), 32)).toBe(true);
    expect(jsonNestsDeeperThan('{"a":'.repeat(33) + '1' + '}'.repeat(33), 32)).toBe(true);
    expect(jsonNestsDeeperThan('["' + '['.repeat(100) + '"]', 32)).toBe(false);
    expect(jsonNestsDeeperThan('["\\"' + '['.repeat(100) + '"]', 32)).toBe(false);
  });
});
