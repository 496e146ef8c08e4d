// SPDX-License-Identifier: Apache-2.0
/**
 * UUIDv7 ids for alerts (RFC 9562 §5.7): 48 bits of Unix milliseconds, then a 42-bit counter in
 * rand_a and the top of rand_b (method 1 of §6.2: seeded at random each new millisecond,
 * incremented within one, so ids of one process sort in the order they were made), then 32 random
 * bits. The random bytes come from a 4 KiB pool filled by the CSPRNG: the `uuid` package asked the
 * Web Crypto API for 16 bytes per id, about 3 µs an alert on the agent's event path (issue 22).
 */
import { randomFillSync } from "node:crypto";

const POOL = 4096;
const pool = Buffer.allocUnsafe(POOL);
let pos = POOL;
const HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

let lastMs = -1;
/** The counter's high 12 bits (rand_a) and low 30 bits (the top of rand_b). */
let hi = 0;
let lo = 0;

function take(n: number): number {
  if (pos + n > POOL) {
    randomFillSync(pool);
    pos = 0;
  }
  const at = pos;
  pos += n;
  return at;
}

function seed(): void {
  const at = take(5);
  // the counter's top bit starts at 0: room for 2^41 increments within the millisecond
  hi = ((pool[at]! << 8) | pool[at + 1]!) & 0x7ff;
  lo = ((pool[at + 2]! << 22) | (pool[at + 3]! << 14) | (pool[at + 4]! << 6)) & 0x3fffffff;
}

/** A new UUIDv7 string (lower-case hex with dashes); `now` in ms (Date.now() by default, for tests). */
export function uuidv7(now: number = Date.now()): string {
  if (now > lastMs) {
    lastMs = now;
    seed();
  } else if (++lo > 0x3fffffff) {
    lo = 0;
    if (++hi > 0xfff) {
      // 2^42 ids in one millisecond: borrow the next one (the clock catches up)
      lastMs++;
      seed();
    }
  }
  const ms = lastMs;
  const r = take(4);
  const msHi = Math.floor(ms / 0x1000000); // the top 24 of 48 bits
  const msLo = ms % 0x1000000;
  return (
    HEX[(msHi >>> 16) & 0xff]! +
    HEX[(msHi >>> 8) & 0xff]! +
    HEX[msHi & 0xff]! +
    HEX[(msLo >>> 16) & 0xff]! +
    "-" +
    HEX[(msLo >>> 8) & 0xff]! +
    HEX[msLo & 0xff]! +
    "-" +
    HEX[0x70 | (hi >>> 8)]! +
    HEX[hi & 0xff]! +
    "-" +
    HEX[0x80 | ((lo >>> 24) & 0x3f)]! +
    HEX[(lo >>> 16) & 0xff]! +
    "-" +
    HEX[(lo >>> 8) & 0xff]! +
    HEX[lo & 0xff]! +
    HEX[pool[r]!]! +
    HEX[pool[r + 1]!]! +
    HEX[pool[r + 2]!]! +
    HEX[pool[r + 3]!]!
  );
}
