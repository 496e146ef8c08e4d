// SPDX-License-Identifier: Apache-2.0
/**
 * What `vigil agent` prints about the web console when it runs an embedded collector: the URL a
 * browser opens, the command that prints the token (never the token), a `#token=` command that
 * works in a POSIX shell, and a clear line when the console was not built.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { consoleBuilt, consoleHint, consoleUrl, fragmentSafe, shellWord } from "../../agent/cli/console-hint.js";
import { tempDir } from "../collector/helpers.js";

const TOKEN = "Zm9vYmFyLWJhei1xdXV4LTAxMjM0NTY3ODktYWJjZGVm";

describe("console hint", () => {
  it("reaches a wildcard or IPv6 listen address on loopback", () => {
    expect(consoleUrl("127.0.0.1:7460")).toBe("http://127.0.0.1:7460/");
    expect(consoleUrl("0.0.0.0:7460")).toBe("http://127.0.0.1:7460/");
    expect(consoleUrl("[::]:7460")).toBe("http://[::1]:7460/");
    expect(consoleUrl("[::1]:9000")).toBe("http://[::1]:9000/");
    expect(consoleUrl("localhost:7460")).toBe("http://localhost:7460/");
  });

  it("names the URL and the command that prints the token, and a #token= command whose output logs in", () => {
    const dir = tempDir("vigil-hint-");
    const data = join(dir, "state dir's");
    mkdirSync(data);
    const file = join(data, "collector-token");
    writeFileSync(file, `${TOKEN}\n`, { mode: 0o600 });
    const lines = consoleHint({ address: "127.0.0.1:7460", built: true, tokenFile: file, fragmentSafe: fragmentSafe(TOKEN), sudo: false });
    expect(lines).toHaveLength(3);
    expect(lines[0]).toBe("vigil agent: web console at http://127.0.0.1:7460/");
    for (const l of lines) expect(l).not.toContain(TOKEN);
    // the commands are real shell: run as printed, they give the token and the logging-in URL
    const read = /log in with the token this prints: (.+)$/.exec(lines[1]!)![1]!;
    expect(execFileSync("sh", ["-c", read], { encoding: "utf8" }).trim()).toBe(TOKEN);
    const open = /or open the address this prints .*: (echo .+)$/.exec(lines[2]!)![1]!;
    expect(execFileSync("sh", ["-c", open], { encoding: "utf8" }).trim()).toBe(`http://127.0.0.1:7460/#token=${TOKEN}`);
  });

  it("prefixes sudo under sudo, and leaves the #token= command out for a token that would need escaping", () => {
    const lines = consoleHint({
      address: "0.0.0.0:7460",
      built: true,
      tokenFile: "/var/lib/vigil/collector-token",
      fragmentSafe: fragmentSafe("a token/with#odd&chars"),
      sudo: true,
    });
    expect(lines).toEqual([
      "vigil agent: web console at http://127.0.0.1:7460/",
      "vigil agent:   log in with the token this prints: sudo cat /var/lib/vigil/collector-token",
    ]);
    expect(fragmentSafe(TOKEN)).toBe(true);
  });

  it("says where to log in from when the token was given inline, and says so when the console was not built", () => {
    expect(consoleHint({ address: "127.0.0.1:7460", built: true, tokenFile: undefined, fragmentSafe: true, sudo: false })).toEqual([
      "vigil agent: web console at http://127.0.0.1:7460/ (log in with the collector token you configured: --token, VIGIL_TOKEN or sinks.collector.token)",
    ]);
    const none = consoleHint({ address: "127.0.0.1:7460", built: false, tokenFile: "/x/collector-token", fragmentSafe: true, sudo: false });
    expect(none).toHaveLength(1);
    expect(none[0]).toMatch(/^vigil agent: no web console: it was not built \(npm run build/);
  });

  it("finds the build by its index.html", () => {
    const dir = tempDir("vigil-hint-build-");
    expect(consoleBuilt([dir])).toBe(false);
    writeFileSync(join(dir, "index.html"), "<!doctype html>");
    expect(consoleBuilt([join(dir, "absent"), dir])).toBe(true);
  });

  it("quotes shell words only when needed", () => {
    expect(shellWord("/var/lib/vigil/collector-token")).toBe("/var/lib/vigil/collector-token");
    expect(shellWord("/tmp/a b")).toBe("'/tmp/a b'");
    expect(execFileSync("sh", ["-c", `printf %s ${shellWord("it's $(x) `y`")}`], { encoding: "utf8" })).toBe("it's $(x) `y`");
  });
});
