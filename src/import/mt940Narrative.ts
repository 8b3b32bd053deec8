import { dkReason, isoReasonIn, looksLikeReturn, reasonFromWords } from "./returns.js";

/**
 * The :86: "information to account owner" of an MT940 line, in the three shapes banks use:
 * - German DK/SEPA subfields: `166?00GUTSCHRIFT?20EREF+…?21…?32NAME?34914` (GVC first);
 * - slash tags: `/EREF/…/BENM//NAME/…/REMI/…` (Rabobank, ING, HSBC /OCMT/);
 * - free text (ABN AMRO GIRO/BEA lines, mBank, PostFinance).
 * Lines are 65 characters and banks wrap mid-word, so joining must not add spaces
 * where the bank only broke a long line.
 */

export interface Narrative {
  text: string;
  remittance: string | null;
  endToEndId: string | null;
  counterparty: string | null;
  counterpartyAccount: string | null;
  /** German business transaction code (GVC), e.g. "159". */
  gvc: string | null;
  returned: boolean;
  returnReason: string | null;
  /** The bank's own return code as written (DK ?34), when not already an ISO code. */
  returnCodeRaw: string | null;
}

const SEPA_KEYWORDS = "EREF|KREF|MREF|CRED|DEBT|COAM|OAMT|SVWZ|ABWA|ABWE|IBAN|BIC";
const STARTS_WITH_KEYWORD = new RegExp(`^(?:(?:${SEPA_KEYWORDS})\\+|MTLG:)`);
const KEYWORD_SPLIT = new RegExp(`(?:^|\\s)(${SEPA_KEYWORDS})\\+|(?:^|\\s)(MTLG):`, "g");
/** Slash tags of the Dutch/international structured :86: (and HSBC's). */
const SLASH_TAGS =
  "EREF|KREF|MARF|CSID|CNTP|REMI|PURP|ULTC|ULTD|ULTB|BENM|ORDP|NAME|ADDR|ISDT|RTRN|OCMT|CHGS|EXCH|TRCD|BUSP|IREF|TRTP|IBAN|BIC|ID|OGB|VA|OSDR|PREF|SVCL|CDTRREF|USTD|STRD";
const SLASH_TAG = new RegExp(`/(${SLASH_TAGS})/`, "g");
const HAS_SLASH_TAG = new RegExp(`^/(${SLASH_TAGS})/`);
const GVC_FORMAT = /^\d{3}\?\d{2}/;
const NOT_PROVIDED = /^NOT ?PROVIDED$/i;

/** One logical text from the field's physical lines. */
export function joinLines(lines: readonly string[]): string {
  const first = lines[0] ?? "";
  if (GVC_FORMAT.test(first)) return lines.join(""); // subfields are the structure, line breaks are not
  const tagged = first.startsWith("/");
  let text = first;
  for (let index = 1; index < lines.length; index += 1) {
    const previous = (lines[index - 1] ?? "").length;
    // A line filled to the limit was broken by the bank, not by the writer.
    const hardWrap = previous >= 65 || (tagged && previous >= 64);
    text += (hardWrap ? "" : " ") + (lines[index] ?? "");
  }
  return text;
}

export function parseNarrative(lines: readonly string[], direction: "credit" | "debit"): Narrative {
  const text = joinLines(lines);
  if (GVC_FORMAT.test(text)) return parseGvc(text);
  if (HAS_SLASH_TAG.test(text)) return parseSlashTags(text, direction);
  const returned = looksLikeReturn(text) && (isoReasonIn(text) ?? reasonFromWords(text)) !== null;
  return {
    text,
    remittance: collapse(text),
    endToEndId: /(?:^|\s)EREF[+:]\s?(\S+)/.exec(text)?.[1] ?? null,
    counterparty: null,
    counterpartyAccount: null,
    gvc: null,
    // Free text alone is weak evidence: a return needs both the word and a reason code.
    returned,
    returnReason: returned ? (isoReasonIn(text) ?? reasonFromWords(text)) : null,
    returnCodeRaw: null,
  };
}

