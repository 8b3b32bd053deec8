import { currencyExponent, isCurrency } from "../messages/currencies.js";
import { type GatewayEventInput, gatewayEventSchema } from "../messages/schemas.js";

/**
 * What every gateway adapter shares: its error type, the final CONTRACT check, and
 * the conversions from gateway conventions (unix seconds, lowercase currencies,
 * gateway-specific minor units) to CONTRACT ones.
 */

/** A gateway payload that cannot become a CONTRACT message: dead-letter it with this message. */
export class GatewayPayloadError extends Error {
  override name = "GatewayPayloadError";
}

/** Validates with the CONTRACT schema and returns the input unchanged, or throws saying why. */
export function validated(event: GatewayEventInput): GatewayEventInput {
  const result = gatewayEventSchema.safeParse(event);
  if (!result.success) {
    const issues = result.error.issues.map((issue) => `${issue.path.join(".") || "(event)"}: ${issue.message}`);
    const id = "event_id" in event ? event.event_id : "?";
    throw new GatewayPayloadError(`${event.gateway} event ${id} is not a valid GatewayEvent: ${issues.join("; ")}`);
  }
  return event;
}

/** Unix seconds → RFC 3339 UTC without fractional seconds. */
export function unixSecondsToTimestamp(seconds: number): string {
  return new Date(unixMillis(seconds)).toISOString().replace(/\.000Z$/, "Z");
}

/** Unix seconds → the UTC calendar date (Stripe arrival dates are midnight UTC). */
export function unixSecondsToDate(seconds: number): string {
  return new Date(unixMillis(seconds)).toISOString().slice(0, 10);
}

function unixMillis(seconds: number): number {
  const millis = seconds * 1000;
  if (!Number.isSafeInteger(seconds) || Number.isNaN(new Date(millis).getTime())) {
    throw new GatewayPayloadError(`not a unix time in seconds: ${seconds}`);
  }
  return millis;
}

/** Uppercases and checks an ISO 4217 code. */
export function isoCurrency(code: string): string {
  const upper = code.trim().toUpperCase();
  if (!isCurrency(upper)) throw new GatewayPayloadError(`unknown currency ${JSON.stringify(code)}`);
  return upper;
}

/**
 * Gateways mostly use ISO 4217 minor units, with documented exceptions: an amount in
 * such a currency is rescaled to the ISO exponent the CONTRACT uses, exactly or not at all.
 */
export function toIsoMinor(amount: number, currency: string, gatewayExponents: ReadonlyMap<string, number>): number {
  const iso = currencyExponent(currency);
  const gateway = gatewayExponents.get(currency) ?? iso;
  if (gateway === iso) return amount;
  if (gateway < iso) return amount * 10 ** (iso - gateway);
  const divisor = 10 ** (gateway - iso);
  if (amount % divisor !== 0) {
    throw new GatewayPayloadError(
      `${amount} ${currency} in the gateway's ${gateway}-decimal units has no exact ISO ${iso}-decimal amount`,
    );
  }
  return amount / divisor;
}

/** Non-blank trimmed text, else undefined (gateways send "" for "none"). */
export function text(value: unknown): string | undefined {
  if (typeof value !== "string") return undefined;
  const trimmed = value.trim();
  return trimmed === "" ? undefined : trimmed;
}
