// SPDX-License-Identifier: Apache-2.0
/**
 * What `vigil agent` loads at run time, checked by `npm run lint:deps` (and by
 * test/arch/layering.test.ts) beside the layering rules of .dependency-cruiser.cjs. Apart from
 * them because this question is about modules that load, so type-only imports (erased by the
 * compiler) must not count, while the layering rules count them; dependency-cruiser has one
 * `tsPreCompilationDeps` per run, and its reachability follows every dependency it knows.
 */
const base = require("./.dependency-cruiser.cjs");

module.exports = {
  forbidden: [
    {
      name: "agent-zod-in-worker-only",
      comment:
        "zod and the configuration schemas stay resident once imported (about 12 MiB, issue 22): `vigil agent` validates its configuration in a worker thread (agent/cli/agent-config-thread.ts starts agent-config-worker.ts by URL, not by import), so nothing the agent command imports, statically or lazily, may reach zod. Runtime code takes validated values and plain defaults; schemas live in *-schema.ts modules.",
      severity: "error",
      from: { path: "^agent/cli/agent-cmd\\.ts$" },
      to: { path: "(^|/)node_modules/zod/", reachable: true },
    },
  ],
  options: {
    ...base.options,
    // what the compiler leaves: type-only imports are gone
    tsPreCompilationDeps: false,
    // npm packages stay out of the graph (not followed anyway), except zod, which this rule is
    // about; and rules-cmd.ts, which `vigil agent -L` and `--list` load to print and exit
    exclude: { path: "^(dist|test)/|^node_modules/(?!zod/)|^agent/cli/rules-cmd\\.ts$" },
  },
};
