#!/usr/bin/env node
// Prints the example files with every date moved by whole days so that the examples' newest day
// (ANCHOR) is today (UTC): the same story, happening now. Times of day and the spacing between dates
// are kept. Usage: node examples/refresh-dates.mjs examples/expected.ndjson | curl … --data-binary @- …
import { readFileSync } from "node:fs";

/** The newest day any example mentions. */
export const ANCHOR = "2026-11-21";
const DAY_MS = 86_400_000;

/** `text` with each YYYY-MM-DD (alone or in an RFC 3339 time) moved so ANCHOR becomes `today`. */
export function refreshDates(text, today = new Date()) {
  const todayMs = Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate());
  const shiftMs = todayMs - Date.parse(`${ANCHOR}T00:00:00Z`);
  return text.replace(/\b(\d{4}-\d{2}-\d{2})(?=T|")/g, (date) =>
    new Date(Date.parse(`${date}T00:00:00Z`) + shiftMs).toISOString().slice(0, 10),
  );
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const files = process.argv.slice(2);
  if (files.length === 0) {
    process.stderr.write("usage: node examples/refresh-dates.mjs FILE.ndjson…\n");
    process.exit(2);
  }
  for (const file of files) process.stdout.write(refreshDates(readFileSync(file, "utf8")));
}
