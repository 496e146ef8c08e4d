// SPDX-License-Identifier: Apache-2.0
import { appendFileSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Spool, type SpoolRecord } from "../../agent/sinks/spool.js";
import { makeAlert, memoryLogger, quiet, tempDir } from "../collector/helpers.js";

const alertsOf = (recs: SpoolRecord[]) => recs.map((r) => (r.kind === "alert" ? r.alert.id : `cap:${r.alertId}`));
const segFiles = (dir: string) =>
  readdirSync(dir)
    .filter((f) => f.endsWith(".vsp"))
    .sort();

function filled(n: number, opts: Partial<ConstructorParameters<typeof Spool>[0]> = {}) {
  const dir = tempDir("vigil-spool-");
  const s = new Spool({ dir, logger: quiet(), ...opts });
  s.open();
  const alerts = Array.from({ length: n }, () => makeAlert());
  for (const a of alerts) s.append([{ kind: "alert", alert: a }]);
  return { dir, s, ids: alerts.map((a) => a.id) };
}

describe("spool", () => {
  it("reads back what was appended, alerts and captures, in order", () => {
    const { s, ids } = filled(10);
    s.append([{ kind: "capture", alertId: ids[0]!, data: new Uint8Array([1, 2, 3]), eventCount: 3, containerId: "c1" }]);
    const r = s.read(s.cursor, 100, 1 << 30);
    expect(alertsOf(r.records)).toEqual([...ids, `cap:${ids[0]}`]);
    const cap = r.records[10]!;
    expect(cap.kind === "capture" && [...cap.data]).toEqual([1, 2, 3]);
    expect(s.drained(r.end)).toBe(true);
  });

  it("resumes from the acknowledged cursor after a restart", () => {
    const { dir, s, ids } = filled(10);
    const first = s.read(s.cursor, 4, 1 << 30);
    s.commit(first.end);
    s.close();
    const s2 = new Spool({ dir, logger: quiet() });
    s2.open();
    expect(alertsOf(s2.read(s2.cursor, 100, 1 << 30).records)).toEqual(ids.slice(4));
  });

  it("rolls segments and deletes the acknowledged ones", () => {
    const { dir, s, ids } = filled(400, { segmentBytes: 64 * 1024 });
    expect(segFiles(dir).length).toBeGreaterThan(2);
    let pos = s.cursor;
    const seen: string[] = [];
    for (;;) {
      const r = s.read(pos, 50, 1 << 30);
      if (r.records.length === 0) break;
      seen.push(...alertsOf(r.records));
      pos = r.end;
      s.commit(pos);
    }
    expect(seen).toEqual(ids);
    expect(segFiles(dir).length).toBeLessThanOrEqual(2);
    expect(s.counters.segments_deleted).toBeGreaterThan(0);
  });

  it("truncates a torn record at the end of the newest segment and keeps appending", () => {
    const { dir, s, ids } = filled(5);
    s.close();
    const seg = join(dir, segFiles(dir).at(-1)!);
    const before = statSync(seg).size;
    // a header promising 1000 bytes, then only 10: a write cut short by a crash
    const h = Buffer.alloc(12);
    h.write("VGS1", 0, "latin1");
    h.writeUInt32LE(1000, 4);
    appendFileSync(seg, Buffer.concat([h, Buffer.alloc(10, 7)]));
    const { logger, lines } = memoryLogger();
    const s2 = new Spool({ dir, logger });
    expect(s2.open()).toEqual([]);
    expect(statSync(seg).size).toBe(before);
    expect(s2.counters.torn_tail_bytes).toBe(22);
    expect(lines.some((l) => l["msg"] === "spool: torn record at the end truncated")).toBe(true);
    const extra = makeAlert();
    s2.append([{ kind: "alert", alert: extra }]);
    expect(alertsOf(s2.read(s2.cursor, 100, 1 << 30).records)).toEqual([...ids, extra.id]);
  });

  // each corruption hits record #3 (of 8) in the middle of the segment
  it.each([
    ["a flipped payload byte (CRC mismatch)", (b: Buffer, at: number) => void (b[at + 20] = b[at + 20]! ^ 0xff)],
    ["a flipped CRC byte", (b: Buffer, at: number) => void (b[at + 9] = b[at + 9]! ^ 0x01)],
    ["a broken magic", (b: Buffer, at: number) => void b.write("XXXX", at, "latin1")],
    ["a huge length", (b: Buffer, at: number) => void b.writeUInt32LE(0x7fffffff, at + 4)],
    ["a length past the end", (b: Buffer, at: number) => void b.writeUInt32LE(b.length, at + 4)],
    ["zeroed bytes", (b: Buffer, at: number) => void b.fill(0, at, at + 40)],
  ])("skips %s in a segment, reports it, and recovers every other record", (_n, corrupt) => {
    const { dir, s, ids } = filled(8);
    s.close();
    const seg = join(dir, segFiles(dir)[0]!);
    const buf = readFileSync(seg);
    // find record starts by walking the headers
    const starts: number[] = [];
    for (let off = 0; off < buf.length; off += 12 + buf.readUInt32LE(off + 4)) starts.push(off);
    corrupt(buf, starts[3]!);
    writeFileSync(seg, buf);
    const { logger, lines } = memoryLogger();
    const s2 = new Spool({ dir, logger });
    const found = s2.open();
    expect(found).toHaveLength(1);
    expect(found[0]!.offset).toBe(starts[3]);
    expect(found[0]!.bytes).toBe(starts[4]! - starts[3]!);
    const log = lines.find((l) => l["msg"] === "spool: corrupted region skipped, the rest is recovered");
    expect(log).toMatchObject({ offset: starts[3], bytes: starts[4]! - starts[3]! });
    expect(alertsOf(s2.read(s2.cursor, 100, 1 << 30).records)).toEqual([...ids.slice(0, 3), ...ids.slice(4)]);
    expect(s2.counters.corrupt_regions).toBe(1);
  });

  it("drops appends past maxBytes, counts them and logs once per burst", () => {
    const { logger, lines } = memoryLogger();
    const dir = tempDir("vigil-spool-");
    const s = new Spool({ dir, logger, maxBytes: 64 * 1024 });
    s.open();
    let kept = 0;
    let dropped = 0;
    for (let i = 0; i < 300; i++) {
      const r = s.append([{ kind: "alert", alert: makeAlert() }]);
      kept += r.kept;
      dropped += r.dropped;
    }
    expect(kept).toBeGreaterThan(10);
    expect(dropped).toBe(300 - kept);
    expect(s.counters.dropped_full).toBe(dropped);
    expect(s.bytes).toBeLessThanOrEqual(64 * 1024);
    const full = lines.filter((l) => l["msg"] === "spool full: dropping alerts until the collector catches up");
    expect(full).toHaveLength(1);
    // acknowledging frees room; the burst's total is reported when appends fit again
    let pos = s.cursor;
    for (;;) {
      const r = s.read(pos, 1000, 1 << 30);
      if (r.records.length === 0) break;
      pos = r.end;
    }
    s.commit(pos);
    expect(s.bytes).toBe(0);
    expect(s.append([{ kind: "alert", alert: makeAlert() }]).kept).toBe(1);
    expect(lines.find((l) => l["msg"] === "spool has room again; alerts dropped while it was full")).toMatchObject({ dropped });
  });

  it("never loses the records after a cursor that points at a deleted segment", () => {
    const dir = tempDir("vigil-spool-");
    writeFileSync(join(dir, "cursor"), JSON.stringify({ seg: 5, off: 999 }));
    const s = new Spool({ dir, logger: quiet() });
    s.open();
    const a = makeAlert();
    s.append([{ kind: "alert", alert: a }]);
    expect(alertsOf(s.read(s.cursor, 10, 1 << 30).records)).toEqual([a.id]);
  });
});
