/**
 * Product search (contract v2): a product matches when its SKU starts with the search (ignoring case),
 * or when every word of the search starts a word of its name (ignoring case and accents). Both are
 * served by one index, `product_terms`: each SKU prefix and each prefix of each name word is a row
 * (term, product_id), so any search is an equality lookup whose rows come in product id order — a page
 * costs the same at ten products or ten million, rare word or common.
 */

/** Prefixes longer than this are not indexed: a longer search word matches on its first 32 characters. */
export const TERM_PREFIX_MAX = 32;

/** Lower case without accents: "Électro-Ménager" → "electro-menager"; ﬁ → fi (NFKD), ß → ss (as upper case spells it). */
export function foldText(text: string): string {
  return text
    .normalize('NFKD')
    .replace(/\p{M}+/gu, '')
    .toLowerCase()
    .replace(/ß/g, 'ss')
    .normalize('NFKC');
}

/** The words of a text as search sees them: letters and digits, split at anything else. */
export function wordsOf(text: string): string[] {
  return foldText(text)
    .split(/[^\p{L}\p{N}]+/u)
    .filter(Boolean);
}

/**
 * A term as stored: `[a-z0-9]` as they are and any other character escaped (`~<hex>.`), so the column's
 * collation — case- and accent-insensitive on MySQL — can never make two terms equal that are not.
 */
const encode = (kind: 's' | 'n', text: string) =>
  `${kind}/${text.replace(/[^a-z0-9]/gu, (c) => `~${c.codePointAt(0)!.toString(16)}.`)}`;

const prefixes = (text: string) => {
  const chars = Array.from(text).slice(0, TERM_PREFIX_MAX);
  return chars.map((_, i) => chars.slice(0, i + 1).join(''));
};

/** Every term a product is found by. */
export function termsOf(sku: string, name: string): string[] {
  const terms = new Set(prefixes(sku.toLowerCase()).map((p) => encode('s', p)));
  for (const word of wordsOf(name)) for (const p of prefixes(word)) terms.add(encode('n', p));
  return [...terms];
}

/** What a search looks up: the SKU-prefix term (absent when no SKU could start so), and one term per word. */
export interface SearchTerms {
  sku: { term: string } | { like: string } | null;
  words: string[];
}

const SKU_TEXT = /^[a-z0-9._-]+$/;

export function searchTermsOf(search: string): SearchTerms {
  const skuKey = search.toLowerCase();
  let sku: SearchTerms['sku'] = null;
  if (SKU_TEXT.test(skuKey)) {
    sku =
      Array.from(skuKey).length <= TERM_PREFIX_MAX
        ? { term: encode('s', skuKey) }
        : { like: `${skuKey.replace(/[!%_]/g, (c) => `!${c}`)}%` };
  }
  // the longest word first: the rarest, likely, so the one to walk
  const words = [...new Set(wordsOf(search).map((w) => encode('n', prefixes(w).at(-1)!)))].sort(
    (a, b) => b.length - a.length,
  );
  return { sku, words };
}
