// SPDX-License-Identifier: Apache-2.0
/**
 * docs/coverage.md: every technique of the MITRE ATT&CK Containers matrix and the Linux techniques of
 * the Enterprise matrix that apply inside containers or on Kubernetes nodes, with the Vigil rules
 * tagged with each (read from the rule files), the live scenario or recorded audit event that proves
 * it (test/scenarios/table.ts, test/k8saudit/pack.test.ts), and for what is out of reach, why.
 *
 *   node scripts/coverage.mjs           rewrite docs/coverage.md
 *   node scripts/coverage.mjs --check   exit 1 if docs/coverage.md is not what the rules give
 *
 * The technique names and the reasons are the hand-written part (CATALOGUE below); the rule and
 * scenario columns are generated. A rule tagged with a technique missing from CATALOGUE is an error.
 */
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
export const TECHNIQUE_RE = /^T\d{4}(\.\d{3})?$/;

/**
 * [id, name, matrix ("containers" | "linux"), out of reach / note]. A note is required when no rule
 * carries the technique (neither it nor one of its sub-techniques).
 */
export const CATALOGUE = [
  // ------------------------------------------------------------------ Containers matrix
  [
    "T1190",
    "Exploit Public-Facing Application",
    "containers",
    "The exploit itself is application traffic; Vigil sees what it leads to (a server process starting a shell or writing a script).",
  ],
  [
    "T1133",
    "External Remote Services",
    "containers",
    "Out of reach: exposure of the API server, kubelet or a runtime API happens at the network edge and in cluster configuration; the node sees the commands that follow (T1609, T1610, T1611).",
  ],
  [
    "T1078",
    "Valid Accounts",
    "containers",
    "Stolen but valid credentials look like their owner's normal use in the audit log; only impersonation of privileged identities and anonymous access stand out.",
  ],
  ["T1078.001", "Default Accounts", "containers", ""],
  [
    "T1078.003",
    "Local Accounts",
    "containers",
    "Out of reach: a login with a valid local password is normal authentication; containers have no interactive logins, and logins to nodes are seen only through what follows.",
  ],
  ["T1609", "Container Administration Command", "containers", ""],
  ["T1610", "Deploy Container", "containers", ""],
  ["T1053", "Scheduled Task/Job", "containers", "See the sub-techniques."],
  [
    "T1053.007",
    "Container Orchestration Job",
    "containers",
    "Not covered: creating a Job or CronJob is routine API use; no k8s_audit rule separates an attacker's from a CI pipeline's.",
  ],
  ["T1204", "User Execution", "containers", "See the sub-techniques."],
  [
    "T1204.003",
    "Malicious Image",
    "containers",
    "Admission policies flag images from untrusted registries; an image's content is out of reach (image scanning's job).",
  ],
  ["T1098", "Account Manipulation", "containers", "See the sub-techniques."],
  ["T1098.006", "Additional Container Cluster Roles", "containers", ""],
  ["T1136", "Create Account", "containers", "See the sub-techniques."],
  ["T1136.001", "Local Account", "containers", ""],
  ["T1543", "Create or Modify System Process", "containers", "See the sub-techniques."],
  [
    "T1543.005",
    "Container Service",
    "containers",
    "Not covered: a new DaemonSet or restart policy is routine API use; a container started through the runtime socket from inside a container is caught as T1611/T1610.",
  ],
  ["T1525", "Implant Internal Image", "containers", "Admission policies flag images not pinned by digest; pushing to a registry happens outside the node."],
  ["T1611", "Escape to Host", "containers", ""],
  ["T1068", "Exploitation for Privilege Escalation", "containers", "The exploit is not seen; its effects are (a process becoming root, a namespace created)."],
  [
    "T1612",
    "Build Image on Host",
    "containers",
    "Out of reach as such: EKS nodes run containerd without a build API; a build through a runtime socket reached from a container fires Container Runtime Socket Connected From Container (T1611).",
  ],
  ["T1562", "Impair Defenses", "containers", ""],
  ["T1562.001", "Disable or Modify Tools", "containers", ""],
  ["T1070", "Indicator Removal", "containers", ""],
  ["T1036", "Masquerading", "containers", ""],
  ["T1036.005", "Match Legitimate Name or Location", "containers", ""],
  ["T1550", "Use Alternate Authentication Material", "containers", "See the sub-technique."],
  [
    "T1550.001",
    "Application Access Token",
    "containers",
    "Out of reach: a stolen token used from elsewhere looks like its owner in the audit log; telling them apart needs source-address baselines or cloud logs. The theft is covered (T1528).",
  ],
  ["T1110", "Brute Force", "containers", "See the sub-techniques."],
  ["T1110.001", "Password Guessing", "containers", "Out of reach: failed logins are in applications' own logs, not in syscalls or the audit log."],
  ["T1110.003", "Password Spraying", "containers", "Out of reach: as T1110.001."],
  ["T1110.004", "Credential Stuffing", "containers", "Out of reach: as T1110.001."],
  ["T1528", "Steal Application Access Token", "containers", ""],
  ["T1552", "Unsecured Credentials", "containers", ""],
  ["T1552.001", "Credentials In Files", "containers", ""],
  ["T1552.007", "Container API", "containers", ""],
  ["T1613", "Container and Resource Discovery", "containers", ""],
  ["T1046", "Network Service Discovery", "containers", ""],
  [
    "T1069",
    "Permission Groups Discovery",
    "containers",
    "Out of reach: `kubectl auth can-i` and access reviews are routine; denied probing is caught as K8s API Request Forbidden (T1613).",
  ],
  ["T1485", "Data Destruction", "containers", ""],
  ["T1490", "Inhibit System Recovery", "containers", "Out of reach: deleting snapshots and backups happens in cloud APIs (CloudTrail)."],
  ["T1498", "Network Denial of Service", "containers", "Out of reach: flooding is volume, not a syscall pattern; seen by network monitoring."],
  [
    "T1499",
    "Endpoint Denial of Service",
    "containers",
    "Admission flags containers without resource limits (tagged T1496.001); exhausting a service is indistinguishable from load.",
  ],
  ["T1496", "Resource Hijacking", "containers", "See the sub-techniques."],
  ["T1496.001", "Compute Hijacking", "containers", ""],
  // ------------------------------------------------------------------ Linux (Enterprise) techniques
  ["T1003", "OS Credential Dumping", "linux", ""],
  ["T1003.007", "Proc Filesystem", "linux", ""],
  ["T1003.008", "/etc/passwd and /etc/shadow", "linux", ""],
  ["T1005", "Data from Local System", "linux", "Out of reach: reading local files is what workloads do; only known credential files are ruled on."],
  ["T1006", "Direct Volume Access", "linux", ""],
  ["T1014", "Rootkit", "linux", ""],
  [
    "T1016",
    "System Network Configuration Discovery",
    "linux",
    "Out of reach: `ip`, `ifconfig`, reading /proc/net are normal use; enumeration scripts are caught (T1082).",
  ],
  ["T1018", "Remote System Discovery", "linux", ""],
  ["T1021", "Remote Services", "linux", ""],
  ["T1021.001", "Remote Desktop Protocol", "linux", ""],
  ["T1021.002", "SMB/Windows Admin Shares", "linux", ""],
  ["T1021.004", "SSH", "linux", ""],
  ["T1021.005", "VNC", "linux", ""],
  ["T1021.006", "Windows Remote Management", "linux", ""],
  ["T1027", "Obfuscated Files or Information", "linux", ""],
  ["T1027.011", "Fileless Storage", "linux", ""],
  ["T1033", "System Owner/User Discovery", "linux", "Out of reach: `id`, `whoami` are normal use."],
  ["T1036.004", "Masquerade Task or Service", "linux", ""],
  ["T1037.004", "RC Scripts", "linux", ""],
  ["T1040", "Network Sniffing", "linux", ""],
  ["T1041", "Exfiltration Over C2 Channel", "linux", "Out of reach: payloads are not inspected; the C2 connection itself is ruled on (T1071, T1095, T1571)."],
  ["T1048", "Exfiltration Over Alternative Protocol", "linux", ""],
  ["T1048.003", "Exfiltration Over Unencrypted Non-C2 Protocol", "linux", ""],
  ["T1049", "System Network Connections Discovery", "linux", "Out of reach: `ss`, `netstat` are normal use."],
  ["T1053.002", "At", "linux", ""],
  ["T1053.003", "Cron", "linux", ""],
  ["T1053.006", "Systemd Timers", "linux", ""],
  ["T1055.008", "Ptrace System Calls", "linux", ""],
  ["T1055.009", "Proc Memory", "linux", ""],
  ["T1057", "Process Discovery", "linux", "Out of reach: `ps` and reading /proc are normal use."],
  ["T1059", "Command and Scripting Interpreter", "linux", "See the sub-techniques."],
  ["T1059.004", "Unix Shell", "linux", ""],
  ["T1059.006", "Python", "linux", ""],
  ["T1070.002", "Clear Linux or Mac System Logs", "linux", ""],
  ["T1070.003", "Clear Command History", "linux", ""],
  ["T1070.004", "File Deletion", "linux", ""],
  ["T1070.006", "Timestomp", "linux", ""],
  ["T1071", "Application Layer Protocol", "linux", ""],
  ["T1072", "Software Deployment Tools", "linux", ""],
  ["T1078.004", "Cloud Accounts", "linux", "Out of reach: needs cloud logs (CloudTrail); the instance metadata credential theft is covered (T1552.005)."],
  ["T1082", "System Information Discovery", "linux", ""],
  ["T1083", "File and Directory Discovery", "linux", ""],
  ["T1090.003", "Multi-hop Proxy", "linux", ""],
  ["T1095", "Non-Application Layer Protocol", "linux", ""],
  ["T1098.004", "SSH Authorized Keys", "linux", ""],
  ["T1105", "Ingress Tool Transfer", "linux", ""],
  ["T1110.002", "Password Cracking", "linux", ""],
  ["T1140", "Deobfuscate/Decode Files or Information", "linux", ""],
  [
    "T1195",
    "Supply Chain Compromise",
    "linux",
    "Out of reach: happens before the image reaches the node; admission image policies narrow where images come from.",
  ],
  ["T1204.002", "Malicious File", "linux", ""],
  ["T1210", "Exploitation of Remote Services", "linux", ""],
  ["T1222.002", "Linux and Mac File and Directory Permissions Modification", "linux", ""],
  ["T1486", "Data Encrypted for Impact", "linux", ""],
  ["T1505.003", "Web Shell", "linux", ""],
  ["T1543.002", "Systemd Service", "linux", ""],
  ["T1546", "Event Triggered Execution", "linux", ""],
  ["T1546.004", "Unix Shell Configuration Modification", "linux", ""],
  ["T1547.006", "Kernel Modules and Extensions", "linux", ""],
  ["T1548", "Abuse Elevation Control Mechanism", "linux", ""],
  ["T1548.001", "Setuid and Setgid", "linux", ""],
  ["T1548.003", "Sudo and Sudo Caching", "linux", ""],
  ["T1552.003", "Bash History", "linux", ""],
  ["T1552.004", "Private Keys", "linux", ""],
  ["T1552.005", "Cloud Instance Metadata API", "linux", ""],
  ["T1554", "Compromise Host Software Binary", "linux", ""],
  ["T1556.003", "Pluggable Authentication Modules", "linux", ""],
  ["T1557.002", "ARP Cache Poisoning", "linux", ""],
  ["T1561.001", "Disk Content Wipe", "linux", ""],
  ["T1562.004", "Disable or Modify System Firewall", "linux", ""],
  ["T1562.006", "Indicator Blocking", "linux", ""],
  ["T1564.001", "Hidden Files and Directories", "linux", ""],
  ["T1565.001", "Stored Data Manipulation", "linux", ""],
  ["T1567", "Exfiltration Over Web Service", "linux", ""],
  ["T1571", "Non-Standard Port", "linux", ""],
  ["T1572", "Protocol Tunneling", "linux", ""],
  ["T1573", "Encrypted Channel", "linux", "Out of reach: TLS is what every workload speaks; the endpoint and port are ruled on (T1571, T1090.003)."],
  ["T1574", "Hijack Execution Flow", "linux", ""],
  ["T1574.006", "Dynamic Linker Hijacking", "linux", ""],
  ["T1620", "Reflective Code Loading", "linux", ""],
  ["T1622", "Debugger Evasion", "linux", ""],
  ["T1649", "Steal or Forge Authentication Certificates", "linux", ""],
];

