// SPDX-License-Identifier: Apache-2.0
/** Scenarios of failed attempts (issue 19, class 1); spread into ATTACKS by table.ts. */
import type { Scenario } from "./table.js";

export const ATTACKS_ATTEMPTS: readonly Scenario[] = [];
