// SPDX-License-Identifier: Apache-2.0
/**
 * The remote transport of `syslog_output` (udp/tcp/tls addresses): the collector's syslog
 * destination (collector/forward/syslog.ts: RFC 5424, octet-counted framing over TCP/TLS),
 * adapted for agent/sinks/outputs. It lives in agent/cli because only the composition root may
 * reach collector/. Each alert's MSG is Falco's line (text or JSON) for the `output:` format.
 */
import type { Logger } from "pino";
import { createSyslogDestination } from "../../collector/forward/syslog.js";
import { type ForwarderOf, forwarderSchema } from "../../proto/forwarders.js";
import type { RemoteSyslog, RemoteSyslogOptions } from "../sinks/outputs/index.js";

/** A {@link RemoteSyslogFactory} for createFalcoOutputs. */
export function createRemoteSyslog(o: RemoteSyslogOptions, logger: Logger): RemoteSyslog {
  const cfg = forwarderSchema.parse({
    type: "syslog",
    name: "syslog_output",
    address: o.address,
    protocol: o.protocol,
    facility: o.facility,
    app_name: o.appName,
    timeout_ms: Math.max(100, o.timeoutMs),
    tls: o.tls,
  }) as ForwarderOf<"syslog">;
  const dest = createSyslogDestination(cfg, { logger });
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
