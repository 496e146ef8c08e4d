// SPDX-License-Identifier: Apache-2.0
/** Child of log.test.ts: logs one record through createLogger()'s defaults, as the CLI does. */
import { createLogger } from "../../agent/log.js";

const logger = createLogger("info");
logger.child({ component: "probe" }).info({ events: 42, untrusted: { comm: "sh" } }, "probe started");
