import { spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../support/cli.js";
import { clockEnv } from "../support/clock.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";

/**
 * One-shot commands print lines for a person on a terminal and JSON log lines otherwise (LOG_FORMAT=auto),
 * or what LOG_FORMAT says. The terminal is a real pseudo-terminal (`script`, util-linux).
 */

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.drop();
});

const lines = (text: string) => text.split(/\r?\n/).filter((line) => line.trim() !== "");

/** `payrecon migrate` under a pseudo-terminal: everything it printed (stdout and stderr share the terminal). */
function migrateOnTerminal(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const command = `${JSON.stringify(process.execPath)} --import tsx src/main.ts migrate`;
    const child = spawn("script", ["-qec", command, "/dev/null"], {
      cwd: repoRoot,
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/root", ...clockEnv(), ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (chunk) => {
      output += chunk.toString();
    });
    child.stderr.on("data", (chunk) => {
      output += chunk.toString();
    });
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, output }));
  });
}

describe("log format of one-shot commands", () => {
  it("on a terminal (auto): lines a person reads, no JSON", async () => {
    const { code, output } = await migrateOnTerminal({ DATABASE_URL: db.url, LOG_LEVEL: "info" });
    expect(code, output).toBe(0);
    expect(lines(output)).toContain("payrecon migrate: database is up to date");
    for (const line of lines(output)) expect(line, output).toMatch(/^payrecon migrate: /);
  });

  it("on a terminal with LOG_FORMAT=json: JSON lines", async () => {
    const { code, output } = await migrateOnTerminal({ DATABASE_URL: db.url, LOG_LEVEL: "info", LOG_FORMAT: "json" });
    expect(code, output).toBe(0);
    for (const line of lines(output)) expect(JSON.parse(line), line).toHaveProperty("level");
  });

  it("piped (auto): JSON lines, as log shippers expect; LOG_FORMAT=text forces lines for a person", async () => {
    const piped = await runCli(["migrate"], { DATABASE_URL: db.url, LOG_LEVEL: "info" });
    expect(piped.code, piped.stderr).toBe(0);
    expect(lines(piped.stderr).map((line) => JSON.parse(line).msg)).toContain("database is up to date");
    const text = await runCli(["migrate"], { DATABASE_URL: db.url, LOG_LEVEL: "info", LOG_FORMAT: "text" });
    expect(text.code, text.stderr).toBe(0);
    expect(lines(text.stderr)).toContain("payrecon migrate: database is up to date");
    expect(text.stderr).not.toContain("{");
  });

  it("a failed import in text: its one error line, no log line repeating it", async () => {
    const failed = await runCli(["import", "camt053", "/nonexistent/statement.xml", "--bank", "bank_a"], {
      DATABASE_URL: db.url,
      LOG_FORMAT: "text",
    });
    expect(failed.code).toBe(1);
    expect(lines(failed.stderr)).toHaveLength(1);
    expect(failed.stderr).toMatch(/^payrecon import: .*statement\.xml/);
  });
});
