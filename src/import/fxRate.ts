import { convertMinor } from "../reconcile/fx.js";

/**
 * A bank's exchange rate as BankEntry `fx_rate` (CONTRACT §8 "FX": units of the instructed currency per one unit
 * of the line's). Banks quote it either way round whatever the format says (camt: the FFFS sample quotes EUR per
 * USD under UnitCcy EUR, UBS gives no UnitCcy; MT940 /EXCH/ has no unit at all), so the orientation is the one the
 * booked and instructed amounts agree with, within 5%; neither: left out.
 */
export function lineRate(
  rate: number,
  booked: { amountMinor: number; currency: string },
  instructed: { amountMinor: number; currency: string },
): number | undefined {
  if (!(rate > 0) || booked.currency === instructed.currency) return undefined;
  const fits = (candidate: number) => {
    const converted = convertMinor(booked.amountMinor, booked.currency, instructed.currency, candidate);
    return Math.abs(converted - instructed.amountMinor) <= instructed.amountMinor * 0.05;
  };
  if (fits(rate)) return rate;
  const inverse = Number((1 / rate).toPrecision(10));
  return fits(inverse) ? inverse : undefined;
}
