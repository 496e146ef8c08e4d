#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
// Renders Vigil's kustomize layout (deploy/) and keeps daemonset.yaml, the rendered default, in step:
//   node scripts/render-manifests.mjs            sets the image tag in deploy/ to package.json's
//                                                version, renders deploy/overlays/eks into daemonset.yaml
//   node scripts/render-manifests.mjs --check    changes nothing; exits 1 when a tag or daemonset.yaml
//                                                is out of date (what the test checks)
//   node scripts/render-manifests.mjs --stdout DIR   prints the rendered kustomization DIR
// `kubectl kustomize` does the rendering (KUBECTL=path picks the binary): Debian's
// kubernetes-client (kubectl 1.20, kustomize v2.0.3, installed by scripts/setup.sh when no kubectl
// is present) or any later kubectl. Kustomize versions print the same objects in different key and
// document orders (v2 sorts keys, v5 keeps them), so the output is put in one canonical form: fixed
// document order, apiVersion/kind/metadata/name first and the other keys sorted, YAML 1.1 quoting
// (what Kubernetes reads). Kustomize drops comments: the reasons live in deploy/ and deploy/README.md.
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments, stringify } from "yaml";

// VIGIL_RENDER_ROOT: another checkout (the tests run the script on a copy in a temporary folder)
const ROOT = process.env.VIGIL_RENDER_ROOT ?? join(dirname(fileURLToPath(import.meta.url)), "..");
const IMAGE = "ghcr.io/vigil-security/vigil";
const IMAGE_RE = /ghcr\.io\/vigil-security\/vigil:([^\s"',\]]+)/g;
const DEFAULT_OVERLAY = "deploy/overlays/eks";
const OUT = "daemonset.yaml";

/** Kinds in the order `kubectl apply -f` should meet them (what others depend on first). */
const KIND_ORDER = [
  "Namespace",
  "StorageClass",
  "PriorityClass",
  "ResourceQuota",
  "ServiceAccount",
  "Secret",
  "ConfigMap",
  "ClusterRole",
  "Role",
  "ClusterRoleBinding",
  "RoleBinding",
  "Issuer",
  "Certificate",
  "Service",
  "PersistentVolumeClaim",
  "DaemonSet",
  "Deployment",
  "PodDisruptionBudget",
  "NetworkPolicy",
  "MutatingWebhookConfiguration",
];
const FIRST_KEYS = ["apiVersion", "kind", "metadata", "name", "namespace"];

const HEADER = `# SPDX-License-Identifier: Apache-2.0
#
# Vigil on EKS nodes: rendered from ${DEFAULT_OVERLAY} by scripts/render-manifests.mjs. Do not edit
# this file (a test fails when it and the overlay differ): the sources, with the reason for every
# setting, are in deploy/, and deploy/README.md explains the layout, RBAC, TLS, storage and sizing.
#
# Before \`kubectl apply -f daemonset.yaml\` (the same as \`kubectl apply -k ${DEFAULT_OVERLAY}\`):
#   kubectl apply -f deploy/base/namespace.yaml
#   kubectl -n vigil create secret generic vigil-collector-token --from-literal=token="$(openssl rand -hex 32)"
#   deploy/gen-certs.sh ./vigil-certs    (then the kubectl command it prints), or: kubectl apply -k deploy/cert-manager
# README.md "Deploying on EKS" goes from an empty cluster to alerts in \`vigil tail\`.
`;

/** Deep copy with the canonical key order. */
function canonical(v) {
  if (Array.isArray(v)) return v.map(canonical);
  if (v === null || typeof v !== "object") return v;
  const keys = Object.keys(v).sort((a, b) => {
    const ia = FIRST_KEYS.indexOf(a);
    const ib = FIRST_KEYS.indexOf(b);
    if (ia !== -1 || ib !== -1) return (ia === -1 ? FIRST_KEYS.length : ia) - (ib === -1 ? FIRST_KEYS.length : ib);
    return a < b ? -1 : a > b ? 1 : 0;
  });
  return Object.fromEntries(keys.map((k) => [k, canonical(v[k])]));
}

function kindRank(kind) {
  const i = KIND_ORDER.indexOf(kind);
  return i === -1 ? KIND_ORDER.length : i;
}

/** `kubectl kustomize DIR`, as canonical YAML documents joined by `---`. */
export function render(dir) {
  const kubectl = process.env.KUBECTL ?? "kubectl";
  let out;
  try {
    out = execFileSync(kubectl, ["kustomize", join(ROOT, dir)], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], maxBuffer: 64 * 1024 * 1024 });
  } catch (err) {
    if (err.code === "ENOENT")
      throw new Error(`${kubectl} not found: scripts/setup.sh installs Debian's kubernetes-client (kubectl 1.20); any later kubectl works too (KUBECTL=path)`);
    throw new Error(`${kubectl} kustomize ${dir} failed: ${String(err.stderr ?? err.message).trim()}`);
  }
  const docs = [];
  for (const d of parseAllDocuments(out, { version: "1.1" })) {
    if (d.errors.length > 0) throw new Error(`kustomize output of ${dir}: ${d.errors[0].message}`);
    const v = d.toJS();
    if (v !== null && v !== undefined) docs.push(canonical(v));
  }
  docs.sort(
    (a, b) =>
      kindRank(a.kind) - kindRank(b.kind) ||
      String(a.kind).localeCompare(String(b.kind)) ||
      String(a.metadata?.namespace ?? "").localeCompare(String(b.metadata?.namespace ?? "")) ||
      String(a.metadata?.name ?? "").localeCompare(String(b.metadata?.name ?? "")),
  );
  return docs.map((d) => stringify(d, { version: "1.1", lineWidth: 0, blockQuote: "literal" })).join("---\n");
}

