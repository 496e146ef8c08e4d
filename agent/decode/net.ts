// SPDX-License-Identifier: Apache-2.0
/** Address formatting for decoded socket params (no allocation beyond the result string). */

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
  const head = w.slice(0, bestStart).map((_, i) => hex(i)).join(":");
  const tail = w.slice(bestStart + bestLen).map((_, i) => hex(bestStart + bestLen + i)).join(":");
  return `${head}::${tail}`;
}
