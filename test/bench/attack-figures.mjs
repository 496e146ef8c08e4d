// SPDX-License-Identifier: Apache-2.0
// The attack figures of SECURITY.md: runs every attack class of test/load/collector-attacks.test.ts
// and test/load/rules-bombs.test.ts at full size against the built collector (a fresh child
// process per attack, default limits unless a row says otherwise) and prints a markdown table:
// cases, crashes, peak RSS, /healthz latency during and after (a probe every 200 ms over a fresh
// connection from 127.0.0.1; attackers use 127.0.0.2 and up), and what the collector did.
//   npx tsc -p tsconfig.json && node test/bench/attack-figures.mjs [filter]
// `filter` (a regular expression) keeps the rows whose name matches it. Takes about 4 minutes; JSON details go to stderr.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import "../sinks/helpers/register-ts.mjs";

const h = await import("../load/harness.ts");
const { BOMBS, LARGE_FILES } = await import("../load/bombs.ts");
const only = process.argv[2] === undefined ? undefined : new RegExp(process.argv[2]);
const MiB = 1024 * 1024;

/** Waits until the server closed every connection of a flood or `ms` passed; closes the rest. */
async function drain(fl, ms) {
  await fl.opened;
  const end = Date.now() + ms;
  while (fl.open() > 0 && Date.now() < end) await h.sleep(100);
  return fl.close();
}

const fmtCounts = (o) =>
  Object.entries(o)
    .map(([k, v]) => `${k}: ${v}`)
    .join(", ");

