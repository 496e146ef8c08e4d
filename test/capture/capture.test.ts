// SPDX-License-Identifier: Apache-2.0
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import v8 from "node:v8";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { CaptureRecorder } from "../../agent/capture/recorder.js";
import { decodeCapture, encodeCapture, F, type CaptureFile } from "../../proto/index.js";
import { renderTrace, traceLine } from "../../agent/capture/inspect.js";
import { eventsFromCapture, ReplaySource } from "../../agent/sources/replay.js";
import { loadRuleFiles, type CompiledRule } from "../../rules/index.js";
import { REPO } from "../sinks/helpers/run-ts.js";
import { memoryLogger, quiet, tempDir } from "../collector/helpers.js";
import { container, event, openat, proc } from "./helpers.js";

const C1 = container("aaaaaaaaaaaa");
const C2 = container("bbbbbbbbbbbb");

describe("capture recorder", () => {
  it("keeps a bounded ring per container, oldest first, reusing its slots", async () => {
    const r = new CaptureRecorder({ perContainer: 8, logger: quiet() });
    const p1 = proc(C1);
    const p2 = proc(C2, { comm: "sh", pid: 99, tid: 99 });
    for (let i = 0; i < 20; i++) r.record(openat(p1, `/tmp/f${i}`));
    r.record(openat(p2, "/other"));
    const ring = (r as unknown as { rings: Map<string, { nums: Float64Array; text: unknown[]; args: unknown[][] }> }).rings.get(C1.id)!;
    const before = { nums: ring.nums, text: ring.text, args: [...ring.args] };
    expect(before.args).toHaveLength(8);
    for (let i = 20; i < 30; i++) r.record(openat(p1, `/tmp/f${i}`));
    // the same columns and per-slot params arrays are refilled: no per-event allocation once the ring is full
    expect(ring.nums).toBe(before.nums);
    expect(ring.text).toBe(before.text);
    expect(ring.args.every((a, i) => a === before.args[i])).toBe(true);
    const res = (await r.capture({ alertId: "a1", rule: "R", containerId: C1.id, durationMs: 0 }))!;
    const cap = await decodeCapture(res.data);
    expect(cap.events.map((e) => e[F.args][2])).toEqual(Array.from({ length: 8 }, (_v, i) => `/tmp/f${22 + i}`));
    expect(cap.alertIndex).toBe(8);
    expect(res).toMatchObject({ alertId: "a1", eventCount: 8, containerId: C1.id });
  });

  it("records without allocating once the ring is full, large times included", async () => {
    const r = new CaptureRecorder({ perContainer: 64, logger: quiet() });
    const p1 = proc(C1);
    // times and sequence numbers past the small-integer range: boxed if stored as array elements
    const evs = Array.from({ length: 256 }, (_v, i) =>
      Object.assign(openat(p1, `/tmp/g${i}`), { sec: 1_796_000_000 + i, bootNs: 9_000_000_000_000 + i, num: 5_000_000_000 + i }),
    );
    for (let k = 0; k < 200; k++) for (const e of evs) r.record(e);
    const prof = new v8.GCProfiler();
    prof.start();
    for (let k = 0; k < 8000; k++) for (const e of evs) r.record(e);
    const gcs = prof.stop().statistics.filter((x) => x.gcType === "Scavenge" || x.gcType === "MinorMarkSweep").length;
    // boxing three numbers per event would take a dozen young-generation GCs here; allow one from elsewhere in the process
    expect(gcs).toBeLessThanOrEqual(1);
    const res = (await r.capture({ alertId: "a0", rule: "R", containerId: C1.id, durationMs: 0 }))!;
    const cap = await decodeCapture(res.data);
    const last = cap.events[cap.events.length - 1]!;
    expect([last[F.sec], last[F.bootNs], last[F.num], last[F.args][2]]).toEqual([1_796_000_255, 9_000_000_000_255, 5_000_000_255, "/tmp/g255"]);
  });

  it("collects the window after the alert for that container only, for capture_duration ms", async () => {
    const r = new CaptureRecorder({ perContainer: 4, logger: quiet() });
    const p1 = proc(C1);
    const p2 = proc(C2);
    r.record(openat(p1, "/before"));
    const pending = r.capture({ alertId: "a2", rule: "R", containerId: C1.id, durationMs: 200 });
    r.record(openat(p1, "/after-1"));
    r.record(openat(p2, "/other-container"));
    await new Promise((res) => setTimeout(res, 50));
    r.record(openat(p1, "/after-2"));
    const res = (await pending)!;
    r.record(openat(p1, "/too-late"));
    const cap = await decodeCapture(res.data);
    expect(cap.events.map((e) => e[F.args][2])).toEqual(["/before", "/after-1", "/after-2"]);
    expect(cap.alertIndex).toBe(1);
    expect(cap.container).toMatchObject({
      id: C1.id,
      name: "ctr-aaaaaaaaaaaa",
      image: "docker.io/library/busybox:1.36",
      k8s: { namespace: "prod", podName: "web-1" },
    });
  });

  it("keeps every param kind through msgpack + gzip", async () => {
    const r = new CaptureRecorder({ logger: quiet() });
    const p = proc(C1);
    const tuple = { family: 2, sip: "10.0.0.1", sport: 40000, dip: "1.2.3.4", dport: 443 };
    const evs = [
      event(
        "execve",
        [0, "sh", ["-c", "id"], 4242, 4242, 4000, "/", "sh", ["PATH=/bin"], 0, 7, 0xffffffff, 2, 0n, 0x1ffn, 0x1ffffffffffn, 77n, 0, 0, 0, "/bin/sh", 4242, 0],
        p,
      ),
      event("connect", [0, tuple, 3, tuple], p, { type: "ipv4", typechar: "4", name: "10.0.0.1:40000->1.2.3.4:443", tuple }),
      event("sendto", [5, new Uint8Array([104, 105, 0, 255, 10]), 3, 5, tuple], p),
    ];
    for (const e of evs) r.record(e);
    const cap = await decodeCapture((await r.capture({ alertId: "a3", rule: "R", containerId: C1.id, durationMs: 0 }))!.data);
    // byte buffers come back as Buffer (a Uint8Array): compare their bytes
    const norm = (a: readonly unknown[]) => a.map((v) => (v instanceof Uint8Array ? { bytes: [...v] } : v));
    expect(cap.events.map((e) => norm(e[F.args]))).toEqual(evs.map((e) => norm(e.args)));
    expect(cap.events[2]![F.args][1]).toBeInstanceOf(Uint8Array);
    expect(typeof cap.events[0]![F.args][15]).toBe("bigint");
  });

  it("refuses captures beyond the concurrency bound (counted, logged once)", async () => {
    const { logger, lines } = memoryLogger();
    const r = new CaptureRecorder({ maxActive: 1, logger });
    r.record(openat(proc(C1), "/x"));
    const first = r.capture({ alertId: "1", rule: "R", containerId: C1.id, durationMs: 50 });
    expect(await r.capture({ alertId: "2", rule: "R", containerId: C1.id, durationMs: 50 })).toBeUndefined();
    expect(await r.capture({ alertId: "3", rule: "R", containerId: C1.id, durationMs: 50 })).toBeUndefined();
    expect(await first).toBeDefined();
    expect(r.stats()["captures_refused"]).toBe(2);
    expect(lines.filter((l) => l["msg"] === "too many captures at once, refusing (logged once)")).toHaveLength(1);
  });
});

