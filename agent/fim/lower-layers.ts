// SPDX-License-Identifier: Apache-2.0
/**
 * Where a container's image files live on the host: the `lowerdir=` layers of the overlay mounted
 * at the container's root, read from /proc/<pid>/mountinfo. The first time a file of the image is
 * changed, its "before" content is the copy in the image layers.
 */
import { readFile } from "node:fs/promises";

/** Undoes mountinfo's octal escapes (`\040` for a space). */
function unescapeOctal(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** Parses mountinfo text; returns the lowerdir list of the overlay mounted at `/`, or []. */
export function rootLowerDirs(mountinfo: string): string[] {
  let found: string[] = [];
  for (const line of mountinfo.split("\n")) {
    const sep = line.indexOf(" - ");
    if (sep < 0) continue;
    const pre = line.slice(0, sep).split(" ");
    const post = line.slice(sep + 3).split(" ");
    if (pre[4] !== "/" || post[0] !== "overlay") continue;
    const opts = post[2] ?? "";
    for (const o of opts.split(",")) {
      if (o.startsWith("lowerdir="))
        found = o
          .slice(9)
          .split(":")
          .filter((d) => d !== "")
          .map(unescapeOctal);
    }
  }
  // the last mount at "/" wins (it is the one the process sees)
  return found;
}

/** The lower layers of the root of process `pid`, or [] (host process, gone, not overlay). */
export async function lowerDirsOf(pid: number): Promise<string[]> {
  try {
    return rootLowerDirs(await readFile(`/proc/${pid}/mountinfo`, "utf8"));
  } catch {
    return [];
  }
}
