// SPDX-License-Identifier: Apache-2.0
/**
 * A real local HTTP(S) server (node:http / node:https) for the destination tests: it keeps every
 * request (method, path, headers, body) and answers with what the test's handler says, so a
 * test checks each request against the destination's published request format and plays the
 * destination's answers (202, 409 per item, 429 with Retry-After, 5xx, 400).
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";

/** One request as the server read it. */
export interface Recorded {
  method: string;
  /** Path and query. */
  url: string;
  headers: IncomingMessage["headers"];
  body: string;
}

/** The answer to one request. */
export interface Answer {
  status: number;
  headers?: Record<string, string>;
  body?: string;
}

export type Handler = (req: Recorded) => Answer | Promise<Answer>;

export interface Recorder {
  /** `http://127.0.0.1:PORT` or `https://127.0.0.1:PORT` (the test certificates carry that IP). */
  url: string;
  requests: Recorded[];
  /** Replaces the handler (default: 200 with an empty body). */
  handle(h: Handler): void;
  close(): Promise<void>;
}

/** Starts a recorder on a free loopback port; with `tls`, HTTPS with that certificate. */
export async function startRecorder(tls?: { cert: string; key: string }): Promise<Recorder> {
  const requests: Recorded[] = [];
  let handler: Handler = () => ({ status: 200 });
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const r: Recorded = { method: req.method ?? "", url: req.url ?? "", headers: req.headers, body: Buffer.concat(chunks).toString("utf8") };
      requests.push(r);
      Promise.resolve()
        .then(() => handler(r))
        .then(
          (a) => {
            res.writeHead(a.status, a.headers ?? {});
            res.end(a.body ?? "");
          },
          (err: unknown) => {
            res.writeHead(500, { "content-type": "text/plain" });
            res.end(`test handler failed: ${String(err)}`);
          },
        );
    });
  };
  const server: Server = tls === undefined ? createHttpServer(onRequest) : createHttpsServer({ cert: tls.cert, key: tls.key }, onRequest);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: tls === undefined ? `http://127.0.0.1:${port}` : `https://127.0.0.1:${port}`,
    requests,
    handle(h) {
      handler = h;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
