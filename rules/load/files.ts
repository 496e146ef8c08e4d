// SPDX-License-Identifier: Apache-2.0
/**
 * Rules paths to rules files, as Falco resolves `rules_files` entries and `-r` arguments
 * (falco/userspace/falco/configuration.cpp `read_rules_file_directory`, Falco 0.44):
 *  - a directory contributes every entry that is a regular file (`std::filesystem::is_regular_file`,
 *    which follows symlinks: a symlink to a regular file is loaded, a dangling one or one to a
 *    directory is not) and whose full path ends in `.yaml` or `.yml` (case-sensitive), sorted by full
 *    path in byte order; no recursion (subdirectories are skipped); hidden files are not special
 *    (`.x.yaml` is loaded, as `directory_iterator` lists it);
 *  - any other path is taken as a file. Falco 0.44 also drops a named file that does not end in
 *    `.yaml`/`.yml`; Vigil loads a file named explicitly whatever its name (silently ignoring a file
 *    the user named would hide a mistake).
 * An unreadable directory is an error here (Falco skips it silently with `skip_permission_denied`).
 */
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";

/** Most rules files one load may read (directories expanded). */
export const MAX_RULES_FILES = 4096;

/** What a set of rules paths resolves to. */
export interface ResolvedRulesPaths {
  /** Files to load, in load order. */
  files: string[];
  /** The paths that were directories (to watch for files added or removed). */
  dirs: string[];
}

/** Thrown when a rules path cannot be resolved (the message names the path and the reason). */
export class RulesPathError extends Error {
  constructor(
    message: string,
    readonly path: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "RulesPathError";
  }
}

function isRulesFileName(p: string): boolean {
  return p.endsWith(".yaml") || p.endsWith(".yml");
}

/** The rules files of one directory, Falco's way (see the module comment). */
export function rulesFilesOfDirectory(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    throw new RulesPathError(`cannot read rules directory ${dir}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, dir, { cause: err });
  }
  const out: string[] = [];
  for (const n of names) {
    const p = join(dir, n);
    if (!isRulesFileName(p)) continue;
    try {
      if (statSync(p).isFile()) out.push(p);
    } catch {
      // dangling symlink or vanished entry: not a regular file
    }
  }
  // std::sort over std::string: byte order of the full paths
  return out.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
}

/**
 * Resolves rules paths (files or directories) to the files to load, in order. A path that does not
 * exist is kept as a file (reading it reports the error with its name). Throws {@link RulesPathError}
 * when a directory cannot be listed or the total passes {@link MAX_RULES_FILES}.
 */
export function resolveRulesPaths(paths: readonly string[]): ResolvedRulesPaths {
  const files: string[] = [];
  const dirs: string[] = [];
  for (const p of paths) {
    let isDir = false;
    try {
      isDir = statSync(p).isDirectory();
    } catch {
      isDir = false;
    }
    if (isDir) {
      dirs.push(p);
      for (const f of rulesFilesOfDirectory(p)) files.push(f);
    } else files.push(p);
    if (files.length > MAX_RULES_FILES) throw new RulesPathError(`rules paths name more than ${MAX_RULES_FILES} files (at ${p})`, p);
  }
  return { files, dirs };
}
