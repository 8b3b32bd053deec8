import { chmodSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { type ChildDaemon, spawnDaemon, waitReady, waitUntil } from "../support/daemon.js";

/**
 * The daemon refuses to start, with one line and a non-zero exit, when what it needs is taken: before,
 * a taken port was ignored ("payrecon ready" while another process answered) and a second daemon on
 * a DATA_DIR shared the first one's embedded PostgreSQL until the first stopped.
 */

const START_REFUSED = 3;
const children: ChildDaemon[] = [];

async function spawn(env: Record<string, string>): Promise<ChildDaemon> {
  const child = await spawnDaemon({ LOG_LEVEL: "warn", ...env });
  children.push(child);
  return child;
}

/** The exit code, or a failure naming what it printed if it keeps running. */
async function exitCode(child: ChildDaemon): Promise<number | null> {
  const exited = await waitUntil(
    () => Promise.race([child.exited.then((code) => ({ code })), new Promise<false>((r) => setTimeout(r, 200, false))]),
    60_000,
    "the refused daemon to exit",
  ).catch((error) => {
    throw new Error(`${String(error)}; it printed:\n${child.output()}`);
  });
  return exited.code;
}

/** The lines that are not JSON log lines: what a person reads. */
const plainLines = (output: string) => output.split("\n").filter((line) => line.trim() !== "" && !line.startsWith("{"));

afterAll(() => {
  for (const child of children) child.process.kill("SIGKILL");
});

describe("HTTP_PORT taken", () => {
  let db: TestDatabase;
  let squatter: Server;
  let port: number;
  beforeAll(async () => {
    db = await createTestDatabase();
    squatter = createServer((socket) => socket.end("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"));
    await new Promise<void>((resolve) => squatter.listen(0, "0.0.0.0", resolve));
    port = (squatter.address() as { port: number }).port;
  });
  afterAll(async () => {
    await new Promise((resolve) => squatter.close(resolve));
    await db?.drop();
  });

  it("exits non-zero with one line naming the port, and never says ready", async () => {
    const child = await spawn({ DATABASE_URL: db.url, HTTP_PORT: String(port) });
    expect(await exitCode(child)).toBe(START_REFUSED);
    const output = child.output();
    expect(plainLines(output)).toEqual([`payrecon: HTTP_PORT ${port} is already in use by another process`]);
    expect(output).not.toContain("payrecon ready");
  });
});

describe("DATA_DIR owned by another payrecon", () => {
  let dataDir: string;
  beforeAll(() => {
    dataDir = mkdtempSync(path.join(tmpdir(), "payrecon-lock-"));
    // As root, the embedded PostgreSQL runs as `postgres`, which must reach the directory.
    chmodSync(dataDir, 0o755);
  });
  afterAll(async () => {
    for (const child of children) child.process.kill("SIGTERM");
    await Promise.all(children.map((child) => child.exited));
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("a second start on the same DATA_DIR exits with one line naming the first one's pid; the first keeps working", async () => {
    const first = await spawn({ DATA_DIR: dataDir });
    await waitReady(first.baseUrl, 90_000);

    const second = await spawn({ DATA_DIR: dataDir });
    expect(await exitCode(second)).toBe(START_REFUSED);
    expect(plainLines(second.output())).toEqual([
      `payrecon: DATA_DIR ${dataDir} is in use by another payrecon (pid ${first.process.pid}); stop it or set another DATA_DIR`,
    ]);
    expect((await fetch(`${first.baseUrl}/readyz`)).status).toBe(200);
    expect(readFileSync(path.join(dataDir, "payrecon.pid"), "utf8").trim()).toBe(String(first.process.pid));
  });

  it("a pid file left by a killed daemon is taken over", async () => {
    const owner = children[children.length - 2]!;
    owner.process.kill("SIGKILL");
    await owner.exited;
    // The killed daemon's pid file stays behind, naming a pid that is gone.
    const next = await spawn({ DATA_DIR: dataDir });
    await waitReady(next.baseUrl, 90_000);
    expect(readFileSync(path.join(dataDir, "payrecon.pid"), "utf8").trim()).toBe(String(next.process.pid));
  });
});
