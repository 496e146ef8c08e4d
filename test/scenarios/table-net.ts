// SPDX-License-Identifier: Apache-2.0
/** Scenarios of network behaviour over time (issue 19, class 4); spread into ATTACKS/BENIGN by table.ts. */
import type { Scenario } from "./table.js";

export const ATTACKS_NET: readonly Scenario[] = [];

export const BENIGN_NET: readonly Scenario[] = [];
