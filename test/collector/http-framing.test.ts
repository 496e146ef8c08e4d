// SPDX-License-Identifier: Apache-2.0
/**
 * A request body on a route that never reads it (a GET with a body, a 404) closes the connection
 * after the answer: leftover bytes are never parsed as a next request (request smuggling behind a
 * proxy that shares connections). The Falco post route reads its body and keeps the connection.
 */
import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startCollector, type RunningCollector } from "../../collector/server.js";
import { quiet, tempDir } from "./helpers.js";

const TOKEN = "framing-token";
let col: RunningCollector;
beforeAll(async () => {
  col = await startCollector({ listen: "127.0.0.1:0", dataDir: tempDir(), token: TOKEN, logger: quiet() });
});
afterAll(() => col.close());

/** Writes raw bytes, then more after a pause; resolves with everything read until the server closes (or 2 s). */
function exchange(first: string, second: string): Promise<{ text: string; closedByServer: boolean }> {
  const port = Number(col.address.slice(col.address.lastIndexOf(":") + 1));
  return new Promise((resolve) => {
    const s = connect(port, "127.0.0.1");
    let text = "";
    let closedByServer = false;
    s.on("data", (d: Buffer) => (text += d.toString("latin1")));
    s.on("end", () => (closedByServer = true));
    s.on("close", () => resolve({ text, closedByServer }));
    s.on("error", () => undefined);
    s.write(first);
    setTimeout(() => {
      if (!s.destroyed) s.write(second);
    }, 200);
    setTimeout(() => s.destroy(), 2000);
  });
}

describe("HTTP framing", () => {
  it.each([
    ["a GET with a body to a 404", "GET /nope HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer framing-token\r\nContent-Length: 3\r\n\r\nabc"],
    ["a GET /healthz with a body", "GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"],
    [
      "a GET /api/v1/stats with a chunked body",
      "GET /api/v1/stats HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer framing-token\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    ],
  ])("%s: answered, then the connection is closed", async (_name, req) => {
    const r = await exchange(req, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    expect(r.text).toMatch(/^HTTP\/1\.1 (200|404) /);
    expect(r.text.toLowerCase()).toContain("connection: close");
    // exactly one answer: the second request never reached a parser
    expect(r.text.match(/HTTP\/1\.1 /g)).toHaveLength(1);
    expect(r.closedByServer).toBe(true);
  });

  it("a Falco post reads its body and keeps the connection", async () => {
    const body = JSON.stringify({ output: "o", priority: "Warning", rule: "r", time: new Date().toISOString() });
    const r = await exchange(
      `POST /api/v1/falco HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
      "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    expect(r.text.match(/HTTP\/1\.1 200 /g)).toHaveLength(2);
  });
});