function yamlFiles(dir) {
  const out = [];
  for (const e of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...yamlFiles(p));
    else if (e.name.endsWith(".yaml")) out.push(p);
  }
  return out.sort();
}

/** Image references in deploy/ whose tag is not `version`: [file, tag][]. */
export function staleImageTags(version) {
  const stale = [];
  for (const f of yamlFiles("deploy")) for (const m of readFileSync(join(ROOT, f), "utf8").matchAll(IMAGE_RE)) if (m[1] !== version) stale.push([f, m[1]]);
  return stale;
}

function main(argv) {
  const version = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).version;
  if (argv[0] === "--stdout") {
    if (argv.length !== 2) throw new Error("usage: render-manifests.mjs --stdout DIR");
    process.stdout.write(render(relative(ROOT, resolve(argv[1]))));
    return 0;
  }
  const check = argv[0] === "--check";
  if (argv.length > (check ? 1 : 0)) throw new Error("usage: render-manifests.mjs [--check | --stdout DIR]");
  const stale = staleImageTags(version);
  if (check) {
    let ok = true;
    for (const [f, tag] of stale) {
      process.stderr.write(`render-manifests: ${f}: image ${IMAGE}:${tag}, package.json says ${version}\n`);
      ok = false;
    }
    if (readFileSync(join(ROOT, OUT), "utf8") !== HEADER + render(DEFAULT_OVERLAY)) {
      process.stderr.write(`render-manifests: ${OUT} differs from ${DEFAULT_OVERLAY} rendered\n`);
      ok = false;
    }
    if (!ok) process.stderr.write("render-manifests: run node scripts/render-manifests.mjs\n");
    return ok ? 0 : 1;
  }
  for (const f of new Set(stale.map(([file]) => file))) {
    const p = join(ROOT, f);
    writeFileSync(p, readFileSync(p, "utf8").replace(IMAGE_RE, `${IMAGE}:${version}`));
    process.stderr.write(`render-manifests: ${f}: image tag set to ${version}\n`);
  }
  writeFileSync(join(ROOT, OUT), HEADER + render(DEFAULT_OVERLAY));
  process.stderr.write(`render-manifests: wrote ${OUT} from ${DEFAULT_OVERLAY}\n`);
  return 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    process.exitCode = main(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`render-manifests: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  }
}
