// SPDX-License-Identifier: Apache-2.0
/**
 * One version, from package.json: `vigil --version`, the default image the injectors put into
 * pods, and the CHANGELOG's newest release heading all say the same.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DEFAULT_IMAGE, IMAGE_REPOSITORY, VERSION, versionParts } from "../../agent/version.js";
import { CLI, REPO_ROOT } from "../helpers/agent.js";
import { MIN_NODE, olderThan } from "../../agent/cli/node-version.js";

const pkg = JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")) as { version: string };

describe("version", () => {
  it("is package.json's", () => {
    expect(VERSION).toBe(pkg.version);
    expect(DEFAULT_IMAGE).toBe(`${IMAGE_REPOSITORY}:${pkg.version}`);
    const [major, minor, patch] = pkg.version.split(/[.+-]/).map(Number);
    expect(versionParts()).toMatchObject({ major, minor, patch });
  });

  it("`vigil --version` prints it", () => {
    const out = execFileSync(process.execPath, [CLI, "--version"], { encoding: "utf8" });
    expect(out.trim()).toBe(pkg.version);
  });

  it("the injectors default to the image of this version", () => {
    for (const sub of [
      ["webhook", "--help"],
      ["inject", "ecs", "--help"],
    ]) {
      // commander wraps the help text: compare with the whitespace folded
      const out = execFileSync(process.execPath, [CLI, ...sub], { encoding: "utf8" }).replace(/\s+/g, " ");
      expect(out).toContain(`(default: "${IMAGE_REPOSITORY}:${pkg.version}")`);
    }
  });

  it("CHANGELOG.md's newest release is this version", () => {
    const log = readFileSync(join(REPO_ROOT, "CHANGELOG.md"), "utf8");
    const releases = [...log.matchAll(/^## \[([^\]]+)\]/gm)].map((m) => m[1]).filter((v) => v !== "Unreleased");
    expect(releases[0]).toBe(pkg.version);
  });
});

describe("the Node.js version", () => {
  const engines = (JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")) as { engines: { node: string } }).engines.node;

  it("package.json's engines says the minimum the CLI checks", () => {
    expect(engines).toBe(`>=${MIN_NODE}`);
    expect(olderThan(process.versions.node, MIN_NODE)).toBe(false);
  });

  it("compares versions numerically", () => {
    expect(olderThan("20.20.2", "24.15.0")).toBe(true);
    expect(olderThan("24.14.9", "24.15.0")).toBe(true);
    expect(olderThan("24.15.0", "24.15.0")).toBe(false);
    expect(olderThan("24.22.3", "24.15.0")).toBe(false);
    expect(olderThan("26.0.0", "24.15.0")).toBe(false);
    expect(olderThan("24.9.0", "24.15.0")).toBe(true);
  });

  // the machine's own Node.js (Debian's or the image's 20) when it is older: one line, exit 1
  const old = ["/usr/bin/node", "/usr/local/bin/node"].find((p) => {
    if (!existsSync(p)) return false;
    const v = spawnSync(p, ["--version"], { encoding: "utf8" }).stdout.trim().replace(/^v/, "");
    return v !== "" && olderThan(v, MIN_NODE);
  });
  it.skipIf(old === undefined)("an older Node.js gets one clear line and exit status 1", () => {
    const r = spawnSync(old as string, [CLI, "--version"], { encoding: "utf8" });
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toContain(`Node.js ${MIN_NODE} or later is needed`);
  });
});
