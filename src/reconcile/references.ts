/**
 * How references and batch ids are found in bank data. Comparison is on an
 * upper-cased key (banks upper-case remittance text) and on whole tokens, so
 * `ORD-1` is never found inside `ORD-10`.
 */

export function referenceKey(reference: string): string {
  return asciiUpperCase(reference.replace(/^ +| +$/g, ""));
}

/**
 * Upper-cases a-z only. Full Unicode rules fold `straße` into `STRASSE` and dotless/dotted i together,
 * so one reference would settle another; PostgreSQL computes the same key with REFERENCE_KEY_SQL.
 * Surrounding spaces are trimmed as PostgreSQL's trim() does (identifiers hold no other whitespace that matters).
 */
export function asciiUpperCase(text: string): string {
  return text.replace(/[a-z]+/g, (letters) => letters.toUpperCase());
}

/** referenceKey in SQL, for a text expression `x`. */
export function referenceKeySql(x: string): string {
  return `translate(trim(${x}), 'abcdefghijklmnopqrstuvwxyz', 'ABCDEFGHIJKLMNOPQRSTUVWXYZ')`;
}

// Separators seen in remittance lines: spaces, punctuation, SEPA `EREF+`/`SVWZ+`, MT940 `/REMI/`.
const SEPARATORS = /[\s,;:/\\()[\]{}<>"'|+=?*!#&]+/;
const EDGE_PUNCTUATION = /^[.\-_]+|[.\-_]+$/g;

/**
 * Distinct upper-cased tokens of a remittance line (and an end-to-end id):
 * the whole text, each whitespace-separated word (so a reference written
 * with separators, `INV/2026/ORD1`, is found whole), and the parts of each
 * word split at separators (`EREF+ORD-1001` → `ORD-1001`).
 */
export function remittanceTokens(...texts: Array<string | null | undefined>): string[] {
  const tokens = new Set<string>();
  const addToken = (part: string) => {
    const token = part.replace(EDGE_PUNCTUATION, "");
    if (token.length >= 3) tokens.add(asciiUpperCase(token));
  };
  for (const text of texts) {
    if (!text) continue;
    tokens.add(referenceKey(text));
    for (const word of text.split(/\s+/)) {
      addToken(word.replace(/^[,;:()[\]{}<>"'|]+|[,;:()[\]{}<>"'|]+$/g, ""));
      for (const part of word.split(SEPARATORS)) addToken(part);
    }
  }
  return [...tokens].filter((token) => token.length > 0 && token.length <= 200);
}
