import { execFile } from "node:child_process";
import { readdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");

export interface ToolResult {
  code: number;
  output: string;
}

/**
 * Runs promtool or amtool from the repository root and returns its exit code and
 * combined output, so a failing assertion shows exactly what the tool said.
 */
export function runTool(tool: "promtool" | "amtool", args: string[]): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    execFile(tool, args, { cwd: repoRoot, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error && (error as NodeJS.ErrnoException).code === "ENOENT") {
        reject(
          new Error(`${tool} not found on PATH: install the Debian prometheus / prometheus-alertmanager packages`),
        );
        return;
      }
      const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
      resolve({ code, output: `${stdout}${stderr}` });
    });
  });
}

export async function promtoolTestFiles(): Promise<string[]> {
  const files = await readdir(join(repoRoot, "test", "promtool"));
  return files
    .filter((f) => f.endsWith(".yml"))
    .sort()
    .map((f) => join("test", "promtool", f));
}