describe("capture file", () => {
  it.each([
    ["not gzip", Buffer.from("hello"), "bad_file"],
    ["gzip of garbage", gzipSync(Buffer.from([0xc1, 0xc1, 0xc1])), "bad_file"],
    ["another msgpack document", gzipSync(Buffer.from([0x81, 0xa1, 0x61, 0x01])), "bad_file"],
    ["a future version", null, "bad_version"],
    ["a malformed event", null, "bad_file"],
  ])("refuses %s with a coded error", async (name, data, code) => {
    let buf = data;
    if (buf === null) {
      const base: CaptureFile = {
        format: "vigil-capture",
        version: 1,
        alertId: "x",
        rule: "r",
        hostname: "h",
        createdAt: "",
        container: { id: "host" } as never,
        alertIndex: 0,
        events: [],
      };
      buf = await encodeCapture(name === "a future version" ? ({ ...base, version: 2 } as never) : ({ ...base, events: [["nope"]] } as never));
    }
    await expect(decodeCapture(buf)).rejects.toMatchObject({ code });
  });

  it("stops a gzip bomb at the size limit", async () => {
    const bomb = gzipSync(Buffer.alloc(300 * 1024 * 1024));
    await expect(decodeCapture(bomb)).rejects.toMatchObject({ code: "bad_file" });
  });
});

