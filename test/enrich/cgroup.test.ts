// SPDX-License-Identifier: Apache-2.0
import { readFileSync } from "node:fs";
import { describe, expect, test } from "vitest";
import { containerFromCgroupPath, containerFromProcCgroup } from "../../agent/enrich/cgroup.js";

const ID = "7a071ba1cddbeff9055de6191f51fe2d33d5676b43cd158405d42dee795fbb42";
const ID2 = "3f4e5d6c7b8a99887766554433221100ffeeddccbbaa00112233445566778899";
const UID = "1234abcd-5678-90ef-1234-567890abcdef";
const UID_ = UID.replaceAll("-", "_");

type Row = [string, { id: string; runtime: string; namespace?: string; podUid?: string } | undefined];

// Real-world shapes (containerd, CRI-O, Docker, podman, kubelet cgroupfs/systemd drivers, v1 and v2)
const rows: Row[] = [
  // containerd, this machine's shapes
  [`/k8s.io/${ID}`, { id: ID, runtime: "containerd", namespace: "k8s.io" }],
  ["/default/explore1", { id: "explore1", runtime: "containerd", namespace: "default" }],
  ["default/my.app_1-x", { id: "my.app_1-x", runtime: "containerd", namespace: "default" }],
  [`/default/outer/sub`, { id: "outer", runtime: "containerd", namespace: "default" }],
  // containerd + systemd cgroup driver (EKS, cgroup v2)
  [`/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID_}.slice/cri-containerd-${ID}.scope`, { id: ID, runtime: "containerd", podUid: UID }],
  [`/kubepods.slice/kubepods-pod${UID_}.slice/cri-containerd-${ID}.scope`, { id: ID, runtime: "containerd", podUid: UID }],
  [`/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${UID_}.slice/cri-containerd-${ID}.scope`, { id: ID, runtime: "containerd", podUid: UID }],
  // containerd + systemd driver, cgroup v1 colon form
  [`/system.slice/containerd.service/kubepods-burstable-pod${UID_}.slice:cri-containerd:${ID}`, { id: ID, runtime: "containerd", podUid: UID }],
  // kubelet cgroupfs driver
  [`/kubepods/burstable/pod${UID}/${ID}`, { id: ID, runtime: "cri", podUid: UID }],
  [`/kubepods/besteffort/pod${UID}/${ID}`, { id: ID, runtime: "cri", podUid: UID }],
  [`/kubepods/pod${UID}/${ID}`, { id: ID, runtime: "cri", podUid: UID }],
  // CRI-O
  [`/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID_}.slice/crio-${ID}.scope`, { id: ID, runtime: "cri-o", podUid: UID }],
  [`/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID_}.slice/crio-conmon-${ID}.scope`, undefined],
  [`/kubepods-burstable-pod${UID_}.slice:crio:${ID}`, { id: ID, runtime: "cri-o", podUid: UID }],
  // Docker
  [`/docker/${ID}`, { id: ID, runtime: "docker" }],
  [`/system.slice/docker-${ID}.scope`, { id: ID, runtime: "docker" }],
  [`/moby/${ID}`, { id: ID, runtime: "docker" }],
  // docker in docker: the inner container wins
  [`/docker/${ID2}/docker/${ID}`, { id: ID, runtime: "docker" }],
  // kind node (docker) running kubelet pods: the pod's container wins
  [`/docker/${ID2}/kubepods/burstable/pod${UID}/${ID}`, { id: ID, runtime: "cri", podUid: UID }],
  // podman
  [`/machine.slice/libpod-${ID}.scope`, { id: ID, runtime: "podman" }],
  [`/machine.slice/libpod-${ID}.scope/container`, { id: ID, runtime: "podman" }],
  [`/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-${ID}.scope`, { id: ID, runtime: "podman" }],
  [`/libpod_parent/libpod-${ID}`, { id: ID, runtime: "podman" }],
  [`/machine.slice/libpod-conmon-${ID}.scope`, undefined],
  // host processes
  ["/", undefined],
  ["", undefined],
  ["/system.slice/ssh.service", undefined],
  ["/user.slice/user-0.slice/session-3.scope", undefined],
  ["/init.scope", undefined],
  // this machine: host processes sit in a v1 memory cgroup named like a container
  ["/process_api/fa0aeac39939d1faaec5d17953311bce", undefined],
  [`/process_api/${ID}`, undefined],
  // not a configured namespace, not a runtime shape
  [`/mynamespace/${ID}`, undefined],
  [`/${ID}`, undefined],
  ["/kubepods/burstable", undefined],
  [`/kubepods/burstable/pod${UID}`, undefined],
  // hostile input
  [`/default/${"x".repeat(200)}`, undefined],
  ["/default/..", undefined],
  ["/".repeat(10_000), undefined],
  [`/docker/${ID.toUpperCase()}`, undefined],
];

describe("containerFromCgroupPath", () => {
  test.each(rows)("%s", (path, want) => {
    const got = containerFromCgroupPath(path);
    if (want === undefined) expect(got).toBeUndefined();
    else expect(got).toEqual({ id: want.id, runtime: want.runtime, namespace: want.namespace, podUid: want.podUid });
  });

  test("configured namespaces replace the defaults", () => {
    expect(containerFromCgroupPath("/moby-ns/app", ["moby-ns"])).toEqual({ id: "app", runtime: "containerd", namespace: "moby-ns", podUid: undefined });
    expect(containerFromCgroupPath("/default/app", ["moby-ns"])).toBeUndefined();
  });

  test("a long hostile path is handled quickly", () => {
    const path = `/${"a/".repeat(200_000)}`;
    const t0 = performance.now();
    expect(containerFromCgroupPath(path)).toBeUndefined();
    expect(performance.now() - t0).toBeLessThan(1000);
  });
});

describe("containerFromProcCgroup", () => {
  const cases: [string, string, string | undefined][] = [
    [
      "this machine's host process (v1 memory cgroup named like a container, v2 at /)",
      "9:name=systemd:/\n8:pids:/\n4:memory:/process_api/fa0aeac39939d1faaec5d17953311bce\n1:cpu:/\n0::/\n",
      undefined,
    ],
    ["containerd container on a hybrid host", `12:memory:/k8s.io/${ID}\n0::/k8s.io/${ID}\n`, ID],
    ["docker on cgroup v1 only (v2 line at /)", `11:devices:/docker/${ID}\n4:memory:/docker/${ID}\n0::/\n`, ID],
    ["pure cgroup v2 systemd", `0::/system.slice/docker-${ID}.scope\n`, ID],
    ["garbage", "not a cgroup file\n:::\n\n", undefined],
    ["empty", "", undefined],
  ];
  test.each(cases)("%s", (_name, text, want) => {
    expect(containerFromProcCgroup(text)?.id).toBe(want);
  });

  test("the real /proc/self/cgroup of this test process is host", () => {
    expect(containerFromProcCgroup(readSelf())).toBeUndefined();
  });
});

function readSelf(): string {
  return readFileSync("/proc/self/cgroup", "utf8");
}
