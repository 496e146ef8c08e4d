// SPDX-License-Identifier: Apache-2.0
// The measurements behind the requests and limits in deploy/ (deploy/README.md "Sizing"):
//   1. the collector as the manifest runs it (`vigil collector` child, TLS, token, store on disk):
//      idle RSS; RSS and CPU while 20 agents push batches of 256 alerts (the agent's batch_size)
//      as fast as they can and 5 `vigil tail` clients follow; RSS while 20 clients push 8 MiB
//      capture messages (max_message_bytes) at once, which fills the in-flight budget; bytes on
//      disk per stored alert;
//   2. the agent's capture rings: heap per container at the DaemonSet's max_events_per_container;
//   3. `vigil webhook`: idle RSS and RSS under a flood of AdmissionReviews.
//   npx tsc -p tsconfig.json && node --expose-gc test/deploy/sizing.mjs [seconds] [parts]
// `parts`: a comma-separated subset of rings,collector,webhook (default all three).
// Prints one JSON object per part to stdout. Needs openssl. Takes about 2 minutes at 30 s.
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { sampleAlert } from "../bench/sample-alert.mjs";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const DIST = join(ROOT, "dist");
const CLI = join(DIST, "agent", "cli", "main.js");
const SECONDS = Number(process.argv[2] ?? 30);
const MiB = 1024 * 1024;
const { CollectorClient } = await import(join(DIST, "agent/sinks/collector-client.js"));
const { TailClient } = await import(join(DIST, "collector/tail-client.js"));
const { alertToProto, vigilProto } = await import(join(DIST, "proto/index.js"));
const { CaptureRecorder } = await import(join(DIST, "agent/capture/recorder.js"));
const { pino } = await import("pino");

const tmp = mkdtempSync(join(tmpdir(), "vigil-sizing-"));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// certificates the way deploy/gen-certs.sh makes them
execFileSync("bash", [join(ROOT, "deploy", "gen-certs.sh"), join(tmp, "certs")], { stdio: "ignore" });
const cert = (f) => join(tmp, "certs", f);
const ca = readFileSync(cert("ca.crt"));
writeFileSync(join(tmp, "token"), "sizing-token-0123456789abcdef\n");
const TOKEN = "sizing-token-0123456789abcdef";

/** RSS now and peak (VmHWM) of a process, MiB; CPU seconds (utime + stime). */
function proc(pid) {
  const st = readFileSync(`/proc/${pid}/status`, "utf8");
  const kib = (k) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(st)?.[1] ?? 0) / 1024;
  const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return { rss: kib("VmRSS"), hwm: kib("VmHWM"), cpu: (Number(f[11]) + Number(f[12])) / 100 };
}

const children = new Set();
/** Starts a CLI child and waits for its ready line; resolves with the child and the line's object. */
function start(args, readyMsg) {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ["ignore", "ignore", "pipe"] });
  children.add(child);
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stderr }).on("line", (l) => {
      try {
        const o = JSON.parse(l);
        if (o.msg === readyMsg) resolve({ child, ready: o });
      } catch {
        // not JSON
      }
    });
    child.on("exit", (c) => reject(new Error(`${args[0]} exited ${c}`)));
  });
}

/** Samples RSS every 100 ms while `fn` runs; returns fn's result with max and median RSS. */
async function sampled(pid, fn) {
  const rss = [];
  const t = setInterval(() => rss.push(proc(pid).rss), 100);
  const c0 = proc(pid).cpu;
  const w0 = performance.now();
  const r = await fn();
  clearInterval(t);
  rss.sort((a, b) => a - b);
  return {
    ...r,
    wallSeconds: +((performance.now() - w0) / 1000).toFixed(1),
    cpuSeconds: +(proc(pid).cpu - c0).toFixed(2),
    rssMaxMiB: +(rss.at(-1) ?? 0).toFixed(1),
    rssMedianMiB: +(rss[rss.length >> 1] ?? 0).toFixed(1),
  };
}

function alert(i) {
  return sampleAlert(i, { hostname: `node-${i % 20}`, pod: `web-${i % 50}` });
}

function du(dir) {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) n += e.isDirectory() ? du(join(dir, e.name)) : statSync(join(dir, e.name)).size;
  return n;
}

