// SPDX-License-Identifier: Apache-2.0
/**
 * The `regex` operator's matcher: RE2 semantics (as Falco's), through re2js, a pure-JavaScript
 * port of RE2 (no native addon, so the same code runs on every architecture). RE2 never
 * backtracks: a match takes time linear in the input (a lazy DFA with a bounded state cache,
 * falling back to a linear NFA), so a rule's regex over attacker-controlled paths and command
 * lines cannot hang the agent the way JavaScript's RegExp can. The pattern must match the whole
 * value (Falco's `RE2::FullMatch`).
 */
import { RE2JS } from "re2js";
import { CompileError } from "../errors.js";

/** re2js prefixes every syntax error with this; the rest names the problem and the bad text. */
const PREFIX = "error parsing regexp: ";

/**
 * Compiles a `regex` literal once; the predicate is true when the pattern matches the whole
 * string. A pattern RE2 rejects (lookaround, backreferences, a bad repetition, unbalanced
 * parentheses) is a `BAD_REGEX` compile error that says why.
 */
export function compileRegex(field: string, pattern: string): (s: string) => boolean {
  let re: RE2JS;
  try {
    // compiled as written, not wrapped in an anchoring group, so a stray ')' cannot close the
    // group early and turn the full match into a partial one
    re = RE2JS.compile(pattern);
  } catch (err) {
    const why = err instanceof Error ? err.message.replace(PREFIX, "") : String(err);
    throw new CompileError("BAD_REGEX", `invalid regex '${pattern}' for field '${field}': ${why}`, undefined, { cause: err });
  }
  return (s) => re.testExact(s);
}