/** Every rule of Vigil's packs: { name, pack, techniques }. */
export function loadRules(root = ROOT) {
  const out = [];
  const dirs = [
    ["rules/files", (f) => `syscall ${f}`],
    ["rules/files/k8s-audit", () => "k8s_audit"],
    ["rules/files/admission", () => "admission"],
  ];
  for (const [dir, pack] of dirs) {
    for (const f of readdirSync(join(root, dir))
      .filter((n) => n.endsWith(".yaml"))
      .sort()) {
      const doc = parse(readFileSync(join(root, dir, f), "utf8"));
      if (!Array.isArray(doc)) throw new Error(`${dir}/${f}: not a list of rules`);
      for (const item of doc) {
        if (!item || typeof item.rule !== "string" || !Array.isArray(item.tags)) continue;
        out.push({ name: item.rule, pack: pack(f), techniques: item.tags.filter((t) => TECHNIQUE_RE.test(String(t))) });
      }
    }
  }
  return out;
}

/** Live scenarios (test/scenarios/table.ts and the table-*.ts files it spreads in) by the rule they expect: rule -> scenario names. */
export function loadScenarios(root = ROOT) {
  const dir = join(root, "test/scenarios");
  const files = [
    "table.ts",
    ...readdirSync(dir)
      .filter((f) => /^table-.+\.ts$/.test(f))
      .sort(),
  ];
  const byRule = new Map();
  for (const f of files) {
    const text = readFileSync(join(dir, f), "utf8");
    const start = text.indexOf("const ATTACKS");
    if (start < 0) continue;
    const end = text.indexOf("const BENIGN", start);
    const attacks = text.slice(start, end < 0 ? text.length : end);
    // one object per scenario, on one line or several: name, technique, pod, expect in that order
    for (const m of attacks.matchAll(/\{\s*name: "((?:[^"\\]|\\.)*)",\s*technique: "[^"]*",\s*pod: "\w+",\s*expect: "([^"]+)"/g)) {
      const list = byRule.get(m[2]) ?? [];
      list.push(m[1]);
      byRule.set(m[2], list);
    }
  }
  return byRule;
}

