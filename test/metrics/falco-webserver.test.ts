// SPDX-License-Identifier: Apache-2.0
/**
 * Falco's webserver endpoints on the agent's metrics server: `/versions` with the keys of Falco's
 * versions_info (Vigil's values), `/healthz` with Falco's body.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Metrics, startMetricsServer, type MetricsServer } from "../../agent/metrics/index.js";
import { ENGINE_VERSION } from "../../rules/index.js";
import { REPO_ROOT } from "../helpers/agent.js";

/** The keys Falco's /versions answers when no plugin is loaded (falco userspace/falco/versions_info.cpp). */
const FALCO_KEYS = [
  "falco_version",
  "libs_version",
  "plugin_api_version",
  "driver_api_version",
  "driver_schema_version",
  "default_driver_version",
  "engine_version",
  "engine_version_semver",
];

describe("Falco webserver endpoints", () => {
  let srv: MetricsServer;
  let base: string;
  beforeAll(async () => {
    srv = await startMetricsServer({ port: 0, host: "127.0.0.1", logger: pino({ level: "silent" }), ready: () => true, metrics: new Metrics() });
    base = `http://127.0.0.1:${srv.port}`;
  });
  afterAll(() => srv.close());

  it("/versions: Falco's keys, all strings, with Vigil's versions", async () => {
    const r = await fetch(`${base}/versions`);
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toBe("application/json");
    const v = (await r.json()) as Record<string, unknown>;
    for (const k of FALCO_KEYS) expect(typeof v[k], k).toBe("string");
    expect(Object.keys(v).filter((k) => !FALCO_KEYS.includes(k))).toEqual(["vigil_version", "vigil_probe_wire_version"]);
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")) as { version: string };
    expect(v["falco_version"]).toBe(`${pkg.version}+vigil`);
    expect(v["vigil_version"]).toBe(pkg.version);
    expect(v["default_driver_version"]).toBe(pkg.version);
    // the engine version on Falco's scale: falcoctl reads engine_version_semver, old tools the minor
    expect(v["engine_version_semver"]).toBe(ENGINE_VERSION);
    expect(v["engine_version"]).toBe(String(Number(ENGINE_VERSION.split(".")[1])));
    expect(v["engine_version_semver"]).toMatch(/^\d+\.\d+\.\d+$/);
    // no plugins: Falco leaves plugin_versions out
    expect(v).not.toHaveProperty("plugin_versions");
    expect(v["vigil_probe_wire_version"]).toBe("1");
  });

  it("/versions answers HEAD and refuses POST like the other endpoints", async () => {
    expect((await fetch(`${base}/versions`, { method: "HEAD" })).status).toBe(200);
    expect((await fetch(`${base}/versions`, { method: "POST" })).status).toBe(405);
  });

  it("/healthz answers Falco's body", async () => {
    const r = await fetch(`${base}/healthz`);
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toBe("application/json");
    expect(await r.json()).toEqual({ status: "ok" });
  });
});
