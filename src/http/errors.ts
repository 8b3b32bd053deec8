import type { NextFunction, Request, Response } from "express";

/** Errors as CONTRACT §3: `{"error": {"code", "message"}}` with the right status. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export function sendError(res: Response, status: number, code: string, message: string): void {
  res.status(status).json({ error: { code, message } });
}

export function notFound(_req: Request, res: Response): void {
  sendError(res, 404, "not_found", "no such endpoint");
}

/** The last middleware: known errors keep their status; anything else is a 500 without internals. */
export function errorHandler(onUnexpected: (error: unknown, req: Request) => void) {
  return (error: unknown, req: Request, res: Response, _next: NextFunction): void => {
    if (res.headersSent) return;
    const [status, code, message] = describe(error);
    if (status >= 500) onUnexpected(error, req);
    sendError(res, status, code, message);
  };
}

function describe(error: unknown): [number, string, string] {
  if (error instanceof HttpError) return [error.status, error.code, error.message];
  const status = (error as { status?: number }).status;
  const type = (error as { type?: string }).type;
  if (type === "entity.too.large") return [413, "payload_too_large", "request body is too large"];
  if (type === "entity.parse.failed") return [400, "invalid_json", "request body is not valid JSON"];
  if (typeof status === "number" && status >= 400 && status < 500)
    return [status, "bad_request", "the request could not be read"];
  // Anything else is ours (most often the database being away): retry-able, no internals leaked.
  return [503, "unavailable", "the request could not be completed; try again"];
}
