import { parseIfMatch } from './if-match';

describe('parseIfMatch', () => {
  it.each([
    [undefined, undefined],
    ['"3"', 3],
    ['3', 3],
    ['W/"7"', 7],
    [' "12" ', 12],
    ['*', 'any'],
    ['"abc"', null],
    ['', null],
    ['"3", "4"', null],
  ])('%p → %p', (header, expected) => {
    expect(parseIfMatch(header)).toBe(expected);
  });
});
