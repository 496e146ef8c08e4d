// SPDX-License-Identifier: Apache-2.0
/**
 * `vigil capture inspect --file PATH` and `vigil capture inspect ID` (from a real collector); an
 * argument that is not an alert ID is refused without touching the file system.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CaptureRecorder, type CaptureResult } from "../../agent/capture/recorder.js";
import { CollectorClient } from "../../agent/sinks/collector-client.js";
import { startCollector, type RunningCollector } from "../../collector/server.js";
import { makeAlert, quiet, tempDir } from "../collector/helpers.js";
import { runCli } from "../sinks/helpers/run-ts.js";
import { container, event, openat, proc } from "./helpers.js";

describe("vigil capture inspect", () => {
  let cap: CaptureResult;
  let file: string;
  let col: RunningCollector;
  beforeAll(async () => {
    const c = container("cccccccccccc");
    const r = new CaptureRecorder({ logger: quiet() });
    const p = proc(c);
    r.record(openat(p, "/etc/hosts"));
    r.record(event("execve", [0, "sh", ["-c", "id"], 4242, 4242, 4000, "/", "sh"], proc(c, { comm: "sh", pid: 77, tid: 77 })));
    const alert = makeAlert();
    const pending = r.capture({ alertId: alert.id, rule: "Read Shadow File", containerId: c.id, durationMs: 30 });
    r.record(openat(p, "/etc/shadow"));
    cap = (await pending)!;
    file = join(tempDir(), "cap.vcap");
    writeFileSync(file, cap.data);
    col = await startCollector({ listen: "127.0.0.1:0", dataDir: tempDir(), token: "t", logger: quiet() });
    const client = new CollectorClient({ address: col.address, token: "t" });
    await client.push([alert], [cap]);
    client.close();
  });
  afterAll(() => col.close());

  it("prints a file as a syscall trace", async () => {
    const r = await runCli(["capture", "inspect", "--file", file]);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split("\n");
    expect(lines[0]).toMatch(/^# capture of alert \S+ \(rule "Read Shadow File"\) on .*; container cccccccccccc .*; 3 events$/);
    expect(lines.slice(1).map((l) => (l.startsWith("----") ? l : l.replace(/^\S+ /, "")))).toEqual([
      "ctr-cccccccccccc(cccccccccccc) cat[4242] openat(dirfd=AT_FDCWD, name=/etc/hosts, flags=O_RDONLY, mode=00, dev=2049, ino=12345) = 3",
      "ctr-cccccccccccc(cccccccccccc) sh[77] execve(exe=sh, args=-c id, tid=4242, pid=4242, ptid=4000, cwd=/, comm=sh) = SUCCESS",
      `---- alert ${cap.alertId} raised here ----`,
      "ctr-cccccccccccc(cccccccccccc) cat[4242] openat(dirfd=AT_FDCWD, name=/etc/shadow, flags=O_RDONLY, mode=00, dev=2049, ino=12345) = 3",
    ]);
  });

  it("fetches by alert ID from a collector, filters, and prints JSON", async () => {
    const r = await runCli([
      "capture",
      "inspect",
      cap.alertId,
      "--collector",
      col.address,
      "--token",
      "t",
      "--type",
      "openat",
      "--grep",
      "shadow",
      "--output",
      "json",
    ]);
    expect(r.code, r.stderr).toBe(0);
    const o = JSON.parse(r.stdout) as {
      container: { id: string };
      events: { event: string; args: Record<string, string>; after_alert: boolean; comm: string }[];
    };
    expect(o.container.id).toBe("cccccccccccc");
    expect(o.events).toEqual([
      expect.objectContaining({ event: "openat", comm: "cat", after_alert: true, args: expect.objectContaining({ name: "/etc/shadow", flags: "O_RDONLY" }) }),
    ]);
  });

  it.each([
    [["capture", "inspect", "--file", "/no/such/file"], /no such file/],
    [["capture", "inspect", "0190-nope", "--collector", "127.0.0.1:1"], /cannot fetch capture/],
    [["capture", "inspect", "--file", "PLACEHOLDER", "--type", "bogus"], /unknown event type/],
    [["capture", "inspect", "0190-ok", "--file", "PLACEHOLDER"], /not both/],
    [["capture", "inspect"], /alert ID .*--file/],
    [["capture", "inspect", "0190-nope"], /--collector/],
  ])("fails with one clear line: %j", async (args, re) => {
    const r = await runCli(args.map((a) => (a === "PLACEHOLDER" ? file : a)));
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(re);
  });

  it("refuses a file that is not a capture", async () => {
    const bad = join(tempDir(), "bad.vcap");
    writeFileSync(bad, "not a capture");
    const r = await runCli(["capture", "inspect", "--file", bad]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/not a gzip'd capture/);
  });

  it.each([
    ["a path climbing out", "../../etc/passwd"],
    ["an absolute path", "/etc/passwd"],
    ["the capture file itself", "PLACEHOLDER"],
    ["a leading dot", ".hidden"],
    ["a control character", "ab\ncd"],
    ["65 characters", "a".repeat(65)],
  ])("refuses %s as an alert ID, naming --file, without reading it", async (_n, arg) => {
    const what = arg === "PLACEHOLDER" ? file : arg;
    // a collector is given: the old command fetched an ID only when no such file existed
    const r = await runCli(["capture", "inspect", what, "--collector", col.address, "--token", "t"]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    const lines = r.stderr.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/is not an alert ID .*use --file PATH/);
    expect(r.stderr).not.toMatch(/root:|capture of alert/);
  });

  it("accepts the longest alert ID (64 characters) as an ID", async () => {
    const r = await runCli(["capture", "inspect", `a${"0".repeat(63)}`, "--collector", col.address, "--token", "t"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/cannot fetch capture a0+: /);
  });
});
