import { closeSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from "node:fs";
import path from "node:path";
import { StartRefused } from "./startRefused.js";

/**
 * One daemon per DATA_DIR: two daemons on one embedded PostgreSQL would share
 * it until the first stops and strands the second. The lock is a pid file,
 * created exclusively; a file whose pid is no longer a live node process (a
 * crash, kill -9, a container restart) is stale and taken over.
 */

export const LOCK_FILE = "payrecon.pid";

function isLiveNode(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return false;
  try {
    process.kill(pid, 0);
  } catch (error) {
    // EPERM: alive, but someone else's; still a live owner.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
  try {
    // A recycled pid (after a reboot or in a new container) is rarely node; without /proc, trust kill(0).
    const argv0 = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0")[0] ?? "";
    return /(^|\/)(node|payrecon)[^/]*$/.test(argv0);
  } catch {
    return true;
  }
}

function readPid(file: string): number {
  try {
    return Number.parseInt(readFileSync(file, "utf8").trim(), 10);
  } catch {
    return Number.NaN;
  }
}

/** Takes DATA_DIR's lock or throws StartRefused naming the live owner's pid; resolves to its release. */
export function lockDataDir(dataDir: string): () => void {
  mkdirSync(dataDir, { recursive: true });
  const file = path.join(dataDir, LOCK_FILE);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(file, "wx", 0o644);
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      return () => {
        // Only our own file: a takeover after we hung must not be undone by our late exit.
        if (readPid(file) === process.pid) unlinkSync(file);
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    const owner = readPid(file);
    if (isLiveNode(owner)) {
      throw new StartRefused(
        `DATA_DIR ${path.resolve(dataDir)} is in use by another payrecon (pid ${owner}); stop it or set another DATA_DIR`,
      );
    }
    // Stale: remove it and try again (another starter may win the race; then it is the live owner).
    try {
      unlinkSync(file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    }
  }
  throw new StartRefused(`DATA_DIR ${path.resolve(dataDir)}: could not take ${LOCK_FILE}`);
}
