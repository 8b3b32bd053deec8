import type { ExpectedPayment } from "../messages/schemas.js";
import type { ExpectedVersion } from "./types.js";

/**
 * Which version of an expected payment is in force. The highest `version`
 * wins; among versions without one, the later arrival (amendments without a
 * version are ordered by their producer's partition, keyed by id). A
 * cancellation without a version ends the payment for good (arrival order
 * cannot say what came after it); one with a version is undone only by a
 * strictly higher version.
 */
export interface EffectiveExpected {
  payment: ExpectedPayment;
  cancelled: boolean;
  versionCount: number;
}

function rank(version: ExpectedVersion): [number, number] {
  return [version.version ?? -1, version.seq];
}

function newer(a: ExpectedVersion, b: ExpectedVersion): boolean {
  const [av, as] = rank(a);
  const [bv, bs] = rank(b);
  return av > bv || (av === bv && as > bs);
}

export function effectiveExpected(versions: ExpectedVersion[]): EffectiveExpected | undefined {
  let latest: ExpectedVersion | undefined;
  for (const version of versions) {
    if (!version.cancelled && version.payment && (!latest || newer(version, latest))) latest = version;
  }
  if (!latest?.payment) return undefined;
  const current = latest;
  const cancelled = versions.some(
    (version) =>
      version.cancelled && (version.version === null || current.version === null || version.version >= current.version),
  );
  return { payment: current.payment!, cancelled, versionCount: versions.length };
}
