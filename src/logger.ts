import pino, { type Logger } from "pino";

export type { Logger };

/**
 * Structured JSON lines on stdout. Secrets never reach a log line: the
 * redaction list covers every place a token, password or account number
 * could ride along (request headers, connection strings, bank entries).
 */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
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
    destination,
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
