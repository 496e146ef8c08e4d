// SPDX-License-Identifier: Apache-2.0
/** Scenarios of network behaviour over time (issue 19, class 4); spread into ATTACKS/BENIGN by table.ts. */
import type { Scenario } from "./table.js";

const T = "/opt/tools";
/** A CGI-capable web server in the web pod (the TTP scenarios start the same one). */
const HTTPD = "mkdir -p /www/cgi-bin && (pidof httpd >/dev/null || httpd -p 18081 -h /www)";
/** A second web server whose CGI scripts were deployed before it started (the CGI itself is not fresh). */
const OLD_CGI = (port: number, name: string, body: string) =>
  `mkdir -p /www${port}/cgi-bin && printf '#!/bin/sh\\necho Content-type: text/plain\\necho\\n${body}\\n' > /www${port}/cgi-bin/${name} && chmod 755 /www${port}/cgi-bin/${name} && sleep 1 && (netstat -ltn 2>/dev/null | grep -q ':${port} ' || httpd -p ${port} -h /www${port})`;

export const ATTACKS_NET: readonly Scenario[] = [
  // ---------------------------------------------------------------- scanning (one process, a loop of processes, a sweep)
  {
    name: "connect scan of 40 node ports by one process (net behaviour)",
    technique: "T1046",
    pod: "web",
    expect: "Network Scan Seen Over Time",
    cmd: `${T}/vigil-attack scan $HOST 2000 2040`,
  },
  {
    name: "nc port probe loop, one short process per port (net behaviour)",
    technique: "T1046",
    pod: "web",
    expect: "Network Scan Seen Over Time",
    cmd: "for p in $(seq 3000 3030); do nc -w 1 $HOST $p </dev/null 2>/dev/null; done; true",
  },
  {
    name: "wget port sweep of the node's HTTP ports (net behaviour)",
    technique: "T1046",
    pod: "web",
    expect: "Network Scan Seen Over Time",
    cmd: "for p in $(seq 4000 4030); do /applets/wget -q -O /dev/null http://$HOST:$p/ 2>/dev/null; done; true",
  },
  {
    name: "host sweep of 30 loopback addresses on one port (net behaviour)",
    technique: "T1046",
    pod: "web",
    expect: "Network Scan Seen Over Time",
    cmd: "for i in $(seq 1 30); do /applets/telnet 127.0.0.$i 9 </dev/null 2>/dev/null; done; true",
  },
  // ---------------------------------------------------------------- mining through a local pool or proxy
  {
    name: "stratum subscribe to a loopback pool port, refused (net behaviour)",
    technique: "T1496.001",
    pod: "web",
    expect: "Mining Pool Port Contacted On Loopback",
    cmd: `${T}/vigil-attack connect 127.0.0.1 3333 '{"id":1,"method":"mining.subscribe","params":["xmrig"]}'; true`,
  },
  {
    name: "stratum login through a local proxy with nc (net behaviour)",
    technique: "T1496.001",
    pod: "web",
    expect: "Mining Pool Port Contacted On Loopback",
    cmd: `(nc -l -p 14444 >/dev/null 2>&1 &); sleep 0.3; echo '{"id":1,"method":"login","params":{"login":"x","agent":"XMRig/6.21"}}' | nc -w 1 127.0.0.1 14444; true`,
  },
  {
    name: "HTTP to a loopback pool port with wget (net behaviour)",
    technique: "T1496.001",
    pod: "web",
    expect: "Mining Pool Port Contacted On Loopback",
    cmd: "/applets/wget -q -O /dev/null http://127.0.0.1:45700/ 2>/dev/null; true",
  },
  // ---------------------------------------------------------------- web shells run by a network server
  {
    name: "fresh CGI run by httpd through its shebang (net behaviour)",
    technique: "T1505.003",
    pod: "web",
    expect: "Server Ran Freshly Written Script",
    cmd: `${HTTPD} && sleep 0.2 && printf '#!/bin/sh\\necho Content-type: text/plain\\necho\\necho ok\\n' > /www/cgi-bin/h4shell && chmod 755 /www/cgi-bin/h4shell && wget -q -O- http://127.0.0.1:18081/cgi-bin/h4shell`,
  },
  {
    name: "deployed CGI running sh on a freshly dropped script (net behaviour)",
    technique: "T1505.003",
    pod: "web",
    expect: "Server Ran Freshly Written Script",
    setup: OLD_CGI(18093, "runner", "/applets/sh /tmp/h4drop.sh"),
    cmd: "printf 'id\\n' > /tmp/h4drop.sh && wget -q -O- http://127.0.0.1:18093/cgi-bin/runner",
  },
  {
    name: "deployed CGI running awk -f on a freshly dropped program (net behaviour)",
    technique: "T1505.003",
    pod: "web",
    expect: "Server Ran Freshly Written Script",
    setup: OLD_CGI(18094, "report", "/applets/awk -f /tmp/h4drop.awk /etc/passwd"),
    cmd: "printf 'BEGIN { system(\"id\") }\\n' > /tmp/h4drop.awk && wget -q -O- http://127.0.0.1:18094/cgi-bin/report",
  },
  {
    name: "nc bind shell told to run a script written after it listened (net behaviour)",
    technique: "T1505.003",
    pod: "web",
    expect: "Server Ran Freshly Written Script",
    cmd: "(nc -l -p 18084 -e /bin/sh >/dev/null 2>&1 &); sleep 0.3; printf 'id\\n' > /tmp/h4bind.sh; echo 'sh /tmp/h4bind.sh' | nc -w 1 127.0.0.1 18084; true",
  },
  // ---------------------------------------------------------------- Stratum with write/writev (45-mining.yaml, the probe's write:sock)
  {
    name: "Stratum subscribe with write() on a web port (vigil-attack)",
    technique: "T1496.001",
    pod: "web",
    expect: "Stratum Mining Protocol Written To Socket",
    cmd: `${T}/vigil-attack stratum write $HOST 8080`,
  },
  {
    name: "Stratum XMRig login with writev() on an HTTPS port (vigil-attack)",
    technique: "T1496.001",
    pod: "web",
    expect: "Stratum Mining Protocol Written To Socket",
    cmd: `${T}/vigil-attack stratum writev $HOST 443 login`,
  },
  {
    name: "Stratum subscribe piped through busybox nc (write)",
    technique: "T1496.001",
    pod: "web",
    expect: "Stratum Mining Protocol Written To Socket",
    cmd: `echo '{"id":1,"method":"mining.subscribe","params":["cpuminer/2.5.1"]}' | nc -w 1 $HOST 8080; true`,
  },
  {
    name: "Stratum XMRig login with write() to a loopback proxy (vigil-attack)",
    technique: "T1496.001",
    pod: "web",
    expect: "Stratum Mining Protocol Written To Socket",
    cmd: `(nc -l -p 14446 >/dev/null 2>&1 &); sleep 0.3; ${T}/vigil-attack stratum write 127.0.0.1 14446 login`,
  },
];

