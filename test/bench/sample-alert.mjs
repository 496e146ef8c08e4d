// SPDX-License-Identifier: Apache-2.0
/**
 * The alert the collector benchmarks, the runtime comparison and the deploy sizing run push: a
 * Falco-shaped *Read Shadow File* from `cat` (number `i` in its pid), with the fields a real one
 * carries. Plain JavaScript so that node scripts (test/deploy/sizing.mjs) and TypeScript benchmarks
 * share it. `o` varies what a benchmark spreads over: time, rule, priority, hostname, container
 * id, namespace, pod.
 *
 * @param {number} i
 * @param {{ time?: string, outputTime?: string, rule?: string, priority?: string, hostname?: string,
 *   containerId?: string, namespace?: string, pod?: string }} [o]
 * @returns {import("../../proto/index.js").Alert}
 */
import { v7 as uuidv7 } from "uuid";

export function sampleAlert(i, o = {}) {
  return {
    id: uuidv7(),
    time: o.time ?? new Date().toISOString().replace("Z", "000000Z"),
    rule: o.rule ?? "Read Shadow File",
    priority: o.priority ?? "Warning",
    source: "syscall",
    hostname: o.hostname ?? "node-a",
    output: `${o.outputTime ?? "2026-11-28T12:00:00.000000000Z"}: Warning Shadow password file opened for reading (file=/etc/shadow flags=O_RDONLY process=cat pid=${i} exepath=/usr/bin/cat command=cat /etc/shadow parent=bash user=root)`,
    output_fields: {
      "fd.name": "/etc/shadow",
      "evt.arg.flags": "O_RDONLY",
      "proc.name": "cat",
      "proc.pid": i,
      "proc.exepath": "/usr/bin/cat",
      "proc.cmdline": "cat /etc/shadow",
      "proc.pname": "bash",
      "user.name": "root",
      "user.uid": 0,
      "user.loginuid": -1,
      "container.id": o.containerId ?? "abcdef123456",
      "container.name": "web",
      "container.image.repository": "docker.io/library/nginx",
      "k8s.ns.name": o.namespace ?? "prod",
      "k8s.pod.name": o.pod ?? "web-1",
    },
    tags: ["T1003.008", "filesystem", "mitre_credential_access"],
  };
}
