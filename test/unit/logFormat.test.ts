import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import { createLogger, resolveLogFormat } from "../../src/logger.js";

/** LOG_FORMAT: lines for a person on a terminal, JSON lines for machines, redaction in both. */

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(...String(chunk).split("\n").filter(Boolean));
      done();
    },
  });
  return { lines, stream };
}

describe("LOG_FORMAT", () => {
  it("defaults to auto, and refuses anything but auto, json, text", () => {
    expect(loadConfig({}).logFormat).toBe("auto");
    expect(loadConfig({ LOG_FORMAT: "text" }).logFormat).toBe("text");
    expect(() => loadConfig({ LOG_FORMAT: "pretty" })).toThrow(/LOG_FORMAT/);
  });

  it("auto is text on a terminal and JSON otherwise; json and text are what they say", () => {
    expect(resolveLogFormat("auto", true)).toBe("text");
    expect(resolveLogFormat("auto", false)).toBe("json");
    expect(resolveLogFormat("json", true)).toBe("json");
    expect(resolveLogFormat("text", false)).toBe("text");
  });

  it("text: one line per entry naming the command, its fields after the message, errors by message, secrets redacted", async () => {
    const { lines, stream } = capture();
    const log = createLogger("info", stream, "text", "payrecon migrate");
    log.info({ applied: ["000020_a", "000021_b"] }, "migrations applied");
    log.warn({ password: "hunter2", bank: "bank_a" }, "statement looks odd");
    log.error({ err: new Error("connection refused\n    at somewhere") }, "could not connect");
    log.debug("not shown at info");
    await new Promise((resolve) => setImmediate(resolve));
    expect(lines).toEqual([
      "payrecon migrate: migrations applied (applied: 000020_a, 000021_b)",
      "payrecon migrate: warning: statement looks odd (password: [redacted]; bank: bank_a)",
      "payrecon migrate: error: could not connect (err: connection refused)",
    ]);
  });

  it("json: one JSON object per line with the level's name, as before", async () => {
    const { lines, stream } = capture();
    createLogger("info", stream, "json").info({ applied: [] }, "database is up to date");
    await new Promise((resolve) => setImmediate(resolve));
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: "info", msg: "database is up to date", applied: [] });
  });
});