const attacks = [
  {
    name: "none (idle collector, baseline)",
    opts: {},
    run: async () => {
      await h.sleep(3000);
      return { cases: 0, outcome: "-" };
    },
  },
  {
    name: "idle TCP connections, 6,000 from 12 addresses (max_connections 8192)",
    opts: { limits: { max_connections: 8192 } },
    run: async (c) => {
      const r = await drain(h.idleConnections({ host: c.host, port: c.port, n: 6000, from: h.sourceIps(6000, 500) }), 16_000);
      const s = h.closeSummary(r, 12_000);
      return {
        cases: 6000,
        outcome: `${r.connected} connected; ${s.closedByServer} closed by the collector (first_bytes_timeout_ms 10 s), last after ${(s.maxCloseMs / 1000).toFixed(1)} s; ${s.lateOrNever} later or never`,
      };
    },
  },
  {
    name: "HTTP/2 preface then silence, 4,000 from 8 addresses (max_connections 8192, idle_timeout_ms 10 s)",
    opts: { limits: { max_connections: 8192, idle_timeout_ms: 10_000 } },
    run: async (c) => {
      const r = await drain(h.h2PrefaceSilence({ host: c.host, port: c.port, n: 4000, from: h.sourceIps(4000, 500) }), 16_000);
      const s = h.closeSummary(r, 13_000);
      return {
        cases: 4000,
        outcome: `${r.connected} connected; ${s.closedByServer} closed by the collector, last after ${(s.maxCloseMs / 1000).toFixed(1)} s; ${s.lateOrNever} later or never`,
      };
    },
  },
  {
    name: "HTTP/2 preface then silence, 2,000 from 4 addresses, collector's open-file limit 1024 (ulimit -n)",
    duringNote: "a probe may be shed while descriptors are exhausted",
    opts: { nofile: 1024 },
    run: async (c) => {
      const fl = h.h2PrefaceSilence({ host: c.host, port: c.port, n: 2000, from: h.sourceIps(2000, 500) });
      await fl.opened;
      await h.sleep(3000);
      const held = fl.open();
      const r = fl.close();
      return { cases: 2000, outcome: `${held} held open (3 descriptors each), ${r.closedByServer.length} closed at once when descriptors ran out` };
    },
  },
  {
    name: "slowloris: 3,000 half HTTP/1 requests from 6 addresses, a header byte every 2 s (max_connections 8192)",
    opts: { limits: { max_connections: 8192 } },
    run: async (c) => {
      const r = await drain(h.slowloris({ host: c.host, port: c.port, n: 3000, from: h.sourceIps(3000, 500), byteEveryMs: 2000 }), 16_000);
      const s = h.closeSummary(r, 13_000);
      return {
        cases: 3000,
        outcome: `${r.connected} connected; ${s.closedByServer} closed by the collector (headers_timeout_ms 10 s), last after ${(s.maxCloseMs / 1000).toFixed(1)} s; ${s.lateOrNever} later or never`,
      };
    },
  },
  {
    name: "lying Content-Length POSTs: 1,000 with the token + 1,000 without (2 addresses)",
    opts: {},
    run: async (c) => {
      const a = h.lyingContentLength({ host: c.host, port: c.port, n: 1000, from: ["127.0.0.2", "127.0.0.3"], token: c.token });
      const u = h.lyingContentLength({ host: c.host, port: c.port, n: 1000, from: ["127.0.0.4", "127.0.0.5"] });
      const [ra, ru] = await Promise.all([drain(a, 36_000), drain(u, 36_000)]);
      const sa = h.closeSummary(ra, 33_000);
      const su = h.closeSummary(ru, 33_000);
      return {
        cases: 2000,
        outcome: `with token: answered ${fmtCounts(Object.fromEntries(a.statuses))}, closed after at most ${(sa.maxCloseMs / 1000).toFixed(1)} s (request_timeout_ms 30 s), ${sa.lateOrNever} later or never; without: ${fmtCounts(Object.fromEntries(u.statuses))}, closed after at most ${(su.maxCloseMs / 1000).toFixed(1)} s`,
      };
    },
  },
  {
    name: "32 parallel unauthenticated 16 MiB gRPC pushes (8 connections x 4 streams)",
    opts: {},
    run: async (c) => {
      const r = await h.grpcPushFlood({ host: c.host, port: c.port, connections: 8, streamsPerConnection: 4, messageBytes: 16 * MiB, from: h.sourceIps(8, 4) });
      return { cases: r.pushes, outcome: `${fmtCounts(r.outcomes)}; last answer after ${Math.round(r.answerMs.at(-1) ?? 0)} ms` };
    },
  },
  {
    name: "32 parallel authenticated 16 MiB gRPC pushes (over max_message_bytes 8 MiB)",
    opts: {},
    run: async (c) => {
      const r = await h.grpcPushFlood({
        host: c.host,
        port: c.port,
        connections: 8,
        streamsPerConnection: 4,
        messageBytes: 16 * MiB,
        token: c.token,
        from: h.sourceIps(8, 4),
      });
      return { cases: r.pushes, outcome: `${fmtCounts(r.outcomes)}; last answer after ${Math.round(r.answerMs.at(-1) ?? 0)} ms` };
    },
  },
  {
    name: "catastrophic glob *a*a…*ab (23 stars): 10 tails + 20 queries, 200 alerts with 1,000-character rule names",
    opts: {},
    run: async (c) => {
      const glob = "*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*ab";
      const q = `rule=${encodeURIComponent(glob)}`;
      const tails = await Promise.all(Array.from({ length: 10 }, () => h.tailClient(c, q)));
      const miss = "a".repeat(1000);
      const hit = "a".repeat(999) + "b";
      const [m, t, queries] = await Promise.all([
        h.pushRules(c, miss, 180, 30_000),
        h.pushRules(c, hit, 20, 30_000),
        Promise.all(
          Array.from({ length: 20 }, () =>
            h.httpGet(c.host, c.port, `/api/v1/alerts?${q}&limit=1000`, { token: c.token, timeoutMs: 30_000 }).then(
              (r) => String(r.status),
              (e) => e.message,
            ),
          ),
        ),
      ]);
      await h.sleep(500);
      const delivered = tails.map(
        (x) =>
          x.messages
            .join("")
            .split("\n")
            .filter((l) => l.includes('"type":"alert"')).length,
      );
      for (const x of tails) x.ws.terminate();
      const qs = {};
      for (const s of queries) qs[s] = (qs[s] ?? 0) + 1;
      return {
        cases: 230,
        outcome: `pushes ${fmtCounts({ ...Object.fromEntries(Object.entries(m).map(([k, v]) => [`miss ${k}`, v])), ...Object.fromEntries(Object.entries(t).map(([k, v]) => [`hit ${k}`, v])) })}; queries ${fmtCounts(qs)}; each tail got ${[...new Set(delivered)].join("/")} of 20 matching`,
      };
    },
  },
  {
    name: "bad tokens: 10,000 HTTP requests (50 at a time) + 2,000 gRPC pushes",
    opts: {},
    run: async (c) => {
      const [statuses, grpc] = await Promise.all([
        h.badTokenFlood({ host: c.host, port: c.port, n: 10_000, concurrency: 50, localAddress: "127.0.0.2" }),
        h.grpcPushFlood({
          host: c.host,
          port: c.port,
          connections: 20,
          streamsPerConnection: 100,
          messageBytes: 100,
          token: "wrong",
          from: ["127.0.0.3"],
          timeoutMs: 20_000,
        }),
      ]);
      return { cases: 12_000, outcome: `HTTP ${fmtCounts(statuses)}; gRPC ${fmtCounts(grpc.outcomes)}` };
    },
  },
  {
    name: "3,000 connections from one address (max_connections_per_ip 512)",
    opts: {},
    run: async (c) => {
      const fl = h.idleConnections({ host: c.host, port: c.port, n: 3000, from: ["127.0.0.2"] });
      await fl.opened;
      await h.sleep(1000);
      const held = fl.open();
      fl.close();
      return { cases: 3000, outcome: `${held} held open, the rest closed at once` };
    },
  },
  {
    name: "5,000 connections from 10 addresses (max_connections 2048)",
    duringNote: "refused while the cap is full (by design)",
    opts: {},
    run: async (c) => {
      const fl = h.idleConnections({ host: c.host, port: c.port, n: 5000, from: h.sourceIps(5000, 500) });
      await fl.opened;
      await h.sleep(1000);
      const held = fl.open();
      fl.close();
      return { cases: 5000, outcome: `${held} held open, the rest closed at once` };
    },
  },
];

