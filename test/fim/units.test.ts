// SPDX-License-Identifier: Apache-2.0
/** The FIM building blocks: watch set, hashing with a cap, the on-disk baseline, overlay layers. */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Baseline, DEFAULT_FIM_EXCLUDES, DEFAULT_FIM_PATHS, hashFile, rootLowerDirs, WatchSet } from "../../agent/fim/index.js";

const dir = mkdtempSync(join(tmpdir(), "vigil-fim-u-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("WatchSet (defaults)", () => {
  const w = new WatchSet(DEFAULT_FIM_PATHS, DEFAULT_FIM_EXCLUDES);
  it.each([
    ["/etc/passwd", true],
    ["/etc/pam.d/sshd", true],
    ["/etcetera/x", false],
    ["/usr/bin/ls", true],
    ["/usr/lib/x86_64-linux-gnu/security/pam_unix.so", true],
    ["/usr/lib/python3/__pycache__/x.pyc", false],
    ["/root/.ssh/authorized_keys", true],
    ["/home/alice/.ssh/authorized_keys", true],
    ["/home/alice/.bashrc", true],
    ["/home/alice/notes.txt", false],
    ["/etc/ld.so.cache", false],
    ["/var/spool/cron/crontabs/root", true],
    ["/tmp/x", false],
    ["relative/etc/passwd", false],
    ["", false],
  ])("%s → %s", (p, want) => expect(w.matches(p)).toBe(want));

  it("rejects a relative pattern", () => expect(() => new WatchSet(["etc"], [])).toThrow(/absolute/));
});

describe("hashFile", () => {
  const f = join(dir, "f");
  writeFileSync(f, "abc");
  symlinkSync(f, join(dir, "link"));
  execFileSync("mkfifo", [join(dir, "fifo")]);
  it.each([
    ["a regular file", f, 10, { kind: "ok", sha256: createHash("sha256").update("abc").digest("hex"), size: 3 }],
    ["a missing file", join(dir, "nope"), 10, { kind: "missing" }],
    ["a file over the cap", f, 2, { kind: "too_large", size: 3 }],
    ["a symlink (not followed)", join(dir, "link"), 10, { kind: "not_regular" }],
    ["a FIFO (never blocks)", join(dir, "fifo"), 10, { kind: "not_regular" }],
    ["a directory", dir, 10, { kind: "not_regular" }],
  ])("%s", async (_w, p, cap, want) => expect(await hashFile(p, cap)).toMatchObject(want));
});

describe("Baseline", () => {
  it("round-trips through disk", async () => {
    const s = join(dir, "state1");
    const b = new Baseline(s);
    expect(await b.load()).toBe(true);
    b.set("host:/etc/a", { sha256: "a".repeat(64), size: 1, mtimeMs: 2, ino: 3 });
    await b.save();
    const c = new Baseline(s);
    await c.load();
    expect(c.get("host:/etc/a")).toEqual({ sha256: "a".repeat(64), size: 1, mtimeMs: 2, ino: 3 });
  });

  it.each([["not json"], ['{"version":1,"entries":null}'], ["SQLite format 3\u0000" + "x".repeat(200)]])("sets a corrupt file aside: %s", async (text) => {
    const s = join(dir, `state-${Math.random()}`);
    const b = new Baseline(s);
    await b.load();
    await b.closeFile();
    writeFileSync(b.path, text);
    const c = new Baseline(s);
    expect(await c.load()).toBe(false);
    expect(c.size).toBe(0);
    await c.closeFile(); // a fresh, empty baseline took its place
    expect(readdirSync(s).some((n) => n.includes(".corrupt-"))).toBe(true);
  });

  it("keeps changes visible before a save, persists deletions, and holds the entries on disk, not in the heap", async () => {
    const s = join(dir, "state2");
    const b = new Baseline(s);
    await b.load();
    for (let i = 0; i < 5000; i++) b.set(`host:/usr/lib/f${i}`, { sha256: (i % 16).toString(16).repeat(64), size: i, mtimeMs: i, ino: i });
    b.delete("host:/usr/lib/f7");
    expect(b.get("host:/usr/lib/f7")).toBeUndefined();
    expect(b.get("host:/usr/lib/f8")?.size).toBe(8);
    await b.save();
    expect(b.size).toBe(4999);
    await b.closeFile();
    const c = new Baseline(s);
    expect(await c.load()).toBe(true);
    expect(c.size).toBe(4999);
    expect(c.get("host:/usr/lib/f7")).toBeUndefined();
    expect(c.get("host:/usr/lib/f4999")).toEqual({ sha256: "7".repeat(64), size: 4999, mtimeMs: 4999, ino: 4999 });
    await c.closeFile();
  });
});

describe("rootLowerDirs", () => {
  it.each([
    [
      "a containerd overlay root",
      "612 540 0:55 / / rw,relatime - overlay overlay rw,lowerdir=/var/lib/c/snapshots/2/fs:/var/lib/c/snapshots/1/fs,upperdir=/var/lib/c/snapshots/3/fs,workdir=/var/lib/c/snapshots/3/work\n613 612 0:56 / /proc rw - proc proc rw\n",
      ["/var/lib/c/snapshots/2/fs", "/var/lib/c/snapshots/1/fs"],
    ],
    ["a host root", "22 1 254:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw\n", []],
    ["escaped spaces", "1 0 0:1 / / rw - overlay overlay rw,lowerdir=/a\\040b/fs,upperdir=/u\n", ["/a b/fs"]],
    ["garbage", "\u0000\u0001 nonsense\n - \n", []],
  ])("%s", (_w, text, want) => expect(rootLowerDirs(text)).toEqual(want));
});
