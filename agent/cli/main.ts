#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
/**
 * `vigil`: checks the Node.js version before anything else is loaded, so an older Node.js gets
 * one clear line instead of a module-resolution stack trace (the store needs `node:sqlite`), then
 * runs the program (program.ts).
 */
import { MIN_NODE, olderThan } from "./node-version.js";

if (olderThan(process.versions.node, MIN_NODE)) {
  process.stderr.write(
    `vigil: Node.js ${MIN_NODE} or later is needed, this is ${process.version}; in a checkout, ./scripts/setup.sh fetches it and '. scripts/node-env.sh' puts it on PATH\n`,
  );
  process.exit(1);
}
await import("./program.js");
