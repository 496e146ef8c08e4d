// SPDX-License-Identifier: Apache-2.0
/**
 * An alert reaches the sinks in the same turn of the event loop as the event that raised it (the
 * pipeline's flush is an immediate, not a timer: a timer of 0 waits at least 1 ms, which the
 * syscall-to-alert latency of issue 22 cannot spare).
 */
import { describe, expect, it } from "vitest";
import type { Alert } from "../../proto/index.js";
import { fakePipeline } from "../helpers/fake-pipeline.js";
import { openat, proc } from "../rules/event-builder.js";

describe("alert flush", () => {
  it("hands an alert to the sinks at the next check phase, before any timer", async () => {
    const got: Alert[] = [];
    const { p, feed } = await fakePipeline(
      "- rule: Shadow\n  desc: d\n  condition: evt.type = openat and fd.name = /etc/shadow\n  output: shadow | file=%fd.name\n  priority: WARNING\n",
      {
        sinks: [
          {
            name: "mem",
            export: async (b) => {
              got.push(...b);
              return { ok: true };
            },
            forceFlush: async () => undefined,
            shutdown: async () => undefined,
          },
        ],
      },
    );
    for (let round = 0; round < 20; round++) {
      // from inside an I/O-free timer callback, as the source's pipe reads arrive between phases
      await new Promise<void>((resolve) =>
        setTimeout(() => {
          let timerFired = false;
          setTimeout(() => {
            timerFired = true;
          }, 0);
          feed(openat("/etc/shadow", 0, proc({ comm: "cat" })));
          setImmediate(() => {
            expect(timerFired).toBe(false);
            expect(got.length).toBe(round + 1);
            resolve();
          });
        }, 0),
      );
    }
    await p.stop();
  });
});
