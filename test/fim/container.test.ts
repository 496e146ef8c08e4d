// SPDX-License-Identifier: Apache-2.0
/**
 * FileIntegrity on a real container (test containerd, busybox image, overlayfs rootfs): the file is
 * read through the container's root, the "before" of an image file comes from the image layers, and
 * a writer that already exited is replaced by another process of the same container (found by its
 * cgroup).
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FileIntegrity } from "../../agent/fim/index.js";
import type { ContainerInfo } from "../../rules/event.js";
import { BUSYBOX_IMAGE, containersAvailable, prepareRuntime, removeContainer, runContainer } from "../helpers/containers.js";
import { alert, event, fileFd, HOST, thread } from "./event-fixture.js";

const sha = (s: string) => createHash("sha256").update(s).digest("hex");
const IMAGE_PASSWD = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n";
const run = containersAvailable() ? describe : describe.skip;

run("FileIntegrity in a real container", () => {
  const id = `vigil-fim-${process.pid}`;
  let sock = "";
  let pid = 0;
  let fim: FileIntegrity;
  let dir = "";
  let ctn: ContainerInfo;

  const sh = (cmd: string) =>
    execFileSync("ctr", ["-a", sock, "-n", "default", "task", "exec", "--exec-id", `x${Math.random().toString(36).slice(2)}`, id, "/bin/sh", "-c", cmd], {
      stdio: "pipe",
    });

  beforeAll(async () => {
    sock = prepareRuntime().sock;
    pid = runContainer(sock, "default", id, BUSYBOX_IMAGE);
    ctn = { ...HOST, id: id.slice(0, 12), fullId: id, type: "containerd" };
    dir = mkdtempSync(join(tmpdir(), "vigil-fim-c-"));
    fim = new FileIntegrity({ stateDir: dir, logger: pino({ level: "silent" }), scanOnStart: false, settleMs: 200 });
    await fim.start();
  }, 120_000);

  afterAll(async () => {
    await fim?.stop();
    if (sock) removeContainer(sock, "default", id);
    rmSync(dir, { recursive: true, force: true });
  });

  it("hashes a changed image file: before from the image layers, after through the container's root", async () => {
    sh("echo 'evil:x:0:0::/:/bin/sh' >> /etc/passwd");
    const a = alert();
    await fim.decorate(a, event("openat", { fd: 3, dirfd: -100, name: "/etc/passwd" }, thread(pid, "/", ctn), fileFd(3, "/etc/passwd"), 3));
    expect(a.output_fields).toMatchObject({
      "fim.path": "/etc/passwd",
      "fim.action": "modified",
      "fim.before_source": "image",
      "fim.sha256_before": sha(IMAGE_PASSWD),
      "fim.sha256_after": sha(IMAGE_PASSWD + "evil:x:0:0::/:/bin/sh\n"),
      "fim.unchanged": false,
    });
  });

  it("reports a new file in the container as created", async () => {
    sh("echo 'x=1' > /etc/app.conf");
    const a = alert();
    await fim.decorate(a, event("openat", { fd: 3, dirfd: -100, name: "/etc/app.conf" }, thread(pid, "/", ctn), fileFd(3, "/etc/app.conf"), 3));
    expect(a.output_fields).toMatchObject({ "fim.action": "created", "fim.sha256_before": null, "fim.sha256_after": sha("x=1\n") });
  });

  it("reads through another process of the container when the writer is gone", async () => {
    sh("echo 'x=2' > /etc/app.conf");
    const a = alert();
    await fim.decorate(a, event("openat", { fd: 3, dirfd: -100, name: "/etc/app.conf" }, thread(0x3ffffff0, "/", ctn), fileFd(3, "/etc/app.conf"), 3));
    expect(a.output_fields).toMatchObject({ "fim.action": "modified", "fim.sha256_before": sha("x=1\n"), "fim.sha256_after": sha("x=2\n") });
  });

  it("does not read the host's file for a container it cannot find", async () => {
    const a = alert();
    const gone: ContainerInfo = { ...ctn, id: "0123456789ab", fullId: "0123456789ab".repeat(5) };
    await fim.decorate(a, event("openat", { fd: 3, dirfd: -100, name: "/etc/hostname" }, thread(0x3ffffff1, "/", gone), fileFd(3, "/etc/hostname"), 3));
    expect(a.output_fields["fim.note"]).toBe("root_unavailable");
    expect(a.output_fields["fim.sha256_after"]).toBeNull();
  });
});
