// SPDX-License-Identifier: Apache-2.0
/**
 * file_output and program_output against real receivers: a real file (rotated under the output),
 * real processes (a node script appending its stdin to a file), alert text that a shell would
 * run, a program that dies and one that never reads.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { FileOutput } from "../../../agent/sinks/outputs/file-output.js";
import { falcoTextLine } from "../../../agent/sinks/outputs/falco-format.js";
import { createFalcoOutputs } from "../../../agent/sinks/outputs/index.js";
import { ProgramOutput } from "../../../agent/sinks/outputs/program-output.js";
import type { QueuedOutput } from "../../../agent/sinks/outputs/queued-output.js";
import { waitFor } from "../../collector/helpers.js";
import { alert, outputConfig, quiet, tempDir } from "./helpers.js";

const open: QueuedOutput[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((o) => o.shutdown()));
});
function track<T extends QueuedOutput>(o: T): T {
  open.push(o);
  return o;
}

/** The whole lines of a file an output may still be writing (a half-written last one is left out). */
const lines = (p: string): string[] => {
  if (!existsSync(p)) return [];
  const text = readFileSync(p, "utf8");
  return text
    .slice(0, text.lastIndexOf("\n") + 1)
    .split("\n")
    .filter((l) => l !== "");
};

/** A node script appending its stdin to a file (argv[2]). */
function catScript(dir: string): string {
  const s = join(dir, "cat.mjs");
  writeFileSync(s, `import { appendFileSync } from "node:fs";\nprocess.stdin.on("data", (d) => appendFileSync(process.argv[2], d));\n`);
  return s;
}

describe("file_output", () => {
  it("appends Falco's lines and sees a rotated file at once without keep_alive", async () => {
    const d = tempDir();
    const f = join(d, "events.txt");
    const out = track(new FileOutput({ filename: f, keep_alive: false }, outputConfig(), quiet()));
    const a = alert("first");
    const t0 = performance.now();
    await out.export([a]);
    expect(performance.now() - t0).toBeLessThan(50);
    await out.forceFlush();
    expect(lines(f)).toEqual([falcoTextLine(a, outputConfig())]);
    renameSync(f, `${f}.1`);
    await out.export([alert("second")]);
    await out.forceFlush();
    expect(lines(f)).toHaveLength(1);
    expect(lines(f)[0]).toMatch(/^\d\d:\d\d:\d\d\.\d{9}: Notice second$/);
    expect(out.stats()).toMatchObject({ sent: 2, failed: 0, dropped: 0, queued: 0 });
  });

  it("keeps the file open with keep_alive, writes JSON with output.json, and retries a missing directory", async () => {
    const d = tempDir();
    const f = join(d, "later", "events.json");
    const out = track(new FileOutput({ filename: f, keep_alive: true }, outputConfig({ json: true }), quiet()));
    await out.export([alert("a"), alert("b")]);
    await waitFor(() => out.stats().retried > 0, 5000, "a retry");
    // the directory appears: the queued alerts are written
    (await import("node:fs")).mkdirSync(join(d, "later"));
    await waitFor(() => lines(f).length === 2, 10_000, "two lines");
    expect(lines(f).map((l) => (JSON.parse(l) as { output: string }).output.split(" ").slice(2).join(" "))).toEqual(["a", "b"]);
    renameSync(f, `${f}.1`);
    await out.export([alert("c")]);
    await out.forceFlush();
    // the old descriptor: the line went to the moved file, as Falco's keep_alive does
    expect(lines(`${f}.1`)).toHaveLength(3);
  });

  it("buffered: gathers alerts for up to a second per write", async () => {
    const f = join(tempDir(), "buffered.txt");
    const out = track(new FileOutput({ filename: f, keep_alive: false }, outputConfig({ buffered: true }), quiet()));
    await out.export([alert("1")]);
    await out.export([alert("2"), alert("3")]);
    await new Promise((r) => setTimeout(r, 300));
    expect(existsSync(f)).toBe(false);
    await waitFor(() => lines(f).length === 3, 5000, "three lines after the linger");
  });
});