const rows = [];
const fmtLat = (s) =>
  s.probes === 0
    ? "-"
    : `${s.maxMs} / ${s.p99Ms}${s.failures > 0 ? ` (${s.failures} of ${s.probes} failed)` : s.slow > 0 ? ` (${s.slow} of ${s.probes} over 1 s)` : ""}`;
for (const a of attacks) {
  if (only !== undefined && !only.test(a.name)) continue;
  process.stderr.write(`attack: ${a.name}\n`);
  let outcome = "";
  const f = await h.measureAttack(a.name, { ...a.opts, afterMs: 3000 }, async (c) => {
    const r = await a.run(c);
    outcome = r.outcome;
    return { cases: r.cases };
  });
  process.stderr.write(JSON.stringify({ ...f, logs: f.logs.filter((l) => /"level":(40|50|60)/.test(l)).slice(0, 10) }) + "\n");
  rows.push(
    `| ${a.name} | ${f.cases.toLocaleString("en")} | ${f.crashes} | ${f.peakRssMiB} | ${fmtLat(f.during)}${a.duringNote && f.during.failures > 0 ? `, ${a.duringNote}` : ""} | ${fmtLat(f.after)} | ${f.legit === undefined ? "yes" : `no: ${f.legit}`} | ${f.peakFds} | ${outcome} |`,
  );
}

const dir = mkdtempSync(join(tmpdir(), "vigil-bombs-"));
for (const [name, make] of Object.entries({ ...BOMBS, ...LARGE_FILES })) {
  const bomb = name in BOMBS;
  if (only !== undefined && !only.test(name)) continue;
  const file = join(dir, "bomb.yaml");
  writeFileSync(file, make());
  process.stderr.write(`bomb: ${name}\n`);
  const r = await h.rulesCheck([file], { nodeArgs: ["--max-old-space-size=256"], timeoutMs: 120_000 });
  const first =
    r.stdout.split("\n").find((l) => / error /.test(l)) ??
    r.stderr.split("\n").find((l) => /out of memory|FATAL/i.test(l)) ??
    r.stderr.split("\n").slice(-3).join(" ");
  // a bomb must be refused (exit 1); a large file may be accepted or refused, but not kill the process
  const crashed = r.signal !== null || r.timedOut || (bomb ? r.code !== 1 : r.code !== 0 && r.code !== 1) ? 1 : 0;
  const msg = first.replace(file, "bomb.yaml").replace(/\|/g, "\\|").slice(0, 160);
  const said = r.code === 0 ? "accepted" : `\`${msg}\``;
  rows.push(
    `| rules check, ${name} (node --max-old-space-size=256) | 1 | ${crashed} | ${r.peakRssMiB} | n/a | n/a | n/a | n/a | exit ${r.code ?? r.signal} after ${(r.ms / 1000).toFixed(1)} s: ${said} |`,
  );
}
rmSync(dir, { recursive: true, force: true });

console.log(
  "| attack class | cases | crashes | peak RSS MiB | /healthz max / p99 ms during | /healthz max / p99 ms after | good client served after | peak fds | what the collector did |",
);
console.log("| --- | ---: | ---: | ---: | --- | --- | --- | ---: | --- |");
for (const r of rows) console.log(r);
