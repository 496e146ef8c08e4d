// SPDX-License-Identifier: Apache-2.0
/**
 * Enrichment cost on the event path, against a real containerd with 100 running containers.
 *
 * - `resolve()` alone: a known container (100 cycling, by cgroup ID), a host process whose
 *   cgroup2 path is `/` (pid cache), a host process in a host cgroup (by cgroup ID), and a
 *   no-op baseline.
 * - Throughput: the real Falco rules evaluated over events from those 100 containers: with a
 *   fixed host container (no enrichment), with each container's info already attached (what the
 *   rules themselves cost on container events), and resolved per event (the enrichment path).
 *
 * resolve(): 100 calls per iteration (ns/op = 1e9 / (hz × 100)). Rules: 200 events per iteration
 * (an openat and an execve per container): events/s = hz × 200.
 * Run: npx vitest bench --run test/bench/enrich.bench.ts
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pino } from "pino";
import { afterAll, bench, describe } from "vitest";
import { ContainerEnricher, HOST_CONTAINER } from "../../agent/enrich/index.js";
import type { ContainerInfo, SyscallEvent } from "../../rules/event.js";
import { loadRuleFiles } from "../../rules/index.js";
import { REPO_ROOT } from "../helpers/agent.js";
import { BUSYBOX_IMAGE, cgroupIdOf, prepareRuntime, removeContainer, runContainer, taskPid, unifiedCgroup, until } from "../helpers/containers.js";
import { execve, openat, proc, O } from "../rules/event-builder.js";

const N = 100;
const { sock } = prepareRuntime();
const ids: string[] = [];
const targets: { path: string; cgid: number; pid: number }[] = [];
for (let i = 0; i < N; i++) {
  const id = `vigil-bench-${i}`;
  ids.push(id);
  const pid = taskPid(sock, "default", id) ?? runContainer(sock, "default", id, BUSYBOX_IMAGE, ["/bin/sleep", "3600"]);
  const path = unifiedCgroup(pid);
  targets.push({ path, cgid: cgroupIdOf(path), pid });
}

const enricher = new ContainerEnricher({ socket: sock, logger: pino({ level: "warn" }), waitMs: 5000 });
await enricher.start();
const infos: ContainerInfo[] = targets.map((t) => enricher.resolve(t.path, t.cgid, t.pid));
await Promise.all(infos.map((i) => enricher.whenReady(i)));
if (!(await until(() => infos.every((i) => !i.metaMissing), 30_000))) throw new Error("metadata did not arrive for all containers");

const falco = join(REPO_ROOT, "..", "shared", "corpus", "falco", "falco_rules.yaml");
const { ruleset } = loadRuleFiles([{ path: falco, text: readFileSync(falco, "utf8") }]);

// per container: a file read and an exec, as a busy container produces
const events: SyscallEvent[] = [];
for (let i = 0; i < N; i++) {
  const p = proc({ comm: "app", exepath: "/usr/local/bin/app", pid: 50_000 + i });
  events.push(openat("/app/data/cache.bin", O.RDONLY, p));
  events.push(execve(proc({ comm: "ls", exepath: "/bin/ls", pid: 60_000 + i, parents: [{ comm: "sh", exepath: "/bin/sh" }] })));
}
const hostTarget = { path: "/system.slice/ssh.service", cgid: 4_000_000_001, pid: process.pid };
let sink = 0;
const onMatch = (): void => {
  sink++;
};

afterAll(async () => {
  await enricher.stop();
  if (process.env["VIGIL_BENCH_KEEP"] !== "1") for (const id of ids) removeContainer(sock, "default", id);
});

describe("resolve() per event", () => {
  bench("no enrichment (baseline: constant container)", () => {
    for (let i = 0; i < N; i++) {
      const t = targets[i] as (typeof targets)[number];
      sink += t.cgid === -1 ? 0 : HOST_CONTAINER.id.length;
    }
  });
  bench("known container (100 cycling, by cgroup ID)", () => {
    for (let i = 0; i < N; i++) {
      const t = targets[i] as (typeof targets)[number];
      sink += enricher.resolve(t.path, t.cgid, t.pid).id.length;
    }
  });
  bench("host process, cgroup2 path / (pid cache)", () => {
    for (let i = 0; i < N; i++) sink += enricher.resolve("/", 1, process.pid).id.length;
  });
  bench("host process, host cgroup (by cgroup ID)", () => {
    for (let i = 0; i < N; i++) sink += enricher.resolve(hostTarget.path, hostTarget.cgid, hostTarget.pid).id.length;
  });
});

describe("Falco rules throughput with 100 running containers", () => {
  bench("rules only (no enrichment)", () => {
    for (let i = 0; i < events.length; i++) {
      const e = events[i] as SyscallEvent;
      e.proc.container = HOST_CONTAINER;
      ruleset.evaluate(e, onMatch);
    }
  });
  bench("rules, container already attached (no lookup)", () => {
    for (let i = 0; i < events.length; i++) {
      const e = events[i] as SyscallEvent;
      e.proc.container = infos[i >> 1] as ContainerInfo;
      ruleset.evaluate(e, onMatch);
    }
  });
  bench("resolve + rules (enriched)", () => {
    for (let i = 0; i < events.length; i++) {
      const e = events[i] as SyscallEvent;
      const t = targets[i >> 1] as (typeof targets)[number];
      e.proc.container = enricher.resolve(t.path, t.cgid, t.pid);
      ruleset.evaluate(e, onMatch);
    }
  });
});
