// SPDX-License-Identifier: Apache-2.0
/**
 * The real `vigil webhook` process (built CLI) over TLS on 127.0.0.1, with the contract's command
 * line (`--host ADDR --port N --tls-cert F --tls-key F --admission enforce|audit`): the built-in
 * pack denies a privileged pod and admits a compliant one in enforce mode; audit mode (the
 * default) admits with warnings; excluded namespaces are admitted; a dry run is answered but
 * raises no alert; malformed, oversized or misdirected requests are AdmissionReview-shaped 4xx
 * and the process keeps serving; alerts go to stdout as Falco JSON, counters to /metrics; SIGTERM
 * stops it. Every answer is checked against the admission.k8s.io/v1 response schema.
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { get as httpGet } from "node:http";
import { createServer } from "node:net";
import { request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pino } from "pino";
import { startCollector, type RunningCollector } from "../../collector/server.js";
import { CLI, REPO_ROOT } from "../helpers/agent.js";
import { validateReviewResponse } from "../helpers/admission-schema.js";
import { writeLocalhostCert } from "../inject/localhost-cert.js";
import { fixture, variant, type Json } from "./helpers.js";

const dir = mkdtempSync(join(tmpdir(), "vigil-admission-"));
let ca = "";

beforeAll(() => {
  writeLocalhostCert(dir);
  ca = readFileSync(join(dir, "cert.pem"), "utf8");
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Running {
  child: ChildProcessWithoutNullStreams;
  port: number;
  metricsPort: number;
  stdout: () => string;
  stderr: () => string;
}

/** Starts `vigil webhook ARGS`; resolves when it logs that it is ready. */
function start(args: string[]): Promise<Running> {
  const child = spawn(process.execPath, [CLI, "webhook", ...args], { stdio: ["pipe", "pipe", "pipe"], env: { ...process.env, VIGIL_LOG_FORMAT: "json" } });
  let out = "";
  let err = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  return new Promise((resolve, reject) => {
    let metricsPort = 0;
    const t = setTimeout(() => reject(new Error(`no ready line: ${err}`)), 20_000);
    child.on("exit", (code) => reject(new Error(`exited ${code}: ${err}`)));
    child.stderr.on("data", (d: Buffer) => {
      err += d.toString();
      for (const line of err.split("\n")) {
        if (!line.startsWith("{")) continue;
        const rec = JSON.parse(line) as { msg?: string; port?: number; component?: string };
        if (rec.component === "metrics" && rec.port !== undefined) metricsPort = rec.port;
        if (rec.msg === "vigil webhook ready") {
          clearTimeout(t);
          resolve({ child, port: rec.port as number, metricsPort, stdout: () => out, stderr: () => err });
        }
      }
    });
  });
}

/** A port free on 127.0.0.1 now (`--metrics-port 0` turns the endpoint off). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      s.close(() => resolve(typeof a === "object" && a !== null ? a.port : 0));
    });
  });
}

async function stop(r: Running): Promise<number | null> {
  if (r.child.exitCode !== null) return r.child.exitCode;
  return new Promise((resolve) => {
    r.child.removeAllListeners("exit");
    r.child.on("exit", (c) => resolve(c));
    r.child.kill("SIGTERM");
  });
}

function post(
  port: number,
  body: string | Buffer,
  opts: { path?: string; method?: string; headers?: Record<string, string> } = {},
): Promise<{ status: number; json: Json }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      {
        host: "127.0.0.1",
        port,
        path: opts.path ?? "/validate",
        method: opts.method ?? "POST",
        ca,
        servername: "localhost",
        headers: opts.headers ?? { "content-type": "application/json" },
        agent: false,
      },
      (res) => {
        let text = "";
        res.on("data", (c: Buffer) => (text += c.toString()));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) as Json }));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

function scrape(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    httpGet({ host: "127.0.0.1", port, path: "/metrics" }, (res) => {
      let t = "";
      res.on("data", (c: Buffer) => (t += c.toString()));
      res.on("end", () => resolve(t));
    }).on("error", reject);
  });
}

/** The Falco JSON alerts printed so far (whole lines only). */
function alerts(r: Running): Json[] {
  const t = r.stdout();
  return t
    .slice(0, t.lastIndexOf("\n") + 1)
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l) as Json);
}

