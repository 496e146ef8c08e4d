#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
// Writes native-bridge/event-table.h and native-bridge/probe/generated.h from the event table
// (rules/event-table.ts), read from the compiled tree: run `npm run build` first. Usage:
// node scripts/gen-event-table.mjs [out-dir] (default: the repository root).
// test/rules/event-table-gen.test.ts fails when a committed header differs from what this writes.
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const gen = await import(join(root, "dist/rules/event-table-gen.js"));
const outRoot = process.argv[2] ?? root;
for (const [path, render] of [
  [gen.EVENT_TABLE_HEADER, gen.renderEventTableHeader],
  [gen.GENERATED_PROBE_HEADER, gen.renderGeneratedProbe],
]) {
  const file = join(outRoot, path);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, render());
  console.log(`wrote ${file}`);
}
