import type { Request, Response } from "express";
import type pg from "pg";
import { listDunningRecords } from "../../db/queries/dunning.js";
import type { Access } from "../statusPage/access.js";
import { dunningPage } from "../statusPage/dunningView.js";
import { type Html, html } from "../statusPage/html.js";
import type { PageFrame } from "../statusPage/model.js";
import { messagePage } from "../statusPage/paymentView.js";

/** GET /dunning on the status page's site: the same access rules as /payments/{id} (viewer or operator). */

const LIST_LENGTH = 200;

export function dunningPageHandler(deps: {
  pool: pg.Pool;
  accessOf: (req: Request) => Access;
  frame: (access: Access) => Promise<PageFrame>;
  send: (res: Response, status: number, body: Html) => void;
  challenge: string[];
}) {
  return async (req: Request, res: Response) => {
    const access = deps.accessOf(req);
    if (access.kind === "forbidden") {
      const message = html`The <strong>${access.role}</strong> role cannot see payments; a <strong>viewer</strong> or
<strong>operator</strong> token can.`;
      deps.send(res, 403, messagePage({ ...(await deps.frame(access)), title: "Not allowed", message }));
      return;
    }
    if (access.kind !== "granted") {
      res.setHeader("WWW-Authenticate", deps.challenge);
      const message = html`The dunning work list needs a <strong>viewer</strong> or <strong>operator</strong> token:
<a href="/login">sign in</a>, or send <code>Authorization: Bearer &lt;token&gt;</code>.`;
      deps.send(res, 401, messagePage({ ...(await deps.frame(access)), title: "Sign in to see dunning", message }));
      return;
    }
    const base = await deps.frame(access);
    try {
      const [due, promised] = await Promise.all([
        listDunningRecords(deps.pool, { state: "due", limit: LIST_LENGTH }),
        listDunningRecords(deps.pool, { state: "promised", limit: LIST_LENGTH }),
      ]);
      deps.send(res, 200, dunningPage({ ...base, due, promised }));
    } catch {
      const message = html`The database could not be read; try again.`;
      deps.send(res, 503, messagePage({ ...base, title: "Unavailable", message }));
    }
  };
}
