// SPDX-License-Identifier: Apache-2.0
/** Socket params of a frame: addresses and tuples, and their text (no allocation beyond the result). */
import type { SockTuple } from "../../rules/event.js";
import { cstr } from "./strings.js";

/** Dotted quad from 4 bytes in network order. */
export function formatIpv4(b: Uint8Array, o: number): string {
  return `${b[o]}.${b[o + 1]}.${b[o + 2]}.${b[o + 3]}`;
}

/** RFC 5952 text of 16 bytes in network order (IPv4-mapped addresses as `::ffff:a.b.c.d`). */
export function formatIpv6(b: Uint8Array, o: number): string {
  const w: number[] = new Array<number>(8);
  for (let i = 0; i < 8; i++) w[i] = (b[o + 2 * i]! << 8) | b[o + 2 * i + 1]!;
  if (w[0] === 0 && w[1] === 0 && w[2] === 0 && w[3] === 0 && w[4] === 0 && w[5] === 0xffff) {
    return `::ffff:${formatIpv4(b, o + 12)}`;
  }
  // the longest run of two or more zero words becomes "::" (the first one on ties)
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (w[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && w[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (i: number) => w[i]!.toString(16);
  if (bestStart < 0) return w.map((_, i) => hex(i)).join(":");
  const head = w
    .slice(0, bestStart)
    .map((_, i) => hex(i))
    .join(":");
  const tail = w
    .slice(bestStart + bestLen)
    .map((_, i) => hex(bestStart + bestLen + i))
    .join(":");
  return `${head}::${tail}`;
}

/** Falco's name of a connected socket fd: `sip:sport->dip:dport`. */
export function tupleName(t: SockTuple): string {
  return `${t.sip}:${t.sport}->${t.dip}:${t.dport}`;
}

/** A wire sockaddr param (`u8 family`, then address and port, or a unix path) as a tuple's remote end. */
export function sockaddr(view: DataView, buf: Buffer, o: number, len: number): SockTuple | undefined {
  const family = buf[o]!;
  if (family === 2 && len >= 7) return { family, sip: "", sport: 0, dip: formatIpv4(buf, o + 1), dport: view.getUint16(o + 5, true) };
  if (family === 10 && len >= 19) return { family, sip: "", sport: 0, dip: formatIpv6(buf, o + 1), dport: view.getUint16(o + 17, true) };
  if (family === 1) return { family, sip: "", sport: 0, dip: cstr(buf, o + 1, o + len), dport: 0 };
  return { family, sip: "", sport: 0, dip: "", dport: 0 };
}

/**
 * A wire tuple (local, then remote) as Falco's client → server tuple: for a server-side socket
 * (accept, bind, listen) the remote end is the client.
 */
export function tuple(view: DataView, buf: Buffer, o: number, len: number, server: boolean): SockTuple | undefined {
  if (len < 1) return undefined;
  const family = buf[o]!;
  let la: string, ra: string, lp: number, rp: number;
  if (family === 2 && len >= 13) {
    la = formatIpv4(buf, o + 1);
    lp = view.getUint16(o + 5, true);
    ra = formatIpv4(buf, o + 7);
    rp = view.getUint16(o + 11, true);
  } else if (family === 10 && len >= 37) {
    la = formatIpv6(buf, o + 1);
    lp = view.getUint16(o + 17, true);
    ra = formatIpv6(buf, o + 19);
    rp = view.getUint16(o + 35, true);
  } else if (family === 1) {
    const path = cstr(buf, o + 1, o + len);
    return { family, sip: "", sport: 0, dip: path, dport: 0 };
  } else return { family, sip: "", sport: 0, dip: "", dport: 0 };
  return server ? { family, sip: ra, sport: rp, dip: la, dport: lp } : { family, sip: la, sport: lp, dip: ra, dport: rp };
}