/** Recorded audit events (test/k8saudit/pack.test.ts EXPECTED) by the rule they fire: rule -> fixture files. */
export function loadAuditFixtures(root = ROOT) {
  const text = readFileSync(join(root, "test/k8saudit/pack.test.ts"), "utf8");
  const keys = new Map();
  const rulesBlock = text.slice(text.indexOf("const RULES = {"), text.indexOf("} as const;"));
  for (const m of rulesBlock.matchAll(/^\s+(\w+): "([^"]+)",$/gm)) keys.set(m[1], m[2]);
  const expected = text.slice(text.indexOf("const EXPECTED"), text.indexOf("const NEAR_MISSES"));
  const byRule = new Map();
  for (const m of expected.matchAll(/^\s+"([\w.-]+\.json)": (\[.*\]),$/gm)) {
    for (const k of m[2].matchAll(/"(\w+)"/g)) {
      const rule = keys.get(k[1]);
      if (rule === undefined) throw new Error(`pack.test.ts: unknown rule key ${k[1]}`);
      const list = byRule.get(rule) ?? [];
      if (!list.includes(m[1])) list.push(m[1]);
      byRule.set(rule, list);
    }
  }
  return byRule;
}

const cell = (s) => s.replaceAll("|", "\\|");

export function renderCoverage(root = ROOT) {
  const rules = loadRules(root);
  const scenarios = loadScenarios(root);
  const fixtures = loadAuditFixtures(root);
  const known = new Set(CATALOGUE.map(([id]) => id));
  const missing = [...new Set(rules.flatMap((r) => r.techniques).filter((t) => !known.has(t)))].sort();
  if (missing.length > 0) throw new Error(`techniques tagged by rules but missing from CATALOGUE: ${missing.join(", ")}`);
  const ids = CATALOGUE.map(([id]) => id);
  if (new Set(ids).size !== ids.length) throw new Error("CATALOGUE lists a technique twice");

  const row = ([id, name, , note]) => {
    const tagged = rules.filter((r) => r.techniques.includes(id));
    const subs = [...new Set(rules.flatMap((r) => r.techniques).filter((t) => t.startsWith(`${id}.`)))].sort();
    if (tagged.length === 0 && subs.length === 0 && note === "") throw new Error(`${id}: no rule and no reason`);
    const ruleCell = tagged.map((r) => `${r.name} (${r.pack})`).join("<br>") || (subs.length > 0 ? `via ${subs.join(", ")}` : "—");
    const proofs = [];
    for (const r of tagged) {
      for (const s of scenarios.get(r.name) ?? []) proofs.push(`scenario "${s}"`);
      for (const f of fixtures.get(r.name) ?? []) proofs.push(`audit event ${f}`);
    }
    const proofCell = [...new Set(proofs)].join("<br>") || "—";
    const url = `https://attack.mitre.org/techniques/${id.replace(".", "/")}/`;
    return `| [${id}](${url}) | ${cell(name)} | ${cell(ruleCell)} | ${cell(proofCell)} | ${cell(note)} |`;
  };
  const head = "| Technique | Name | Vigil rules (pack) | Proved by | Out of reach / notes |\n| --- | --- | --- | --- | --- |";
  const table = (matrix) =>
    CATALOGUE.filter((t) => t[2] === matrix)
      .map(row)
      .join("\n");
  const covered = CATALOGUE.filter(([id]) => rules.some((r) => r.techniques.some((t) => t === id))).length;
  return `# ATT&CK coverage

Generated by \`node scripts/coverage.mjs\` from the rule files (\`rules/files/*.yaml\`, \`rules/files/k8s-audit/\`,
\`rules/files/admission/\`), the live scenarios of \`test/scenarios/table.ts\` (\`npm run scenarios\`, each runs the
attack in a real container under the real agent) and the recorded API-server audit events of
\`test/fixtures/k8s-audit/\` (with the rules they fire in \`test/k8saudit/pack.test.ts\`). Do not edit by hand:
\`test/docs/coverage.test.ts\` fails when a rule's technique is missing here or this file is stale.

Each rule is tagged with the most specific ATT&CK technique (sub-technique where one applies) and its tactic
(\`mitre_<tactic>\`); an alert carries its rule's tags. Packs: \`syscall\` rules run in the agent on kernel events,
\`k8s_audit\` rules in the collector on the API server's audit webhook, \`admission\` policies in the validating
webhook. ${covered} of the ${CATALOGUE.length} techniques below are carried by at least one rule.

## Containers matrix

Every technique and sub-technique of the ATT&CK Containers platform (ATT&CK v16).

${head}
${table("containers")}

## Linux techniques that apply in containers and on nodes

Enterprise techniques an attacker uses from inside a container or on a Kubernetes node (Linux, plus the
remote services a container can reach), that Vigil's rules carry or that are out of reach and why.

${head}
${table("linux")}
`;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const target = join(ROOT, "docs", "coverage.md");
  const text = renderCoverage();
  if (process.argv.includes("--check")) {
    let current = "";
    try {
      current = readFileSync(target, "utf8");
    } catch {}
    if (current !== text) {
      process.stderr.write("docs/coverage.md is stale: run node scripts/coverage.mjs\n");
      process.exit(1);
    }
  } else {
    writeFileSync(target, text);
  }
}
