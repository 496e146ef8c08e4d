// SPDX-License-Identifier: Apache-2.0
/**
 * Byte offsets of the wire structs in native-bridge/events.h. test/native-bridge/layout.test.ts
 * compiles native-bridge/layout-dump.c and checks every value here against the C compiler's
 * offsetof(), so the two sides cannot drift apart.
 */

/** Wire format version this decoder understands. */
export const WIRE_VERSION = 1;
/** Fixed header size. */
export const HDR_SIZE = 88;
/** Largest frame accepted; larger size fields mean a corrupt stream. */
export const MAX_FRAME = 65536;

/** `struct vigil_hdr` field offsets. */
export const Hdr = {
  size: 0,
  type: 4,
  version: 6,
  flags: 7,
  ts: 8,
  pid: 16,
  tid: 20,
  ppid: 24,
  uid: 28,
  gid: 32,
  euid: 36,
  loginuid: 40,
  cpu: 44,
  nparams: 46,
  cgroupId: 48,
  startTs: 56,
  comm: 64,
  commLen: 16,
  res: 80,
} as const;

/** Header flags. */
export const HdrFlag = {
  Truncated: 0x01,
  Child: 0x02,
  /** Exec frame: prevention killed the new program before its first instruction. */
  Blocked: 0x04,
} as const;

/** Control frame types (loader → agent), outside the event code range. */
export const CtlType = {
  Ready: 0x8001,
  Stats: 0x8002,
  Prevent: 0x8003,
  Sync: 0x8004,
} as const;

/** `struct vigil_ctl_prevent` offsets (from the frame start). */
export const CtlPrevent = {
  blocked: 88,
  signalFailed: 96,
  entries: 104,
  mapFull: 108,
  size: 112,
} as const;

/** `struct vigil_ctl_sync` offsets (from the frame start). */
export const CtlSync = {
  seq: 88,
  size: 96,
} as const;

/** Prevention policy bits (value of the probe's `prevent` map; FORMAT.md "Prevention"). */
export const PreventBit = {
  Upper: 0x01,
  Memfd: 0x02,
  Tmpfs: 0x04,
} as const;

/** `struct vigil_ctl_ready` offsets (from the frame start). */
export const CtlReady = {
  realtimeNs: 88,
  boottimeNs: 96,
  ncpus: 104,
  programs: 108,
  size: 112,
} as const;

/** `struct vigil_ctl_stats` offsets (from the frame start); per-CPU drop counters follow. */
export const CtlStats = {
  realtimeNs: 88,
  boottimeNs: 96,
  drops: 104,
  events: 112,
  framesOut: 120,
  ncpus: 128,
  programs: 132,
  perCpu: 136,
} as const;

/** `enum vigil_fd_kind`: first byte of an fd-info param. */
export const FdKind = {
  Unknown: 0,
  File: 1,
  Dir: 2,
  Ipv4: 3,
  Ipv6: 4,
  Unix: 5,
  Pipe: 6,
  Memfd: 7,
  SockOther: 8,
  Anon: 9,
  Char: 10,
  Block: 11,
} as const;

/** Index of each value in the process block of exec- and clone-family frames (FORMAT.md). */
export const ProcBlock = {
  exe: 0,
  args: 1,
  cwd: 2,
  env: 3,
  exepath: 4,
  cgroupPath: 5,
  sid: 6,
  pgid: 7,
  vpgid: 8,
  vpid: 9,
  vtid: 10,
  egid: 11,
  tty: 12,
  capInheritable: 13,
  capPermitted: 14,
  capEffective: 15,
  exeFlags: 16,
  exeIno: 17,
  exeCtime: 18,
  exeMtime: 19,
  pidnsInitStartTs: 20,
  count: 21,
} as const;

/** Falco's execve `flags` bits. */
export const ExeFlag = {
  Writable: 1,
  UpperLayer: 2,
  FromMemfd: 4,
  LowerLayer: 8,
} as const;