function parseGvc(text: string): Narrative {
  const gvc = text.slice(0, 3);
  const fields = new Map<string, string>();
  let purpose = "";
  for (const match of text.slice(3).matchAll(/\?(\d{2})([^?]*)/g)) {
    const [, key = "", value = ""] = match;
    const number = Number(key);
    if ((number >= 20 && number <= 29) || (number >= 60 && number <= 63)) {
      // Purpose subfields are one text cut into 27-character pieces; a keyword starts a new part.
      const needsSpace = purpose.length > 0 && !/\s$/.test(purpose) && STARTS_WITH_KEYWORD.test(value);
      purpose += (needsSpace ? " " : "") + value;
    } else {
      fields.set(key, (fields.get(key) ?? "") + value);
    }
  }
  const keywords = sepaKeywords(purpose);
  const postingText = fields.get("00")?.trim() ?? "";
  const rawCode = fields.get("34")?.trim() || null;
  const returned = gvc === "159" || gvc === "109" || looksLikeReturn(postingText);
  const eref = keywords.get("EREF");
  return {
    text,
    remittance: collapse(`${postingText} ${purpose}`),
    endToEndId: eref && !NOT_PROVIDED.test(eref) ? eref : null,
    counterparty: collapse([fields.get("32"), fields.get("33")].filter(Boolean).join("")),
    counterpartyAccount: fields.get("31")?.trim() || null,
    gvc,
    returned,
    returnReason: returned
      ? (isoReasonIn(rawCode) ?? dkReason(rawCode) ?? isoReasonIn(keywords.get("SVWZ")) ?? reasonFromWords(purpose))
      : null,
    returnCodeRaw: rawCode,
  };
}

/** EREF+… KREF+… SVWZ+… MTLG:… → values by keyword (the first of each). */
function sepaKeywords(purpose: string): Map<string, string> {
  const values = new Map<string, string>();
  const matches = [...purpose.matchAll(KEYWORD_SPLIT)];
  matches.forEach((match, index) => {
    const key = match[1] ?? match[2] ?? "";
    const end = matches[index + 1]?.index ?? purpose.length;
    const value = purpose.slice((match.index ?? 0) + match[0].length, end).trim();
    if (!values.has(key)) values.set(key, value);
  });
  return values;
}

function parseSlashTags(text: string, direction: "credit" | "debit"): Narrative {
  const tags = new Map<string, string>();
  const names = new Map<string, string>();
  let party: string | null = null;
  const matches = [...text.matchAll(SLASH_TAG)];
  matches.forEach((match, index) => {
    const tag = match[1] ?? "";
    const end = matches[index + 1]?.index ?? text.length;
    const value = text
      .slice((match.index ?? 0) + match[0].length, end)
      .replace(/\/+$/, "")
      .trim();
    if (tag === "BENM" || tag === "ORDP" || tag === "ULTC" || tag === "ULTD") party = tag;
    // bunq writes a bare /NAME/ (no BENM/ORDP before it): the counterparty's name.
    const owner = party ?? "NAME";
    if (tag === "NAME" && !names.has(owner)) names.set(owner, value);
    if (!tags.has(tag)) tags.set(tag, value);
  });
  // ABN AMRO's /CNTP/ is positional: account/BIC/name/city.
  const cntp = /\/CNTP\/([^/]*)\/([^/]*)\/([^/]*)\//.exec(text);
  const own = direction === "credit" ? "ORDP" : "BENM";
  const other = direction === "credit" ? "BENM" : "ORDP";
  const eref = tags.get("EREF");
  const rtrn = tags.get("RTRN");
  return {
    text,
    remittance: collapse(text),
    endToEndId: eref && !NOT_PROVIDED.test(eref) ? eref : null,
    counterparty: names.get(own) || names.get(other) || names.get("NAME") || cntp?.[3]?.trim() || null,
    counterpartyAccount: cntp?.[1]?.trim() || tags.get("IBAN") || null,
    gvc: null,
    returned: rtrn !== undefined,
    returnReason: rtrn !== undefined ? (isoReasonIn(rtrn) ?? reasonFromWords(rtrn)) : null,
    returnCodeRaw: rtrn || null,
  };
}

function collapse(text: string): string | null {
  const cleaned = text.replace(/\s+/g, " ").trim();
  return cleaned.length > 0 ? cleaned : null;
}

/** `/OCMT/EUR11,85/` (original amount) and `/CHGS/EUR0,50/` (charges), in :61: details or :86:. */
export function amountTags(text: string): {
  ocmt?: [string, string];
  chgs?: [string, string];
  oamt?: string;
  exch?: string;
} {
  const result: { ocmt?: [string, string]; chgs?: [string, string]; oamt?: string; exch?: string } = {};
  // /EXCH/1,0842/: the rate the bank applied (SWIFT field 61 subfield 9 and :86: codes).
  const exch = /\/EXCH\/(\d+(?:[.,]\d*)?)/.exec(text);
  if (exch) result.exch = exch[1] ?? "";
  const ocmt = /\/OCMT\/([A-Z]{3})(\d+(?:[.,]\d*)?)/.exec(text);
  const chgs = /\/CHGS\/([A-Z]{3})(\d+(?:[.,]\d*)?)/.exec(text);
  const oamt = /(?:^|\s)OAMT\+(\d+(?:[.,]\d*)?)/.exec(text);
  if (ocmt) result.ocmt = [ocmt[1] ?? "", ocmt[2] ?? ""];
  if (chgs) result.chgs = [chgs[1] ?? "", chgs[2] ?? ""];
  if (oamt) result.oamt = oamt[1] ?? "";
  return result;
}
