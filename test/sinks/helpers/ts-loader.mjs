// SPDX-License-Identifier: Apache-2.0
// Module hooks that let a plain `node` child process run the TypeScript sources directly (tests
// only): `.js` specifiers resolve to the `.ts` file beside them, and `.ts` is transpiled (types
// stripped, no type check) with the project's TypeScript compiler. Output is cached in the temp
// dir by path, size and mtime, so only changed files are transpiled again.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const CACHE = join(tmpdir(), "vigil-ts-loader-cache");
mkdirSync(CACHE, { recursive: true });
let ts;

export async function resolve(specifier, context, next) {
  if ((specifier.startsWith(".") || specifier.startsWith("/") || specifier.startsWith("file:")) && specifier.endsWith(".js") && context.parentURL) {
    const url = new URL(specifier, context.parentURL);
    if (!existsSync(fileURLToPath(url))) {
      const tsUrl = new URL(url.href.replace(/\.js$/, ".ts"));
      if (existsSync(fileURLToPath(tsUrl))) return { url: tsUrl.href, shortCircuit: true, format: "module" };
    }
  }
  return next(specifier, context);
}

export async function load(url, context, next) {
  if (url.endsWith(".ts")) {
    const file = fileURLToPath(url);
    const st = statSync(file);
    const key = createHash("sha1").update(`${file}\0${st.size}\0${st.mtimeMs}`).digest("hex");
    const cached = join(CACHE, `${key}.js`);
    if (existsSync(cached)) return { format: "module", source: readFileSync(cached, "utf8"), shortCircuit: true };
    ts ??= (await import("typescript")).default;
    const out = ts.transpileModule(readFileSync(file, "utf8"), {
      fileName: file,
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: true, sourceMap: false },
    });
    const tmp = `${cached}.${process.pid}.tmp`;
    writeFileSync(tmp, out.outputText);
    renameSync(tmp, cached);
    return { format: "module", source: out.outputText, shortCircuit: true };
  }
  return next(url, context);
}
