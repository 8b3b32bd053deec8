/**
 * The text of a bank file from its bytes. Banks write UTF-8 (with or without a BOM),
 * Windows-1252 (Western Europe), Windows-1250 (Central Europe) and, from older Hungarian,
 * Czech and Polish systems, IBM code page 852 (DOS Latin-2). Node's TextDecoder knows the
 * Windows code pages but not 852, hence the table below.
 *
 * Which one, in this order:
 * 1. the caller's (`payrecon import --encoding`);
 * 2. a UTF-8 byte order mark;
 * 3. the charset the file declares (the XML prolog of a camt file), when it is one of these;
 * 4. UTF-8 when the bytes are valid UTF-8 (plain ASCII is);
 * 5. otherwise the legacy code page whose decoding reads most like European text: every
 *    non-ASCII character scores +2 when it is a letter of the languages banks write in
 *    (German, French, Spanish, Dutch, Nordic, Hungarian, Polish, Czech, Slovak, Romanian),
 *    +1 for õ and û (real, but rare in bank text, and what 1252 makes of Hungarian ő and ű),
 *    0 for another letter, −2 for anything else (box drawing, symbols, controls, no-break
 *    space — what a wrong code page turns letters into). The highest total wins; a tie goes
 *    to Windows-1252, then 1250, then 852 (a tie means the texts read alike anyway).
 */

export const STATEMENT_ENCODINGS = ["utf-8", "windows-1252", "windows-1250", "cp852"] as const;
export type StatementEncoding = (typeof STATEMENT_ENCODINGS)[number];

export interface DecodedText {
  text: string;
  encoding: StatementEncoding;
  /** How the encoding was chosen. */
  how: "option" | "bom" | "declared" | "valid utf-8" | "detected";
}

/** IBM code page 852, bytes 0x80–0xFF (checked against Python's cp852 codec). */
const CP852_HIGH =
  "ÇüéâäůćçłëŐőîŹÄĆ" +
  "ÉĹĺôöĽľŚśÖÜŤťŁ×č" +
  "áíóúĄąŽžĘę¬źČş«»" +
  "░▒▓│┤ÁÂĚŞ╣║╗╝Żż┐" +
  "└┴┬├─┼Ăă╚╔╩╦╠═╬¤" +
  "đĐĎËďŇÍÎě┘┌█▄ŢŮ▀" +
  "ÓßÔŃńňŠšŔÚŕŰýÝţ´" +
  "\u00AD˝˛ˇ˘§÷¸°¨˙űŘř■\u00A0";

export function decodeCp852(bytes: Uint8Array): string {
  let text = "";
  for (const byte of bytes) text += byte < 0x80 ? String.fromCharCode(byte) : (CP852_HIGH[byte - 0x80] as string);
  return text;
}

const ALIASES: Record<string, StatementEncoding> = {
  "utf-8": "utf-8",
  utf8: "utf-8",
  "windows-1252": "windows-1252",
  cp1252: "windows-1252",
  // WHATWG reads ISO-8859-1 as Windows-1252 (its superset for printable characters).
  "iso-8859-1": "windows-1252",
  latin1: "windows-1252",
  "windows-1250": "windows-1250",
  cp1250: "windows-1250",
  cp852: "cp852",
  ibm852: "cp852",
  "ibm-852": "cp852",
  "852": "cp852",
};

/** The supported encoding a name means (case-insensitive, common aliases), or undefined. */
export function encodingNamed(name: string): StatementEncoding | undefined {
  return ALIASES[name.trim().toLowerCase()];
}

export function decodeAs(bytes: Uint8Array, encoding: StatementEncoding): string {
  if (encoding === "cp852") return decodeCp852(bytes);
  return new TextDecoder(encoding).decode(bytes);
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

export function decodeStatementBytes(bytes: Uint8Array, requested?: StatementEncoding): DecodedText {
  if (requested) return { text: stripBom(decodeAs(bytes, requested)), encoding: requested, how: "option" };
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) {
    return { text: new TextDecoder("utf-8").decode(bytes), encoding: "utf-8", how: "bom" };
  }
  const declared = declaredCharset(bytes);
  if (declared && declared !== "utf-8") return { text: decodeAs(bytes, declared), encoding: declared, how: "declared" };
  try {
    return { text: strictUtf8.decode(bytes), encoding: "utf-8", how: declared ? "declared" : "valid utf-8" };
  } catch {
    // Declared UTF-8 that is not: the declaration is wrong, so the bytes decide.
  }
  const [best] = (["windows-1252", "windows-1250", "cp852"] as const)
    .map((encoding, order) => {
      const text = decodeAs(bytes, encoding);
      return { text, encoding, order, score: plausibility(text) };
    })
    .sort((a, b) => b.score - a.score || a.order - b.order);
  const chosen = best as NonNullable<typeof best>;
  return { text: chosen.text, encoding: chosen.encoding, how: "detected" };
}

function stripBom(text: string): string {
  return text.replace(/^\uFEFF/, "");
}

/** `<?xml version="1.0" encoding="ISO-8859-2"?>` at the start of a camt file. */
function declaredCharset(bytes: Uint8Array): StatementEncoding | undefined {
  const head = String.fromCharCode(...bytes.subarray(0, 200));
  const match = /^\s*<\?xml[^>]*\bencoding\s*=\s*["']([^"']+)["']/.exec(head);
  return match?.[1] ? encodingNamed(match[1]) : undefined;
}

const LETTERS = new Set(
  "áàâäãåæçéèêëíìîïñóòôöøúùüýÿßőűłśąężźćńčřšžěůťďňľĺŕăşţșț" + "ÁÀÂÄÃÅÆÇÉÈÊËÍÌÎÏÑÓÒÔÖØÚÙÜÝŐŰŁŚĄĘŻŹĆŃČŘŠŽĚŮŤĎŇĽĹŔĂŞŢȘȚ",
);
const RARE_LETTERS = new Set("õûÕÛ");

function plausibility(text: string): number {
  let score = 0;
  for (const char of text) {
    if (char < "\u0080") continue;
    if (LETTERS.has(char)) score += 2;
    else if (RARE_LETTERS.has(char)) score += 1;
    else if (!/\p{L}/u.test(char)) score -= 2;
  }
  return score;
}
