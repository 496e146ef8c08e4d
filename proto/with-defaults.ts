// SPDX-License-Identifier: Apache-2.0
/**
 * Plain defaults overlaid with what a caller gave, for settings the configuration's schema has
 * already checked: the running agent and collector take their limits this way and never load
 * the schemas (zod) themselves.
 */

/** A copy of `defaults` with each key of `partial` that is not undefined laid over it (one level). */
export function withDefaults<T extends object>(defaults: Readonly<T>, partial: Partial<Record<keyof T, unknown>> | undefined): T {
  const out: Record<string, unknown> = { ...defaults };
  for (const [k, v] of Object.entries(partial ?? {})) if (v !== undefined) out[k] = v;
  return out as T;
}
