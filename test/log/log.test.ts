// SPDX-License-Identifier: Apache-2.0
import { execFile } from "node:child_process";
import { closeSync, mkdtempSync, openSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { createLogger, type LoggerOptions } from "../../agent/log.js";
import { REPO } from "../sinks/helpers/run-ts.js";

const run = promisify(execFile);
const REGISTER = join(REPO, "test", "sinks", "helpers", "register-ts.mjs");
const CHILD = join(REPO, "test", "log", "log-child.ts");
// colour codes pino-pretty adds on a terminal
const ANSI = /\u001b\[[0-9;]*m/g;

/** Logs two records through a logger writing to a temporary file; returns the file's text. */
function logToFile(opts: LoggerOptions): string {
  const path = join(mkdtempSync(join(tmpdir(), "vigil-log-")), "log");
  const fd = openSync(path, "w");
  try {
    const logger = createLogger("info", { ...opts, fd });
    logger.child({ component: "tail" }).info({ clients: 3 }, "tail client connected");
    logger.debug("not at this level");
    logger.error({ err: new Error("boom") }, "store write failed");
  } finally {
    closeSync(fd);
  }
  return readFileSync(path, "utf8");
}

describe("createLogger", () => {
  it("writes JSON lines when the output is not a terminal", () => {
    const lines = logToFile({ isTTY: false }).trim().split("\n");
    expect(lines).toHaveLength(2);
    const [a, b] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(a).toMatchObject({ level: 30, app: "vigil", component: "tail", clients: 3, msg: "tail client connected" });
    expect(b).toMatchObject({ level: 50, msg: "store write failed", err: { message: "boom" } });
  });

  it("writes pretty lines on a terminal", () => {
    const text = logToFile({ isTTY: true }).replace(ANSI, "");
    expect(text).not.toMatch(/^\{/m);
    expect(text).toMatch(/INFO.*tail client connected/);
    expect(text).toMatch(/component: "tail"/);
    expect(text).toMatch(/clients: 3/);
    expect(text).toMatch(/ERROR.*store write failed/);
    expect(text).toMatch(/Error: boom/);
    expect(text).not.toMatch(/not at this level/);
  });

  it("keeps JSON on a terminal when the format is forced to json, and pretty off one when forced to pretty", () => {
    expect(JSON.parse(logToFile({ isTTY: true, format: "json" }).split("\n")[0]!)).toMatchObject({ msg: "tail client connected" });
    expect(logToFile({ isTTY: false, format: "pretty" })).toMatch(/INFO.*tail client connected/);
  });

  it("a real process: JSON on a pipe, pretty on a pseudo-terminal, JSON again with VIGIL_LOG_FORMAT=json", async () => {
    const node = [process.execPath, "--import", REGISTER, CHILD];
    const env = { ...process.env, VIGIL_LOG_FORMAT: "" };
    const piped = await run(node[0]!, node.slice(1), { cwd: REPO, env });
    expect(JSON.parse(piped.stderr.trim())).toMatchObject({ component: "probe", events: 42, untrusted: { comm: "sh" }, msg: "probe started" });

    // script(1) runs the command on a pseudo-terminal and copies what it writes to our pipe
    const quoted = node.map((a) => `'${a}'`).join(" ");
    const tty = await run("script", ["-qefc", quoted, "/dev/null"], { cwd: REPO, env });
    const text = tty.stdout.replace(ANSI, "");
    expect(text).toMatch(/INFO.*probe started/);
    expect(text).toMatch(/events: 42/);
    expect(text).not.toMatch(/^\{/m);

    const forced = await run("script", ["-qefc", quoted, "/dev/null"], { cwd: REPO, env: { ...env, VIGIL_LOG_FORMAT: "json" } });
    expect(JSON.parse(forced.stdout.trim())).toMatchObject({ msg: "probe started" });
  });
});
