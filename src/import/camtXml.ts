import { XMLParser, XMLValidator } from "fast-xml-parser";
import { StatementParseError } from "./statement.js";

/**
 * camt XML as a tree that remembers where each element is, so every error can name
 * its element path (`Stmt[1]/Ntry[3]/Amt`). Namespace prefixes are dropped: the
 * versions (.001.02 to .001.08 and later) differ in content, not in element names
 * we read, and the root element says what the document is.
 */

type Raw = string | { [name: string]: unknown };

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: "@_",
  removeNSPrefix: true,
  // Keep every value as text: "000123" references and amounts must not become numbers.
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  // Every element is a list, so repeated elements (Ntry, TxDtls, Ustrd…) need no special casing.
  isArray: (_name, _path, _leaf, isAttribute) => !isAttribute,
});

export class XmlElement {
  constructor(
    private readonly raw: Raw,
    readonly path: string,
  ) {}

  /** Children with this name, in document order. */
  all(name: string): XmlElement[] {
    if (typeof this.raw === "string") return [];
    const list = this.raw[name];
    if (!Array.isArray(list)) return [];
    return list.map(
      (raw: Raw, index) => new XmlElement(raw, `${this.path}/${name}${list.length > 1 ? `[${index + 1}]` : ""}`),
    );
  }

  /** The first element down a chain of names, e.g. get("AmtDtls", "TxAmt", "Amt"). */
  get(...names: string[]): XmlElement | undefined {
    let current: XmlElement | undefined = this;
    for (const name of names) current = current?.all(name)[0];
    return current;
  }

  /** Every element down a chain of names, e.g. every Strd/CdtrRefInf/Ref. */
  getAll(...names: string[]): XmlElement[] {
    let current: XmlElement[] = [this];
    for (const name of names) current = current.flatMap((element) => element.all(name));
    return current;
  }

  /** Trimmed text of this element, or of the first element down the chain; undefined when absent or empty. */
  text(...names: string[]): string | undefined {
    const element = names.length > 0 ? this.get(...names) : this;
    if (!element) return undefined;
    const raw = element.raw;
    const value = typeof raw === "string" ? raw : raw["#text"];
    const text = typeof value === "string" ? value.trim() : undefined;
    return text ? text : undefined;
  }

  attr(name: string): string | undefined {
    if (typeof this.raw === "string") return undefined;
    const value = this.raw[`@_${name}`];
    return typeof value === "string" ? value.trim() : undefined;
  }

  /** Element path of a child that may not exist, for error messages. */
  pathOf(...names: string[]): string {
    return [this.path, ...names].join("/");
  }
}

/** The Document element, after checking the file is well-formed XML. */
export function parseCamtDocument(text: string): { document: XmlElement; namespace: string | null } {
  // Bank files never need a DTD; refusing one rules out entity-expansion tricks.
  if (/<!DOCTYPE/i.test(text)) throw new StatementParseError("a DOCTYPE is not allowed in a camt file", "/");
  const verdict = XMLValidator.validate(text);
  if (verdict !== true) throw xmlError(text, verdict.err);
  const tree = parser.parse(text) as { Document?: Raw[] };
  const root = tree.Document?.[0];
  if (root === undefined) {
    throw new StatementParseError("the root element is not an ISO 20022 Document", "/");
  }
  const namespace = /urn:iso:std:iso:20022:tech:xsd:(camt\.\d{3}\.\d{3}\.\d{2})/.exec(text)?.[1] ?? null;
  return { document: new XmlElement(root, "Document"), namespace };
}

function xmlError(text: string, err: { code: string; msg: string; line: number; col: number }): StatementParseError {
  // A file cut short leaves elements open; the validator lists them.
  const open = /Invalid '\[(.*)\]' found/s.exec(err.msg);
  if (open) {
    const names = [...(open[1] ?? "").matchAll(/"([^"]+)"/g)].map((m) => (m[1] ?? "").replace(/^[^:]+:/, ""));
    const lastLine = text.split("\n").length;
    return new StatementParseError(
      `the XML ends with elements still open (truncated file?): ${names.join("/")}`,
      `line ${lastLine}, element ${names.join("/")}`,
    );
  }
  return new StatementParseError(`the XML is not well-formed: ${err.msg}`, `line ${err.line}, column ${err.col}`);
}
