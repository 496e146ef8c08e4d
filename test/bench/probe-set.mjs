// SPDX-License-Identifier: Apache-2.0
// The syscall set (as the agent asks the probe for it) and the kernel filter lines the agent
// derives from a rules file, written for vigil-probe's --syscalls and --control-stdin
// (probe-overhead.sh, tracepoint-floor.sh). Run from the repository root after the build.
//   usage: node test/bench/probe-set.mjs RULES SYSCALLS_OUT FILTERS_OUT
import { writeFileSync } from "node:fs";
import { pino } from "pino";
import { RuleEngine } from "../../dist/agent/engine/rule-engine.js";
import { stateOnlyClones, syscallsFor } from "../../dist/agent/pipeline.js";
import { probeSyscalls } from "../../dist/agent/sources/ebpf-source.js";
import { kernelFilterLines } from "../../dist/agent/sources/kernel-filter.js";
import { deriveKernelFilters } from "../../dist/rules/compile/pushdown.js";

const [rules, syscallsOut, filtersOut] = process.argv.slice(2);
if (!rules || !syscallsOut || !filtersOut) {
  console.error("usage: node test/bench/probe-set.mjs RULES SYSCALLS_OUT FILTERS_OUT");
  process.exit(2);
}
const rs = new RuleEngine({ files: [rules], logger: pino({ level: "silent" }) }).load();
writeFileSync(syscallsOut, probeSyscalls(syscallsFor(rs), stateOnlyClones(rs)).join(","));
writeFileSync(filtersOut, `${kernelFilterLines(deriveKernelFilters(rs.rules)).join("\n")}\n`);
