// SPDX-License-Identifier: Apache-2.0
/** Scenarios of file metadata tampering (issue 19, class 3); spread into ATTACKS by table.ts. */
import type { Scenario } from "./table.js";

export const ATTACKS_TAMPER: readonly Scenario[] = [];
