// SPDX-License-Identifier: Apache-2.0
/**
 * Child process for the fan-out benchmark: `collector-fanout-clients.ts ADDRESS N` opens N
 * WebSocket tail clients; each line `T` on stdin answers `ok T` once every client has received
 * at least T alerts. Keeps the clients' work off the collector's process.
 */
import { createInterface } from "node:readline";
import WebSocket from "ws";

const [address, nS] = process.argv.slice(2);
const ALERT = Buffer.from('{"type":"alert"');
const n = Number(nS);
const counts = new Array<number>(n).fill(0);
let target = Infinity;
let pending: number | undefined;
const check = () => {
  if (pending !== undefined && counts.every((c) => c >= target)) {
    process.stdout.write(`ok ${pending}\n`);
    pending = undefined;
  }
};
await Promise.all(
  counts.map(
    (_c, i) =>
      new Promise<void>((resolve) => {
        const ws = new WebSocket(`ws://${address}/api/v1/tail`);
        ws.on("message", (d: Buffer) => {
          // NDJSON frames: count the alert lines
          let k = 0;
          for (let at = d.indexOf(ALERT); at >= 0; at = d.indexOf(ALERT, at + 1)) k++;
          if (k > 0) {
            counts[i]! += k;
            if (counts[i]! >= target) check();
          } else resolve();
        });
      }),
  ),
);
process.stdout.write("ready\n");
createInterface({ input: process.stdin }).on("line", (l) => {
  target = Number(l);
  pending = target;
  check();
});
