import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { verifyNotification } from "../../src/followup/signature.js";

/**
 * A webhook receiver the test controls: it answers 200, fails with 500, or hangs past the sender's timeout,
 * and keeps every request it received (body, signature check) in arrival order.
 */
export type ReceiverMode = "ok" | "fail" | "hang";

export interface ReceivedNotification {
  id: string;
  kind: string;
  body: Record<string, unknown>;
  signatureValid: boolean;
  answered: ReceiverMode;
}

export interface WebhookReceiver {
  url: string;
  mode: ReceiverMode;
  received: ReceivedNotification[];
  /** Ids answered 200, first arrival of each, in arrival order. */
  delivered(): ReceivedNotification[];
  close(): Promise<void>;
}

export async function startWebhookReceiver(secret: string, mode: ReceiverMode = "ok"): Promise<WebhookReceiver> {
  const hanging = new Set<() => void>();
  const receiver: WebhookReceiver = {
    url: "",
    mode,
    received: [],
    delivered() {
      const seen = new Set<string>();
      return this.received.filter((item) => {
        if (item.answered !== "ok" || seen.has(item.id)) return false;
        seen.add(item.id);
        return true;
      });
    },
    close: async () => {},
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      const body = JSON.parse(text) as Record<string, unknown>;
      const answered = receiver.mode;
      receiver.received.push({
        id: String(body.id),
        kind: String(body.kind),
        body,
        signatureValid: verifyNotification(text, String(req.headers["payrecon-signature"] ?? ""), secret),
        answered,
      });
      if (answered === "ok") return void res.writeHead(200).end("ok");
      if (answered === "fail") return void res.writeHead(500).end("receiver down");
      // hang: answer only when the test closes the receiver (the sender has given up long before).
      const release = () => res.destroy();
      hanging.add(release);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/payrecon`;
  receiver.close = async () => {
    for (const release of hanging) release();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return receiver;
}
