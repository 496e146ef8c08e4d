// SPDX-License-Identifier: Apache-2.0
/**
 * Scenarios of failed attempts (issue 19, class 1); spread into ATTACKS by table.ts. Every one
 * makes the kernel refuse a call for real — a noexec mount, a missing permission, a read-only
 * /proc/sys or /sys in an unprivileged container, seccomp's refusal of privileged calls — with
 * different tools (busybox applets, shell redirections, vigil-attack) and users (root in the
 * unprivileged web pod, uid 1000 and 65534).
 */
import type { Scenario } from "./table.js";

const T = "/opt/tools";

export const ATTACKS_ATTEMPTS: readonly Scenario[] = [
  // ---------------------------------------------------------------- exec refused
  {
    name: "run a dropped binary from the noexec /dev/shm",
    technique: "T1204.002",
    pod: "web",
    expect: "Exec Refused In Container",
    cmd: "cp /bin/busybox /dev/shm/kworker && chmod 755 /dev/shm/kworker && /dev/shm/kworker true; rm -f /dev/shm/kworker",
  },
  {
    name: "run a payload written without the execute bit",
    technique: "T1204.002",
    pod: "web",
    expect: "Exec Refused In Container",
    cmd: "printf '#!/bin/sh\\nid\\n' > /tmp/stage2.sh && chmod 644 /tmp/stage2.sh && /tmp/stage2.sh; rm -f /tmp/stage2.sh",
  },
  {
    name: "a non-root user execs a root-only binary directly",
    technique: "T1204.002",
    pod: "web",
    expect: "Exec Refused In Container",
    user: "1000",
    setup: "cp /bin/busybox /tmp/rootonly && chmod 700 /tmp/rootonly",
    cmd: `${T}/vigil-attack exec /tmp/rootonly id`,
  },
  {
    name: "run a truncated ELF download from /tmp",
    technique: "T1204.002",
    pod: "web",
    expect: "Exec Refused In Container",
    cmd: `printf '\\177ELF\\002\\001\\001\\000' > /tmp/xmr && chmod 755 /tmp/xmr && ${T}/vigil-attack exec /tmp/xmr; rm -f /tmp/xmr`,
  },
  // ---------------------------------------------------------------- writes refused
  // only non-root users here: the harness's pods (made through CRI without kubelet's default
  // readonly paths) have a writable /proc/sys for root, and a root write would change the node
  {
    name: "a non-root user sets core_pattern through a shell redirection",
    technique: "T1611",
    pod: "web",
    expect: "Write Refused To Kernel Tunable Or Protected File",
    user: "1000",
    cmd: "echo '|/tmp/x' > /proc/sys/kernel/core_pattern",
  },
  {
    name: "nobody writes a kernel tunable with busybox dd",
    technique: "T1611",
    pod: "web",
    expect: "Write Refused To Kernel Tunable Or Protected File",
    user: "65534",
    cmd: "echo 3 | dd of=/proc/sys/vm/drop_caches",
  },
  {
    name: "write the uevent_helper in the read-only /sys",
    technique: "T1611",
    pod: "web",
    expect: "Write Refused To Kernel Tunable Or Protected File",
    cmd: "echo /tmp/x > /sys/kernel/uevent_helper",
  },
  {
    name: "a non-root user appends a root account to /etc/passwd",
    technique: "T1136.001",
    pod: "web",
    expect: "Write Refused To Kernel Tunable Or Protected File",
    user: "1000",
    cmd: "echo 'toor::0:0::/root:/bin/sh' >> /etc/passwd",
  },
  {
    name: "a non-root user tees into sudoers.d",
    technique: "T1548.003",
    pod: "web",
    expect: "Write Refused To Kernel Tunable Or Protected File",
    user: "65534",
    setup: "mkdir -p /etc/sudoers.d",
    cmd: "echo 'nobody ALL=(ALL) NOPASSWD: ALL' | tee /etc/sudoers.d/nobody",
  },
  // ---------------------------------------------------------------- privileged calls refused
  {
    name: "mount proc from an unprivileged container",
    technique: "T1611",
    pod: "web",
    expect: "Container Escape Attempt Refused",
    cmd: "mkdir -p /tmp/p && mount -t proc proc /tmp/p",
  },
  {
    name: "nsenter the host's namespaces from an unprivileged container",
    technique: "T1611",
    pod: "web",
    expect: "Container Escape Attempt Refused",
    cmd: "nsenter -t 1 -m -u -n true",
  },
  {
    name: "unshare a mount namespace as a non-root user",
    technique: "T1611",
    pod: "web",
    expect: "Container Escape Attempt Refused",
    user: "1000",
    cmd: "unshare -m true",
  },
  {
    name: "load an eBPF program from an unprivileged container",
    technique: "T1611",
    pod: "web",
    expect: "Container Escape Attempt Refused",
    cmd: `${T}/vigil-attack bpf`,
  },
  {
    name: "insmod a module from an unprivileged container",
    technique: "T1547.006",
    pod: "web",
    expect: "Kernel Module Load Refused",
    cmd: "printf '\\177ELF' > /tmp/rk.ko && insmod /tmp/rk.ko; rm -f /tmp/rk.ko",
  },
  {
    name: "rmmod a security module from an unprivileged container",
    technique: "T1547.006",
    pod: "web",
    expect: "Kernel Module Load Refused",
    cmd: "rmmod apparmor",
  },
  {
    name: "a non-root user insmods a module",
    technique: "T1547.006",
    pod: "web",
    expect: "Kernel Module Load Refused",
    user: "1000",
    cmd: "printf '\\177ELF' > /dev/shm/rk.ko && insmod /dev/shm/rk.ko; rm -f /dev/shm/rk.ko",
  },
  {
    name: "a non-root user attaches to the container's init",
    technique: "T1055.008",
    pod: "web",
    expect: "Ptrace Attach Refused",
    user: "1000",
    cmd: `${T}/vigil-attack pattach 1`,
  },
  {
    name: "nobody seizes the container's init",
    technique: "T1055.008",
    pod: "web",
    expect: "Ptrace Attach Refused",
    user: "65534",
    cmd: `${T}/vigil-attack pattach 1 seize`,
  },
  {
    name: "a non-root user attaches to a root shell",
    technique: "T1055.008",
    pod: "web",
    expect: "Ptrace Attach Refused",
    user: "1000",
    setup: "(sleep 30 >/dev/null 2>&1 &)",
    cmd: `${T}/vigil-attack pattach $(pidof sleep | cut -d' ' -f1)`,
  },
];
