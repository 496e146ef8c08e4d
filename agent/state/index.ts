// SPDX-License-Identifier: Apache-2.0
/** Process and fd state built from kernel events. */
export { EventState } from "./event-state.js";
export { HOST_CONTAINER, hostResolver } from "./host-container.js";
export { cgroup2Mount, listPids, readProc, startTick } from "./proc-reader.js";
export { ProcessTable } from "./process-table.js";
export { StateError } from "./errors.js";
export { UserDb } from "./users.js";
export type { ContainerResolver } from "./host-container.js";
export type { ProcSnapshot } from "./proc-reader.js";
export type { ProcessTableOptions } from "./process-table.js";
export type { StateErrorCode } from "./errors.js";
