// SPDX-License-Identifier: Apache-2.0
/**
 * Socket filters (issue 19, Stratum over write/writev): `write` and `writev` are the busiest calls
 * of a node, and a rule that wants them only for network traffic (a miner's Stratum handshake sent
 * with write on its TCP socket, as libuv-based miners do) would otherwise ship every file and pipe
 * write to the agent. When every rule that can match one of these types needs its fd to be a
 * socket, the probe is asked `write:sock` / `writev:sock` (FORMAT.md "Socket filters") and drops
 * the calls on any other fd (the fd's inode is not S_IFSOCK) before it builds the frame.
 *
 * Like the result filter (result-filter.ts), the derivation over-approximates: a rule's condition
 * (macros expanded, `evt.type` leaves folded for the one type) needs a socket when it cannot be
 * true on another fd. The leaves that need one: `fd.type` / `fd.typechar` equal to (or in a set
 * of) socket kinds (ipv4, ipv6, unix, netlink / 4, 6, u, n), `fd.sockfamily` or `fd.l4proto`
 * compared with `=` / `in`, `fd.connected = true`, `fd.is_server = true`, and the addresses and
 * ports (`fd.sip`, `fd.rport`, `fd.net`...) compared positively; every other leaf, and every
 * negated one, allows any fd. `and` needs a socket when one child does, `or` when all do.
 */
import { EVENTS, eventByName } from "../event-table.js";
import type { CheckNode, Expr } from "../lang/ast.js";
import { simplifyForCodes, type CodeSet } from "./evttype.js";

/** The types the probe can filter this way: their argument 0 is the fd (native-bridge/loader-probe.c accepts `:sock` for these only). */
export const SOCKET_FILTERABLE: readonly string[] = ["write", "writev"];

/** What the derivation needs from a compiled rule. */
export interface SocketFilterableRule {
  readonly codes: CodeSet;
  readonly cond: Expr;
}

const SOCKET_TYPES = new Set(["ipv4", "ipv6", "unix", "netlink"]);
const SOCKET_TYPECHARS = new Set(["4", "6", "u", "n"]);
/** Address and port fields: a positive comparison can only hold on a socket. */
const NET_FIELDS = new Set([
  "fd.ip",
  "fd.port",
  "fd.net",
  "fd.proto",
  "fd.cip",
  "fd.sip",
  "fd.lip",
  "fd.rip",
  "fd.cport",
  "fd.sport",
  "fd.lport",
  "fd.rport",
  "fd.cnet",
  "fd.snet",
  "fd.lnet",
  "fd.rnet",
  "fd.cproto",
  "fd.sproto",
  "fd.lproto",
  "fd.rproto",
  "fd.l4proto",
  "fd.sockfamily",
]);
const POSITIVE_OPS = new Set(["=", "in", "<", "<=", ">", ">=", "startswith", "endswith", "contains", "pmatch", "glob"]);

/**
 * The socket-filterable types (of `types`, default both) every rule that can match needs a
 * socket fd for; a type no rule matches is left out (the agent does not ask for it).
 */
export function deriveSocketOnly(rules: readonly SocketFilterableRule[], types: readonly string[] = SOCKET_FILTERABLE): Set<string> {
  const out = new Set<string>();
  for (const name of types) {
    const spec = eventByName(name);
    if (spec === undefined || !SOCKET_FILTERABLE.includes(name)) continue;
    const only = new Uint8Array(EVENTS.length);
    only[spec.code] = 1;
    let used = false;
    let all = true;
    for (const r of rules) {
      if (r.codes !== null && r.codes[spec.code] !== 1) continue;
      const c = simplifyForCodes(r.cond, only);
      if (c.kind === "bool" && !c.value) continue;
      used = true;
      if (!needsSocket(c, false)) {
        all = false;
        break;
      }
    }
    if (used && all) out.add(name);
  }
  return out;
}

/**
 * Of the socket-only types (from {@link deriveSocketOnly}), those every rule that can match also
 * needs data starting with `{` for (`evt.arg.data startswith "{..."`, `evt.buffer` likewise): the
 * probe is asked `name:sockjson` and drops socket writes of any other data (HTTP, TLS records,
 * database protocols) before the frame, reading one byte of the caller's buffer.
 */
export function deriveJsonOnly(rules: readonly SocketFilterableRule[], socketOnly: ReadonlySet<string>): Set<string> {
  const out = new Set<string>();
  for (const name of socketOnly) {
    const spec = eventByName(name);
    if (spec === undefined) continue;
    const only = new Uint8Array(EVENTS.length);
    only[spec.code] = 1;
    let used = false;
    let all = true;
    for (const r of rules) {
      if (r.codes !== null && r.codes[spec.code] !== 1) continue;
      const c = simplifyForCodes(r.cond, only);
      if (c.kind === "bool" && !c.value) continue;
      used = true;
      if (!needsJsonStart(c, false)) {
        all = false;
        break;
      }
    }
    if (used && all) out.add(name);
  }
  return out;
}

/** Whether `n` (negated when `neg`) can only be true when the event's data starts with `{` (exported for tests). */
export function needsJsonStart(n: Expr, neg: boolean): boolean {
  switch (n.kind) {
    case "bool":
      return n.value === neg;
    case "not":
      return needsJsonStart(n.child, !neg);
    case "ident":
      return false;
    case "and":
    case "or": {
      const conj = (n.kind === "and") !== neg;
      return conj ? n.children.some((c) => needsJsonStart(c, neg)) : n.children.every((c) => needsJsonStart(c, neg));
    }
    case "check": {
      if (neg || n.op !== "startswith" || n.field.kind !== "field" || n.modifier !== undefined) return false;
      const f = n.field.name;
      if (!(f === "evt.buffer" || (f === "evt.arg.data" && n.field.arg === undefined) || (f === "evt.arg" && n.field.arg === "data"))) return false;
      const v = n.value;
      return v?.kind === "value" && v.value.startsWith("{");
    }
  }
}

/** Whether `n` (negated when `neg`) can only be true when the event's fd is a socket (exported for tests). */
export function needsSocket(n: Expr, neg: boolean): boolean {
  switch (n.kind) {
    case "bool":
      // a condition that is never true needs whatever one likes
      return n.value === neg;
    case "not":
      return needsSocket(n.child, !neg);
    case "ident":
      return false;
    case "and":
    case "or": {
      // De Morgan: a negated `and` is an `or` of negated children
      const conj = (n.kind === "and") !== neg;
      return conj ? n.children.some((c) => needsSocket(c, neg)) : n.children.every((c) => needsSocket(c, neg));
    }
    case "check":
      return !neg && leafNeedsSocket(n);
  }
}

function leafNeedsSocket(n: CheckNode): boolean {
  if (n.field.kind !== "field" || n.field.arg !== undefined || n.modifier !== undefined) return false;
  const v = n.value;
  const items = v?.kind === "list" ? v.items.map((i) => i.value) : v?.kind === "value" ? [v.value] : undefined;
  const name = n.field.name;
  if (name === "fd.type" || name === "fd.typechar") {
    if ((n.op !== "=" && n.op !== "in") || items === undefined || items.length === 0) return false;
    const set = name === "fd.type" ? SOCKET_TYPES : SOCKET_TYPECHARS;
    return items.every((x) => set.has(x));
  }
  if (name === "fd.connected" || name === "fd.is_server") return n.op === "=" && items?.length === 1 && items[0] === "true";
  if (NET_FIELDS.has(name)) return POSITIVE_OPS.has(n.op) && items !== undefined && items.length > 0;
  return false;
}
