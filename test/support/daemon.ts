import { type ChildProcess, spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { DestinationStream } from "pino";
import { loadConfig } from "../../src/config.js";
import { clockEnv } from "./clock.js";
import { type Daemon, type DaemonOptions, startDaemon } from "../../src/daemon.js";
import { freePort } from "../../src/db/embeddedPostgres.js";
import { createLogger } from "../../src/logger.js";

/** Running payrecon under test: in this process, or as a real child process that can be killed. */

export const TOKENS = { viewer: "viewer-token", operator: "operator-token", ingester: "ingester-token" };
export const API_TOKENS = Object.entries(TOKENS)
  .map(([role, token]) => `${role}:${token}`)
  .join(",");

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

export interface TestDaemon extends Daemon {
  baseUrl: string;
}

/**
 * `log`, when given, receives every log line at `log.level` (the daemon's real
 * logger, redaction included) — for tests that assert what is and is not logged.
 */
export async function startTestDaemon(
  env: Record<string, string>,
  log?: { destination: DestinationStream; level?: string },
  options: DaemonOptions = {},
): Promise<TestDaemon> {
  const config = loadConfig({
    HTTP_PORT: "0",
    LOG_LEVEL: "silent",
    API_TOKENS,
    SWEEP_INTERVAL: "1h",
    ...engineEnv(),
    ...env,
  });
  const logger = log
    ? createLogger(log.level ?? "trace", log.destination)
    : createLogger(process.env.TEST_LOG_LEVEL ?? "silent");
  const daemon = await startDaemon(config, logger, options);
  return { ...daemon, baseUrl: `http://127.0.0.1:${daemon.httpPort}` };
}

export interface ChildDaemon {
  process: ChildProcess;
  baseUrl: string;
  output: () => string;
  exited: Promise<number | null>;
}

/**
 * TEST_RECONCILE_ENGINE=memory runs every test daemon on engine v2 (docs/architecture.md);
 * TEST_WORKING_SET_EVICT_AFTER (e.g. 0s) sets its late-truth window, to run a suite with evictions and reloads.
 */
export function engineEnv(): Record<string, string> {
  const engine = process.env.TEST_RECONCILE_ENGINE;
  const evictAfter = process.env.TEST_WORKING_SET_EVICT_AFTER;
  return {
    ...(engine ? { RECONCILE_ENGINE: engine } : {}),
    ...(evictAfter ? { WORKING_SET_EVICT_AFTER: evictAfter } : {}),
  };
}

/** `payrecon start` as a separate OS process (so kill -9 is real). */
export async function spawnDaemon(env: Record<string, string>): Promise<ChildDaemon> {
  const port = await freePort();
  const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts", "start"], {
    cwd: repoRoot,
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "/root",
      HTTP_PORT: String(port),
      LOG_LEVEL: "info",
      API_TOKENS,
      ...clockEnv(),
      ...engineEnv(),
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout?.on("data", (chunk) => {
    output = (output + chunk.toString()).slice(-200_000);
  });
  child.stderr?.on("data", (chunk) => {
    output = (output + chunk.toString()).slice(-200_000);
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { process: child, baseUrl: `http://127.0.0.1:${port}`, output: () => output, exited };
}

export async function waitUntil<T>(
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs: number,
  what: string,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value as T;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ""}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** An instance's writer role from /healthz (leader, standby), undefined when it does not answer. */
export async function roleOf(baseUrl: string): Promise<string | undefined> {
  try {
    return ((await (await fetch(`${baseUrl}/healthz`)).json()) as { role?: string }).role;
  } catch {
    return undefined;
  }
}

export async function waitReady(baseUrl: string, timeoutMs = 60_000): Promise<number> {
  const began = Date.now();
  await waitUntil(
    async () => {
      const response = await fetch(`${baseUrl}/readyz`);
      return response.status === 200;
    },
    timeoutMs,
    `${baseUrl}/readyz`,
  );
  return Date.now() - began;
}

export function api(baseUrl: string, role: keyof typeof TOKENS | null = "viewer") {
  return async (pathname: string, init: RequestInit = {}) => {
    const headers = new Headers(init.headers);
    if (role) headers.set("Authorization", `Bearer ${TOKENS[role]}`);
    const response = await fetch(`${baseUrl}${pathname}`, { ...init, headers });
    const text = await response.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON
    }
    // biome-ignore lint/suspicious/noExplicitAny: response bodies are asserted field by field in the tests
    return { status: response.status, body: body as any };
  };
}

/** A metric's value in /metrics, summed over the series whose labels include `labels` (all when ""). */
export async function metricSum(baseUrl: string, name: string, labels = ""): Promise<number> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  return [...text.matchAll(new RegExp(`^${name}(\\{[^}]*\\})? (\\S+)$`, "gm"))]
    .filter((m) => (m[1] ?? "").includes(labels))
    .reduce((sum, m) => sum + Number(m[2]), 0);
}
