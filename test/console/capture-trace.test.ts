// SPDX-License-Identifier: Apache-2.0
/**
 * The console's capture trace without a browser (collector/console/web/capture-trace.ts runs on
 * Node too: DecompressionStream, Blob): a real capture reads as the agent's own decoder reads it
 * and lays out as trace rows (relative time, process, syscall, arguments, result, the triggering
 * event); and hostile input stays within bounds: a gzip bomb, an oversized download, garbage,
 * fields of the wrong type, 200,000 events, a 1 MiB argument, control characters.
 */
import { gzipSync } from "node:zlib";
import { Packr } from "msgpackr";
import { describe, expect, it } from "vitest";
import { CaptureRecorder } from "../../agent/capture/recorder.js";
import { decodeCaptureBytes, readBounded, TRACE_LIMITS, traceView, triggerIndex } from "../../collector/console/web/capture-trace.js";
import { CAPTURE_MSGPACK, type CaptureFile, decodeCapture, type EventTuple, F } from "../../proto/capture.js";
import { quiet } from "../collector/helpers.js";
import { container, event, openat, proc } from "../capture/helpers.js";

const C = container("cccccccccccc");

async function realCapture(): Promise<Uint8Array> {
  const r = new CaptureRecorder({ logger: quiet() });
  const cat = proc(C);
  const sh = proc(C, { comm: "sh", pid: 10, tid: 11 });
  r.record(openat(cat, "/etc/passwd"));
  r.record(event("openat", [-2, -100, "/nope", 0, 0, 0, 0], sh));
  r.record(openat(cat, "/etc/shadow"));
  const pending = r.capture({ alertId: "A1", rule: "Read sensitive file", containerId: C.id, durationMs: 20 });
  r.record(event("close", [0, 3], cat));
  return (await pending)!.data;
}

const packr = new Packr({ ...CAPTURE_MSGPACK });
const gz = (o: unknown) => new Uint8Array(gzipSync(packr.pack(o)));

function hostile(events: unknown[], alertIndex: unknown = 1): CaptureFile {
  return {
    format: "vigil-capture",
    version: 1,
    alertId: "X",
    rule: "R",
    hostname: "h",
    createdAt: "",
    container: { id: "host" },
    alertIndex,
    events,
  } as unknown as CaptureFile;
}

function tuple(over: Partial<Record<keyof typeof F, unknown>>): EventTuple {
  const t: unknown[] = new Array(F.startTs + 1).fill(0);
  t[F.sec] = 1_800_000_000;
  t[F.type] = 4;
  t[F.args] = [3, -100, "/x", 0, 0, 0, 0];
  t[F.comm] = "cat";
  t[F.pid] = 1;
  t[F.tid] = 1;
  for (const [k, v] of Object.entries(over)) t[F[k as keyof typeof F]] = v;
  return t as EventTuple;
}

