// SPDX-License-Identifier: Apache-2.0
/**
 * The defaults the running agent and collector read without loading zod (plain objects beside
 * the code that applies them) are the schemas' defaults, and the runtime overlay keeps what a
 * caller gives.
 */
import { describe, expect, it } from "vitest";
import { remoteSyslogForwarder } from "../../agent/cli/falco-syslog-remote.js";
import { DEFAULT_HTTP_LIMITS, httpLimits } from "../../agent/metrics/http-guard.js";
import { httpLimitsSchema } from "../../agent/metrics/http-limits-schema.js";
import { falcoOutputsLimitsSchema } from "../../agent/sinks/falco-outputs-limits-schema.js";
import { DEFAULT_FALCO_OUTPUTS_LIMITS } from "../../agent/sinks/falco-outputs-server.js";
import { collectorLimits, DEFAULT_COLLECTOR_LIMITS } from "../../proto/collector-limits.js";
import { collectorLimitsSchema } from "../../proto/collector-limits-schema.js";
import { DEFAULT_NATS_CONNECTION } from "../../proto/fleet.js";
import { forwarderSchema } from "../../proto/forwarders.js";
import { natsConnectionSchema } from "../../proto/fleet-schema.js";

describe("runtime defaults", () => {
  it.each([
    ["collector limits", DEFAULT_COLLECTOR_LIMITS, () => collectorLimitsSchema.parse({})],
    ["HTTP server limits", DEFAULT_HTTP_LIMITS, () => httpLimitsSchema.parse({})],
    ["NATS connection", DEFAULT_NATS_CONNECTION, () => natsConnectionSchema.parse({})],
    ["Falco outputs server limits", DEFAULT_FALCO_OUTPUTS_LIMITS, () => falcoOutputsLimitsSchema.parse({})],
  ] as const)("%s equal the schema's defaults", (_name, plain, parsed) => {
    expect(plain).toStrictEqual(parsed());
  });

  it("the overlays keep given keys, fill the others, and skip undefined", () => {
    expect(collectorLimits({ max_body_bytes: 4096, page_bytes: undefined })).toStrictEqual({ ...collectorLimitsSchema.parse({}), max_body_bytes: 4096 });
    expect(collectorLimits(undefined)).toStrictEqual(collectorLimitsSchema.parse({}));
    expect(httpLimits({ max_connections: 2 })).toStrictEqual({ ...httpLimitsSchema.parse({}), max_connections: 2 });
    expect(httpLimits()).not.toBe(DEFAULT_HTTP_LIMITS);
  });

  it("the remote syslog_output's forwarder settings are what the forwarder schema gives", () => {
    const o = {
      protocol: "tls",
      address: "logs:6514",
      facility: 3,
      appName: "vigil",
      timeoutMs: 50,
      tls: { ca_file: "/ca", cert_file: "", key_file: "" },
    } as const;
    expect(remoteSyslogForwarder(o)).toStrictEqual(
      forwarderSchema.parse({
        type: "syslog",
        name: "syslog_output",
        address: o.address,
        protocol: o.protocol,
        facility: 3,
        app_name: "vigil",
        timeout_ms: 100,
        tls: o.tls,
      }),
    );
  });
});
