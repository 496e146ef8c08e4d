// SPDX-License-Identifier: Apache-2.0
/**
 * FileIntegrity against real files in a temp dir and real processes (this test's own pid and
 * children): before/after hashes from the start scan and the on-disk baseline, unchanged
 * rewrites, deletes, renames over a file, mode changes, the wait for a writer to close, the size
 * cap, relative paths, and garbage events.
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, closeSync, mkdtempSync, openSync, renameSync, rmSync, unlinkSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FileIntegrity } from "../../agent/fim/index.js";
import { alert, event, fileFd, thread } from "./event-fixture.js";

const sha = (s: string | Buffer) => createHash("sha256").update(s).digest("hex");
const logger = pino({ level: "silent" });

describe("FileIntegrity.decorate", () => {
  let dir: string;
  let watched: string;
  let state: string;
  let fim: FileIntegrity;
  const me = () => thread(process.pid, dir);

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "vigil-fim-"));
    watched = join(dir, "etc");
    state = join(dir, "state");
    rmSync(watched, { recursive: true, force: true });
    await import("node:fs/promises").then((f) => f.mkdir(watched));
    writeFileSync(join(watched, "passwd"), "root:x:0:0::/root:/bin/sh\n");
    writeFileSync(join(watched, "big"), Buffer.alloc(4096, 1));
    writeFileSync(join(watched, "skip.tmp"), "x");
    fim = new FileIntegrity({ stateDir: state, paths: [watched], excludes: ["*.tmp"], maxFileBytes: 1024, logger, settleMs: 2000 });
    await fim.start();
    await fim.scanComplete();
  });

  afterEach(async () => {
    await fim.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("reports a modified file with the hashes before and after", async () => {
    const p = join(watched, "passwd");
    const old = "root:x:0:0::/root:/bin/sh\n";
    writeFileSync(p, old + "evil:x:0:0::/:/bin/sh\n");
    const a = alert();
    await fim.decorate(a, event("openat", { fd: 3, dirfd: -100, name: p }, me(), fileFd(99999, p), 3));
    expect(a.output_fields).toMatchObject({
      "fim.action": "modified",
      "fim.path": p,
      "fim.sha256_before": sha(old),
      "fim.sha256_after": sha(old + "evil:x:0:0::/:/bin/sh\n"),
      "fim.unchanged": false,
      "fim.before_source": "baseline",
    });
    expect(a.output).toContain(`sha256_before=${sha(old)}`);
  });

  it("reports a rewrite with the same content as unchanged", async () => {
    const p = join(watched, "passwd");
    writeFileSync(p, "root:x:0:0::/root:/bin/sh\n");
    const a = alert();
    await fim.decorate(a, event("open", { fd: 3, name: p }, me(), fileFd(99999, p), 3));
    expect(a.output_fields["fim.action"]).toBe("unchanged");
    expect(a.output_fields["fim.unchanged"]).toBe(true);
    expect(a.output_fields["fim.sha256_before"]).toBe(a.output_fields["fim.sha256_after"]);
    expect(fim.stats()["unchanged"]).toBe(1);
  });

  it.each([
    ["a new file", "created", "new.conf", true],
    ["an excluded file", "written", "other.tmp", false],
  ])("reports %s", async (_what, action, name, hashed) => {
    const p = join(watched, name);
    writeFileSync(p, "hello");
    const a = alert();
    await fim.decorate(a, event("creat", { fd: 3, name: p }, me(), fileFd(99999, p), 3));
    expect(a.output_fields["fim.action"]).toBe(action);
    expect(a.output_fields["fim.sha256_before"] ?? null).toBeNull();
    expect(a.output_fields["fim.sha256_after"] ?? null).toBe(hashed ? sha("hello") : null);
    if (!hashed) expect(a.output_fields["fim.note"]).toBe("not_watched");
  });

  it("waits for the writer to close the file before hashing", async () => {
    const p = join(watched, "passwd");
    const fd = openSync(p, "w");
    const a = alert();
    const done = fim.decorate(a, event("openat", { fd, dirfd: -100, name: p }, me(), fileFd(fd, p), fd));
    await new Promise((r) => setTimeout(r, 150));
    writeSync(fd, "final content\n");
    closeSync(fd);
    await done;
    expect(a.output_fields["fim.sha256_after"]).toBe(sha("final content\n"));
    expect(fim.stats()["writer_waits"]).toBe(1);
  });

  it("reports a delete, then a re-creation as created", async () => {
    const p = join(watched, "passwd");
    unlinkSync(p);
    const a = alert("FIM Watched File Deleted");
    await fim.decorate(a, event("unlinkat", { res: 0, dirfd: -100, name: p }, me()));
    expect(a.output_fields).toMatchObject({ "fim.action": "deleted", "fim.sha256_before": sha("root:x:0:0::/root:/bin/sh\n"), "fim.sha256_after": null });
    writeFileSync(p, "new");
    const b = alert();
    await fim.decorate(b, event("openat", { fd: 3, dirfd: -100, name: p }, me(), fileFd(99999, p), 3));
    expect(b.output_fields["fim.action"]).toBe("created");
  });

  it("reports a rename over a watched file with the replaced and the new content", async () => {
    const p = join(watched, "passwd");
    const tmp = join(dir, "passwd.new");
    writeFileSync(tmp, "replaced\n");
    renameSync(tmp, p);
    const a = alert("FIM Watched File Renamed");
    await fim.decorate(a, event("renameat2", { res: 0, olddirfd: -100, oldpath: tmp, newdirfd: -100, newpath: p, flags: 0 }, me()));
    expect(a.output_fields).toMatchObject({
      "fim.action": "renamed",
      "fim.source_path": tmp,
      "fim.sha256_before": sha("root:x:0:0::/root:/bin/sh\n"),
      "fim.sha256_after": sha("replaced\n"),
    });
  });

  it("resolves a path relative to the process's cwd", async () => {
    const p = join(watched, "passwd");
    chmodSync(p, 0o600);
    const a = alert("FIM Watched File Permissions Changed");
    await fim.decorate(a, event("fchmodat", { res: 0, dirfd: -100, filename: "etc/passwd", mode: 0o600 }, me()));
    expect(a.output_fields).toMatchObject({ "fim.action": "mode_changed", "fim.path": p, "fim.unchanged": true });
  });

  it("notes files over the size cap without hashing them", async () => {
    const p = join(watched, "big");
    const a = alert();
    await fim.decorate(a, event("truncate", { res: 0, path: p, length: 0 }, me()));
    expect(a.output_fields["fim.note"]).toBe("too_large");
    expect(a.output_fields["fim.sha256_after"]).toBeNull();
  });

  it("reads through an ancestor's root when the writer has exited", async () => {
    const child = spawn("sh", ["-c", `echo gone > ${join(watched, "passwd")}`]);
    await new Promise((r) => child.on("exit", r));
    const p = join(watched, "passwd");
    const a = alert();
    await fim.decorate(a, event("openat", { fd: 1, dirfd: -100, name: p }, thread(child.pid!, dir, undefined, me()), fileFd(1, p), 1));
    expect(a.output_fields["fim.sha256_after"]).toBe(sha("gone\n"));
  });

  it("leaves alerts of rules not tagged fim alone", async () => {
    const a = { ...alert("Log Files Cleared"), tags: ["mitre_defense_evasion"] };
    await fim.decorate(a, event("unlink", { res: 0, path: join(watched, "passwd") }, me()));
    expect(a.output_fields).toEqual({});
    expect(fim.stats()["not_fim_rule"]).toBe(1);
  });

  it.each([
    ["an event type FIM does not handle", () => event("connect", { res: 0 }, me())],
    ["a path param of the wrong kind", () => event("unlink", { res: 0, path: 42 as unknown as string }, me())],
    ["an empty path", () => event("unlink", { res: 0, path: "" }, me())],
    ["a hostile huge path", () => event("unlink", { res: 0, path: "/" + "a/".repeat(50_000) }, me())],
  ])("survives %s", async (_what, mk) => {
    const a = alert();
    await expect(fim.decorate(a, mk())).resolves.toBeUndefined();
    expect(a.output_fields["fim.sha256_after"] ?? null).toBeNull();
  });

  it("keeps the baseline across restarts", async () => {
    await fim.stop();
    const p = join(watched, "passwd");
    writeFileSync(p, "after restart\n");
    fim = new FileIntegrity({ stateDir: state, paths: [watched], maxFileBytes: 1024, logger, scanOnStart: false });
    await fim.start();
    const a = alert();
    await fim.decorate(a, event("openat", { fd: 3, dirfd: -100, name: p }, me(), fileFd(99999, p), 3));
    expect(a.output_fields["fim.sha256_before"]).toBe(sha("root:x:0:0::/root:/bin/sh\n"));
    expect(a.output_fields["fim.action"]).toBe("modified");
  });
});