describe("console capture trace", () => {
  it("reads a real capture as the agent's decoder does and lays it out as trace rows", async () => {
    const data = await realCapture();
    const c = await decodeCaptureBytes(data);
    expect(c).toEqual(await decodeCapture(data));
    expect(c.alertIndex).toBe(3);
    // the alert's own process: its last event before the alert
    expect(triggerIndex(c, 4242)).toBe(2);
    expect(triggerIndex(c, 10)).toBe(1);
    expect(triggerIndex(c)).toBe(2);
    const v = traceView(c, { alertPid: 4242 });
    expect(v).toMatchObject({ total: 4, matched: 4, trigger: 2 });
    expect(v.rows.map((r) => [r.rel, r.comm, r.pid, r.tid, r.syscall, r.res, r.failed, r.trigger, r.after])).toEqual([
      ["-2.000000", "cat", "4242", "", "openat", "3", false, false, false],
      ["-1.000000", "sh", "10", "11", "openat", "ENOENT", true, false, false],
      ["0", "cat", "4242", "", "openat", "3", false, true, false],
      ["+1.000000", "cat", "4242", "", "close", "SUCCESS", false, false, true],
    ]);
    expect(v.rows[2]!.args).toBe("dirfd=AT_FDCWD, name=/etc/shadow, flags=O_RDONLY, mode=00, dev=2049, ino=12345");
    expect(v.rows[3]!.args).toBe("fd=3");
    expect(v.rows[0]!.abs).toMatch(/^\d\d:\d\d:\d\d\.123456789$/);
    // the filter: any of process, pid, syscall, arguments, result; case ignored
    expect(traceView(c, { filter: "SHADOW" }).rows.map((r) => r.index)).toEqual([2]);
    expect(traceView(c, { filter: "enoent" }).rows.map((r) => r.index)).toEqual([1]);
    expect(traceView(c, { filter: "close" })).toMatchObject({ matched: 1, total: 4 });
  });

  it("refuses what is not a capture with a clear error", async () => {
    await expect(decodeCaptureBytes(new TextEncoder().encode("not gzip at all"))).rejects.toMatchObject({ code: "bad_file" });
    await expect(decodeCaptureBytes(new Uint8Array(gzipSync(Buffer.from([0xc1, 0xc1]))))).rejects.toThrow(/not valid msgpack/);
    await expect(decodeCaptureBytes(gz({ format: "other" }))).rejects.toThrow(/not a Vigil capture/);
    await expect(decodeCaptureBytes(gz({ format: "vigil-capture", version: 2 }))).rejects.toMatchObject({ code: "bad_version" });
    await expect(decodeCaptureBytes(gz(hostile([[1, 2]])))).rejects.toThrow(/malformed event/);
    // cut short: the gzip stream ends early
    const whole = await realCapture();
    await expect(decodeCaptureBytes(whole.subarray(0, whole.length - 10))).rejects.toMatchObject({ code: "bad_file" });
  });

  it("stops a gzip bomb and an oversized download at their bounds, without reading on", async () => {
    const bomb = new Uint8Array(gzipSync(Buffer.alloc(TRACE_LIMITS.bytes + 1024 * 1024)));
    expect(bomb.length).toBeLessThan(100_000);
    const t0 = performance.now();
    await expect(decodeCaptureBytes(bomb)).rejects.toMatchObject({ code: "too_large" });
    expect(performance.now() - t0).toBeLessThan(5000);
    await expect(decodeCaptureBytes(new Uint8Array(TRACE_LIMITS.compressedBytes + 1))).rejects.toMatchObject({ code: "too_large" });
    // a download stream past its bound: read no further than one chunk past it
    let pulled = 0;
    const endless = new ReadableStream<Uint8Array>({
      pull(ctl) {
        pulled++;
        ctl.enqueue(new Uint8Array(64 * 1024));
      },
    });
    await expect(readBounded(endless, 1024 * 1024)).rejects.toMatchObject({ code: "too_large" });
    expect(pulled).toBeLessThan(20);
  });

  it("renders fields of the wrong type as text, escapes control characters, caps cells and rows", async () => {
    const long = "A".repeat(1024 * 1024);
    const events = [
      tuple({ comm: { evil: 1 }, pid: "x", args: [3, -100, "/tmp/\x1b]0;owned\x07", 0, 0, 0, 0] }),
      tuple({ type: 99_999, args: [{ family: 2 }, null, [1, [2, [3]]]], sec: "soon", nsec: null }),
      tuple({ args: [3, -100, long, "not flags", 0, 0, 0] }),
      tuple({ args: [], res: "?" }),
    ];
    const c = await decodeCaptureBytes(gz(hostile(events, 3)));
    const v = traceView(c);
    expect(v.rows).toHaveLength(4);
    expect(v.rows[0]!.comm).toBe("[object Object]");
    expect(v.rows[0]!.args).toContain("name=/tmp/\\x1b]0;owned\\x07");
    expect(v.rows[1]!).toMatchObject({ syscall: "event99999", rel: "?", abs: "?" });
    expect(v.rows[2]!.args.length).toBeLessThanOrEqual(TRACE_LIMITS.cellChars + 1);
    expect(v.rows[2]!.args).toMatch(/…$/);
    expect(v.rows[2]!.trigger).toBe(true);
    expect(v.rows[3]!.res).toBe("<NA>");
    // an alertIndex out of range: no trigger, no throw
    expect(traceView(await decodeCaptureBytes(gz(hostile(events, 1e9)))).trigger).toBeUndefined();
    expect(traceView(await decodeCaptureBytes(gz(hostile(events, "x")))).trigger).toBeUndefined();
  });

  it("lays out at most TRACE_LIMITS.rows rows of 200,000 events, around the trigger", async () => {
    const e = tuple({});
    const events = Array.from({ length: 200_000 }, () => e);
    const data = gz(hostile(events, 150_001));
    const t0 = performance.now();
    const c = await decodeCaptureBytes(data);
    const v = traceView(c, { alertPid: 1 });
    const ms = performance.now() - t0;
    expect(v.rows).toHaveLength(TRACE_LIMITS.rows);
    expect(v.trigger).toBe(150_000);
    expect(v.rows[0]!.index).toBe(150_000 - TRACE_LIMITS.rows / 2);
    expect(v.rows.some((r) => r.trigger)).toBe(true);
    // a filter matching everything still lays out no more than the bound
    const f = traceView(c, { filter: "openat" });
    expect(f).toMatchObject({ matched: 200_000 });
    expect(f.rows).toHaveLength(TRACE_LIMITS.rows);
    process.stderr.write(`capture-trace.test: 200,000 events (${data.length} bytes gzip'd) decoded and laid out in ${ms.toFixed(0)} ms\n`);
    expect(ms).toBeLessThan(10_000);
  }, 30_000);
});
