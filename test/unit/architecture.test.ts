import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

/**
 * Data flows one way: consumers decode → the writer (src/writer) applies the pure core (src/reconcile)
 * and commits → metrics, alerts, API. The core reads no clock and does no I/O, so it may import only
 * itself, the message types and small pure helpers; db/queries may import the core's types, never the
 * reverse. Checked on the source text, so a new import that ties them again fails here.
 */
const src = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../src");

function importsOf(file: string): string[] {
  const text = readFileSync(file, "utf8");
  return [...text.matchAll(/(?:from\s+|import\s*\(\s*|^import\s+)"([^"]+)"/gm)].map((match) => match[1]!);
}

function sourceFiles(folder: string): string[] {
  return readdirSync(path.join(src, folder))
    .filter((name) => name.endsWith(".ts"))
    .map((name) => path.join(src, folder, name));
}

describe("the pure reconciliation core", () => {
  const ALLOWED = [/^\.\/[\w.]+\.js$/, /^\.\.\/messages\/[\w.]+\.js$/, /^\.\.\/grouping\.js$/];

  it("imports nothing but itself, the message types and pure helpers (no db, config, consumers, metrics, I/O)", () => {
    const files = sourceFiles("reconcile");
    expect(files.length).toBeGreaterThan(5);
    const offending = files.flatMap((file) =>
      importsOf(file)
        .filter((specifier) => !ALLOWED.some((allowed) => allowed.test(specifier)))
        .map((specifier) => `${path.relative(src, file)} imports ${specifier}`),
    );
    expect(offending).toEqual([]);
  });

  it("reads no clock and no environment", () => {
    const offending = sourceFiles("reconcile").flatMap((file) =>
      readFileSync(file, "utf8")
        .split("\n")
        .map((line, index) => ({ line: line.replace(/\/\/.*$/, ""), index }))
        .filter(({ line }) => /Date\.now\(|new Date\(\)|performance\.now\(|process\.env/.test(line))
        .map(({ line, index }) => `${path.relative(src, file)}:${index + 1}: ${line.trim()}`),
    );
    expect(offending).toEqual([]);
  });

  it("is imported by the database queries only for its types and pure functions, never the other way round", () => {
    const fromQueries = sourceFiles("db/queries").flatMap(importsOf);
    expect(fromQueries.some((specifier) => specifier.startsWith("../../reconcile/"))).toBe(true);
    expect(fromQueries.filter((specifier) => specifier.startsWith("../../writer/"))).toEqual([]);
  });
});
