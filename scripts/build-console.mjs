// SPDX-License-Identifier: Apache-2.0
/**
 * Builds the web console (collector/console/web/main.tsx, Preact + TSX) into dist/console/ with
 * esbuild: one bundle, minified, hashed file names under assets/ (served with immutable caching),
 * index.html naming them, and manifest.json (entry → hashed file). The collector serves that
 * directory on its own port (collector/console/static.ts). Nothing is fetched at run time from
 * outside the collector: every byte the browser runs is in this directory.
 *
 * The output is written to a fresh directory next to dist/console, then swapped in with a rename,
 * so a collector (or a test) reading dist/console never sees a half-written build.
 *
 * Usage: node scripts/build-console.mjs [--out DIR]
 */
import { mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const outArg = process.argv.indexOf("--out");
const out = outArg > 0 && process.argv[outArg + 1] ? resolve(process.argv[outArg + 1]) : join(root, "dist", "console");
const web = join(root, "collector", "console", "web");
const tmp = `${out}.tmp-${process.pid}`;
rmSync(tmp, { recursive: true, force: true });
mkdirSync(join(tmp, "assets"), { recursive: true });

try {
  const result = await build({
    entryPoints: { main: join(web, "main.tsx") },
    absWorkingDir: root,
    bundle: true,
    minify: true,
    sourcemap: false,
    format: "esm",
    // code split: a dynamic import() (the capture trace decoder) becomes a chunk loaded when first used
    splitting: true,
    target: ["es2022"],
    platform: "browser",
    jsx: "automatic",
    jsxImportSource: "preact",
    tsconfig: join(web, "tsconfig.json"),
    outdir: join(tmp, "assets"),
    entryNames: "[name]-[hash]",
    assetNames: "[name]-[hash]",
    chunkNames: "[name]-[hash]",
    loader: { ".svg": "file", ".png": "file", ".woff2": "file" },
    metafile: true,
    legalComments: "none",
    logLevel: "warning",
    define: { "process.env.NODE_ENV": '"production"' },
  });
  /** @type {Record<string, string>} entry or asset name → path under the console root */
  const manifest = {};
  let js;
  let css;
  const mainEntry = relative(root, join(web, "main.tsx")).split("\\").join("/");
  for (const [file, meta] of Object.entries(result.metafile.outputs)) {
    const rel = relative(tmp, resolve(root, file)).split("\\").join("/");
    // the page's script is main.tsx's bundle (a dynamic import's chunk has an entryPoint too)
    if (meta.entryPoint === mainEntry && rel.endsWith(".js")) js = rel;
    else if (rel.endsWith(".css") && meta.cssBundle === undefined) css = rel;
    const name = basename(rel).replace(/-[A-Z0-9]{8}(\.[a-z0-9]+)$/i, "$1");
    manifest[name] = rel;
  }
  if (js === undefined) throw new Error("esbuild produced no entry bundle");
  const html = [
    "<!doctype html>",
    '<html lang="en">',
    "<head>",
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<meta name="referrer" content="no-referrer">',
    "<title>Vigil</title>",
    ...(css !== undefined ? [`<link rel="stylesheet" href="/${css}">`] : []),
    `<script type="module" src="/${js}"></script>`,
    "</head>",
    "<body>",
    '<div id="app"></div>',
    "<noscript>The Vigil console needs JavaScript.</noscript>",
    "</body>",
    "</html>",
    "",
  ].join("\n");
  writeFileSync(join(tmp, "index.html"), html);
  writeFileSync(join(tmp, "manifest.json"), `${JSON.stringify(manifest, null, 2)}\n`);
  // swap in: the old build goes away only once the new one is complete
  const old = `${out}.old-${process.pid}`;
  mkdirSync(dirname(out), { recursive: true });
  try {
    renameSync(out, old);
  } catch (err) {
    if (err.code !== "ENOENT") throw err;
  }
  renameSync(tmp, out);
  rmSync(old, { recursive: true, force: true });
  const bytes = Object.values(result.metafile.outputs).reduce((n, o) => n + o.bytes, 0);
  process.stderr.write(`build-console: ${relative(root, out)} (${Object.keys(manifest).length} assets, ${bytes} bytes)\n`);
} catch (err) {
  rmSync(tmp, { recursive: true, force: true });
  process.stderr.write(`build-console: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
