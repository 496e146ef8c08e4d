// SPDX-License-Identifier: Apache-2.0
/**
 * The sidecar's tracer socket with the real vigil-trace, run as an unprivileged user like a
 * workload, and the agent's own frame decoder behind it.
 */
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterAll, describe, expect, it } from "vitest";
import { FrameDecoder, type RawEvent } from "../../agent/decode/index.js";
import { startTraceSocket } from "../../agent/inject/index.js";
import { REPO_ROOT } from "../helpers/agent.js";

const TRACE = join(REPO_ROOT, "native-bridge", "build", "vigil-trace");
const logger = pino({ level: "silent" });
const dir = mkdtempSync(join(tmpdir(), "vigil-tsock-"));
chmodSync(dir, 0o755); // the workload user must reach the socket
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function runTraced(sock: string, script: string, uid?: number): Promise<number | null> {
  return new Promise((resolve) => {
    const c = spawn(TRACE, ["--socket", sock, "--syscalls", "execve,openat,clone,fork,vfork,clone3,procexit", "--", "sh", "-c", script], {
      stdio: "ignore",
      cwd: "/",
      ...(uid !== undefined ? { uid, gid: uid } : {}),
    });
    c.on("exit", (code) => setTimeout(() => resolve(code), 100));
  });
}

describe("trace socket", () => {
  it("replaces a stale socket, takes tracers running as any user, decodes each connection", async () => {
    const path = join(dir, "run", "trace.sock");
    // a previous agent died and left its socket file
    spawnSync(process.execPath, [
      "-e",
      `require("fs").mkdirSync(${JSON.stringify(join(dir, "run"))}, { recursive: true }); require("net").createServer().listen(${JSON.stringify(path)}, () => process.exit(0))`,
    ]);
    expect(existsSync(path)).toBe(true);
    const events: { conn: number; type: number; pid: number }[] = [];
    const srv = await startTraceSocket({
      path,
      logger,
      onConnection: (conn) => {
        const dec = new FrameDecoder({ onEvent: (e: RawEvent) => events.push({ conn, type: e.type, pid: e.pid }) });
        return { push: (c) => dec.push(c), end: () => undefined };
      },
    });
    expect(statSync(path).mode & 0o777).toBe(0o777);
    const code = await runTraced(path, "cat /etc/hostname >/dev/null; exit 2", 65534);
    expect(code).toBe(2);
    await runTraced(path, "cat /etc/hostname >/dev/null");
    const conns = new Set(events.map((e) => e.conn));
    expect(conns.size).toBe(2);
    expect(events.some((e) => e.type === 4)).toBe(true); // openat
    expect(events.some((e) => e.type === 1)).toBe(true); // execve
    expect(srv.stats()["connections"]).toBe(2);
    await srv.close();
    expect(existsSync(path)).toBe(false);
  });

  it("never deletes a file that is not a socket", async () => {
    const path = join(dir, "regular");
    writeFileSync(path, "keep me");
    await expect(startTraceSocket({ path, logger, onConnection: () => ({ push: () => undefined, end: () => undefined }) })).rejects.toThrow();
    expect(existsSync(path)).toBe(true);
  });

  it("refuses connections past the limit and survives a failing consumer", async () => {
    const path = join(dir, "limit.sock");
    let n = 0;
    const srv = await startTraceSocket({
      path,
      logger,
      maxConnections: 1,
      onConnection: () => {
        n++;
        return {
          push: (c) => {
            if (c.includes(0x21)) throw new Error("consumer bug"); // "!"
          },
          end: () => undefined,
        };
      },
    });
    const a = connect(path);
    await new Promise((r) => a.once("connect", r));
    await new Promise((r) => setTimeout(r, 50));
    const b = connect(path);
    await new Promise((r) => b.once("close", r));
    expect(srv.stats()["refused"]).toBe(1);
    a.write("!");
    await new Promise((r) => a.once("close", r));
    expect(srv.stats()["consumer_errors"]).toBe(1);
    // the server still serves
    const c = connect(path);
    await new Promise((r) => c.once("connect", r));
    c.destroy();
    expect(n).toBe(2);
    await srv.close();
  });
});
