// SPDX-License-Identifier: Apache-2.0
/** Scenarios of file and exec behaviour over time (issue 19, class 4); spread into ATTACKS by table.ts. */
import type { Scenario } from "./table.js";

export const ATTACKS_FILES: readonly Scenario[] = [];
