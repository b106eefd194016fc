import { foldText, searchTermsOf, TERM_PREFIX_MAX, termsOf, wordsOf } from './search-terms';

describe('search terms', () => {
  it('folds case and accents, and splits words at anything not a letter or digit', () => {
    expect(foldText('Électro-Ménager ÄÖÜ ß')).toBe('electro-menager aou ss');
    expect(wordsOf("Blue Widget, it's 50%off — Øl")).toEqual(['blue', 'widget', 'it', 's', '50', 'off', 'øl']);
    expect(wordsOf('  ,;  ')).toEqual([]);
  });

  it('indexes every SKU prefix and every prefix of every name word, up to the cap', () => {
    const terms = termsOf('AB-1', 'Blue Widget');
    expect(terms).toEqual(
      expect.arrayContaining(['s/a', 's/ab', 's/ab~2d.', 's/ab~2d.1', 'n/b', 'n/blue', 'n/w', 'n/widget']),
    );
    expect(terms).not.toContain('n/idget');
    expect(terms).toHaveLength(4 + 4 + 6);
    const long = termsOf('X', 'a'.repeat(50));
    expect(long.filter((t) => t.startsWith('n/'))).toHaveLength(TERM_PREFIX_MAX);
  });

  it('escapes every character a collation could fold, so two different terms never compare equal', () => {
    const [accented] = termsOf('x', 'ø').filter((t) => t.startsWith('n/'));
    expect(accented).toBe('n/~f8.');
    expect(termsOf('x', 'o')).toContain('n/o');
    expect(accented).toMatch(/^[a-z0-9/~.]+$/);
  });

  it('looks a search up by its SKU prefix (when a SKU could start so) and by one term per word, longest first', () => {
    expect(searchTermsOf('Blue WID')).toEqual({ sku: null, words: ['n/blue', 'n/wid'] });
    expect(searchTermsOf('AB-1')).toEqual({ sku: { term: 's/ab~2d.1' }, words: ['n/ab', 'n/1'] });
    const long = 'a'.repeat(40);
    expect(searchTermsOf(long).sku).toEqual({ like: `${long}%` });
    expect(searchTermsOf(long).words).toEqual([`n/${'a'.repeat(TERM_PREFIX_MAX)}`]);
    expect(searchTermsOf('a_b%').sku).toBeNull(); // % is no SKU character
    expect(searchTermsOf('%')).toEqual({ sku: null, words: [] });
  });
});
