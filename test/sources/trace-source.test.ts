// SPDX-License-Identifier: Apache-2.0
/**
 * The Fargate source told its pod (an injected sidecar's downward-API POD_* variables): the real
 * vigil-trace runs a program against it, and every traced process belongs to that pod's container
 * (not the host), with the pod's namespace, name and UID; without the variables, the host.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { SourceContext } from "../../agent/pipeline.js";
import { podContainer, podFromEnv, TraceSource, type TracedPod } from "../../agent/sources/trace-source.js";
import { quiet, tempDir } from "../collector/helpers.js";
import { REPO_ROOT } from "../helpers/agent.js";

const TRACER = join(REPO_ROOT, "native-bridge", "build", "vigil-trace");
const POD: TracedPod = { namespace: "shop", name: "checkout-7d9c8b6f5-x2x9z", uid: "0f7c5b5e-1111-4a3b-9a0b-3c2d1e0f9a8b" };

interface Seen {
  type: string;
  comm: string;
  file: string | undefined;
  container: { id: string; type: string; ns: string | undefined; pod: string | undefined; uid: string | undefined };
}

/** Runs `cat /etc/hostname` under the real tracer against a TraceSource; returns what it saw. */
async function traceCat(pod: TracedPod | undefined): Promise<Seen[]> {
  const seen: Seen[] = [];
  const ctx: SourceContext = {
    syscalls: ["openat", "execve", "procexit"],
    childOnly: [],
    kernelFilters: undefined,
    logger: quiet(),
    onEvent: (e) => {
      const c = e.proc.container;
      seen.push({
        type: e.type,
        comm: e.proc.comm,
        file: e.fd?.name,
        container: { id: c.id, type: c.type, ns: c.k8s?.namespace, pod: c.k8s?.podName, uid: c.k8s?.podUid },
      });
    },
    resolveContainer: undefined,
  };
  const path = join(tempDir(), "trace.sock");
  const src = new TraceSource(ctx, { path, pod });
  await src.start();
  try {
    const r = spawnSync(TRACER, ["--socket", path, "--syscalls", "openat,execve,procexit", "--", "/bin/cat", "/etc/hostname"], { encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
    for (let i = 0; i < 200 && !seen.some((s) => s.file === "/etc/hostname"); i++) await new Promise((res) => setTimeout(res, 10));
  } finally {
    await src.stop();
  }
  return seen;
}

describe.skipIf(!existsSync(TRACER))("the trace source of an injected sidecar", () => {
  it("puts every traced process in the pod's container", async () => {
    const seen = await traceCat(POD);
    const open = seen.find((s) => s.file === "/etc/hostname");
    expect(open?.comm).toBe("cat");
    for (const s of seen) expect(s.container).toEqual({ id: "0f7c5b5e1111", type: "vigil-trace", ns: "shop", pod: POD.name, uid: POD.uid });
  });

  it("without the pod, traced processes are the host's (as before)", async () => {
    const seen = await traceCat(undefined);
    expect(seen.find((s) => s.file === "/etc/hostname")?.container).toEqual({ id: "host", type: "host", ns: undefined, pod: undefined, uid: undefined });
  });
});

describe("podFromEnv", () => {
  const ok = { POD_NAMESPACE: "shop", POD_NAME: "checkout-1", POD_UID: "0F7C5B5E-1111-4A3B-9A0B-3C2D1E0F9A8B" };
  it("takes the three downward-API variables", () => {
    expect(podFromEnv(ok)).toEqual({ namespace: "shop", name: "checkout-1", uid: "0f7c5b5e-1111-4a3b-9a0b-3c2d1e0f9a8b" });
    expect(podContainer(podFromEnv(ok) as TracedPod).id).toBe("0f7c5b5e1111");
  });
  it.each([
    ["none", {}],
    ["no uid", { ...ok, POD_UID: "" }],
    ["a bad uid", { ...ok, POD_UID: "not-a-uid" }],
    ["a bad namespace", { ...ok, POD_NAMESPACE: "Shop" }],
    ["a name with a newline", { ...ok, POD_NAME: "a\nb" }],
    ["a huge name", { ...ok, POD_NAME: "a".repeat(300) }],
  ])("%s → undefined (the host, as before)", (_n, env) => {
    expect(podFromEnv(env)).toBeUndefined();
  });
});
