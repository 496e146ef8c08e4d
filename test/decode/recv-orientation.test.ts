// SPDX-License-Identifier: Apache-2.0
/**
 * recvfrom/recvmsg frames: on an unconnected socket the peer the call wrote back is the client and
 * the socket the server (Falco's inbound tuple, fd.name `peer->local`); on a connected socket the
 * tuple keeps the client view, as sends do (a client reading its server's reply).
 */
import { describe, expect, it } from "vitest";
import { FrameDecoder, type RawEvent } from "../../agent/decode/decoder.js";
import { FdKind } from "../../agent/decode/layout.js";
import { eventCode } from "../../rules/event-table.js";
import type { SockTuple } from "../../rules/event.js";
import { frame } from "./frame-builder.js";

/** IPv4 wire tuple: family, local address and port, remote address and port. */
function tuple4(local: [number[], number], remote: [number[], number]): Buffer {
  const b = Buffer.alloc(13);
  b[0] = 2;
  Buffer.from(local[0]).copy(b, 1);
  b.writeUInt16LE(local[1], 5);
  Buffer.from(remote[0]).copy(b, 7);
  b.writeUInt16LE(remote[1], 11);
  return b;
}

function decode(type: string, params: Parameters<typeof frame>[0]["params"], res = 5): RawEvent {
  let out: RawEvent | undefined;
  const d = new FrameDecoder({ onEvent: (e) => (out = { ...e, args: [...e.args] }) });
  d.push(frame({ type: eventCode(type), res, params }));
  if (out === undefined) throw new Error("no event decoded");
  return out;
}

const LOCAL: [number[], number] = [[10, 0, 0, 5], 5353];
const PEER: [number[], number] = [[203, 0, 113, 9], 40000];
const fdInfo = (t: Buffer) => ({ bytes: Buffer.concat([Buffer.from([FdKind.Ipv4, 17]), t]) });

describe("receive orientation", () => {
  it("recvfrom on an unconnected UDP socket: peer -> local", () => {
    const e = decode("recvfrom", [
      { bytes: Buffer.from("hello") },
      { bytes: tuple4(LOCAL, PEER) }, // the probe filled the remote end from src_addr
      { i64: 4 },
      { u32: 512 },
      fdInfo(tuple4(LOCAL, [[0, 0, 0, 0], 0])), // the kernel's socket has no remote end
    ]);
    const t = e.args[2] as SockTuple;
    expect([t.sip, t.sport, t.dip, t.dport]).toEqual(["203.0.113.9", 40000, "10.0.0.5", 5353]);
    expect(e.fd?.isServer).toBe(true);
    expect(e.fd?.connected).toBe(false);
    expect(e.args[3]).toBe(4);
  });

  it("recvfrom on a connected socket: local -> remote, like a send", () => {
    const conn = tuple4(LOCAL, PEER);
    const e = decode("recvfrom", [{ bytes: Buffer.from("reply") }, { bytes: conn }, { i64: 4 }, { u32: 512 }, fdInfo(conn)]);
    const t = e.args[2] as SockTuple;
    expect([t.sip, t.sport, t.dip, t.dport]).toEqual(["10.0.0.5", 5353, "203.0.113.9", 40000]);
    expect(e.fd?.isServer).toBe(false);
    expect(e.fd?.name).toBe("10.0.0.5:5353->203.0.113.9:40000");
  });

  it("recvmsg: same rule, its params in Falco's order (size, data, tuple, fd)", () => {
    const e = decode("recvmsg", [
      { u32: 5 },
      { bytes: Buffer.from("hello") },
      { bytes: tuple4(LOCAL, PEER) },
      { i64: 4 },
      fdInfo(tuple4(LOCAL, [[0, 0, 0, 0], 0])),
    ]);
    expect(e.args[1]).toBe(5);
    expect(Buffer.from(e.args[2] as Uint8Array).toString()).toBe("hello");
    expect((e.args[3] as SockTuple).sip).toBe("203.0.113.9");
    expect(e.args[4]).toBe(4);
  });
});
