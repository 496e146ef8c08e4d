// SPDX-License-Identifier: Apache-2.0
/**
 * What the end-to-end tests of the shipped image share (test/image/): the image archive (built by
 * scripts/build-image.sh unless VIGIL_TEST_IMAGE_TAR names one), the manifests as shipped
 * (daemonset.yaml, or a kustomize overlay rendered by `kubectl kustomize`), the pod a workload
 * object's template makes, the TLS material and Secrets an operator creates before applying, and
 * HTTP(S) requests to the pods (which share the node's network here).
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import type { IPodSpec } from "kubernetes-models/v1/PodSpec";
import { REPO_ROOT } from "./agent.js";
import { ctrImport, taskPid } from "./containers.js";
import type { PodObject } from "./kubelet.js";

const pkg = JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")) as { version: string };
/** The image reference the manifests name (package.json's version). */
export const VIGIL_IMAGE = `ghcr.io/vigil-security/vigil:${pkg.version}`;

/** A Kubernetes object of a manifest, as far as these tests read it. */
export interface ManifestDoc {
  apiVersion?: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  data?: Record<string, string>;
  spec?: { template?: { metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> }; spec: IPodSpec } };
}

/** The image archive: VIGIL_TEST_IMAGE_TAR, else built now into `dir` for `arches` (default: this machine's). */
export function vigilImageTar(dir: string, arches: string = process.arch === "arm64" ? "arm64" : "amd64"): string {
  const given = process.env["VIGIL_TEST_IMAGE_TAR"];
  if (given) return given;
  const out = join(dir, "vigil.tar");
  execFileSync(join(REPO_ROOT, "scripts", "build-image.sh"), [out, arches], { cwd: REPO_ROOT, stdio: ["ignore", "ignore", "pipe"], timeout: 20 * 60_000 });
  return out;
}

/** `ctr -n k8s.io images import --all-platforms`, as a user loads the archive into a node's containerd. */
export function importVigilImage(sock: string, tar: string): void {
  ctrImport(sock, "k8s.io", ["--all-platforms", tar], 300_000);
}

/** Every non-empty document of a multi-document YAML text. */
export function manifestDocs(text: string): ManifestDoc[] {
  return parseAllDocuments(text)
    .map((d) => d.toJS() as ManifestDoc | null)
    .filter((d): d is ManifestDoc => d !== null);
}

/** daemonset.yaml as shipped. */
export function daemonsetDocs(): ManifestDoc[] {
  return manifestDocs(readFileSync(join(REPO_ROOT, "daemonset.yaml"), "utf8"));
}

