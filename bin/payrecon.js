#!/usr/bin/env node
// The `payrecon` command: runs the compiled output (dist/src/main.js) when it is at least as new as every
// TypeScript file under src/, and otherwise src/main.ts through tsx (a devDependency, present in a checkout
// after `npm install`). Production images run `npm run build`, so they never need tsx. Plain JavaScript, run by
// `node` (npm's bin shim, `npm start`, the Dockerfile): no build step and no execute bit needed.
import { existsSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const compiled = path.join(root, "dist", "src", "main.js");
const source = path.join(root, "src", "main.ts");

/** The newest modification time of the .ts files under dir (0 when there are none, as in an image). */
function newestSource(dir) {
  let newest = 0;
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const entry of entries) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(full));
    else if (entry.name.endsWith(".ts")) newest = Math.max(newest, statSync(full).mtimeMs);
  }
  return newest;
}

const built = existsSync(compiled) && statSync(compiled).mtimeMs >= newestSource(path.join(root, "src"));
if (built || !existsSync(source)) {
  await import(pathToFileURL(compiled).href);
} else {
  let register;
  try {
    ({ register } = await import("tsx/esm/api"));
  } catch {
    process.stderr.write("payrecon: dist/ is missing or older than src/, and tsx is not installed: run npm run build\n");
    process.exit(1);
  }
  register();
  await import(pathToFileURL(source).href);
}
