// SPDX-License-Identifier: Apache-2.0
/**
 * The remote transport of `syslog_output` (udp/tcp/tls addresses): the collector's syslog
 * destination (collector/forward/syslog.ts: RFC 5424, octet-counted framing over TCP/TLS),
 * adapted for agent/sinks/outputs. It lives in agent/cli because only the composition root may
 * reach collector/. Each alert's MSG is Falco's line (text or JSON) for the `output:` format.
 */
import type { Logger } from "pino";
import { createSyslogDestination } from "../../collector/forward/syslog.js";
import type { ForwarderOf } from "../../proto/forwarders.js";
import type { RemoteSyslog, RemoteSyslogOptions } from "../sinks/outputs/index.js";

/** The syslog forwarder's settings for `o`: what the forwarder schema would give, built without it. */
export function remoteSyslogForwarder(o: RemoteSyslogOptions): ForwarderOf<"syslog"> {
  // the forwarder's settings built whole (the type lists every key): the values come from the
  // configuration, already validated, so the forwarder schema (zod) is not loaded in the agent
  const cfg: ForwarderOf<"syslog"> = {
    type: "syslog",
    name: "syslog_output",
    address: o.address,
    protocol: o.protocol,
    facility: o.facility,
    app_name: o.appName,
    timeout_ms: Math.max(100, o.timeoutMs),
    tls: { ...o.tls },
    enabled: true,
    rules: [],
    tags: [],
    namespaces: [],
    sources: [],
    start: "end",
    batch_size: 0,
    retry_min_ms: 500,
    retry_max_ms: 60_000,
    rate_limit_per_minute: 0,
    group_window_seconds: 0,
  };
  return cfg;
}

/** A {@link RemoteSyslogFactory} for createFalcoOutputs. */
export function createRemoteSyslog(o: RemoteSyslogOptions, logger: Logger): RemoteSyslog {
  const dest = createSyslogDestination(remoteSyslogForwarder(o), { logger });
  return {
    async send(items, signal) {
      await dest.send(
        items.map((it, i) => ({ seq: i, alert: { ...it.alert, output: it.line }, count: 1 })),
        signal,
      );
    },
    async close() {
      await dest.close?.();
    },
  };
}
