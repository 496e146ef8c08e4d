// SPDX-License-Identifier: Apache-2.0
/**
 * Layering rules, checked by `npm run lint:deps` (and by test/arch/layering.test.ts).
 * Top level: proto/ (the contracts) depends on nothing in the project; rules/ and collector/
 * depend only on proto/ (the web console's browser code may also use rules/trace-text.ts);
 * agent/ depends on proto/ and rules/, and only its composition root
 * agent/cli/ may reach collector/.
 * Inside agent/ the pipeline runs sources → assembler (decode → state → enrich) → engine → sinks;
 * a stage never imports one that runs after it, and the sinks never import the stages before them.
 * Type-only imports count: a type is as much a dependency as a value (except for the one rule
 * about node:http, which is about what loads at run time).
 */

/** A rule forbidding `from` to import `to` (both path regexes). */
const forbid = (name, comment, from, to) => ({ name, comment, severity: "error", from, to });

const agentStage = (s) => `^agent/${s}(/|\\.ts$)`;

module.exports = {
  forbidden: [
    {
      name: "no-circular",
      comment: "A cycle makes load order matter and the layers meaningless.",
      severity: "error",
      from: {},
      to: { circular: true },
    },
    forbid(
      "proto-is-a-leaf",
      "proto/ holds the contracts shared by agent, collector and tools: it imports only node built-ins, npm packages and itself.",
      { path: "^proto/" },
      { path: "^(agent|collector|rules|native-bridge|test|scripts)/" },
    ),
    forbid(
      "collector-not-to-agent",
      "The collector runs without the agent (vigil collector, a fleet of them); what both need is a contract in proto/.",
      { path: "^collector/" },
      { path: "^agent/" },
    ),
    forbid(
      "collector-not-to-rules",
      "The collector stores and serves alerts; it does not evaluate rules.",
      { path: "^collector/", pathNot: "^collector/console/web/" },
      { path: "^rules/" },
    ),
    forbid(
      "console-web-reads-only-trace-text",
      "The web console runs in the browser, not in the collector: it renders audit captures as syscall traces with rules/trace-text.ts (the event table's names and text forms, as vigil capture inspect does) and imports nothing else of rules/.",
      { path: "^collector/console/web/" },
      { path: "^rules/", pathNot: "^rules/trace-text\\.ts$" },
    ),
    forbid(
      "agent-not-to-collector",
      "agent/cli/ is the composition root that builds every command (vigil collector, vigil tail, the embedded collector of vigil agent), so it alone may import collector/; the rest of the agent talks to a collector through proto/.",
      { path: "^agent/", pathNot: "^agent/cli/" },
      { path: "^collector/" },
    ),
    forbid(
      "rules-not-to-agent-or-collector",
      "The rule language is a library: the agent and the tools use it, it uses neither.",
      { path: "^rules/" },
      { path: "^(agent|collector)/" },
    ),
    forbid(
      "cli-is-the-root",
      "Nothing imports the command line; it imports everything it wires.",
      { path: "^(agent|collector|rules|proto)/", pathNot: "^agent/cli/" },
      { path: "^agent/cli/" },
    ),
    forbid(
      "pipeline-from-cli-only",
      "agent/pipeline.ts composes the stages; only the composition root builds it.",
      { path: "^agent/", pathNot: ["^agent/cli/", "^agent/pipeline\\.ts$"] },
      { path: "^agent/pipeline\\.ts$" },
    ),
    forbid(
      "decode-is-first",
      "The decoder turns frames into events and knows nothing of what consumes them.",
      { path: agentStage("decode") },
      { path: ["state", "enrich", "engine", "sinks", "sources", "capture", "prevent", "fim", "assembler", "warmup", "pipeline"].map(agentStage) },
    ),
    forbid(
      "state-after-decode",
      "Process and fd state follow decoded events; they do not reach enrichment, rules, sinks or sources.",
      { path: agentStage("state") },
      { path: ["enrich", "engine", "sinks", "sources", "capture", "assembler", "warmup", "pipeline"].map(agentStage) },
    ),
    forbid(
      "enrich-after-state",
      "Enrichment reads state and container runtimes; rules, sinks and sources come after it or feed it.",
      { path: agentStage("enrich") },
      { path: ["decode", "engine", "sinks", "sources", "capture", "assembler", "warmup", "pipeline"].map(agentStage) },
    ),
    forbid(
      "assembler-before-engine",
      "The event assembler (decode → state → enrich) hands events on; it does not evaluate rules or export alerts.",
      { path: agentStage("assembler") },
      { path: ["engine", "sinks", "sources", "pipeline"].map(agentStage) },
    ),
    forbid(
      "engine-after-assembly",
      "The rule engine sees assembled events; it does not decode, keep state, enrich, read sources or export.",
      { path: agentStage("engine") },
      { path: ["decode", "state", "enrich", "sources", "sinks", "assembler", "capture", "pipeline"].map(agentStage) },
    ),
    forbid(
      "sinks-are-last",
      "Sinks take alerts (a proto/ contract) and know nothing of how they were made.",
      { path: agentStage("sinks") },
      { path: ["sources", "decode", "state", "enrich", "engine", "capture", "assembler", "prevent", "fim", "pipeline"].map(agentStage) },
    ),
    forbid(
      "sources-before-engine",
      "Sources produce events (through the assembler); rules and sinks come after them.",
      { path: agentStage("sources") },
      { path: ["engine", "sinks", "pipeline"].map(agentStage) },
    ),
    {
      name: "node-http-through-require",
      comment:
        "An ES import of node:http makes Node read all its exports, which loads the bundled undici for good (6.4 MiB of the agent's memory); values of node:http come from proto/node-http.ts (a require). Type-only imports are free.",
      severity: "error",
      from: { path: "^(agent|collector|rules|proto)/", pathNot: "^proto/node-http\\.ts$" },
      to: { path: "^(node:)?http$", dependencyTypes: ["core"], dependencyTypesNot: ["type-only"] },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: "^(dist|test|node_modules)/" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: { exportsFields: ["exports"], conditionNames: ["import", "require", "node", "default"] },
    reporterOptions: {
      dot: {
        collapsePattern: "^(agent/[^/]+|proto|collector|rules)",
      },
    },
  },
};