export const BENIGN_NET: readonly Scenario[] = [
  {
    name: "net behaviour benign: CGI deployed before its web server started",
    technique: "-",
    pod: "benign",
    expect: null,
    cmd: "mkdir -p /srv/cgi/cgi-bin && printf '#!/bin/sh\\necho Content-type: text/plain\\necho\\necho healthy\\n' > /srv/cgi/cgi-bin/health && chmod 755 /srv/cgi/cgi-bin/health && sleep 1 && (netstat -ltn 2>/dev/null | grep -q ':18085 ' || httpd -p 18085 -h /srv/cgi) && sleep 0.2 && for i in 1 2 3; do wget -q -O- http://127.0.0.1:18085/cgi-bin/health >/dev/null; done",
  },
  {
    name: "net behaviour benign: health checks of three ports, some refused",
    technique: "-",
    pod: "benign",
    expect: null,
    cmd: "for i in 1 2 3 4 5; do for p in 18085 18086 18087; do wget -q -O /dev/null http://127.0.0.1:$p/ 2>/dev/null; done; done; true",
  },
  {
    name: "net behaviour benign: one client polling one service 40 times",
    technique: "-",
    pod: "benign",
    expect: null,
    cmd: "for i in $(seq 1 40); do wget -q -O /dev/null http://127.0.0.1:18085/cgi-bin/health 2>/dev/null; done; true",
  },
];