describe("capture inspect", () => {
  const p = proc(C1, { parent: proc(C1, { comm: "bash", exepath: "/bin/bash", pid: 4000, tid: 4000 }) });
  const tuple = { family: 2, sip: "10.0.0.1", sport: 40000, dip: "1.2.3.4", dport: 443 };
  const cases: [string, ReturnType<typeof event>, string][] = [
    [
      "openat",
      openat(p, "/etc/shadow", 0o1101),
      "cat[4242] openat(dirfd=AT_FDCWD, name=/etc/shadow, flags=O_WRONLY|O_CREAT|O_TRUNC, mode=00, dev=2049, ino=12345) = 3",
    ],
    [
      "openat failing",
      event("openat", [-2, -100, "/nope", 0, 0, 0, 0], p),
      "openat(dirfd=AT_FDCWD, name=/nope, flags=O_RDONLY, mode=00, dev=0, ino=0) = ENOENT",
    ],
    ["connect", event("connect", [0, tuple, 3, tuple], p), "connect(tuple=10.0.0.1:40000->1.2.3.4:443, fd=3, addr=1.2.3.4:443) = SUCCESS"],
    [
      "execve",
      event("execve", [0, "sh", ["-c", "id"], 4242, 4242, 4000, "/", "sh"], p),
      "execve(exe=sh, args=-c id, tid=4242, pid=4242, ptid=4000, cwd=/, comm=sh) = SUCCESS",
    ],
    ["hostile text", openat(p, "/tmp/\x1b]0;x\x07"), "name=/tmp/\\x1b]0;x\\x07"],
  ];
  it.each(cases)("renders %s", async (_n, e, want) => {
    const r = new CaptureRecorder({ logger: quiet() });
    r.record(e);
    const cap = await decodeCapture((await r.capture({ alertId: "a", rule: "R", containerId: C1.id, durationMs: 0 }))!.data);
    const line = traceLine(cap, cap.events[0]!);
    expect(line).toContain(want);
    expect(line).toMatch(/^\d\d:\d\d:\d\d\.123456789 ctr-aaaaaaaaaaaa\(aaaaaaaaaaaa\) /);
  });

  it("filters by type, pid, comm and text, and marks the alert", async () => {
    const r = new CaptureRecorder({ logger: quiet() });
    const sh = proc(C1, { comm: "sh", pid: 10, tid: 10 });
    r.record(openat(p, "/etc/shadow"));
    r.record(event("connect", [0, tuple, 3, tuple], sh));
    const pending = r.capture({ alertId: "A", rule: "R", containerId: C1.id, durationMs: 30 });
    r.record(openat(sh, "/etc/passwd"));
    const cap = await decodeCapture((await pending)!.data);
    const body = (f: Parameters<typeof renderTrace>[1]) => renderTrace(cap, f).slice(1);
    expect(body({})).toHaveLength(4);
    expect(body({})[2]).toBe("---- alert A raised here ----");
    expect(body({ types: ["connect"] }).filter((l) => !l.startsWith("----"))).toHaveLength(1);
    expect(body({ pid: 10 }).filter((l) => !l.startsWith("----"))).toHaveLength(2);
    expect(body({ comm: "cat" }).filter((l) => !l.startsWith("----"))).toHaveLength(1);
    expect(body({ grep: "/etc/passwd" }).filter((l) => !l.startsWith("----"))).toHaveLength(1);
  });
});

describe("replay", () => {
  const loadBase = () =>
    loadRuleFiles([{ path: "00-vigil-base.yaml", text: readFileSync(join(REPO, "rules", "files", "00-vigil-base.yaml"), "utf8") }]).ruleset;

  it("re-runs the rules over a capture: the same rule fires on the replayed events", async () => {
    const rs = loadBase();
    const parent = proc(C1, { comm: "bash", exepath: "/bin/bash", pid: 4000, tid: 4000 });
    const p = proc(C1, { parent });
    const events = [openat(p, "/etc/hosts"), openat(p, "/etc/shadow"), openat(p, "/tmp/x")];
    const live: string[] = [];
    const r = new CaptureRecorder({ logger: quiet() });
    for (const e of events) {
      r.record(e);
      rs.evaluate(e, (rule: CompiledRule) => live.push(rule.name));
    }
    expect(live).toEqual(["Read Shadow File"]);
    const res = (await r.capture({ alertId: "z", rule: "Read Shadow File", containerId: C1.id, durationMs: 0 }))!;
    const file = join(tempDir(), "z.vcap");
    writeFileSync(file, res.data);
    const replayed: { rule: string; fields: Record<string, unknown>; containerId: string }[] = [];
    const src = new ReplaySource(
      { file },
      (e) => rs.evaluate(e, (rule, ev) => replayed.push({ rule: rule.name, fields: rule.format(ev).fields, containerId: ev.proc.container.id })),
      quiet(),
    );
    await src.start();
    expect(src.stats()).toMatchObject({ events: 3, errors: 0 });
    expect(replayed.map((x) => x.rule)).toEqual(["Read Shadow File"]);
    expect(replayed[0]!.fields).toMatchObject({ "fd.name": "/etc/shadow", "proc.name": "cat", "proc.pname": "bash" });
    expect(replayed[0]!.containerId).toBe(C1.id);
  });

  it("rebuilds the event model from a capture", async () => {
    const r = new CaptureRecorder({ logger: quiet() });
    r.record(openat(proc(C1), "/etc/shadow"));
    const cap = await decodeCapture((await r.capture({ alertId: "y", rule: "R", containerId: C1.id, durationMs: 0 }))!.data);
    const [e] = eventsFromCapture(cap);
    expect(e!.proc).toMatchObject({ pid: 4242, comm: "cat", exepath: "/bin/cat", args: ["/etc/shadow"], cwd: "/root", loginuid: 0xffffffff });
    expect(e!.proc.container.k8s).toMatchObject({ podName: "web-1", namespace: "prod" });
    expect(e!.proc.container.labels.get("app")).toBe("web");
    expect(e!.fd).toMatchObject({ num: 3, name: "/etc/shadow", typechar: "f" });
  });
});
