// SPDX-License-Identifier: Apache-2.0
/**
 * One version, from package.json: `vigil --version`, the default image the injectors put into
 * pods, and the CHANGELOG's newest release heading all say the same.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DEFAULT_IMAGE, IMAGE_REPOSITORY, VERSION, versionParts } from "../../agent/version.js";
import { CLI, REPO_ROOT } from "../helpers/agent.js";

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
