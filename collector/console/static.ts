// SPDX-License-Identifier: Apache-2.0
/**
 * Serves the built web console (dist/console/, written by scripts/build-console.mjs) on the
 * collector's port: `GET /` (and `/index.html`) is the page, `GET /assets/<name>` its hashed
 * files. No authentication: the page holds no data (the app logs in through the API).
 *
 * Every answer carries the console's security headers ({@link CONSOLE_HEADERS}: a CSP that lets
 * the page load and connect only to this origin, no framing, nosniff, no referrer). The page is
 * `no-cache` (it names the current hashed assets); an asset is `immutable` for a year (its name
 * changes with its content).
 *
 * The files are read into memory once (bounded: {@link MAX_CONSOLE_BYTES} in all, only regular
 * files directly under assets/), at the first request that needs them. When the console was not
 * built, the page is a 503 saying so (the collector runs on, the API unaffected), and the next
 * request looks again.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** Security headers of every console answer. */
export const CONSOLE_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  "content-security-policy":
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-resource-policy": "same-origin",
});

/** Most bytes the console's files may hold in all (the build is ~tens of KiB). */
export const MAX_CONSOLE_BYTES = 16 * 1024 * 1024;

const TYPES: Readonly<Record<string, string>> = {
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".woff2": "font/woff2",
  ".json": "application/json",
  ".map": "application/json",
};

interface ConsoleFiles {
  index: Buffer;
  assets: Map<string, { body: Buffer; type: string }>;
}

/**
 * Where the console build is: next to the compiled collector (dist/collector/console/ →
 * dist/console) or, run from sources, the repository's dist/console.
 */
export function defaultConsoleDirs(): string[] {
  const here = dirname(fileURLToPath(import.meta.url));
  return [join(here, "..", "..", "console"), join(here, "..", "..", "dist", "console")];
}

/** Reads a console build; undefined when `dir` holds none (no index.html). Throws past the size bound. */
export function loadConsole(dir: string): ConsoleFiles | undefined {
  let index: Buffer;
  try {
    index = readFileSync(join(dir, "index.html"));
  } catch {
    return undefined;
  }
  let total = index.length;
  const assets = new Map<string, { body: Buffer; type: string }>();
  let names: string[] = [];
  try {
    names = readdirSync(join(dir, "assets"));
  } catch {
    // a page without assets
  }
  for (const name of names) {
    const ext = name.slice(name.lastIndexOf("."));
    const type = TYPES[ext];
    if (type === undefined || !/^[A-Za-z0-9._-]+$/.test(name)) continue;
    const p = join(dir, "assets", name);
    const st = statSync(p);
    if (!st.isFile()) continue;
    total += st.size;
    if (total > MAX_CONSOLE_BYTES) throw new Error(`console build in ${dir} is over ${MAX_CONSOLE_BYTES} bytes`);
    assets.set(name, { body: readFileSync(p), type });
  }
  return { index, assets };
}

const NOT_BUILT = Buffer.from(
  '<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>Vigil: console not built</title></head>\n' +
    "<body><h1>The console was not built</h1><p>This collector found no console build (dist/console/index.html). " +
    "Build it with <code>npm run build</code> (or <code>node scripts/build-console.mjs</code>); the API works without it.</p></body></html>\n",
);

/** The console's routes: `handle` answers and says true for `GET /`, `/index.html` and `/assets/*`. */
export class ConsoleStatic {
  private files: ConsoleFiles | undefined;
  private failed = false;

  /** `dirs`: where to look for the build, first found wins. */
  constructor(
    private readonly dirs: readonly string[] = defaultConsoleDirs(),
    private readonly onError: (err: unknown) => void = () => undefined,
  ) {}

  /** True when the path is one of the console's (whatever the method). */
  static owns(pathname: string): boolean {
    return pathname === "/" || pathname === "/index.html" || pathname.startsWith("/assets/");
  }

  private load(): ConsoleFiles | undefined {
    if (this.files !== undefined) return this.files;
    for (const d of this.dirs) {
      try {
        const f = loadConsole(d);
        if (f !== undefined) return (this.files = f);
      } catch (err) {
        if (!this.failed) {
          this.failed = true;
          this.onError(err);
        }
      }
    }
    return undefined;
  }

  /** Answers a GET or HEAD of a console path. */
  serve(req: IncomingMessage, res: ServerResponse, pathname: string): void {
    const head = req.method === "HEAD";
    const send = (code: number, type: string, body: Buffer, cache: string) => {
      res.writeHead(code, { ...CONSOLE_HEADERS, "content-type": type, "content-length": body.length, "cache-control": cache });
      res.end(head ? undefined : body);
    };
    const files = this.load();
    if (files === undefined) return send(503, "text/html; charset=utf-8", NOT_BUILT, "no-store");
    if (pathname === "/" || pathname === "/index.html") return send(200, "text/html; charset=utf-8", files.index, "no-cache");
    const a = files.assets.get(pathname.slice("/assets/".length));
    if (a === undefined) return send(404, "text/plain; charset=utf-8", Buffer.from("not found\n"), "no-store");
    send(200, a.type, a.body, "public, max-age=31536000, immutable");
  }
}