async function collector() {
  const data = join(tmp, "collector-data");
  // the Deployment's args, paths moved to the temporary folder
  const { child, ready } = await start(
    [
      "collector",
      "--listen",
      "127.0.0.1:0",
      "--data",
      data,
      "--token-file",
      join(tmp, "token"),
      "--tls-cert",
      cert("collector.crt"),
      "--tls-key",
      cert("collector.key"),
    ],
    "vigil collector ready",
  );
  const pid = child.pid;
  // the certificate names localhost (for `kubectl port-forward`), not 127.0.0.1
  const address = `localhost:${ready.address.split(":").pop()}`;
  await sleep(3000);
  const idle = proc(pid);

  let tailed = 0;
  const tails = Array.from({ length: 5 }, () => {
    const t = new TailClient({ address, token: TOKEN, filter: {}, tls: { ca }, onAlert: () => tailed++ });
    t.start();
    return t;
  });
  await sleep(1000);
  const clients = Array.from({ length: 20 }, () => new CollectorClient({ address, token: TOKEN, tlsCa: ca }));
  let pushed = 0;
  let busy = 0;
  const push = await sampled(pid, async () => {
    const end = Date.now() + SECONDS * 1000;
    await Promise.all(
      clients.map(async (c, k) => {
        while (Date.now() < end) {
          const batch = Array.from({ length: 256 }, (_v, i) => alert(k * 1_000_000 + pushed + i));
          try {
            await c.push(batch, [], `node-${k}`);
            pushed += batch.length;
          } catch (err) {
            // each push reserves max_message_bytes of the in-flight budget: 16 at once by default;
            // the agent's delivery retries the same way (after a backoff)
            if (!/in-flight byte budget/.test(String(err?.message))) throw err;
            busy++;
            await sleep(50);
          }
        }
      }),
    );
    await sleep(1000);
    return { alerts: pushed, alertsPerSecond: Math.round(pushed / SECONDS), refusedBusy: busy, tailDeliveries: tailed };
  });
  for (const t of tails) t.stop();
  const alertBytes = du(data);

  // 20 clients each pushing one alert and an 8 MiB-class capture message at once, 10 rounds
  const { PushRequest } = vigilProto();
  const big = await sampled(pid, async () => {
    let refused = 0;
    for (let round = 0; round < 10; round++) {
      await Promise.all(
        clients.map(async (c) => {
          const a = alert(round);
          const msg = PushRequest.encode({
            alerts: [alertToProto(a)],
            captures: [{ alert_id: a.id, data: Buffer.alloc(7 * MiB, round), event_count: 2000, container_id: "abcdef123456" }],
          }).finish();
          await c.pushRaw(Buffer.from(msg)).catch(() => refused++);
        }),
      );
    }
    return { messages: 200, messageMiB: 7, refused };
  });
  for (const c of clients) c.close();
  const hwm = proc(pid).hwm;
  child.kill("SIGTERM");
  await new Promise((r) => child.on("exit", r));
  const bytes = du(data);
  return {
    part: "collector (TLS, token, SQLite on disk)",
    node: process.version,
    idleRssMiB: +idle.rss.toFixed(1),
    push: { ...push, cpuMsPer1000Alerts: +((push.cpuSeconds / push.alerts) * 1e6).toFixed(1) },
    captures: big,
    peakRssMiB: +hwm.toFixed(1),
    store: { alerts: pushed, bytesAfterAlerts: alertBytes, bytesPerAlert: Math.round(alertBytes / pushed), bytesAfterCaptures: bytes },
  };
}

