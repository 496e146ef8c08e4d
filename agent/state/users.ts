// SPDX-License-Identifier: Apache-2.0
/**
 * User and group names resolved in the process's own root (`/proc/<pid>/root/etc/passwd`), so a
 * container's uid 1000 gets the container's name for it. Parsed files are cached per root key
 * (the container id) and re-read after a while; one UserInfo object per (root, uid) is reused.
 */
import { readFileSync } from "node:fs";
import type { GroupInfo, UserInfo } from "../../rules/event.js";

interface RootDb {
  users: Map<number, UserInfo>;
  groups: Map<number, GroupInfo>;
  loadedAt: number;
}

const REFRESH_MS = 30_000;
const MAX_ROOTS = 4096;

/** Caching passwd/group resolver. */
export class UserDb {
  private readonly roots = new Map<string, RootDb>();
  private readonly unknownUsers = new Map<number, UserInfo>();
  private readonly unknownGroups = new Map<number, GroupInfo>();
  readonly counters = { passwd_reads: 0, passwd_read_failures: 0 };

  constructor(private readonly procRoot: string = "/proc") {}

  /** The user `uid` as seen inside the root of process `pid` (`rootKey` names that root). */
  user(uid: number, pid: number, rootKey: string): UserInfo {
    return this.db(pid, rootKey).users.get(uid) ?? this.unknownUser(uid);
  }

  /** The group `gid` as seen inside the root of process `pid`. */
  group(gid: number, pid: number, rootKey: string): GroupInfo {
    return this.db(pid, rootKey).groups.get(gid) ?? this.unknownGroup(gid);
  }

  private unknownUser(uid: number): UserInfo {
    let u = this.unknownUsers.get(uid);
    if (u === undefined) {
      u = { uid, name: undefined, homedir: undefined, shell: undefined };
      if (this.unknownUsers.size < 65536) this.unknownUsers.set(uid, u);
    }
    return u;
  }

  private unknownGroup(gid: number): GroupInfo {
    let g = this.unknownGroups.get(gid);
    if (g === undefined) {
      g = { gid, name: undefined };
      if (this.unknownGroups.size < 65536) this.unknownGroups.set(gid, g);
    }
    return g;
  }

  private db(pid: number, rootKey: string): RootDb {
    const now = Date.now();
    const have = this.roots.get(rootKey);
    if (have !== undefined && now - have.loadedAt < REFRESH_MS) return have;
    const base = rootKey === "host" ? "" : `${this.procRoot}/${pid}/root`;
    const users = new Map<number, UserInfo>();
    const groups = new Map<number, GroupInfo>();
    this.counters.passwd_reads++;
    const passwd = readText(`${base}/etc/passwd`);
    const group = readText(`${base}/etc/group`);
    if (passwd === undefined && have !== undefined) {
      // the process is gone: keep what we had
      have.loadedAt = now;
      return have;
    }
    if (passwd === undefined) this.counters.passwd_read_failures++;
    for (const line of (passwd ?? "").split("\n")) {
      const f = line.split(":");
      if (f.length < 7) continue;
      const uid = Number(f[2]);
      if (!Number.isInteger(uid) || users.has(uid)) continue;
      users.set(uid, { uid, name: f[0], homedir: f[5], shell: f[6] });
    }
    for (const line of (group ?? "").split("\n")) {
      const f = line.split(":");
      if (f.length < 3) continue;
      const gid = Number(f[2]);
      if (!Number.isInteger(gid) || groups.has(gid)) continue;
      groups.set(gid, { gid, name: f[0] });
    }
    const db: RootDb = { users, groups, loadedAt: now };
    if (this.roots.size >= MAX_ROOTS) this.roots.clear();
    this.roots.set(rootKey, db);
    return db;
  }
}

function readText(path: string): string | undefined {
  try {
    const s = readFileSync(path, "utf8");
    return s.length > 4 << 20 ? s.slice(0, 4 << 20) : s;
  } catch {
    return undefined;
  }
}