/** A kustomize directory rendered as `kubectl kustomize` renders it for `kubectl apply -k`. */
export function kustomizeDocs(dir: string): ManifestDoc[] {
  return manifestDocs(execFileSync("kubectl", ["kustomize", dir], { cwd: REPO_ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"], timeout: 60_000 }));
}

/** The object of `kind` and `name` in `docs`; throws naming what is missing. */
export function findDoc(docs: readonly ManifestDoc[], kind: string, name: string, where = "the manifests"): ManifestDoc {
  const d = docs.find((x) => x.kind === kind && x.metadata.name === name);
  if (!d) throw new Error(`${where} have no ${kind}/${name}`);
  return d;
}

/** The pod a workload object's template makes, named as its controller would name it. */
export function podOf(d: ManifestDoc, suffix: string): PodObject {
  const t = d.spec?.template;
  if (!t) throw new Error(`${d.kind}/${d.metadata.name} has no pod template`);
  return {
    name: `${d.metadata.name}-${suffix}`,
    namespace: d.metadata.namespace ?? "default",
    labels: t.metadata?.labels ?? {},
    annotations: t.metadata?.annotations ?? {},
    spec: structuredClone(t.spec),
  };
}

/** Names of the Secrets the pod templates of `docs` mount (volumes and projected sources). */
export function secretNames(docs: readonly ManifestDoc[]): Set<string> {
  const names = new Set<string>();
  for (const d of docs) {
    for (const v of d.spec?.template?.spec.volumes ?? []) {
      if (v.secret?.secretName) names.add(v.secret.secretName);
      for (const s of v.projected?.sources ?? []) if (s.secret?.name) names.add(s.secret.name);
    }
  }
  return names;
}

/** A test CA and one server certificate (P-256) for `dnsNames`, localhost and 127.0.0.1. */
export interface TestTls {
  "ca.crt": string;
  "tls.crt": string;
  "tls.key": string;
}

/** What cert-manager or deploy/gen-certs.sh would make: a CA and a server certificate for the Service names. */
export function makeTestTls(dir: string, dnsNames: readonly string[]): TestTls {
  mkdirSync(dir, { recursive: true });
  const ossl = (args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "ignore" });
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  ossl(["req", "-x509", ...ec, "-days", "2", "-subj", "/CN=vigil-test-ca", "-keyout", "ca.key", "-out", "ca.crt"]);
  ossl(["req", ...ec, "-subj", `/CN=${dnsNames[0] ?? "localhost"}`, "-keyout", "tls.key", "-out", "tls.csr"]);
  writeFileSync(join(dir, "ext"), `subjectAltName=${[...dnsNames, "localhost"].map((n) => `DNS:${n}`).join(",")},IP:127.0.0.1\n`);
  ossl(["x509", "-req", "-in", "tls.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2", "-extfile", "ext", "-out", "tls.crt"]);
  return {
    "ca.crt": readFileSync(join(dir, "ca.crt"), "utf8"),
    "tls.crt": readFileSync(join(dir, "tls.crt"), "utf8"),
    "tls.key": readFileSync(join(dir, "tls.key"), "utf8"),
  };
}

/** Every DNS name of a Service (`name`, `name.ns`, `name.ns.svc`, `name.ns.svc.cluster.local`). */
export function serviceNames(name: string, namespace: string): string[] {
  return [name, `${name}.${namespace}`, `${name}.${namespace}.svc`, `${name}.${namespace}.svc.cluster.local`];
}

export interface HttpOptions {
  method?: string;
  token?: string | undefined;
  /** PEM CA for https URLs, and the name the certificate must carry. */
  ca?: string | undefined;
  servername?: string | undefined;
  body?: string | undefined;
  headers?: Record<string, string>;
  timeoutMs?: number;
}

/** One HTTP(S) request; status 0 when the connection failed (the pod is not up yet). */
export function httpRequestText(url: string, o: HttpOptions = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const u = new URL(url);
    const headers: Record<string, string> = { ...(o.headers ?? {}) };
    if (o.token) headers["authorization"] = `Bearer ${o.token}`;
    if (o.body !== undefined) headers["content-length"] = String(Buffer.byteLength(o.body));
    const req = (u.protocol === "https:" ? httpsRequest : httpRequest)(
      u,
      {
        method: o.method ?? "GET",
        headers,
        timeout: o.timeoutMs ?? 5000,
        agent: false,
        ...(u.protocol === "https:" ? { ca: o.ca, servername: o.servername ?? u.hostname } : {}),
      },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => {
          body += c;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on("error", () => resolve({ status: 0, body: "" }));
    req.on("timeout", () => req.destroy());
    req.end(o.body);
  });
}

/** Polls `fn` every `everyMs` until it is true; throws with `diag()` after `ms`. */
export async function poll(what: string, fn: () => Promise<boolean>, ms: number, diag: () => string, everyMs = 250): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await fn()) return;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`${what} within ${ms} ms\n${diag()}`);
}

/** The host pid of a CRI container's init process. */
export function containerPid(sock: string, containerId: string): number {
  const pid = taskPid(sock, "k8s.io", containerId);
  if (pid === undefined) throw new Error(`container ${containerId} has no task`);
  return pid;
}

/** /proc/<pid>/status as a map. */
export function procStatus(pid: number): Record<string, string> {
  return Object.fromEntries(
    readFileSync(`/proc/${pid}/status`, "utf8")
      .split("\n")
      .filter(Boolean)
      .map((l) => [l.slice(0, l.indexOf(":")), l.slice(l.indexOf(":") + 1).trim()]),
  );
}

/** The capability numbers of a /proc status mask (CapEff...). */
export function capsOf(hex: string): number[] {
  const v = BigInt(`0x${hex}`);
  const out: number[] = [];
  for (let i = 0; i < 64; i++) if ((v >> BigInt(i)) & 1n) out.push(i);
  return out;
}

/** Whether the root filesystem of a process is mounted read-only. */
export function rootIsReadOnly(pid: number): boolean {
  const root = readFileSync(`/proc/${pid}/mountinfo`, "utf8")
    .split("\n")
    .find((l) => l.split(" ")[4] === "/");
  return root?.split(" ")[5]?.split(",").includes("ro") ?? false;
}
