import express, { type NextFunction, type Request, type RequestHandler, type Response, type Router } from "express";
import { z } from "zod";
import type { IngestDeps } from "../../consumers/ingest.js";
import { findEntries, listEntries } from "../../db/queries/bankEntryViews.js";
import { currencyExponent, isCurrency, parseMajor } from "../../messages/currencies.js";
import { HttpError } from "../errors.js";
import { cursorSerial, decodeCursor, page } from "../pagination.js";
import { clientText } from "../query.js";
import { type Access, presentedToken } from "../statusPage/access.js";
import {
  ENTRY_PAGE_STATES,
  type EntrySearch,
  entryPage,
  entryPath,
  entrySearchPage,
} from "../statusPage/bankEntryViews.js";
import { formToken, sameOriginRequest, validFormToken } from "../statusPage/csrf.js";
import { type Html, html } from "../statusPage/html.js";
import type { PageFrame } from "../statusPage/model.js";
import { messagePage } from "../statusPage/paymentView.js";
import { entryDetail, entryView, searchTokens } from "./bankEntries.js";
import { decideOnEntry, entryIdParam, manualMatchBody, manualUnmatchBody } from "./bankEntryDecisions.js";

/**
 * The status page's bank entries (CONTRACT §7 for people): search, one entry with its match explained, and for an
 * operator the match/unmatch forms. Viewer or operator to read, as the API; operator to decide, through the same
 * decideOnEntry as POST /api/v1/bank-entries/{entry_id}/match|unmatch, with a CSRF token (statusPage/csrf.ts).
 */

export interface BankEntryPageDeps {
  ingest: IngestDeps;
  accessOf: (req: Request) => Access;
  frame: (access: Access) => Promise<PageFrame>;
  send: (res: Response, status: number, body: Html) => void;
  challenge: string[];
  signInLimit: RequestHandler;
}

const LIST_LENGTH = 50;
const FORM_PURPOSE = "bank-entry-decision";
const isoDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/);
const searchQuery = z.object({
  q: clientText(200).default(""),
  amount: clientText(40).default(""),
  currency: z.string().max(3).default(""),
  from: z.union([isoDate, z.literal("")]).default(""),
  to: z.union([isoDate, z.literal("")]).default(""),
  state: z.enum(["", ...ENTRY_PAGE_STATES]).default(""),
  cursor: z.string().max(500).optional(),
});

/** The minor-unit amounts a typed major amount can be: one per currency exponent, or the given currency's. */
function amountReadings(amount: string, currency: string): Array<{ exponent: number; minor: number }> | undefined {
  const text = amount.includes(".") ? amount.replaceAll(",", "") : amount;
  const representatives = currency ? [currency] : ["JPY", "EUR", "KWD", "CLF"];
  const readings = representatives.flatMap((code) => {
    const minor = parseMajor(text, code);
    return minor === undefined ? [] : [{ exponent: currencyExponent(code), minor }];
  });
  return readings.length > 0 ? readings : undefined;
}

function subjectOf(bank: string, entryId: string): string {
  return `${bank}\u0000${entryId}`;
}

