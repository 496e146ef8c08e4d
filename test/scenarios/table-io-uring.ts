// SPDX-License-Identifier: Apache-2.0
/** Scenarios of io_uring (issue 19, class 5); spread into ATTACKS by table.ts. */
import type { Scenario } from "./table.js";

export const ATTACKS_IO_URING: readonly Scenario[] = [];