async function until<T>(f: () => T | undefined, what: string, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const PRIV = fixture("privileged-pod.json");
const POD = fixture("compliant-pod.json");
const uid = (r: Json) => (r["request"] as Json)["uid"] as string;

describe("vigil webhook --admission enforce", () => {
  let w: Running;
  beforeAll(async () => {
    w = await start([
      "--host",
      "127.0.0.1",
      "--port",
      "0",
      "--tls-cert",
      join(dir, "cert.pem"),
      "--tls-key",
      join(dir, "key.pem"),
      "--admission",
      "enforce",
      "--metrics-port",
      String(await freePort()),
      "--exclude-namespace",
      "sandbox",
    ]);
  });
  afterAll(async () => {
    if (w) await stop(w);
  });

  it("logs what it loaded", () => {
    const ready = w
      .stderr()
      .split("\n")
      .find((l) => l.includes("vigil webhook ready")) as string;
    expect(JSON.parse(ready)).toMatchObject({ mutate: true, admission: { mode: "enforce", failClosed: false, policies: { enforce: 6, audit: 7, off: 0 } } });
  });

  it("denies the privileged pod: allowed false, 403, the policy's output", async () => {
    const r = await post(w.port, JSON.stringify(PRIV));
    expect(r.status).toBe(200);
    const out = validateReviewResponse(r.json);
    expect(out.response.uid).toBe(uid(PRIV));
    expect(out.response.allowed).toBe(false);
    expect(out.response.status?.code).toBe(403);
    expect(out.response.status?.message).toContain("[Privileged Container] Privileged container (user=kubernetes-admin");
  });

  it("admits the compliant pod with no warning", async () => {
    const r = await post(w.port, JSON.stringify(POD));
    expect(validateReviewResponse(r.json).response).toEqual({ uid: uid(POD), allowed: true });
  });

  it("admits the privileged pod in kube-system and in an --exclude-namespace namespace", async () => {
    for (const ns of ["kube-system", "sandbox"]) {
      const r = variant(PRIV, (o, req) => {
        req.namespace = ns;
        (o.metadata as Json).namespace = ns;
        req.uid = `00000000-0000-4000-8000-${ns === "sandbox" ? "000000000001" : "000000000002"}`;
      });
      const a = validateReviewResponse((await post(w.port, JSON.stringify(r))).json);
      expect(a.response, ns).toEqual({ uid: uid(r), allowed: true });
    }
  });

  it("denies a Deployment whose template runs on the host network", async () => {
    const r = validateReviewResponse((await post(w.port, JSON.stringify(fixture("deployment.json")))).json);
    expect(r.response.allowed).toBe(false);
    expect(r.response.status?.message).toMatch(/\[Host Network Namespace\].*\[HostPath Volume\]/);
  });

  it("answers a dry run as it would the real request, and raises no alert for it", async () => {
    const dry = variant(PRIV, (_o, req) => {
      req.uid = "d0d0d0d0-0000-4000-8000-000000000001";
      req.dryRun = true;
      req.options = { kind: "CreateOptions", apiVersion: "meta.k8s.io/v1", dryRun: ["All"] };
    });
    const r = validateReviewResponse((await post(w.port, JSON.stringify(dry))).json);
    expect(r.response.allowed).toBe(false);
    // the real request's alerts are out; none names the dry run
    await until(() => (alerts(w).some((a) => (a.output_fields as Json)["admission.uid"] === uid(PRIV)) ? true : undefined), "the alerts of the real request");
    await new Promise((res) => setTimeout(res, 200));
    expect(alerts(w).filter((a) => (a.output_fields as Json)["admission.uid"] === uid(dry))).toEqual([]);
  });

  it("prints an alert per match of a real request on stdout, in Falco's JSON shape", async () => {
    const priv = await until(
      () => alerts(w).find((a) => a.rule === "Privileged Container" && (a.output_fields as Json)["admission.uid"] === uid(PRIV)),
      "the Privileged Container alert",
    );
    expect(Object.keys(priv).sort()).toEqual(["hostname", "output", "output_fields", "priority", "rule", "source", "tags", "time", "uuid"]);
    expect(priv).toMatchObject({ priority: "Critical", source: "k8s_audit" });
    expect((priv.output_fields as Json)["admission.action"]).toBe("denied");
    expect(String(priv.output)).toMatch(/ \(admission denied\)$/);
    expect(alerts(w).some((a) => a.rule === "Container May Run As Root" && (a.output_fields as Json)["admission.action"] === "audited")).toBe(true);
  });

  it("answers malformed and misdirected requests with 4xx AdmissionReviews and keeps serving", async () => {
    const bad = await post(w.port, "{not json");
    expect(bad.status).toBe(400);
    expect(validateReviewResponse(bad.json).response).toMatchObject({ uid: "", allowed: false, status: { code: 400, message: "body is not valid JSON" } });
    const notReview = await post(w.port, JSON.stringify({ kind: "Pod" }));
    expect(notReview.status).toBe(400);
    validateReviewResponse(notReview.json);
    const ct = await post(w.port, JSON.stringify(POD), { headers: { "content-type": "text/plain" } });
    expect(ct.status).toBe(415);
    expect(validateReviewResponse(ct.json).response.status?.code).toBe(415);
    const big = await post(w.port, Buffer.alloc(16), { headers: { "content-type": "application/json", "content-length": String(64 * 1024 * 1024) } }).catch(
      () => ({ status: 413, json: {} }) as { status: number; json: Json },
    );
    expect(big.status).toBe(413);
    const method = await post(w.port, "", { method: "GET", headers: {} });
    expect(method.status).toBe(405);
    expect(validateReviewResponse(method.json).response.allowed).toBe(false);
    // and the next review is answered
    expect(validateReviewResponse((await post(w.port, JSON.stringify(POD))).json).response.allowed).toBe(true);
  });

  it("streams a body past the limit: 413 once the limit is passed", async () => {
    const huge = JSON.stringify({ ...PRIV, padding: "x".repeat(5 * 1024 * 1024) });
    const r = await post(w.port, huge).catch(() => ({ status: 413, json: {} }) as { status: number; json: Json });
    expect(r.status).toBe(413);
  });

  it("counts decisions per policy in /metrics", async () => {
    const text = await scrape(w.metricsPort);
    expect(text).toMatch(/^vigil_admission_reviews_total\{result="denied",dry_run="false"\} [2-9]/m);
    expect(text).toMatch(/^vigil_admission_reviews_total\{result="excluded",dry_run="false"\} 2$/m);
    expect(text).toMatch(/^vigil_admission_reviews_total\{result="denied",dry_run="true"\} 1$/m);
    expect(text).toMatch(/^vigil_admission_policy_evaluations_total\{policy="Privileged Container",result="denied",dry_run="false"\} 1$/m);
    expect(text).toMatch(/^vigil_admission_policy_evaluations_total\{policy="Privileged Container",result="allowed",dry_run="false"\} [1-9]/m);
    expect(text).toMatch(/^vigil_admission_alerts_shipped_total [1-9]/m);
  });

  it("stops on SIGTERM with status 0", async () => {
    expect(await stop(w)).toBe(0);
  });
});

describe("vigil webhook (default --admission audit)", () => {
  let w: Running;
  beforeAll(async () => {
    w = await start([
      "--host",
      "127.0.0.1",
      "--port",
      "0",
      "--tls-cert",
      join(dir, "cert.pem"),
      "--tls-key",
      join(dir, "key.pem"),
      "--metrics-port",
      "0",
      "--no-mutate",
    ]);
  });
  afterAll(async () => {
    if (w) await stop(w);
  });

  it("admits the privileged pod with a warning per matching policy", async () => {
    const r = validateReviewResponse((await post(w.port, JSON.stringify(PRIV))).json);
    expect(r.response.allowed).toBe(true);
    expect(r.response.status).toBeUndefined();
    expect(r.response.warnings?.[0]).toMatch(/^vigil audit: \[Privileged Container\]/);
    expect(JSON.parse(r.response.auditAnnotations?.["audited-by"] ?? "[]")).toContain("Privileged Container");
  });

  it("with --no-mutate, /mutate is not served", async () => {
    const r = await post(w.port, readFileSync(join(REPO_ROOT, "test", "inject", "fixtures", "pod-review.json")), { path: "/mutate" });
    expect(r.status).toBe(404);
  });
});

describe("vigil webhook --alert-collector: admission alerts reach a real collector's store", () => {
  let col: RunningCollector;
  let w: Running;
  const TOKEN = "adm1ss10n-t0ken";
  beforeAll(async () => {
    col = await startCollector({ listen: "127.0.0.1:0", dataDir: join(dir, "collector"), token: TOKEN, logger: pino({ level: "silent" }) });
    writeFileSync(join(dir, "token"), `${TOKEN}\n`);
    w = await start([
      ...["--host", "127.0.0.1", "--port", "0", "--tls-cert", join(dir, "cert.pem"), "--tls-key", join(dir, "key.pem"), "--metrics-port", "0", "--no-mutate"],
      ...[
        "--admission",
        "enforce",
        "--no-alert-stdout",
        "--alert-collector",
        col.address,
        "--alert-collector-token-file",
        join(dir, "token"),
        "--alert-spool",
        join(dir, "spool"),
      ],
    ]);
  });
  afterAll(async () => {
    if (w) await stop(w);
    await col?.close();
  });

  async function stored(): Promise<Json[]> {
    const r = await fetch(`http://${col.address}/api/v1/alerts?source=k8s_audit`, { headers: { authorization: `Bearer ${TOKEN}` } });
    const t = await r.text();
    return t
      .split("\n")
      .filter((l) => l.trim() !== "")
      .map((l) => JSON.parse(l) as Json);
  }

  it("a denied request's alerts are stored with its uid; a dry run's are not; nothing on stdout", async () => {
    const dry = variant(PRIV, (_o, req) => {
      req.uid = "d0d0d0d0-0000-4000-8000-000000000002";
      req.dryRun = true;
    });
    expect(validateReviewResponse((await post(w.port, JSON.stringify(dry))).json).response.allowed).toBe(false);
    expect(validateReviewResponse((await post(w.port, JSON.stringify(PRIV))).json).response.allowed).toBe(false);
    const rows = await (async () => {
      const end = Date.now() + 10_000;
      for (;;) {
        const got = await stored();
        if (got.some((a) => a.rule === "Privileged Container") || Date.now() > end) return got;
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    const priv = rows.find((a) => a.rule === "Privileged Container");
    expect(priv).toMatchObject({ source: "k8s_audit", priority: "Critical" });
    expect((priv?.output_fields as Json | undefined)?.["admission.uid"]).toBe(uid(PRIV));
    expect(rows.every((a) => (a.output_fields as Json)["admission.uid"] === uid(PRIV))).toBe(true);
    expect(w.stdout()).toBe("");
  });
});

describe("vigil webhook: bad admission options are one line and a non-zero exit", () => {
  const run = (args: string[]) =>
    new Promise<{ code: number | null; err: string }>((resolve) => {
      const c = spawn(process.execPath, [
        CLI,
        "webhook",
        "--tls-cert",
        join(dir, "cert.pem"),
        "--tls-key",
        join(dir, "key.pem"),
        "--port",
        "0",
        "--metrics-port",
        "0",
        ...args,
      ]);
      let err = "";
      c.stderr.on("data", (d: Buffer) => (err += d.toString()));
      c.on("exit", (code) => resolve({ code, err }));
      setTimeout(() => c.kill("SIGKILL"), 15_000);
    });

  it.each([
    [["--admission", "deny"], /expected enforce or audit/],
    [["--policy-mode", "Nope=off"], /no policy named 'Nope'/],
    [["--policies", "/nonexistent/policies.yaml"], /nonexistent/],
    [["--no-mutate", "--no-validate"], /leave nothing to serve/],
    [["--alert-collector", "127.0.0.1:1"], /--alert-spool/],
  ])("%j", async (args, re) => {
    const r = await run(args);
    expect(r.code).not.toBe(0);
    expect(r.err.trim().split("\n")).toHaveLength(1);
    expect(r.err).toMatch(re);
  });
});
