// SPDX-License-Identifier: Apache-2.0
/** Alerts and settings for the Falco-style output tests. */
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import type { OutputConfig } from "../../../agent/config/outputs-schema.js";
import { outputSchema } from "../../../agent/config/outputs-schema.js";
import type { Alert } from "../../../proto/index.js";

export const quiet = () => pino({ level: "silent" });

export function tempDir(prefix = "vigil-outputs-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function outputConfig(o: Partial<OutputConfig> = {}): OutputConfig {
  return outputSchema.parse(o);
}

let n = 0;
/** An alert as the engine builds it (agent/engine/alert-builder.ts): output = `TIME: Priority message`. */
export function alert(message = "Shell spawned in a container (user=root shell=bash)", over: Partial<Alert> = {}): Alert {
  n++;
  const time = `2026-12-04T21:28:33.${String(123456789 + n).padStart(9, "0")}Z`;
  return {
    id: `0193a1b2-c3d4-7e5f-8a9b-${String(n).padStart(12, "0")}`,
    time,
    rule: "Terminal shell in container",
    priority: "Notice",
    source: "syscall",
    hostname: "node-1",
    output: `${time}: Notice ${message}`,
    output_fields: { "proc.name": "bash", "user.name": "root", "proc.pid": 4242, "container.id": "abc123def456", "k8s.ns.name": null },
    tags: ["shell", "container", "mitre_execution"],
    ...over,
  };
}

/** A CA, a server certificate for 127.0.0.1/localhost and a client certificate, made with openssl; paths. */
export function makePki(dir: string): { ca: string; serverCert: string; serverKey: string; clientCert: string; clientKey: string } {
  mkdirSync(dir, { recursive: true });
  const ossl = (args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "ignore" });
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  ossl(["req", "-x509", ...ec, "-days", "2", "-subj", "/CN=vigil-outputs-test-ca", "-keyout", "ca.key", "-out", "ca.crt"]);
  for (const [name, ext] of [
    ["server", "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n"],
    ["client", "extendedKeyUsage=clientAuth\n"],
  ] as const) {
    ossl(["req", ...ec, "-subj", `/CN=vigil-${name}`, "-keyout", `${name}.key`, "-out", `${name}.csr`]);
    writeFileSync(join(dir, `${name}.ext`), ext);
    ossl([
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      "ca.crt",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-days",
      "2",
      "-extfile",
      `${name}.ext`,
      "-out",
      `${name}.crt`,
    ]);
  }
  return {
    ca: join(dir, "ca.crt"),
    serverCert: join(dir, "server.crt"),
    serverKey: join(dir, "server.key"),
    clientCert: join(dir, "client.crt"),
    clientKey: join(dir, "client.key"),
  };
}

/** Puts the CA, certificate and key test/helpers/rsyslog.ts expects into its dir. */
export function rsyslogPki(dir: string): void {
  const p = makePki(join(dir, "pki"));
  copyFileSync(p.ca, join(dir, "ca.crt"));
  copyFileSync(p.serverCert, join(dir, "tls.crt"));
  copyFileSync(p.serverKey, join(dir, "tls.key"));
}
