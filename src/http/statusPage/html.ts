/**
 * The one way HTML is written: a tagged template that escapes every
 * interpolated value unless it is already `Html` (the result of another
 * `html` template, or a constant passed through `trusted`). Arrays are joined;
 * null, undefined and false render nothing. Escaping `& < > " '` makes a value
 * safe both as text and inside a quoted attribute.
 */
export class Html {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

export type HtmlValue = Html | string | number | bigint | boolean | null | undefined | readonly HtmlValue[];

const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => ESCAPES[char]!);
}

function render(value: HtmlValue): string {
  if (value instanceof Html) return value.text;
  if (value === null || value === undefined || value === false) return "";
  if (Array.isArray(value)) return value.map(render).join("");
  return escapeHtml(String(value));
}

export function html(strings: TemplateStringsArray, ...values: HtmlValue[]): Html {
  let out = strings[0] ?? "";
  for (let i = 0; i < values.length; i++) out += render(values[i] as HtmlValue) + (strings[i + 1] ?? "");
  return new Html(out);
}

/** Markup written in this codebase (never data): the only way around escaping. */
export function trusted(markup: string): Html {
  return new Html(markup);
}

/** A same-origin path: only ever built from encoded segments, so no `javascript:` or other origin can get in. */
export function href(...segments: string[]): string {
  return `/${segments.map((segment) => encodeURIComponent(segment)).join("/")}`;
}