describe("program_output", () => {
  it("feeds alert text on stdin only: nothing a shell would run is run", async () => {
    const d = tempDir();
    const got = join(d, "got.txt");
    const marker = join(d, "pwned");
    const out = track(new ProgramOutput({ program: [process.execPath, catScript(d), got], keep_alive: false }, outputConfig(), quiet(), { stdio: "ignore" }));
    const evil = alert(`cmd=$(touch ${marker}); touch ${marker} \`touch ${marker}\` | touch ${marker} && echo`);
    await out.export([evil]);
    await out.export([alert("second batch")]);
    await waitFor(() => lines(got).length === 2, 10_000, "two lines");
    await out.forceFlush();
    expect(lines(got)[0]).toBe(falcoTextLine(evil, outputConfig()));
    expect(existsSync(marker)).toBe(false);
    // one process per batch, as Falco does without keep_alive
    expect(out.starts).toBeGreaterThanOrEqual(2);
  });

  it("keeps one process alive and restarts it when it dies", async () => {
    const d = tempDir();
    const got = join(d, "got.txt");
    const out = track(
      new ProgramOutput({ program: [process.execPath, catScript(d), got], keep_alive: true }, outputConfig({ json: true }), quiet(), { stdio: "ignore" }),
    );
    await out.export([alert("one")]);
    await out.export([alert("two")]);
    await waitFor(() => lines(got).length === 2, 10_000, "two lines");
    expect(out.starts).toBe(1);
    const pid = out.pid;
    expect(pid).toBeDefined();
    process.kill(pid as number, "SIGKILL");
    await waitFor(() => out.pid === undefined, 5000, "the program gone");
    await out.export([alert("three")]);
    await waitFor(() => lines(got).length === 3, 10_000, "the third line through a new process");
    expect(out.starts).toBe(2);
    expect(lines(got).map((l) => (JSON.parse(l) as { rule: string }).rule)).toEqual(Array(3).fill("Terminal shell in container"));
  });

  it("a long-lived program that keeps exiting at once is restarted with backoff, not in a loop", async () => {
    // it takes what it was given, then exits: every write succeeds, only the exits tell
    const once = [process.execPath, "-e", "process.stdin.once('data', () => process.exit(0))"];
    const out = track(new ProgramOutput({ program: once, keep_alive: true }, outputConfig(), quiet(), { stdio: "ignore" }));
    const t0 = Date.now();
    for (let i = 0; i < 200; i++) {
      await out.export([alert(`n${i}`)]);
      await new Promise((r) => setTimeout(r, 10));
    }
    await new Promise((r) => setTimeout(r, 3000 - (Date.now() - t0)));
    // 0, 0.5, 1, 2 s apart at most: a handful of starts in 3 s, not one per alert
    expect(out.starts).toBeGreaterThanOrEqual(2);
    expect(out.starts).toBeLessThanOrEqual(6);
  });

  it("a program that never reads holds no more than its queue: the overflow is dropped and counted, export never waits", async () => {
    const out = track(
      new ProgramOutput({ program: ["/bin/sleep", "600"], keep_alive: true }, outputConfig({ queue_capacity: 50, timeout_ms: 100 }), quiet(), {
        stdio: "ignore",
      }),
    );
    const big = "x".repeat(4096);
    const t0 = performance.now();
    for (let i = 0; i < 400; i++) await out.export([alert(big)]);
    expect(performance.now() - t0).toBeLessThan(1000);
    // the pipe (64 KiB) fills, the batch being written waits, the queue overflows
    await waitFor(() => out.stats().dropped > 0, 5000, "drops");
    const s = out.stats();
    expect(s.queued).toBeLessThanOrEqual(50 + 1000);
    expect(s.dropped + s.queued + s.sent).toBe(400);
  });

  it("a program that cannot be started is retried, then works once it exists; a bad program list is refused", async () => {
    const d = tempDir();
    const prog = join(d, "later");
    const got = join(d, "got.txt");
    const out = track(new ProgramOutput({ program: [prog, got], keep_alive: true }, outputConfig(), quiet(), { stdio: "ignore" }));
    await out.export([alert("waits")]);
    await waitFor(() => out.stats().retried > 0, 10_000, "a retry (ENOENT)");
    expect(out.stats().sent).toBe(0);
    writeFileSync(prog, `#!${process.execPath}\n${readFileSync(catScript(d), "utf8")}`, { mode: 0o755 });
    await waitFor(() => lines(got).length === 1, 40_000, "the line once the program exists");
    expect(out.stats()).toMatchObject({ sent: 1, failed: 0 });
    expect(() => new ProgramOutput({ program: [], keep_alive: false }, outputConfig(), quiet())).toThrow(/program is empty/);
    expect(() => createFalcoOutputs({ output: outputConfig(), sinks: { program: { enabled: true, program: ["a\0b"], keep_alive: false } } }, quiet())).toThrow(
      /NUL/,
    );
  }, 60_000);
});