function captureRings() {
  const containers = 100;
  const perContainer = 2000; // the DaemonSet's capture.max_events_per_container
  const gc = globalThis.gc ?? (() => undefined);
  const rec = new CaptureRecorder({ perContainer, logger: pino({ level: "silent" }) });
  const mkContainer = (i) => ({
    id: `c${String(i).padStart(11, "0")}`,
    fullId: `c${i}`.padEnd(64, "0"),
    labels: new Map(),
    mounts: [],
    type: "containerd",
    metaMissing: false,
  });
  const proc = (c, i) => ({
    tid: 1000 + i,
    pid: 1000 + i,
    ppid: 1,
    vpid: i,
    uid: 0,
    gid: 0,
    euid: 0,
    loginuid: -1,
    tty: 0,
    startTs: 1e18,
    comm: "nginx",
    exe: "/usr/sbin/nginx",
    exepath: "/usr/sbin/nginx",
    args: ["-g", "daemon off;"],
    cwd: "/",
    parent: undefined,
    container: c,
  });
  gc();
  const before = process.memoryUsage();
  let n = 0;
  for (let k = 0; k < containers; k++) {
    const c = mkContainer(k);
    const p = proc(c, k);
    for (let i = 0; i < perContainer; i++) {
      // every open a new path string, the worst case for the ring's references
      const name = `/var/lib/app/data/${k}/file-${i}.db`;
      rec.record({
        num: n++,
        sec: 1,
        nsec: i,
        bootNs: i,
        type: 2,
        cpu: 0,
        res: 3,
        args: [3, name, 0, 0],
        proc: p,
        fd: { num: 3, type: "file", typechar: "f", name },
        source: "ebpf",
      });
    }
  }
  gc();
  const after = process.memoryUsage();
  const per = (after.heapUsed + after.arrayBuffers - before.heapUsed - before.arrayBuffers) / containers / MiB;
  // the recorder must still be alive when memory is measured
  if (rec.counters.recorded !== containers * perContainer) throw new Error("recorder lost events");
  return {
    part: "agent capture rings",
    containers,
    eventsPerContainer: perContainer,
    heapMiBPerContainer: +per.toFixed(2),
    heapMiBFor512Containers: +(per * 512).toFixed(0),
    gcExposed: globalThis.gc !== undefined,
  };
}

async function webhook() {
  const { child, ready } = await start(
    ["webhook", "--tls-cert", cert("webhook.crt"), "--tls-key", cert("webhook.key"), "--port", "0", "--host", "127.0.0.1", "--metrics-port", "0"],
    "vigil webhook ready",
  );
  await sleep(3000);
  const idle = proc(child.pid).rss;
  const pod = (i) => ({
    apiVersion: "admission.k8s.io/v1",
    kind: "AdmissionReview",
    request: {
      uid: `u-${i}`,
      kind: { group: "", version: "v1", kind: "Pod" },
      operation: "CREATE",
      namespace: "prod",
      object: {
        metadata: { name: `web-${i}`, labels: { "eks.amazonaws.com/fargate-profile": "fp-default" } },
        spec: { containers: [{ name: "web", image: "nginx", command: ["nginx", "-g", "daemon off;"] }] },
      },
    },
  });
  const post = (body) =>
    new Promise((resolve, reject) => {
      const s = JSON.stringify(body);
      const req = request(
        {
          host: "127.0.0.1",
          port: ready.port,
          path: "/mutate",
          method: "POST",
          ca: readFileSync(cert("ca.crt")),
          servername: "vigil-webhook.vigil.svc",
          headers: { "content-type": "application/json", "content-length": Buffer.byteLength(s) },
        },
        (res) => {
          res.resume();
          res.on("end", () => resolve(res.statusCode));
        },
      );
      req.on("error", reject);
      req.end(s);
    });
  let reviews = 0;
  const load = await sampled(child.pid, async () => {
    const end = Date.now() + Math.min(SECONDS, 15) * 1000;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (Date.now() < end) {
          const code = await post(pod(reviews));
          if (code !== 200) throw new Error(`webhook answered ${code}`);
          reviews++;
        }
      }),
    );
    return { reviews, reviewsPerSecond: Math.round(reviews / Math.min(SECONDS, 15)) };
  });
  const hwm = proc(child.pid).hwm;
  child.kill("SIGTERM");
  return { part: "webhook", idleRssMiB: +idle.toFixed(1), load, peakRssMiB: +hwm.toFixed(1) };
}

const parts = (process.argv[3] ?? "rings,collector,webhook").split(",");
try {
  if (parts.includes("rings")) console.log(JSON.stringify(captureRings()));
  if (parts.includes("collector")) console.log(JSON.stringify(await collector()));
  if (parts.includes("webhook")) console.log(JSON.stringify(await webhook()));
} finally {
  // a failed part must not leave its collector or webhook running
  for (const c of children) c.kill("SIGKILL");
  rmSync(tmp, { recursive: true, force: true });
}
