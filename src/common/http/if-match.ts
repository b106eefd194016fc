/**
 * Parses If-Match: a version quoted or bare (`"3"`, `3`, `W/"3"`) or `*`.
 * Returns undefined when absent, 'any' for `*`, or null when the value can never match.
 */
export function parseIfMatch(header: string | undefined): number | 'any' | null | undefined {
  if (header === undefined) return undefined;
  const value = header.trim().replace(/^W\//, '');
  if (value === '*') return 'any';
  const match = /^"?(\d{1,15})"?$/.exec(value);
  return match ? Number(match[1]) : null;
}
