/**
 * Label values that come from producers' free text (a gateway or bank name is any `[A-Za-z0-9_.-]{1,64}`)
 * are bounded here, for every metric and the public status page: the configured names, then the first
 * `maxSeen` others seen by this process, and everything past that counted under `other`. Without it one
 * ingest request naming 2,000 gateways made 50,000 series that never went away.
 */

export const OTHER = "other";

export interface LabelBoundsOptions {
  /** Always their own value (METRIC_GATEWAYS, METRIC_BANKS). */
  gateways: string[];
  banks: string[];
  /** How many further values per label are kept as they are first seen (METRIC_LABEL_MAX_SEEN). */
  maxSeen: number;
  /** Called once per value that falls under `other` (each value once, at most a few thousand remembered). */
  onOverflow?: (label: string, value: string) => void;
}

export interface LabelBounds {
  gateway(value: string): string;
  bank(value: string): string;
  /** A feed's source: a gateway or a bank, whichever its topic carries. */
  source(value: string): string;
}

/** Known gateways: their series exist from the start, whatever is configured. */
export const DEFAULT_METRIC_GATEWAYS = ["stripe", "adyen"];

/** Values logged as overflowing, remembered so each is logged once; past this, no more lines. */
const MAX_REPORTED = 1_000;

function boundedLabel(label: string, configured: string[], options: LabelBoundsOptions): (value: string) => string {
  const kept = new Set(configured);
  const limit = configured.length + options.maxSeen;
  const reported = new Set<string>();
  return (value) => {
    if (kept.has(value)) return value;
    if (kept.size < limit && value !== OTHER) {
      kept.add(value);
      return value;
    }
    if (!reported.has(value) && reported.size < MAX_REPORTED) {
      reported.add(value);
      options.onOverflow?.(label, value);
    }
    return OTHER;
  };
}

export function createLabelBounds(options: LabelBoundsOptions): LabelBounds {
  return {
    gateway: boundedLabel("gateway", options.gateways, options),
    bank: boundedLabel("bank", options.banks, options),
    source: boundedLabel("source", [...options.gateways, ...options.banks], options),
  };
}
