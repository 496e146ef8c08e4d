// SPDX-License-Identifier: Apache-2.0
import { describe, expect, test } from "vitest";
import type { ContainerRecord } from "../../agent/enrich/containerd-client.js";
import { parseImageRef } from "../../agent/enrich/image-ref.js";
import { buildMetadata, manifestConfigDigest, sandboxFacts } from "../../agent/enrich/metadata.js";
import { specFacts } from "../../agent/enrich/oci-spec.js";

const D = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

describe("parseImageRef", () => {
  const rows: [string, string, string | undefined, string | undefined][] = [
    ["registry.k8s.io/pause:3.6", "registry.k8s.io/pause", "3.6", undefined],
    ["docker.io/library/nginx:1.25-alpine", "docker.io/library/nginx", "1.25-alpine", undefined],
    ["nginx", "nginx", undefined, undefined],
    ["localhost:5000/app", "localhost:5000/app", undefined, undefined],
    ["localhost:5000/app:v2", "localhost:5000/app", "v2", undefined],
    [`nginx@${D}`, "nginx", undefined, D],
    [`quay.io/org/app:1.0@${D}`, "quay.io/org/app", "1.0", D],
    ["", "", undefined, undefined],
    ["app:", "app", undefined, undefined],
  ];
  test.each(rows)("%s", (ref, repository, tag, digest) => {
    expect(parseImageRef(ref)).toEqual({ repository, tag, digest });
  });
});

describe("specFacts", () => {
  const base = {
    process: { user: { uid: 1000, gid: 1000 }, capabilities: { bounding: ["CAP_CHOWN", "CAP_KILL"] } },
    linux: { namespaces: [{ type: "pid" }, { type: "network" }, { type: "ipc" }, { type: "mount" }], maskedPaths: ["/proc/kcore"] },
    mounts: [
      { destination: "/proc", type: "proc", source: "proc", options: ["nosuid"] },
      { destination: "/var/run/docker.sock", type: "bind", source: "/var/run/docker.sock", options: ["rbind", "rprivate", "rw"] },
      { destination: "/etc/config", source: "/srv/config", options: ["rbind", "ro", "rslave"] },
    ],
    annotations: { "io.kubernetes.cri.sandbox-id": "abc", bad: 5 },
  };

  test("an ordinary container", () => {
    const f = specFacts(base);
    expect(f.privileged).toBe(false);
    expect(f.hostPid).toBe(false);
    expect(f.hostNetwork).toBe(false);
    expect(f.hostIpc).toBe(false);
    expect(f.user).toBe("1000");
    expect(f.mounts).toEqual([
      { source: "/var/run/docker.sock", dest: "/var/run/docker.sock", mode: "", rw: true, propagation: "rprivate" },
      { source: "/srv/config", dest: "/etc/config", mode: "", rw: false, propagation: "rslave" },
    ]);
    expect([...f.annotations]).toEqual([["io.kubernetes.cri.sandbox-id", "abc"]]);
  });

  test("host namespaces are the ones the spec does not create", () => {
    const f = specFacts({ ...base, linux: { namespaces: [{ type: "mount" }] } });
    expect([f.hostPid, f.hostNetwork, f.hostIpc]).toEqual([true, true, true]);
  });

  test("a username wins over the uid", () => {
    expect(specFacts({ process: { user: { uid: 0, username: "nginx" } } }).user).toBe("nginx");
  });

  test("privileged needs every capability and no masked paths", () => {
    const all = [
      "CAP_CHOWN",
      "CAP_DAC_OVERRIDE",
      "CAP_DAC_READ_SEARCH",
      "CAP_FOWNER",
      "CAP_FSETID",
      "CAP_KILL",
      "CAP_SETGID",
      "CAP_SETUID",
      "CAP_SETPCAP",
      "CAP_LINUX_IMMUTABLE",
      "CAP_NET_BIND_SERVICE",
      "CAP_NET_BROADCAST",
      "CAP_NET_ADMIN",
      "CAP_NET_RAW",
      "CAP_IPC_LOCK",
      "CAP_IPC_OWNER",
      "CAP_SYS_MODULE",
      "CAP_SYS_RAWIO",
      "CAP_SYS_CHROOT",
      "CAP_SYS_PTRACE",
      "CAP_SYS_PACCT",
      "CAP_SYS_ADMIN",
      "CAP_SYS_BOOT",
      "CAP_SYS_NICE",
      "CAP_SYS_RESOURCE",
      "CAP_SYS_TIME",
      "CAP_SYS_TTY_CONFIG",
      "CAP_MKNOD",
      "CAP_LEASE",
      "CAP_AUDIT_WRITE",
      "CAP_AUDIT_CONTROL",
      "CAP_SETFCAP",
      "CAP_MAC_OVERRIDE",
      "CAP_MAC_ADMIN",
      "CAP_SYSLOG",
      "CAP_WAKE_ALARM",
      "CAP_BLOCK_SUSPEND",
      "CAP_AUDIT_READ",
      "CAP_PERFMON",
      "CAP_BPF",
      "CAP_CHECKPOINT_RESTORE",
    ];
    const priv = { process: { capabilities: { bounding: all } }, linux: { namespaces: [{ type: "pid" }] } };
    expect(specFacts(priv).privileged).toBe(true);
    expect(specFacts({ ...priv, linux: { maskedPaths: ["/proc/kcore"] } }).privileged).toBe(false);
    expect(specFacts({ ...priv, process: { capabilities: { bounding: all.filter((c) => c !== "CAP_SYS_ADMIN") } } }).privileged).toBe(false);
  });

  // hostile or broken specs: never throw, never trust a type
  const bad: [string, unknown][] = [
    ["undefined", undefined],
    ["null", null],
    ["a number", 42],
    ["an array", []],
    ["wrong types everywhere", { process: "x", linux: { namespaces: "pid", maskedPaths: 7 }, mounts: { a: 1 }, annotations: [1, 2] }],
    ["mount entries of the wrong type", { mounts: [null, 3, "x", { type: "bind", source: 5, destination: "/x" }] }],
    ["huge strings", { process: { user: { username: "u".repeat(1 << 20) } }, mounts: [{ type: "bind", source: "s".repeat(1 << 20), destination: "/d" }] }],
    ["too many mounts", { mounts: Array.from({ length: 100_000 }, (_, i) => ({ type: "bind", source: `/s${i}`, destination: `/d${i}` })) }],
  ];
  test.each(bad)("%s", (_n, spec) => {
    const f = specFacts(spec);
    expect(f.mounts.length).toBeLessThanOrEqual(512);
    expect(f.user === undefined || f.user.length <= 4096).toBe(true);
  });
});

