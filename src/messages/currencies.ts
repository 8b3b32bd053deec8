/**
 * ISO 4217 active currency codes and their minor-unit exponent (decimals).
 * Amounts everywhere are integers in the minor unit; this table is the only
 * place that knows how many of them make a major unit (JPY 0, EUR 2, KWD 3).
 * Exponents as published in ISO 4217 list one (2024 amendments included).
 */
const EXPONENT_0 = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF";
const EXPONENT_3 = "BHD IQD JOD KWD LYD OMR TND";
const EXPONENT_4 = "CLF UYW";
const EXPONENT_2 =
  "AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV BRL BSD BTN BWP BYN BZD CAD CDF CHE CHF CHW " +
  "CNY COP COU CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR " +
  "ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV " +
  "MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD " +
  "SSP STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD USN UYU UZS VED VES WST XCD XCG YER ZAR ZMW ZWG";

const EXPONENTS: ReadonlyMap<string, number> = new Map([
  ...EXPONENT_0.split(" ").map((code) => [code, 0] as const),
  ...EXPONENT_2.split(" ").map((code) => [code, 2] as const),
  ...EXPONENT_3.split(" ").map((code) => [code, 3] as const),
  ...EXPONENT_4.split(" ").map((code) => [code, 4] as const),
]);

export function isCurrency(code: string): boolean {
  return EXPONENTS.has(code);
}

/** Decimals of the currency's minor unit; throws for a code not in ISO 4217. */
export function currencyExponent(code: string): number {
  const exponent = EXPONENTS.get(code);
  if (exponent === undefined) throw new RangeError(`unknown currency ${code}`);
  return exponent;
}

/** Exact decimal text of a minor-unit amount in major units: 125000 EUR → "1250.00". */
export function formatMajor(amountMinor: number | bigint, currency: string): string {
  const exponent = currencyExponent(currency);
  const value = BigInt(amountMinor);
  const negative = value < 0n;
  const digits = (negative ? -value : value).toString().padStart(exponent + 1, "0");
  const whole = digits.slice(0, digits.length - exponent);
  const fraction = exponent > 0 ? `.${digits.slice(digits.length - exponent)}` : "";
  return `${negative ? "-" : ""}${whole}${fraction}`;
}

/** Major units as a float, for gauges only (Prometheus samples are floats anyway). */
export function toMajorUnits(amountMinor: number, currency: string): number {
  return amountMinor / 10 ** currencyExponent(currency);
}

/**
 * Parse a decimal major-unit amount ("1250.5", "1250,50") into minor units, exactly,
 * for bank statement importers. Returns undefined for more decimals than the currency has.
 */
export function parseMajor(text: string, currency: string): number | undefined {
  const exponent = currencyExponent(currency);
  const match = /^(-?)(\d+)(?:[.,](\d*))?$/.exec(text.trim());
  if (!match) return undefined;
  const fraction = (match[3] ?? "").replace(/0+$/, "");
  if (fraction.length > exponent) return undefined;
  const minor = BigInt(match[2] + fraction.padEnd(exponent, "0"));
  const value = Number(match[1] === "-" ? -minor : minor);
  return Number.isSafeInteger(value) ? value : undefined;
}
