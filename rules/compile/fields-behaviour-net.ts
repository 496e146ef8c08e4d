// SPDX-License-Identifier: Apache-2.0
/**
 * Fields of network behaviour over time (issue 19, class 4): they read `SyscallEvent.net`, which
 * the agent's state (agent/behaviour/net.ts) sets on connect events and on exec events of network
 * servers and their descendants. On other events they are missing (every check false, `<NA>` in
 * outputs). Registered by fields.ts; listed by `vigil rules fields`.
 */
import type { NetBehaviourView, SyscallEvent } from "../event.js";
import type { FieldType, FieldValue, Getter } from "./field-types.js";

export interface NetBehaviourField {
  readonly name: string;
  readonly type: FieldType;
  readonly desc: string;
  readonly get: Getter;
}

const WINDOW = "in the agent's window (behaviour.net window, default 60 s; at most max_targets destinations kept)";

function f(name: string, type: FieldType, desc: string, read: (n: NetBehaviourView) => FieldValue): NetBehaviourField {
  return { name, type, desc, get: (e: SyscallEvent) => (e.net === undefined ? undefined : read(e.net)) };
}

export const NET_BEHAVIOUR_FIELDS: readonly NetBehaviourField[] = [
  f("vigil.net.dest_ip", "string", "connect events: the destination address the call named (failed calls included), as text", (n) => n.destIp),
  f("vigil.net.dest_port", "port", "connect events: the destination port the call named (failed calls included)", (n) => n.destPort),
  f(
    "vigil.net.distinct_ports",
    "uint",
    `connect events: distinct destination ports the process tried to connect to ${WINDOW}, failed attempts included`,
    (n) => n.procPorts,
  ),
  f(
    "vigil.net.distinct_hosts",
    "uint",
    `connect events: distinct destination addresses the process tried to connect to ${WINDOW}, failed attempts included`,
    (n) => n.procHosts,
  ),
  f(
    "vigil.net.failed_connects",
    "uint",
    `connect events: connects of the process that failed (refused, timed out, unreachable; not EINPROGRESS) ${WINDOW}`,
    (n) => n.procFailed,
  ),
  f(
    "vigil.net.new_port",
    "bool",
    "connect events: the destination port was not contacted by the process in the window before this event",
    (n) => n.newProcPort,
  ),
  f(
    "vigil.net.new_host",
    "bool",
    "connect events: the destination address was not contacted by the process in the window before this event",
    (n) => n.newProcHost,
  ),
  f(
    "vigil.net.ctr.distinct_ports",
    "uint",
    `connect events in a container: distinct destination ports of its processes of the same name (comm) ${WINDOW}`,
    (n) => n.ctrPorts,
  ),
  f(
    "vigil.net.ctr.distinct_hosts",
    "uint",
    `connect events in a container: distinct destination addresses of its processes of the same name (comm) ${WINDOW}`,
    (n) => n.ctrHosts,
  ),
  f(
    "vigil.net.ctr.failed_connects",
    "uint",
    `connect events in a container: failed connects of its processes of the same name (comm) ${WINDOW}`,
    (n) => n.ctrFailed,
  ),
  f(
    "vigil.net.ctr.new_port",
    "bool",
    "connect events in a container: the destination port was new in the window for the container's processes of the same name",
    (n) => n.newCtrPort,
  ),
  f(
    "vigil.net.ctr.new_host",
    "bool",
    "connect events in a container: the destination address was new in the window for the container's processes of the same name",
    (n) => n.newCtrHost,
  ),
  f(
    "proc.is_net_server",
    "bool",
    "connect and exec events: the process listened on an IP socket, or was forked (at any depth) from a process that had, since the agent started",
    (n) => n.netServer,
  ),
  f(
    "vigil.exec.script",
    "string",
    "exec events of a network server or its descendants starting an interpreter: the script it runs (its argument, or the script behind a shebang), absolute",
    (n) => n.script,
  ),
  f(
    "vigil.exec.script_age",
    "uint",
    "with vigil.exec.script: seconds since the script was last changed (its ctime), read in the container's root",
    (n) => n.scriptAgeSec,
  ),
  f(
    "vigil.exec.script_after_listen",
    "bool",
    "with vigil.exec.script: the script was last changed after the server began listening (written while the server runs, as web shells are)",
    (n) => n.scriptAfterListen,
  ),
];
