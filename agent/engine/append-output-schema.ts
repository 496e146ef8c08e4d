// SPDX-License-Identifier: Apache-2.0
/**
 * The shape of Falco's `append_output` entries (`output.append` of the configuration) as a zod
 * schema: append-output.ts documents what Falco reads and compiles the formats. Only what
 * validates a configuration imports this (the agent's configuration worker, the other commands).
 */
import { z } from "zod";

const extraFieldSchema = z.union([
  z.string().min(1).max(1024),
  z
    .record(z.string().min(1).max(256), z.string().max(8192))
    .refine((m) => Object.keys(m).length === 1, "an extra field given as a map has exactly one key: `name: format`"),
]);

/**
 * One `append_output` entry (falco.yaml's shape). `match` keys left out (or empty) match every
 * rule; `tags`: the rule must carry all of them.
 */
export const appendOutputEntrySchema = z
  .strictObject({
    match: z
      .strictObject({
        source: z.string().max(256).optional(),
        tags: z.array(z.string().min(1).max(256)).max(256).optional(),
        rule: z.string().max(4096).optional(),
      })
      .optional(),
    /** Appended to the rule's output text (after one space), formatted with the event's fields. */
    extra_output: z.string().max(8192).optional(),
    /** Added to output_fields only: a field name (typed value) or `{name: format}` (a string). */
    extra_fields: z.array(extraFieldSchema).max(256).optional(),
    /** Append the suggested container and Kubernetes fields to the matching rules. */
    suggested_output: z.boolean().optional(),
    /** Not a Falco 0.44 key: accepted so a falco.yaml carrying it loads, reported as not implemented. */
    suppress_output_format: z.boolean().optional(),
  })
  .superRefine((entry, ctx) => {
    // Falco: redefining a formatted key, or formatting a key already given as a field, is an error
    const formatted = new Set<string>();
    const raw = new Set<string>();
    (entry.extra_fields ?? []).forEach((f, i) => {
      if (typeof f === "string") {
        if (formatted.has(f)) ctx.addIssue({ code: "custom", path: ["extra_fields", i], message: `extra field '${f}' is defined twice` });
        raw.add(f);
        return;
      }
      const key = Object.keys(f)[0] as string;
      if (formatted.has(key) || raw.has(key)) ctx.addIssue({ code: "custom", path: ["extra_fields", i], message: `extra field '${key}' is defined twice` });
      formatted.add(key);
    });
  });

/** One `append_output` entry as written in the configuration. */
export type AppendOutputEntry = z.input<typeof appendOutputEntrySchema>;

/** The list of entries (what `output.append` holds). */
export const appendOutputSchema = z.array(appendOutputEntrySchema).max(1024);