export function bankEntryPagesRouter(deps: BankEntryPageDeps): Router {
  const router = express.Router();
  const pool = deps.ingest.pool;

  /** The access a page needs, or the 401/403 page sent; `operator` for the forms' POSTs. */
  const allowed = async (req: Request, res: Response, roles: readonly string[]): Promise<Access | undefined> => {
    const access = deps.accessOf(req);
    if (access.kind === "granted" && roles.includes(access.role)) return access;
    if (access.kind === "granted" || access.kind === "forbidden") {
      const message = html`The <strong>${access.role}</strong> role cannot do this; ${
        roles.length === 1
          ? html`an <strong>operator</strong> token can`
          : html`a <strong>viewer</strong> or <strong>operator</strong> token can`
      }.`;
      deps.send(res, 403, messagePage({ ...(await deps.frame(access)), title: "Not allowed", message }));
      return undefined;
    }
    res.setHeader("WWW-Authenticate", deps.challenge);
    const message = html`Bank entries need a <strong>viewer</strong> or <strong>operator</strong> token:
<a href="/login">sign in</a>, or send <code>Authorization: Bearer &lt;token&gt;</code>.`;
    deps.send(res, 401, messagePage({ ...(await deps.frame(access)), title: "Sign in to see bank entries", message }));
    return undefined;
  };
  const unavailable = async (res: Response, access: Access) =>
    deps.send(
      res,
      503,
      messagePage({
        ...(await deps.frame(access)),
        title: "Unavailable",
        message: html`The database could not be read; try again.`,
      }),
    );

  router.get("/bank-entries", deps.signInLimit, async (req, res) => {
    const access = await allowed(req, res, ["viewer", "operator"]);
    if (!access) return;
    const base = await deps.frame(access);
    const parsed = searchQuery.safeParse(req.query);
    const search: EntrySearch = parsed.success
      ? parsed.data
      : { q: "", amount: "", currency: "", from: "", to: "", state: "" };
    const refuse = (error: string) =>
      deps.send(res, 400, entrySearchPage({ ...base, search, items: [], next: null, error }));
    if (!parsed.success)
      return refuse("The search could not be read: dates are YYYY-MM-DD, words at most 200 characters.");
    const currency = search.currency.trim().toUpperCase();
    if (currency && !isCurrency(currency)) return refuse(`${currency} is not an ISO 4217 currency code.`);
    const readings = search.amount.trim() ? amountReadings(search.amount, currency) : [undefined];
    if (!readings) return refuse(`${search.amount} is not an amount${currency ? ` in ${currency}` : ""}.`);
    let after: [string, number] | undefined;
    try {
      after = decodeCursor(parsed.data.cursor, z.tuple([isoDate, cursorSerial]));
    } catch (error) {
      if (error instanceof HttpError) return refuse("That page link is not one this page made.");
      throw error;
    }
    try {
      // An amount without a currency is read once per number of decimals; each reading keeps its currencies.
      const found = await Promise.all(
        readings.map(async (reading) => {
          const rows = await listEntries(pool, {
            state: search.state || undefined,
            currency: currency || undefined,
            amountMinor: reading?.minor,
            from: search.from || undefined,
            to: search.to || undefined,
            tokens: searchTokens(search.q),
            limit: LIST_LENGTH + 1,
            after: after ? { valueDate: after[0], seq: after[1] } : undefined,
          });
          return reading ? rows.filter((row) => currencyExponent(row.currency) === reading.exponent) : rows;
        }),
      );
      const rows = found
        .flat()
        .sort((a, b) => b.value_date.localeCompare(a.value_date) || Number(b.seq) - Number(a.seq));
      const { items, next } = page(rows, LIST_LENGTH, (row) => [row.value_date, Number(row.seq)]);
      const shown = items.map((row) => entryView(row, row.state));
      deps.send(res, 200, entrySearchPage({ ...base, search: { ...search, currency }, items: shown, next }));
    } catch {
      await unavailable(res, access);
    }
  });

  /** The entry page, with the forms' CSRF token for an operator. */
  const showEntry = async (
    req: Request,
    res: Response,
    access: Access & { kind: "granted" },
    status: number,
    notice?: { kind: "ok" | "warning"; text: string },
  ) => {
    const base = await deps.frame(access);
    const bank = String(req.params.bank);
    const entryId = String(req.params.entry_id);
    try {
      const id = entryIdParam.safeParse(entryId);
      // The bank is in the path: at most one entry; any other failure is the database's (503 below).
      const rows = id.success ? await findEntries(pool, entryId, bank) : [];
      if (rows.length === 0) {
        const message = html`Bank ${bank} has no entry with the id ${entryId}.`;
        deps.send(res, 404, messagePage({ ...base, title: "No such bank entry", message }));
        return;
      }
      const entry = await entryDetail(pool, rows[0]!);
      const credential = presentedToken(req.headers.authorization);
      const token =
        access.role === "operator" && credential
          ? formToken(credential, FORM_PURPOSE, subjectOf(entry.bank, entry.entry_id), Date.now())
          : undefined;
      deps.send(res, status, entryPage({ ...base, entry, formToken: token, notice }));
    } catch {
      await unavailable(res, access);
    }
  };

  router.get("/bank-entries/:bank/:entry_id", deps.signInLimit, async (req, res) => {
    const access = await allowed(req, res, ["viewer", "operator"]);
    if (access?.kind === "granted") await showEntry(req, res, access, 200);
  });

  /** Operator only (before the body is read), then the CSRF checks (before it is read as a decision). */
  const operatorOnly = async (req: Request, res: Response, next: NextFunction) => {
    if (await allowed(req, res, ["operator"])) next();
  };
  const csrfChecked = async (req: Request, res: Response, next: NextFunction) => {
    const credential = presentedToken(req.headers.authorization);
    const subject = subjectOf(String(req.params.bank), String(req.params.entry_id));
    const body = (req.body ?? {}) as Record<string, unknown>;
    if (
      sameOriginRequest(req) &&
      credential &&
      validFormToken(credential, FORM_PURPOSE, subject, body.csrf, Date.now())
    ) {
      next();
      return;
    }
    const message = html`The form was not accepted: it did not come from this entry's page, or the page is older
than 12 hours. <a href="${entryPath(String(req.params.bank), String(req.params.entry_id))}">Open the entry again</a>
and send the form from there.`;
    deps.send(res, 403, messagePage({ ...(await deps.frame(deps.accessOf(req))), title: "Form refused", message }));
  };
  const form = express.urlencoded({ extended: false, limit: "16kb", parameterLimit: 10 });

  for (const action of ["match", "unmatch"] as const) {
    router.post(
      `/bank-entries/:bank/:entry_id/${action}`,
      deps.signInLimit,
      operatorOnly,
      form,
      csrfChecked,
      async (req, res) => {
        const access = deps.accessOf(req) as Access & { kind: "granted" };
        const body = (req.body ?? {}) as Record<string, unknown>;
        const note = typeof body.note === "string" && body.note.trim() ? body.note.trim() : undefined;
        const parsed =
          action === "match"
            ? manualMatchBody.safeParse({ payment_id: body.payment_id, note })
            : manualUnmatchBody.safeParse({ note });
        if (!parsed.success) {
          await showEntry(req, res, access, 400, {
            kind: "warning",
            text: "A payment id (and a note of at most 4000 characters) is needed.",
          });
          return;
        }
        try {
          const decided = await decideOnEntry(deps.ingest, {
            ...(action === "match" ? { action, paymentId: String(body.payment_id) } : { action }),
            entryId: String(req.params.entry_id),
            bank: String(req.params.bank),
            actor: access.actor,
            note: note ?? null,
          });
          // Post/redirect/get: a reload does not send the form again; the page's decisions list shows this one.
          res.setHeader("Cache-Control", "no-store");
          res.redirect(303, entryPath(decided.bank, decided.entry_id));
        } catch (error) {
          if (!(error instanceof HttpError)) throw error;
          await showEntry(req, res, access, error.status, { kind: "warning", text: `Not done: ${error.message}.` });
        }
      },
    );
  }
  return router;
}
