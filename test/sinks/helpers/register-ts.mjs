// SPDX-License-Identifier: Apache-2.0
// `node --import ./test/sinks/helpers/register-ts.mjs file.ts`: runs TypeScript sources in tests.
import { register } from "node:module";
register("./ts-loader.mjs", import.meta.url);
