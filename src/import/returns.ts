/**
 * Recognising returned payments and their reason code in bank text. The contract
 * wants the ISO 20022 (or NACHA) code in return_reason; banks put it in a field
 * (camt RtrInf/Rsn), a national code (German DK ?34) or only in words.
 */

/** ISO 20022 ExternalReturnReason1Code values that banks report for SEPA and other returns. */
const ISO_RETURN_CODES = new Set(
  (
    "AC01 AC02 AC03 AC04 AC06 AC13 AC14 AC15 AG01 AG02 AM01 AM02 AM03 AM04 AM05 AM06 AM07 AM09 AM10 " +
    "BE01 BE04 BE05 BE06 BE07 CNOR CURR CUST DNOR DS28 DT01 DUPL ED05 EMVL ERIN FF01 FF05 FOCR FR01 FRAD " +
    "MD01 MD02 MD06 MD07 MS02 MS03 NARR NOAS NOOR RC01 RC07 RF01 RR01 RR02 RR03 RR04 SL01 TECH TM01 UPAY"
  ).split(" "),
);

/** A known ISO code standing alone in text ("MD06 Lastschrift-Widerspruch", "/RTRN/AC04/"). */
export function isoReasonIn(text: string | null | undefined): string | null {
  for (const token of (text ?? "").toUpperCase().split(/[^A-Z0-9]+/)) {
    if (ISO_RETURN_CODES.has(token)) return token;
  }
  return null;
}

/** A NACHA return code (R01–R99) standing alone in text, e.g. `Reason: "R02"`. */
export function nachaReasonIn(text: string | null | undefined): string | null {
  const match = /(?:^|[^A-Za-z0-9])(R\d{2})(?:$|[^A-Za-z0-9])/.exec(text ?? "");
  return match?.[1] ?? null;
}

/**
 * German DK field ?34 (SEPA return reason as three digits). Only codes whose meaning
 * the sample statements spell out next to them are mapped; others stay raw in metadata.
 */
const DK_RETURN_CODES: Record<string, string> = {
  "901": "AC01", // "IBAN ungueltig"
  "903": "AC06", // "Konto gesperrt"
  "914": "MS03", // "Grund nicht spezifiziert"
};

export function dkReason(code: string | null | undefined): string | null {
  return code ? (DK_RETURN_CODES[code.trim()] ?? null) : null;
}

/** German and English wording of the usual reasons, for banks that give only words. */
const REASON_WORDS: [RegExp, string][] = [
  [/IBAN UNG(UE|Ü)LTIG|KONTO(NUMMER)? (FALSCH|UNG(UE|Ü)LTIG|UNBEKANNT)|ACCOUNT (NUMBER )?(INVALID|INCORRECT)/, "AC01"],
  [/KONTO (ERLOSCHEN|AUFGEL(OE|Ö)ST|GESCHLOSSEN)|ACCOUNT CLOSED/, "AC04"],
  [/KONTO GESPERRT|ACCOUNT BLOCKED/, "AC06"],
  [/WIDERSPRUCH/, "MD06"],
  [/KEINE DECKUNG|MANGELNDE DECKUNG|INSUFFICIENT FUNDS/, "AM04"],
  [/GRUND NICHT SPEZIFIZIERT/, "MS03"],
];

export function reasonFromWords(text: string | null | undefined): string | null {
  const upper = (text ?? "").toUpperCase();
  for (const [pattern, code] of REASON_WORDS) if (pattern.test(upper)) return code;
  return null;
}

/** Words that mark a line as a returned payment in free-text statements (MT940, BAI2). */
const RETURN_WORDS =
  /\b(RETOURE|RETOUR|RETURN(ED)?|RTN|REJECT(ED)?|R(UE|Ü)CKLASTSCHRIFT|R(UE|Ü)CKBELASTUNG|R(UE|Ü)CK(UE|Ü)BERWEISUNG)\b/;
/** …unless the line is the fee for the return. */
const FEE_WORDS = /\b(FEE|FEES|CHARGE|CHARGES|CHRG|GEB(UE|Ü)HR|ENTGELT|SPESEN|COMMISSION)\b/;

export function looksLikeReturn(text: string | null | undefined): boolean {
  const upper = (text ?? "").toUpperCase();
  return RETURN_WORDS.test(upper) && !FEE_WORDS.test(upper);
}
