/**
 * How references and batch ids are found in bank data. Comparison is on an
 * upper-cased key (banks upper-case remittance text) and on whole tokens, so
 * `ORD-1` is never found inside `ORD-10`.
 */

export function referenceKey(reference: string): string {
  return reference.trim().toUpperCase();
}

// Separators seen in remittance lines: spaces, punctuation, SEPA `EREF+`/`SVWZ+`, MT940 `/REMI/`.
const SEPARATORS = /[\s,;:/\\()[\]{}<>"'|+=?*!#&]+/;
const EDGE_PUNCTUATION = /^[.\-_]+|[.\-_]+$/g;

/** Distinct upper-cased tokens of a remittance line (and an end-to-end id). */
export function remittanceTokens(...texts: Array<string | null | undefined>): string[] {
  const tokens = new Set<string>();
  for (const text of texts) {
    if (!text) continue;
    tokens.add(referenceKey(text));
    for (const part of text.split(SEPARATORS)) {
      const token = part.replace(EDGE_PUNCTUATION, "");
      if (token.length >= 3) tokens.add(token.toUpperCase());
    }
  }
  return [...tokens].filter((token) => token.length > 0 && token.length <= 200);
}