function rec(over: Partial<ContainerRecord>): ContainerRecord {
  return {
    id: "c1",
    namespace: "k8s.io",
    labels: new Map(),
    image: "",
    runtime: "io.containerd.runc.v2",
    spec: undefined,
    snapshotter: "overlayfs",
    snapshotKey: "c1",
    createdAtNs: 1.7e18,
    extensions: new Map(),
    ...over,
  };
}

const json = (o: unknown): Uint8Array => Buffer.from(JSON.stringify(o));

describe("sandboxFacts and buildMetadata", () => {
  test("pod labels come from the kubelet's sandbox config, without its bookkeeping labels", () => {
    const sb = rec({
      id: "sb1",
      labels: new Map([
        ["io.cri-containerd.kind", "sandbox"],
        ["io.kubernetes.pod.name", "web-0"],
        ["io.kubernetes.pod.namespace", "shop"],
        ["io.kubernetes.pod.uid", "u-1"],
        ["from.image", "x"],
      ]),
      extensions: new Map([
        [
          "io.cri-containerd.sandbox.metadata",
          json({
            Version: "v1",
            Metadata: {
              IP: "10.1.2.3",
              Config: { labels: { app: "web", "io.kubernetes.pod.name": "web-0" }, linux: { security_context: { namespace_options: { network: 2 } } } },
            },
          }),
        ],
      ]),
    });
    const f = sandboxFacts(sb);
    expect(f).toEqual({ id: "sb1", podName: "web-0", namespace: "shop", podUid: "u-1", podLabels: new Map([["app", "web"]]), podIp: "10.1.2.3" });
    const m = buildMetadata(sb, f, undefined);
    expect(m.name).toBe("web-0");
    expect(m.hostNetwork).toBe(true);
    expect(m.k8s?.sandboxId).toBe("sb1");
    expect(m.k8s?.podIp).toBe("10.1.2.3");
  });

  test("a broken CRI extension is ignored, labels still give the pod", () => {
    const c = rec({
      labels: new Map([
        ["io.cri-containerd.kind", "container"],
        ["io.kubernetes.pod.name", "p"],
        ["io.kubernetes.container.name", "app"],
      ]),
      extensions: new Map([["io.cri-containerd.container.metadata", Buffer.from("{not json")]]),
      image: "nginx:1",
    });
    const m = buildMetadata(c, undefined, { digest: D, configDigest: `sha256:${"ab".repeat(32)}` });
    expect(m.name).toBe("app");
    expect(m.k8s?.podName).toBe("p");
    expect(m.k8s?.sandboxId).toBeUndefined();
    expect(m.imageDigest).toBe(D);
    expect(m.imageId).toBe("abababababab");
    expect(m.imageTag).toBe("1");
  });

  test("a plain containerd container has no k8s facts and is named by its ID", () => {
    const m = buildMetadata(rec({ id: "job-7", namespace: "default", image: "busybox" }), undefined, undefined);
    expect(m.k8s).toBeUndefined();
    expect(m.name).toBe("job-7");
    expect(m.type).toBe("containerd");
    expect(m.metaMissing).toBe(false);
  });
});

describe("manifestConfigDigest", () => {
  const rows: [string, unknown, { config: string | undefined; next: string | undefined }][] = [
    ["manifest", { config: { digest: D } }, { config: D, next: undefined }],
    [
      "index picks this platform",
      {
        manifests: [
          { digest: "sha256:arm", platform: { os: "linux", architecture: "arm64" } },
          { digest: "sha256:amd", platform: { os: "linux", architecture: "amd64" } },
        ],
      },
      { config: undefined, next: process.arch === "arm64" ? "sha256:arm" : "sha256:amd" },
    ],
    ["index without platforms", { manifests: [{ digest: "sha256:one" }] }, { config: undefined, next: "sha256:one" }],
    ["garbage", "x", { config: undefined, next: undefined }],
    ["null", null, { config: undefined, next: undefined }],
  ];
  test.each(rows)("%s", (_n, doc, want) => {
    expect(manifestConfigDigest(doc)).toEqual(want);
  });
});
