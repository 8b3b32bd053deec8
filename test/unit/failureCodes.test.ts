import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  classifyFailure,
  FAILURE_CATEGORIES,
  FAILURE_CODE_TABLE,
  normalizeFailureCode,
  RETRY_ADVICE,
} from "../../src/reconcile/failureCodes.js";

/**
 * The expectations come from /work/shared/CONTRACT.md's `failure_category` table,
 * parsed here, so a change of the contract fails these tests until the table follows.
 */
const CONTRACT = readFileSync("/work/shared/CONTRACT.md", "utf8");

interface ContractRow {
  category: string;
  examples: string;
  advice: string;
}

function contractRows(): ContractRow[] {
  const start = CONTRACT.indexOf("`failure_category`");
  const section = CONTRACT.slice(start);
  const rows: ContractRow[] = [];
  for (const line of section.split("\n")) {
    const match = /^\|\s*`([a-z_]+)`\s*\|(.*)\|\s*([a-z_]+)\s*\|\s*$/.exec(line);
    if (match) rows.push({ category: match[1]!, examples: match[2]!.trim(), advice: match[3]! });
    else if (rows.length > 0 && !line.startsWith("|")) break;
  }
  return rows;
}

// Words in the examples column that describe a kind of failure rather than name a code.
const PROSE = new Set(["timeouts", "KYC", "sanctions"]);

/** Codes listed in one examples cell: "a, b/c/d · AC01 · R03" → a, b, b_c… expanded, AC01, R03. */
function exampleCodes(cell: string): string[] {
  const codes: string[] = [];
  for (const part of cell.split(/[·,]/)) {
    const token = part.trim();
    if (token === "" || /\s/.test(token) || PROSE.has(token)) continue;
    const [first, ...alternatives] = token.split("/");
    codes.push(first!);
    if (alternatives.length === 0) continue;
    // incorrect_account_holder_name/address/tax_id: the alternatives replace what follows "_holder_".
    const at = first!.indexOf("_holder_");
    if (at < 0) throw new Error(`cannot expand contract example ${token}: teach this parser its shape`);
    const stem = first!.slice(0, at + "_holder_".length);
    for (const alternative of alternatives) codes.push(stem + alternative);
  }
  return codes;
}

describe("failure codes follow CONTRACT §2", () => {
  const rows = contractRows();

  it("parses the contract table: one row per category, in order", () => {
    expect(rows.map((row) => row.category)).toEqual([...FAILURE_CATEGORIES]);
  });

  it("gives every category the contract's retry advice", () => {
    for (const row of rows) {
      expect(RETRY_ADVICE[row.category as keyof typeof RETRY_ADVICE], row.category).toBe(row.advice);
    }
  });

  it("maps every contract example code to its contract category", () => {
    const checked: string[] = [];
    for (const row of rows) {
      for (const code of exampleCodes(row.examples)) {
        const result = classifyFailure(code);
        expect({ code, category: result.category, known: result.known }).toEqual({
          code,
          category: row.category,
          known: true,
        });
        expect(result.retryAdvice).toBe(row.advice);
        checked.push(code);
      }
    }
    // The parser must really have found the examples (incl. the name/address/tax_id expansion).
    expect(checked).toContain("incorrect_account_holder_tax_id");
    expect(checked).toContain("counterpartyBankTimedOut");
    expect(checked.length).toBeGreaterThan(40);
  });
});

describe("the code table", () => {
  it("has no code twice after normalization", () => {
    const seen = new Map<string, string>();
    const duplicates: string[] = [];
    for (const row of FAILURE_CODE_TABLE) {
      const key = normalizeFailureCode(row.code);
      const earlier = seen.get(key);
      if (earlier !== undefined) duplicates.push(`${row.code} (${row.source}) repeats ${earlier}`);
      seen.set(key, `${row.code} (${row.source})`);
    }
    expect(duplicates).toEqual([]);
  });

  it("uses only contract categories and names a source family for every row", () => {
    for (const row of FAILURE_CODE_TABLE) {
      expect(FAILURE_CATEGORIES).toContain(row.category);
      expect(row.source.length).toBeGreaterThan(0);
    }
  });

  it("covers NACHA R01–R39 and the ISO codes the brief names", () => {
    const codes = new Set(FAILURE_CODE_TABLE.map((row) => row.code));
    for (let n = 1; n <= 39; n++) expect(codes, `R${n}`).toContain(`R${String(n).padStart(2, "0")}`);
    const iso =
      "AC01 AC03 AC04 AC06 AG01 AG02 AM01 AM02 AM03 AM04 AM05 AM06 AM07 AM09 BE01 BE04 BE05 MD01 MD06 MD07 MS02 MS03 RC01 RR01 RR02 RR03 RR04 FR01 ED05 DUPL TECH CUST NARR";
    for (const code of iso.split(" ")) expect(codes, code).toContain(code);
  });

  it("classifies every row as its own category, known", () => {
    for (const row of FAILURE_CODE_TABLE) {
      const result = classifyFailure(row.code);
      expect(result).toEqual({
        category: row.category,
        retryAdvice: RETRY_ADVICE[row.category],
        known: true,
        code: row.code,
      });
    }
  });
});

describe("classifyFailure", () => {
  it("returns unknown, not known, for a code not in the table and keeps it trimmed", () => {
    expect(classifyFailure("  zz_not_a_code ")).toEqual({
      category: "unknown",
      retryAdvice: RETRY_ADVICE.unknown,
      known: false,
      code: "zz_not_a_code",
    });
  });

  it("returns unknown with a null code for null, undefined and blanks", () => {
    for (const empty of [null, undefined, "", "   "]) {
      expect(classifyFailure(empty)).toEqual({
        category: "unknown",
        retryAdvice: RETRY_ADVICE.unknown,
        known: false,
        code: null,
      });
    }
  });

  it("ignores case and surrounding or repeated whitespace (Adyen reasons are free text)", () => {
    expect(classifyFailure(" ac04\t").category).toBe(classifyFailure("AC04").category);
    expect(classifyFailure("NOT   ENOUGH  balance").category).toBe(classifyFailure("Not enough balance").category);
    expect(classifyFailure("Not enough balance").known).toBe(true);
    expect(classifyFailure("Account_Closed").category).toBe("account_closed");
  });

  it("is stable under any change of case or padding of any table code", () => {
    const codes = FAILURE_CODE_TABLE.map((row) => row);
    fc.assert(
      fc.property(
        fc.constantFrom(...codes),
        fc.array(fc.boolean(), { minLength: 60, maxLength: 60 }),
        fc.constantFrom("", " ", "\t", "  \n"),
        (row, upper, pad) => {
          const mangled = [...row.code].map((char, i) => (upper[i] ? char.toUpperCase() : char.toLowerCase())).join("");
          const result = classifyFailure(pad + mangled + pad);
          return result.known && result.category === row.category;
        },
      ),
    );
  });

  it("never throws and always returns a contract category with its advice", () => {
    fc.assert(
      fc.property(fc.option(fc.string(), { nil: undefined }), (code) => {
        const result = classifyFailure(code);
        return FAILURE_CATEGORIES.includes(result.category) && result.retryAdvice === RETRY_ADVICE[result.category];
      }),
    );
  });
});
