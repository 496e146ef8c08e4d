// SPDX-License-Identifier: Apache-2.0
/**
 * Scenarios of file and exec behaviour over time (issue 19, class 4, files half: the rules of
 * 43-file-behaviour.yaml on agent/behaviour/files.ts); spread into ATTACKS by table.ts.
 *
 * Downloads come from the web pod itself (the pods share the host network): busybox httpd on
 * 127.0.0.1:18081 serving /www (the same server the web-shell scenarios use), or a `nc -l`
 * listener. Busybox copies are named after an applet (`sleep`, `uptime`) so that they run.
 */
import type { Scenario } from "./table.js";

/** The web pod's httpd (as table.ts starts it) with a payload binary and a script to fetch. */
const SERVE =
  "mkdir -p /www/cgi-bin && cp /bin/busybox /www/uptime && printf '#!/bin/sh\\nid\\n' > /www/stage2.sh" +
  " && (pidof httpd >/dev/null || httpd -p 18081 -h /www)";
const URL = "http://127.0.0.1:18081";
/** Fake secrets where attackers look for them. */
const SECRETS =
  "mkdir -p /root/.ssh /root/.aws /root/.kube /app /srv/www" +
  " && echo '-----BEGIN OPENSSH PRIVATE KEY-----' > /root/.ssh/id_rsa && echo '-----BEGIN OPENSSH PRIVATE KEY-----' > /root/.ssh/id_ed25519" +
  " && printf '[default]\\naws_secret_access_key=x\\n' > /root/.aws/credentials && echo 'apiVersion: v1' > /root/.kube/config" +
  " && echo 'DB_PASSWORD=x' > /app/.env && echo \"define('DB_PASSWORD', 'x');\" > /srv/www/wp-config.php" +
  " && echo 'https://u:token@git.example' > /root/.git-credentials";

export const ATTACKS_FILES: readonly Scenario[] = [
  // ---------------------------------------------------------------- running executable deleted
  {
    name: "a payload deletes its own binary through a relative path",
    technique: "T1070.004",
    pod: "web",
    expect: "Running Executable Deleted",
    cmd: "mkdir -p /tmp/r && cp /bin/busybox /tmp/r/rm && cd /tmp/r && ./rm rm",
  },
  {
    name: "a dropper deletes the payload it started (rm, absolute path)",
    technique: "T1070.004",
    pod: "web",
    expect: "Running Executable Deleted",
    cmd: "cp /bin/busybox /tmp/sleep && (/tmp/sleep 3 &) && sleep 0.5 && /applets/rm -f /tmp/sleep",
  },
  {
    name: "a dropper deletes the payload it started (unlink, relative path)",
    technique: "T1070.004",
    pod: "web",
    expect: "Running Executable Deleted",
    cmd: "mkdir -p /tmp/w && cp /bin/busybox /tmp/w/sleep && cd /tmp/w && (./sleep 3 &) && sleep 0.5 && /applets/unlink sleep",
  },
  {
    name: "a payload in /var/tmp deleted by the shell that started it (privileged pod)",
    technique: "T1070.004",
    pod: "priv",
    expect: "Running Executable Deleted",
    cmd: "mkdir -p /var/tmp && cp /bin/busybox /var/tmp/sleep && (/var/tmp/sleep 3 &) ; sleep 0.5; rm -f /var/tmp/sleep",
  },
  // ---------------------------------------------------------------- fetched then executed (T1105)
  {
    name: "wget a binary, chmod it and run it",
    technique: "T1105",
    pod: "web",
    expect: "Network-Fetched File Executed",
    setup: SERVE,
    cmd: `/applets/wget -q -O /tmp/uptime ${URL}/uptime && chmod 755 /tmp/uptime && /tmp/uptime`,
  },
  {
    name: "wget a script and run it with sh",
    technique: "T1105",
    pod: "web",
    expect: "Network-Fetched File Executed",
    setup: SERVE,
    cmd: `/applets/wget -q -O /tmp/stage2.sh ${URL}/stage2.sh && /bin/sh /tmp/stage2.sh`,
  },
  {
    name: "wget to stdout redirected to a file, run through its shebang",
    technique: "T1105",
    pod: "web",
    expect: "Network-Fetched File Executed",
    setup: SERVE,
    cmd: `/applets/wget -q -O - ${URL}/stage2.sh > /tmp/s2 && chmod 755 /tmp/s2 && /tmp/s2`,
  },
  {
    name: "nc fetches a script from a listener, run through its shebang",
    technique: "T1105",
    pod: "web",
    expect: "Network-Fetched File Executed",
    cmd: "printf '#!/bin/sh\\nid\\n' > /tmp/srv.sh && (/applets/nc -l -p 19007 < /tmp/srv.sh &) ; sleep 0.3; /applets/nc -w 1 127.0.0.1 19007 > /tmp/nc-stage; chmod 755 /tmp/nc-stage && /tmp/nc-stage",
  },
  // ---------------------------------------------------------------- credential hunting
  {
    name: "a shell loop cats credential files",
    technique: "T1552.001",
    pod: "web",
    expect: "Credential Files Hunted",
    setup: SECRETS,
    cmd: "for f in /root/.ssh/id_rsa /root/.aws/credentials /root/.kube/config /app/.env /root/.git-credentials; do /applets/cat $f; done > /dev/null",
  },
  {
    name: "tar collects key and credential directories",
    technique: "T1552.001",
    pod: "web",
    expect: "Credential Files Hunted",
    setup: SECRETS,
    cmd: "/applets/tar cf /tmp/loot.tar /root/.ssh /root/.aws /root/.kube /root/.git-credentials /app/.env 2>/dev/null; rm -f /tmp/loot.tar",
  },
  {
    name: "grep -r through home and app directories for key markers",
    technique: "T1552.004",
    pod: "web",
    expect: "Credential Files Hunted",
    setup: SECRETS,
    cmd: "/applets/grep -r -l -e BEGIN -e secret -e token /root /app /srv > /dev/null 2>&1; true",
  },

  // ---------------------------------------------------------------- secrets searched by content
  {
    name: "grep -ri password over the web root",
    technique: "T1552.001",
    pod: "web",
    expect: "Secrets Searched In File Contents",
    setup: SECRETS,
    cmd: "/applets/grep -ri password /srv /app > /dev/null; true",
  },
  {
    name: "grep -R for AWS access keys",
    technique: "T1552.001",
    pod: "web",
    expect: "Secrets Searched In File Contents",
    setup: SECRETS,
    cmd: "/applets/grep -R -n -e AKIA -e aws_secret_access_key /root /app > /dev/null; true",
  },
  {
    name: "egrep -rl for api keys and tokens",
    technique: "T1552.001",
    pod: "web",
    expect: "Secrets Searched In File Contents",
    setup: SECRETS,
    cmd: "/applets/egrep -rl 'api_key|token' /app /srv /root > /dev/null; true",
  },
];
