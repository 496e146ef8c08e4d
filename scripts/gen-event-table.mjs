#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
// Writes native-bridge/event-table.h from the event table (rules/event-table.ts), read from the
// compiled tree: run `npm run build` first. Usage: node scripts/gen-event-table.mjs [out-dir]
// (default: the repository root). test/rules/event-table-gen.test.ts fails when the committed
// header differs from what this writes.
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const { EVENT_TABLE_HEADER, renderEventTableHeader } = await import(join(root, "dist/rules/event-table-gen.js"));
const outRoot = process.argv[2] ?? root;
const file = join(outRoot, EVENT_TABLE_HEADER);
mkdirSync(dirname(file), { recursive: true });
writeFileSync(file, renderEventTableHeader());
console.log(`wrote ${file}`);
