import pino, { type Logger } from "pino";

export type { Logger };

export type LogFormat = "json" | "text";

/** LOG_FORMAT: `auto` is text when the log goes to a terminal (a person reads it), JSON otherwise. */
export function resolveLogFormat(setting: "auto" | LogFormat, terminal: boolean): LogFormat {
  return setting === "auto" ? (terminal ? "text" : "json") : setting;
}

/** Fields every line carries, which a person at a terminal does not need repeated. */
const ENVELOPE = new Set(["level", "time", "name", "service", "pid", "hostname", "msg"]);

function humanValue(value: unknown): string {
  if (Array.isArray(value)) return value.map(humanValue).join(", ");
  if (value && typeof value === "object") {
    const error = value as { message?: unknown; type?: unknown };
    // An error: its message; the stack is for the JSON log.
    if (typeof error.message === "string" && typeof error.type === "string") return error.message.split("\n")[0]!;
    return JSON.stringify(value);
  }
  return String(value);
}

/** One JSON log line as a person reads it: `payrecon migrate: warning: message (key: value, …)`. */
export function humanLine(json: string, prefix: string): string {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json;
  }
  const level = String(record.level ?? "info");
  const tag = level === "info" ? "" : level === "warn" ? "warning: " : level === "fatal" ? "error: " : `${level}: `;
  const details = Object.entries(record)
    .filter(
      ([key, value]) => !ENVELOPE.has(key) && value !== undefined && !(Array.isArray(value) && value.length === 0),
    )
    .map(([key, value]) => `${key}: ${humanValue(value)}`);
  return `${prefix}: ${tag}${String(record.msg ?? "")}${details.length > 0 ? ` (${details.join("; ")})` : ""}\n`;
}

/**
 * Structured JSON lines on stdout (or, with format "text", lines for a person, `prefix` first: the redaction
 * below applies to both). Secrets never reach a log line: the
 * redaction list covers every place a token, password or account number
 * could ride along (request headers, connection strings, bank entries).
 */
export function createLogger(
  level: string,
  destination?: pino.DestinationStream,
  format: LogFormat = "json",
  prefix = "payrecon",
): Logger {
  const out = destination ?? process.stdout;
  const sink: pino.DestinationStream | undefined =
    format === "text" ? { write: (line: string) => out.write(humanLine(line, prefix)) } : destination;
  return pino(
    {
      name: "payrecon",
      level,
      base: { service: "payrecon" },
      timestamp: pino.stdTimeFunctions.isoTime,
      // "info", not 30: what log shippers and people expect.
      formatters: { level: (label) => ({ level: label }) },
      redact: {
        paths: [
          "req.headers.authorization",
          "headers.authorization",
          "authorization",
          "token",
          "password",
          "databaseUrl",
          "*.account",
          "account",
          "*.password",
          "sasl.password",
          // Gateway secrets (never logged on purpose; listed in case a config object ever is).
          "apiKey",
          "*.apiKey",
          "webhookSecrets",
          "*.webhookSecrets",
          "hmacKeys",
          "*.hmacKeys",
          'headers["stripe-signature"]',
          'req.headers["stripe-signature"]',
        ],
        censor: "[redacted]",
      },
    },
    sink,
  );
}

/** A postgres:// URL with its password masked, for log lines. */
export function maskUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    return parsed.toString();
  } catch {
    return "[unparseable url]";
  }
}
