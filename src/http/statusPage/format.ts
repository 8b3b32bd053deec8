import { isCurrency, toMajorUnits } from "../../messages/currencies.js";
import { formatInstant } from "../../messages/display.js";

/** Display formats of the status page: amounts in major units, ages, ratios, times (UTC). */

export { formatAmount, formatMoney } from "../../messages/display.js";

/** For ordering amounts of different currencies by size (no FX conversion: major units only). */
export function majorUnits(amountMinor: number, currency: string): number {
  return isCurrency(currency) ? toMajorUnits(amountMinor, currency) : amountMinor;
}

/** 0 → "0s", 75 → "1m 15s", 7_500 → "2h 5m", 200_000 → "2d 7h". */
export function formatAge(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3_600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86_400) return `${Math.floor(s / 3_600)}h ${Math.floor((s % 3_600) / 60)}m`;
  return `${Math.floor(s / 86_400)}d ${Math.floor((s % 86_400) / 3_600)}h`;
}

export function formatRatio(ratio: number | null): string {
  if (ratio === null) return "—";
  return `${(ratio * 100).toFixed(1)}%`;
}

/** The one date-time format for people: "2026-11-21 08:12:00 UTC". */
export const formatTime = formatInstant;

export function ageSeconds(at: Date, now: Date): number {
  return Math.max(0, (now.getTime() - at.getTime()) / 1000);
}
