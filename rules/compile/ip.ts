// SPDX-License-Identifier: Apache-2.0
/**
 * IP address and CIDR matching for `fd.ip`/`fd.net` checks. Right-hand sides are parsed once;
 * the event's address text is parsed once into a reused buffer (no allocation) and kept while the
 * following checks ask about the same text.
 */

/** Parses dotted-quad text in `s[start..end)`; returns the u32 address or -1. */
export function parseV4(s: string, start = 0, end = s.length): number {
  let acc = 0;
  let octet = -1;
  let dots = 0;
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      octet = octet < 0 ? c - 48 : octet * 10 + (c - 48);
      if (octet > 255) return -1;
    } else if (c === 46) {
      if (octet < 0 || dots === 3) return -1;
      acc = acc * 256 + octet;
      octet = -1;
      dots++;
    } else return -1;
  }
  if (octet < 0 || dots !== 3) return -1;
  return acc * 256 + octet;
}

/** Parses IPv6 text (with `::` and an embedded IPv4 tail) into `out` (8 words). */
export function parseV6(s: string, out: Uint16Array): boolean {
  out.fill(0);
  const n = s.length;
  if (n < 2) return false;
  let i = 0;
  let w = 0;
  let gap = -1;
  if (s.charCodeAt(0) === 58) {
    if (s.charCodeAt(1) !== 58) return false;
    gap = 0;
    i = 2;
    if (i === n) return true;
  }
  while (i < n && w < 8) {
    let j = i;
    let val = 0;
    while (j < n && j - i < 5) {
      const c = s.charCodeAt(j);
      let d: number;
      if (c >= 48 && c <= 57) d = c - 48;
      else if (c >= 97 && c <= 102) d = c - 87;
      else if (c >= 65 && c <= 70) d = c - 55;
      else break;
      val = val * 16 + d;
      j++;
    }
    if (j < n && s.charCodeAt(j) === 46) {
      // IPv4 tail
      const v4 = parseV4(s, i, n);
      if (v4 < 0 || w > 6) return false;
      out[w++] = Math.floor(v4 / 65536);
      out[w++] = v4 & 0xffff;
      i = n;
      break;
    }
    if (j === i || j - i > 4) return false;
    out[w++] = val;
    i = j;
    if (i === n) break;
    if (s.charCodeAt(i) !== 58) return false;
    i++;
    if (i < n && s.charCodeAt(i) === 58) {
      if (gap >= 0) return false;
      gap = w;
      i++;
      if (i === n) break;
    } else if (i === n) return false;
  }
  if (i < n) return false;
  if (gap >= 0) {
    const tail = w - gap;
    for (let k = 0; k < tail; k++) out[7 - k] = out[w - 1 - k] as number;
    for (let k = gap; k < 8 - tail; k++) out[k] = 0;
  } else if (w !== 8) return false;
  return true;
}

// The last address text parsed, per family: one event's address is checked by many rules in a
// row (not loopback, not unspecified, in a list of networks...), so it is parsed once.
let lastV4Text: string | undefined;
let lastV4 = -1;
let lastV6Text: string | undefined;
let lastV6Ok = false;
const lastV6 = new Uint16Array(8);

function v4Of(v: string): number {
  if (v !== lastV4Text) {
    lastV4 = parseV4(v);
    lastV4Text = v;
  }
  return lastV4;
}

/** Parses `v` as IPv6 into the shared words (valid until the next call); false if not IPv6. */
function v6Of(v: string): boolean {
  if (v !== lastV6Text) {
    lastV6Ok = parseV6(v, lastV6);
    lastV6Text = v;
  }
  return lastV6Ok;
}

/** Compiles an address or CIDR (`10.0.0.1`, `10.0.0.0/8`, `2001:db8::/32`); undefined if invalid. */
export function compileIpMatcher(text: string): ((v: string) => boolean) | undefined {
  const slash = text.indexOf("/");
  const addr = slash < 0 ? text : text.slice(0, slash);
  let bits: number | undefined;
  if (slash >= 0) {
    const b = text.slice(slash + 1);
    if (!/^[0-9]{1,3}$/.test(b)) return undefined;
    bits = Number(b);
  }
  const v4 = parseV4(addr);
  if (v4 >= 0) {
    const len = bits ?? 32;
    if (len > 32) return undefined;
    const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
    const want = (v4 & mask) >>> 0;
    return (v) => {
      const a = v4Of(v);
      return a >= 0 && (a & mask) >>> 0 === want;
    };
  }
  const words = new Uint16Array(8);
  if (!parseV6(addr, words)) return undefined;
  const len = bits ?? 128;
  if (len > 128) return undefined;
  return (v) => {
    if (!v6Of(v)) return false;
    let left = len;
    for (let k = 0; k < 8 && left > 0; k++, left -= 16) {
      const m = left >= 16 ? 0xffff : (0xffff << (16 - left)) & 0xffff;
      if (((lastV6[k] as number) & m) !== ((words[k] as number) & m)) return false;
    }
    return true;
  };
}
