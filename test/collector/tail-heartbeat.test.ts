// SPDX-License-Identifier: Apache-2.0
/**
 * The live tail's own liveness checks: a client that stops answering pings loses its slot after a
 * heartbeat interval (counted), a live one stays; a client frame over ws_max_payload closes that
 * client with 1009 (counted) and nobody else.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { startCollector, type RunningCollector } from "../../collector/server.js";
import { quiet, tempDir, waitFor } from "./helpers.js";

const TOKEN = "heartbeat-token";
let col: RunningCollector;
beforeAll(async () => {
  col = await startCollector({
    listen: "127.0.0.1:0",
    dataDir: tempDir(),
    token: TOKEN,
    logger: quiet(),
    limits: { keepalive_time_ms: 200, ws_max_payload: 4096 },
  });
});
afterAll(() => col.close());

function tail(opts: WebSocket.ClientOptions = {}): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://${col.address}/api/v1/tail`, { headers: { authorization: `Bearer ${TOKEN}` }, ...opts });
    ws.on("open", () => resolve(ws));
    ws.on("error", reject);
  });
}

const closed = (ws: WebSocket): Promise<number> => new Promise((resolve) => ws.on("close", (code) => resolve(code)));

describe("tail heartbeat and frame limit", () => {
  it("a client that does not answer pings is dropped and counted; one that answers stays", async () => {
    const before = col.stats()["clients_dropped_unresponsive"]!;
    const deaf = await tail({ autoPong: false });
    const live = await tail();
    const deafClosed = closed(deaf);
    await deafClosed;
    expect(col.stats()["clients_dropped_unresponsive"]).toBe(before + 1);
    // the answering client outlives several more heartbeats
    await new Promise((r) => setTimeout(r, 800));
    expect(live.readyState).toBe(WebSocket.OPEN);
    expect(col.stats()["clients"]).toBe(1);
    live.close();
    await waitFor(() => col.stats()["clients"] === 0, 5000, "tail client gone");
  });

  it("a frame over ws_max_payload closes that client with 1009 and is counted", async () => {
    const before = col.stats()["ws_frames_too_large"]!;
    const other = await tail();
    const big = await tail();
    const code = closed(big);
    big.send(Buffer.alloc(8192, 0x61));
    expect(await code).toBe(1009);
    await waitFor(() => col.stats()["ws_frames_too_large"] === before + 1, 5000, "counter");
    expect(other.readyState).toBe(WebSocket.OPEN);
    other.close();
  });
});
