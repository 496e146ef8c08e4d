// SPDX-License-Identifier: Apache-2.0
/**
 * Falco priorities: the one definition used by rules (a rule's `priority:`), alerts, the
 * collector's filters and store, the Falco gRPC and JSON forms, and the configuration.
 */

/** Priority names, most severe first; the index is Falco's numeric priority (0 = Emergency … 7 = Debug). */
export const PRIORITY_NAMES = ["Emergency", "Alert", "Critical", "Error", "Warning", "Notice", "Informational", "Debug"] as const;

/** A priority name as rendered in alerts. */
export type PriorityName = (typeof PRIORITY_NAMES)[number];

/** A priority as a lower-case word in configuration and filters (`info` is short for `informational`). */
export type PriorityWord = Lowercase<PriorityName> | "info";

/** Every {@link PriorityWord}, most severe first (`info` beside `informational`). */
export const PRIORITY_WORDS = PRIORITY_NAMES.flatMap((p): PriorityWord[] =>
  p === "Informational" ? ["informational", "info"] : [p.toLowerCase() as Lowercase<PriorityName>],
) as unknown as readonly [PriorityWord, ...PriorityWord[]];

const BY_LOWER = new Map<string, number>(PRIORITY_NAMES.map((p, i) => [p.toLowerCase(), i]));
BY_LOWER.set("info", PRIORITY_NAMES.indexOf("Informational"));

/** Falco's numeric priority for a name in any case (`info` too); undefined if unknown. */
export function priorityNumber(name: string): number | undefined {
  return BY_LOWER.get(name.toLowerCase());
}

/** The priority name of a Falco numeric priority; undefined when out of range. */
export function priorityName(n: number): PriorityName | undefined {
  return PRIORITY_NAMES[n];
}
