// SPDX-License-Identifier: Apache-2.0
/**
 * The embedded store on node:sqlite: idempotent batches with store order, a batch that fails is
 * rolled back whole and leaves the store usable, captures come back as the bytes stored, and
 * everything survives closing and reopening the file.
 */
import { rmSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { AlertStore } from "../../collector/store.js";
import type { Alert } from "../../proto/index.js";
import { makeAlert, tempDir } from "./helpers.js";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function dataDir(): string {
  const d = tempDir("vigil-store-");
  dirs.push(d);
  return d;
}

describe("AlertStore", () => {
  it("stores a batch once, in seq order, and counts resends as duplicates", () => {
    const s = new AlertStore({ dataDir: ":memory:" });
    const batch = [makeAlert(), makeAlert(), makeAlert()];
    const r1 = s.insert(batch);
    expect(r1.duplicates).toBe(0);
    expect(r1.inserted.map((x) => x.seq)).toEqual([1, 2, 3]);
    expect(r1.inserted.map((x) => x.alert.id)).toEqual(batch.map((a) => a.id));
    expect(r1.inserted[0]!.keys.namespace).toBe("default");
    const r2 = s.insert([batch[1]!, makeAlert()]);
    expect(r2.duplicates).toBe(1);
    expect(r2.inserted).toHaveLength(1);
    // seq only grows (an ignored duplicate may use up a number: AUTOINCREMENT)
    const seq4 = r2.inserted[0]!.seq;
    expect(seq4).toBeGreaterThan(3);
    expect(s.count()).toBe(4);
    expect(s.maxSeq()).toBe(seq4);
    expect(s.seqOf(batch[2]!.id)).toBe(3);
    expect(s.seqOf("nope")).toBeUndefined();
    expect(s.hasAlert(batch[0]!.id)).toBe(true);
    expect(s.after(2, 10).map((x) => x.alert.id)).toEqual([batch[2]!.id, r2.inserted[0]!.alert.id]);
    s.close();
  });

  it("rolls a failing batch back whole and stays usable", () => {
    const s = new AlertStore({ dataDir: ":memory:" });
    s.insert([makeAlert()]);
    // the third alert cannot be bound (no hostname): the two before it must not stay stored
    const bad = { ...makeAlert(), hostname: undefined } as unknown as Alert;
    expect(() => s.insert([makeAlert(), makeAlert(), bad])).toThrow();
    expect(s.count()).toBe(1);
    expect(s.db.isTransaction).toBe(false);
    const r = s.insert([makeAlert()]);
    expect(r.inserted).toHaveLength(1);
    expect(s.count()).toBe(2);
    s.close();
  });

  it("returns a capture as the bytes stored, as a Buffer", () => {
    const s = new AlertStore({ dataDir: ":memory:" });
    const a = makeAlert();
    s.insert([a]);
    const data = Buffer.from([0, 1, 2, 250, 255, 0x1f, 0x8b]);
    expect(s.insertCapture({ alertId: a.id, data, eventCount: 7, containerId: "abcdef123456" })).toBe(true);
    expect(s.insertCapture({ alertId: a.id, data: Buffer.from("other"), eventCount: 1, containerId: "x" })).toBe(false);
    const c = s.getCapture(a.id)!;
    expect(Buffer.isBuffer(c.data)).toBe(true);
    expect(c.data.equals(data)).toBe(true);
    expect(c).toMatchObject({ alertId: a.id, eventCount: 7, containerId: "abcdef123456" });
    expect(s.getCapture("nope")).toBeUndefined();
    s.close();
  });

  it("keeps alerts and captures across close and reopen of the file", () => {
    const d = dataDir();
    const s = new AlertStore({ dataDir: d });
    const a = makeAlert();
    s.insert([a, makeAlert()]);
    s.insertCapture({ alertId: a.id, data: Buffer.from("cap"), eventCount: 1, containerId: "c" });
    s.close();
    s.close(); // twice is harmless
    const t = new AlertStore({ dataDir: d });
    expect(t.count()).toBe(2);
    expect(t.seqOf(a.id)).toBe(1);
    expect(t.getCapture(a.id)?.data.toString()).toBe("cap");
    expect(t.insert([makeAlert()]).inserted[0]!.seq).toBeGreaterThan(2);
    t.close();
  });

  it("pages by keyset cursor and deletes old alerts with their captures", () => {
    const s = new AlertStore({ dataDir: ":memory:" });
    const now = Date.parse("2026-06-01T00:00:00Z");
    const old = makeAlert({ time: "2026-05-01T00:00:00.000000000Z" });
    const fresh = [1, 2, 3].map((i) => makeAlert({ time: `2026-05-31T00:00:0${i}.000000000Z` }));
    s.insert([old, ...fresh]);
    s.insertCapture({ alertId: old.id, data: Buffer.from("x"), eventCount: 1, containerId: "c" });
    const p1 = s.queryPage({}, { order: "time", limit: 2, maxBytes: 1 << 20 });
    expect(p1.rows.map((r) => JSON.parse(r.json).id)).toEqual([old.id, fresh[0]!.id]);
    expect(p1.more).toBe(true);
    const p2 = s.queryPage({}, { order: "time", limit: 2, maxBytes: 1 << 20, after: p1.next });
    expect(p2.rows.map((r) => JSON.parse(r.json).id)).toEqual([fresh[1]!.id, fresh[2]!.id]);
    s.setCursor("lagging", 0);
    s.setCursor("caught-up", 4);
    expect(s.applyRetention(7 * 86_400_000, now)).toEqual({ removed: 1, unsent: [{ forwarder: "lagging", alerts: 1 }] });
    expect([s.expiredCount("lagging"), s.expiredCount("caught-up"), s.expiredCount("none")]).toEqual([1, 0, 0]);
    // counted once: a second run removes nothing more
    expect(s.applyRetention(7 * 86_400_000, now)).toEqual({ removed: 0, unsent: [] });
    expect(s.expiredCount("lagging")).toBe(1);
    expect(s.count()).toBe(3);
    expect(s.getCapture(old.id)).toBeUndefined();
    s.close();
  });
});
