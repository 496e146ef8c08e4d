// SPDX-License-Identifier: Apache-2.0
/**
 * The set of paths the file integrity module watches: path prefixes (`/etc` covers `/etc/pam.d/sshd`
 * but not `/etcx`) and fnmatch globs (`/home/*\/.ssh/*`, `*` crosses `/` as in Falco's `glob`), minus
 * excludes written the same way. Patterns compile once; a lookup allocates nothing.
 */
import { compileGlob, compilePathPrefixes, type GlobMatcher } from "../../rules/compile/glob.js";
import { FimError } from "./errors.js";

/** What FIM watches by default: the same trees as the `fim` rules pack (rules/files/20-fim.yaml). */
export const DEFAULT_FIM_PATHS: readonly string[] = [
  "/etc",
  "/bin",
  "/sbin",
  "/usr/bin",
  "/usr/sbin",
  "/usr/lib",
  "/usr/lib64",
  "/usr/libexec",
  "/lib",
  "/lib64",
  "/usr/local/bin",
  "/usr/local/sbin",
  "/usr/local/lib",
  "/boot",
  "/root/.ssh",
  "/var/spool/cron",
  "/root/.bashrc",
  "/root/.bash_profile",
  "/root/.profile",
  "/root/.zshrc",
  "/root/.config/systemd",
  "/home/*/.ssh/*",
  "/home/*/.bash*",
  "/home/*/.profile",
  "/home/*/.zsh*",
  "/home/*/.config/systemd/*",
];

/** Churn under watched trees that is not an integrity event. */
export const DEFAULT_FIM_EXCLUDES: readonly string[] = [
  "/etc/mtab",
  "/etc/adjtime",
  "/etc/.pwd.lock",
  "/etc/ld.so.cache",
  "/usr/lib/locale/locale-archive",
  "*/__pycache__/*",
  "*.pyc",
];

const GLOB_CHARS = /[*?[]/;

function normalize(p: string): string {
  let s = p.trim();
  while (s.length > 1 && s.endsWith("/")) s = s.slice(0, -1);
  return s;
}

/** A compiled include/exclude path set. */
export class WatchSet {
  private readonly prefix: (s: string) => boolean;
  private readonly globs: GlobMatcher[];
  private readonly exPrefix: (s: string) => boolean;
  private readonly exGlobs: GlobMatcher[];
  /** Plain directory prefixes (what a baseline scan walks). */
  readonly roots: readonly string[];

  constructor(paths: readonly string[], excludes: readonly string[]) {
    const split = (list: readonly string[]): [string[], GlobMatcher[]] => {
      const plain: string[] = [];
      const globs: GlobMatcher[] = [];
      for (const raw of list) {
        const p = normalize(raw);
        if (!p.startsWith("/") && !p.startsWith("*")) throw new FimError("BAD_PATTERN", `FIM path must be absolute or start with '*': ${raw}`);
        if (GLOB_CHARS.test(p)) globs.push(compileGlob(p));
        else plain.push(p);
      }
      return [plain, globs];
    };
    const [plain, globs] = split(paths);
    const [exPlain, exGlobs] = split(excludes);
    this.prefix = compilePathPrefixes(plain);
    this.globs = globs;
    this.exPrefix = compilePathPrefixes(exPlain);
    this.exGlobs = exGlobs;
    this.roots = plain;
  }

  /** True when `path` (absolute, as the process sees it) is watched and not excluded. */
  matches(path: string): boolean {
    if (path.length === 0 || path.charCodeAt(0) !== 47) return false;
    let hit = this.prefix(path);
    if (!hit) {
      for (const g of this.globs) {
        if (g.match(path)) {
          hit = true;
          break;
        }
      }
    }
    if (!hit) return false;
    return !this.excluded(path);
  }

  /** True when `path` is under an exclude. */
  excluded(path: string): boolean {
    if (this.exPrefix(path)) return true;
    for (const g of this.exGlobs) if (g.match(path)) return true;
    return false;
  }
}
