// SPDX-License-Identifier: Apache-2.0
/** The enricher's task hook with a real containerd: a new container's init pid arrives at once. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ContainerEnricher } from "../../agent/enrich/index.js";
import { BUSYBOX_IMAGE, containersAvailable, prepareRuntime, removeContainer, runContainer, until } from "../helpers/containers.js";
import { captureLogger } from "../helpers/capture-logger.js";

const skip = !containersAvailable() || process.getuid?.() !== 0;

describe.skipIf(skip)("ContainerEnricher onTask", () => {
  let sock = "";
  const id = `vigil-prevent-hook-${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}`;
  beforeAll(() => {
    sock = prepareRuntime().sock;
  }, 120_000);
  afterAll(() => removeContainer(sock, "default", id));

  it("reports the task's pid for /tasks/create and /tasks/start", async () => {
    const seen: [string, string, number][] = [];
    const en = new ContainerEnricher({ socket: sock, logger: captureLogger().logger, onTask: (ns, cid, pid) => seen.push([ns, cid, pid]) });
    await en.start();
    try {
      // the event subscription is up once the enricher has connected
      await new Promise((r) => setTimeout(r, 300));
      const pid = runContainer(sock, "default", id, BUSYBOX_IMAGE, ["/bin/sleep", "600"]);
      expect(await until(() => seen.filter((s) => s[1] === id).length >= 2, 5000)).toBe(true);
      expect(seen.filter((s) => s[1] === id)).toEqual([
        ["default", id, pid],
        ["default", id, pid],
      ]);
    } finally {
      await en.stop();
    }
  }, 60_000);
});
