import { spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { clockEnv } from "./clock.js";

/** The payrecon command line as a child process, as an operator runs it. */

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A child process with its output gathered as it comes: `output()` so far, `done` when it has closed. */
export function spawnCaptured(command: string, args: string[], options: { cwd: string; env: Record<string, string> }) {
  const child = spawn(command, args, { ...options, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk) => {
    stdout += chunk.toString();
  });
  child.stderr.on("data", (chunk) => {
    stderr += chunk.toString();
  });
  // "close", not "exit": the process can exit before its last output is read.
  const done = new Promise<CliResult>((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, stdout, stderr }));
  });
  return { child, done, output: () => ({ stdout, stderr }) };
}

/**
 * Asynchronous (spawnSync would also block a daemon the test runs in this process). With `timeoutMs`, a
 * command still running then is killed and resolves with code null (a command that should have returned).
 */
export async function runCli(args: string[], env: Record<string, string>, timeoutMs?: number): Promise<CliResult> {
  const run = spawnCaptured(process.execPath, ["--import", "tsx", "src/main.ts", ...args], {
    cwd: repoRoot,
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "/root",
      LOG_LEVEL: "warn",
      ...clockEnv(),
      ...env,
    },
  });
  const timer = timeoutMs === undefined ? undefined : setTimeout(() => run.child.kill("SIGKILL"), timeoutMs);
  try {
    return await run.done;
  } finally {
    clearTimeout(timer);
  }
}

/** An ES module script run by a fresh Node process (tsx) in the repository; resolves to its exit code. */
export function runModuleScript(script: string): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
      cwd: repoRoot,
      stdio: "ignore",
    });
    child.once("error", reject);
    child.once("exit", resolve);
  });
}
