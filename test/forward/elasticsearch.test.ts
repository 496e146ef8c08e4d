// SPDX-License-Identifier: Apache-2.0
/**
 * The Elasticsearch/OpenSearch destination against a local HTTP(S) server that checks each
 * request against the bulk API
 * (https://www.elastic.co/guide/en/elasticsearch/reference/current/docs-bulk.html,
 * https://opensearch.org/docs/latest/api-reference/document-apis/bulk/): `POST /_bulk`,
 * `Content-Type: application/x-ndjson`, action/metadata line then source line, each ending in
 * a newline including the last; `create` fails with 409 when the ID exists. The fake answers
 * like Elasticsearch: `{"took","errors","items":[{"create":{"_index","_id","status","error"}}]}`
 * in request order, `filter_path` applied, and it maps documents dynamically the way
 * Elasticsearch does (a dotted field name is an object path, so a name that is both a value and
 * an object cannot map: document_parsing_exception, 400).
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { DeliveryError, type DeliveryItem, type Destination } from "../../collector/forward/destination.js";
import { bulkItems, createElasticsearchDestination, elasticsearchDocument } from "../../collector/forward/elasticsearch.js";
import { forwarderSchema, type ForwarderOf } from "../../proto/forwarders.js";
import { alertToJson, type Alert } from "../../proto/index.js";
import { makeAlert, quiet, tempDir } from "../collector/helpers.js";
import { makeTestTls } from "../helpers/image-pods.js";
import { type Answer, type Recorded, type Recorder, startRecorder } from "./http-recorder.js";

const INDEX = /^[a-z0-9][a-z0-9._-]*-\d{4}\.\d{2}\.\d{2}$/;

interface ItemResult {
  status: number;
  type?: string;
  reason?: string;
}

/** Problems of a bulk request (empty when it conforms) and its operations. */
function parseBulk(r: Recorded): { problems: string[]; ops: { index: string; id: string; doc: Record<string, unknown> }[] } {
  const problems: string[] = [];
  const ops: { index: string; id: string; doc: Record<string, unknown> }[] = [];
  if (r.method !== "POST") problems.push(`method ${r.method}`);
  const u = new URL(r.url, "http://x");
  if (u.pathname !== "/_bulk") problems.push(`path ${u.pathname}`);
  if (!String(r.headers["content-type"]).startsWith("application/x-ndjson")) problems.push(`content-type ${r.headers["content-type"]}`);
  if (!r.body.endsWith("\n")) problems.push("the last line does not end with a newline");
  const lines = r.body.split("\n").slice(0, -1);
  if (lines.length % 2 !== 0) problems.push(`${lines.length} lines: not action/source pairs`);
  for (let i = 0; i + 1 < lines.length; i += 2) {
    let action: Record<string, Record<string, unknown>>;
    let doc: unknown;
    try {
      action = JSON.parse(lines[i]!) as Record<string, Record<string, unknown>>;
      doc = JSON.parse(lines[i + 1]!);
    } catch {
      problems.push(`line ${i}: not JSON`);
      continue;
    }
    const meta = action["create"];
    if (Object.keys(action).join() !== "create" || meta === undefined) {
      problems.push(`line ${i}: not a create action`);
      continue;
    }
    if (Object.keys(meta).sort().join() !== "_id,_index") problems.push(`line ${i}: metadata ${Object.keys(meta).join()}`);
    const index = String(meta["_index"]);
    const id = String(meta["_id"]);
    if (!INDEX.test(index) || index !== index.toLowerCase()) problems.push(`line ${i}: index ${index}`);
    if (id === "" || Buffer.byteLength(id) > 512) problems.push(`line ${i}: _id`);
    if (doc === null || typeof doc !== "object" || Array.isArray(doc)) problems.push(`line ${i + 1}: source is not an object`);
    else ops.push({ index, id, doc: doc as Record<string, unknown> });
  }
  return { problems, ops };
}

/** Elasticsearch's dynamic mapping in short: each dotted name is a path; a path cannot be both a value and an object, nor change type. */
function mapDocument(mapping: Map<string, string>, doc: Record<string, unknown>): string | undefined {
  const pending = new Map<string, string>();
  const walk = (prefix: string, o: Record<string, unknown>): string | undefined => {
    for (const [k, v] of Object.entries(o)) {
      const path = prefix === "" ? k : `${prefix}.${k}`;
      if (v !== null && typeof v === "object" && !Array.isArray(v)) {
        const e = note(path, "object") ?? walk(path, v as Record<string, unknown>);
        if (e !== undefined) return e;
      } else if (v !== null) {
        const e = note(path, Array.isArray(v) ? "text" : typeof v === "string" ? "text" : typeof v);
        if (e !== undefined) return e;
      }
    }
    return undefined;
  };
  const note = (path: string, type: string): string | undefined => {
    const parts = path.split(".");
    for (let i = 1; i < parts.length; i++) {
      const parent = parts.slice(0, i).join(".");
      const t = pending.get(parent) ?? mapping.get(parent);
      if (t !== undefined && t !== "object")
        return `Could not dynamically add mapping for field [${path}]. Existing mapping for [${parent}] must be of type object but found [${t}].`;
      pending.set(parent, "object");
    }
    const t = pending.get(path) ?? mapping.get(path);
    if (t !== undefined && t !== type) return `failed to parse field [${path}] of type [${t}]`;
    pending.set(path, type);
    return undefined;
  };
  const err = walk("", doc);
  if (err === undefined) for (const [k, v] of pending) mapping.set(k, v);
  return err;
}

/** A fake Elasticsearch cluster: indexes of documents by ID, dynamic mappings, per-item answers a test can force. */
function fakeElasticsearch() {
  const indexes = new Map<string, Map<string, Record<string, unknown>>>();
  const mappings = new Map<string, Map<string, string>>();
  let force: (op: { id: string; doc: Record<string, unknown> }) => ItemResult | undefined = () => undefined;
  const handler = (r: Recorded): Answer => {
    const { problems, ops } = parseBulk(r);
    if (problems.length > 0)
      return {
        status: 400,
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ error: { type: "illegal_argument_exception", reason: problems.join("; ") }, status: 400 }),
      };
    const results: ItemResult[] = ops.map((op) => {
      const forced = force(op);
      if (forced !== undefined) return forced;
      let idx = indexes.get(op.index);
      if (idx === undefined) {
        indexes.set(op.index, (idx = new Map()));
        mappings.set(op.index, new Map());
      }
      if (idx.has(op.id))
        return {
          status: 409,
          type: "version_conflict_engine_exception",
          reason: `[${op.id}]: version conflict, document already exists (current version [1])`,
        };
      const e = mapDocument(mappings.get(op.index)!, op.doc);
      if (e !== undefined) return { status: 400, type: "document_parsing_exception", reason: e };
      idx.set(op.id, op.doc);
      return { status: 201 };
    });
    const errors = results.some((x) => x.status >= 300);
    const filtered = new URL(r.url, "http://x").searchParams.has("filter_path");
    const items = results.map((x, i) => {
      const error = x.type !== undefined ? { type: x.type, reason: x.reason } : undefined;
      const full = { _index: ops[i]!.index, _id: ops[i]!.id, _version: 1, result: x.status === 201 ? "created" : undefined, status: x.status, error };
      return { create: filtered ? { status: x.status, ...(error !== undefined ? { error } : {}) } : full };
    });
    return { status: 200, headers: { "content-type": "application/json" }, body: JSON.stringify(filtered ? { errors, items } : { took: 3, errors, items }) };
  };
  return {
    indexes,
    handler,
    force(f: typeof force) {
      force = f;
    },
    count: () => [...indexes.values()].reduce((n, m) => n + m.size, 0),
  };
}

const cfgOf = (o: Record<string, unknown>): ForwarderOf<"elasticsearch"> =>
  forwarderSchema.parse({ name: "es", type: "elasticsearch", ...o }) as ForwarderOf<"elasticsearch">;
const itemOf = (alert: Alert, count = 1, seq = 1): DeliveryItem => ({ seq, alert, count });
const never = new AbortController().signal;
const failure = (p: Promise<unknown>): Promise<unknown> =>
  p.then(
    () => undefined,
    (e: unknown) => e,
  );

let server: Recorder | undefined;
let dest: Destination | undefined;
afterEach(async () => {
  await dest?.close?.();
  await server?.close();
  dest = undefined;
  server = undefined;
});

async function setup(cfg: Record<string, unknown>, tls?: { cert: string; key: string }) {
  server = await startRecorder(tls);
  const es = fakeElasticsearch();
  server.handle(es.handler);
  dest = createElasticsearchDestination(cfgOf({ url: server.url, ...cfg }), { logger: quiet() });
  return { server, dest, es };
}

describe("elasticsearch destination", () => {
  it("sends NDJSON create actions: _id = alert ID, _index = prefix-YYYY.MM.DD of the alert's UTC day, the Falco document", async () => {
    const { server, dest, es } = await setup({ index_prefix: "falco" });
    expect(dest.maxBatch).toBe(500);
    const a = makeAlert({ time: "2026-03-01T23:59:59.999999999Z" });
    const b = makeAlert({ time: "2026-03-02T00:00:00.000000001Z", priority: "Critical" });
    expect(await dest.send([itemOf(a), itemOf(b, 7, 2)], never)).toEqual({ failed: [] });
    expect(server.requests).toHaveLength(1);
    const r = server.requests[0]!;
    expect(r.url).toBe("/_bulk?filter_path=errors,items.*.status,items.*.error.type,items.*.error.reason");
    const { problems, ops } = parseBulk(r);
    expect(problems).toEqual([]);
    expect(ops.map((o) => [o.index, o.id])).toEqual([
      ["falco-2026.03.01", a.id],
      ["falco-2026.03.02", b.id],
    ]);
    const { output_fields: _f, ...rest } = alertToJson(a);
    expect(ops[0]!.doc).toEqual({
      "@timestamp": a.time,
      ...rest,
      output_fields: {
        proc_name: "cat",
        proc_pid: 1234,
        k8s_ns_name: "default",
        k8s_pod_name: "web-1",
        container_id: "abcdef123456",
        container_name: "web",
        container_image_repository: "docker.io/library/nginx",
        container_image_tag: "1.25",
        fd_name: null,
        evt_is_open_read: true,
      },
      count: 1,
    });
    expect(ops[1]!.doc["count"]).toBe(7);
    expect(es.count()).toBe(2);
  });

  it("output field names lose their dots, so Falco's container.image and container.image.repository map in one index", async () => {
    const { dest, es } = await setup({});
    const a = makeAlert({ fields: { "container.image": "nginx:1.25" } });
    // as Falco names them, Elasticsearch could not map both
    const raw = { ...alertToJson(a) };
    expect(mapDocument(new Map(), raw)).toMatch(/^failed to parse field \[output_fields.container.image\] of type \[object\]/);
    expect(await dest.send([itemOf(a), itemOf(makeAlert())], never)).toEqual({ failed: [] });
    expect(es.count()).toBe(2);
    expect(elasticsearchDocument(itemOf(a), "x")!.doc["output_fields"]).toMatchObject({
      container_image: "nginx:1.25",
      container_image_repository: "docker.io/library/nginx",
    });
  });

  it("a resend is a no-op: every item answers 409, which counts as delivered, and nothing is stored twice", async () => {
    const { server, dest, es } = await setup({});
    const items = [itemOf(makeAlert()), itemOf(makeAlert(), 1, 2), itemOf(makeAlert(), 1, 3)];
    expect(await dest.send(items, never)).toEqual({ failed: [] });
    expect(await dest.send(items, never)).toEqual({ failed: [] });
    expect(server.requests).toHaveLength(2);
    expect(server.requests[1]!.body).toBe(server.requests[0]!.body);
    expect(es.count()).toBe(3);
  });

  it("maps per-item errors: 400 mapping error permanent; 429, 5xx and refusals of the destination itself (404 index missing, 403 no privilege) retryable; the rest delivered", async () => {
    const { dest, es } = await setup({});
    const items = Array.from({ length: 7 }, (_, i) => itemOf(makeAlert({ rule: `rule-${i}` }), 1, i));
    es.force((op) => {
      const rule = op.doc["rule"];
      if (rule === "rule-1") return { status: 400, type: "mapper_parsing_exception", reason: "failed to parse field [output_fields.proc_pid] of type [long]" };
      if (rule === "rule-2") return { status: 429, type: "es_rejected_execution_exception", reason: "rejected execution of coordinating operation" };
      if (rule === "rule-4") return { status: 503, type: "unavailable_shards_exception", reason: "primary shard is not active" };
      // auto-create off and the day's index missing; a user without create_doc on the index
      if (rule === "rule-5") return { status: 404, type: "index_not_found_exception", reason: "no such index [vigil-alerts-2026.11.28]" };
      if (rule === "rule-6") return { status: 403, type: "security_exception", reason: "action [indices:data/write/bulk[s]] is unauthorized for user [vigil]" };
      return undefined;
    });
    const out = await dest.send(items, never);
    expect(out!.failed).toEqual([
      { index: 1, permanent: true, error: "HTTP 400 mapper_parsing_exception: failed to parse field [output_fields.proc_pid] of type [long]" },
      { index: 2, permanent: false, error: "HTTP 429 es_rejected_execution_exception: rejected execution of coordinating operation" },
      { index: 4, permanent: false, error: "HTTP 503 unavailable_shards_exception: primary shard is not active" },
      { index: 5, permanent: false, error: "HTTP 404 index_not_found_exception: no such index [vigil-alerts-2026.11.28]" },
      { index: 6, permanent: false, error: "HTTP 403 security_exception: action [indices:data/write/bulk[s]] is unauthorized for user [vigil]" },
    ]);
    expect(es.count()).toBe(2);
  });

  it("maps whole-request answers: 429 with Retry-After retryable, 5xx retryable, 400 and 413 permanent", async () => {
    const { server, dest } = await setup({});
    const send = () => failure(dest.send([itemOf(makeAlert())], never));
    server.handle(() => ({ status: 429, headers: { "retry-after": "9" }, body: '{"error":{"type":"circuit_breaking_exception"},"status":429}' }));
    const a = (await send()) as DeliveryError;
    expect([a instanceof DeliveryError, a.permanent, a.retryAfterMs, a.status]).toEqual([true, false, 9000, 429]);
    server.handle(() => ({ status: 503, body: '{"error":"master_not_discovered_exception"}' }));
    const b = (await send()) as DeliveryError;
    expect([b.permanent, b.status]).toEqual([false, 503]);
    server.handle(() => ({
      status: 400,
      body: '{"error":{"type":"illegal_argument_exception","reason":"The bulk request must be terminated by a newline [\\\\n]"}}',
    }));
    const c = (await send()) as DeliveryError;
    expect([c.permanent, c.status]).toEqual([true, 400]);
    expect(c.message).toContain("illegal_argument_exception");
    server.handle(() => ({ status: 413, body: "" }));
    const d = (await send()) as DeliveryError;
    expect([d.permanent, d.status]).toEqual([true, 413]);
  });

  it("authenticates with an API key (Authorization: ApiKey) or basic auth, re-read on each send, and never shows either in an error", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "key"), "VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw==\n");
    const { server, dest } = await setup({ api_key_file: join(dir, "key") });
    await dest.send([itemOf(makeAlert())], never);
    writeFileSync(join(dir, "key"), "rotated-api-key-0001");
    await dest.send([itemOf(makeAlert())], never);
    expect(server.requests.map((r) => r.headers.authorization)).toEqual([
      "ApiKey VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw==",
      "ApiKey rotated-api-key-0001",
    ]);
    server.handle((r) => ({
      status: 401,
      body: `{"error":{"type":"security_exception","reason":"unable to authenticate with provided credentials [${String(r.headers.authorization)}]"}}`,
    }));
    const err = (await failure(dest.send([itemOf(makeAlert())], never))) as DeliveryError;
    // a refused API key refuses every alert alike: retried until fixed, not dead-lettered
    expect([err.permanent, err.status]).toEqual([false, 401]);
    expect(err.message).toContain("security_exception");
    expect(err.message).not.toContain("rotated-api-key");
    writeFileSync(join(dir, "pw"), "changeme-elastic");
    const basic = createElasticsearchDestination(cfgOf({ url: server.url, user: "elastic", password_file: join(dir, "pw") }), { logger: quiet() });
    const e2 = (await failure(basic.send([itemOf(makeAlert())], never))) as DeliveryError;
    await basic.close?.();
    expect(server.requests.at(-1)!.headers.authorization).toBe(`Basic ${Buffer.from("elastic:changeme-elastic").toString("base64")}`);
    expect(e2.message).not.toContain(Buffer.from("elastic:changeme-elastic").toString("base64"));
    expect(() =>
      createElasticsearchDestination(cfgOf({ url: server!.url, user: "elastic", password_file: join(dir, "pw"), api_key_file: join(dir, "key") }), {
        logger: quiet(),
      }),
    ).toThrow(/one way to authenticate/);
  });

  it("verifies an HTTPS cluster against tls.ca_file (and refuses it without)", async () => {
    const dir = tempDir();
    const tls = makeTestTls(dir, ["es.test"]);
    writeFileSync(join(dir, "ca.crt"), tls["ca.crt"]);
    const { server, dest, es } = await setup({ tls: { ca_file: join(dir, "ca.crt") } }, { cert: tls["tls.crt"], key: tls["tls.key"] });
    expect(await dest.send([itemOf(makeAlert())], never)).toEqual({ failed: [] });
    expect(es.count()).toBe(1);
    const noCa = createElasticsearchDestination(cfgOf({ url: server.url }), { logger: quiet() });
    const err = (await failure(noCa.send([itemOf(makeAlert())], never))) as DeliveryError;
    await noCa.close?.();
    expect([err instanceof DeliveryError, err.permanent]).toEqual([true, false]);
    expect(server.requests).toHaveLength(1);
  });

  it("an answer cut at the client's 256 KiB limit settles the items it shows; the rest are retried and then answer 409", async () => {
    const { server, dest, es } = await setup({ batch_size: 2000 });
    const items = Array.from({ length: 1500 }, (_, i) => itemOf(makeAlert(), 1, i));
    expect(await dest.send(items, never)).toEqual({ failed: [] });
    // the resend: 1500 conflicts with long reasons make an answer of ~300 KiB
    es.force((op) => ({
      status: 409,
      type: "version_conflict_engine_exception",
      reason: `[${op.id}]: version conflict, document already exists (current version [1]) ${"·".repeat(100)}`,
    }));
    const sizes: number[] = [];
    server.handle((r) => {
      const a = es.handler(r);
      sizes.push(Buffer.byteLength(a.body ?? ""));
      return a;
    });
    const out = await dest.send(items, never);
    expect(sizes[0]).toBeGreaterThan(256 * 1024);
    expect(out!.failed.length).toBeGreaterThan(0);
    expect(out!.failed.length).toBeLessThan(1500);
    expect(out!.failed.every((f) => !f.permanent && f.error.includes("did not say"))).toBe(true);
    // the runner sends the failed tail again: each round settles what its answer shows
    let rest = out!.failed.map((f) => items[f.index]!);
    let rounds = 0;
    while (rest.length > 0 && rounds++ < 5) {
      const o = await dest.send(rest, never);
      expect(o!.failed.length).toBeLessThan(rest.length);
      rest = o!.failed.map((f) => rest[f.index]!);
    }
    expect(rest).toEqual([]);
    expect(es.count()).toBe(1500);
  });

  it("splits a batch into requests of about 8 MiB; a failed later request retries only its items and those after", async () => {
    const { server, dest, es } = await setup({});
    const items = Array.from({ length: 20 }, (_, i) => itemOf(makeAlert({ output: `${i} ${"o".repeat(600 * 1024)}` }), 1, i));
    expect(await dest.send(items, never)).toEqual({ failed: [] });
    expect(server.requests.length).toBe(2);
    for (const r of server.requests) expect(Buffer.byteLength(r.body)).toBeLessThanOrEqual(8 * 1024 * 1024);
    expect(es.count()).toBe(20);
    server.requests.length = 0;
    let n = 0;
    server.handle((r) => (++n === 2 ? { status: 502, body: "bad gateway" } : es.handler(r)));
    const fresh = items.map((it) => itemOf(makeAlert({ output: it.alert.output }), 1, it.seq));
    const out = await dest.send(fresh, never);
    const firstIds = new Set(parseBulk(server.requests[0]!).ops.map((o) => o.id));
    expect(out!.failed.map((f) => f.index)).toEqual(fresh.map((_, i) => i).filter((i) => !firstIds.has(fresh[i]!.alert.id)));
    expect(out!.failed.every((f) => !f.permanent && f.error.includes("502"))).toBe(true);
  });

  it("keeps hostile strings inside their NDJSON line: newlines and injected actions stay in the document", async () => {
    const { server, dest, es } = await setup({});
    const evil = `x\n{"delete":{"_index":"vigil-alerts-2026.01.01","_id":"victim"}}\n\r\u0000\u2028<script>`;
    const a = makeAlert({ output: evil, rule: `r\n${evil}`, fields: { [`f.${evil}`]: evil } });
    expect(await dest.send([itemOf(a)], never)).toEqual({ failed: [] });
    const { problems, ops } = parseBulk(server.requests[0]!);
    expect(problems).toEqual([]);
    expect(server.requests[0]!.body.split("\n")).toHaveLength(3);
    expect(ops).toHaveLength(1);
    expect(ops[0]!.doc["output"]).toBe(evil);
    expect(es.count()).toBe(1);
  });

  it("reads bulk answers item by item, whole or cut short", () => {
    const whole =
      '{"took":5,"errors":true,"items":[{"create":{"_index":"i","_id":"a","status":201}},{"create":{"_id":"b","status":400,"error":{"type":"x","reason":"a \\"quoted\\" ] } reason"}}}]}';
    expect(bulkItems(whole)).toEqual({
      errors: true,
      items: [
        { status: 201, type: "", reason: "" },
        { status: 400, type: "x", reason: 'a "quoted" ] } reason' },
      ],
    });
    expect(bulkItems(whole.slice(0, whole.indexOf('{"create":{"_id":"b"') + 30))).toEqual({ errors: true, items: [{ status: 201, type: "", reason: "" }] });
    expect(bulkItems('{"errors":false}')).toEqual({ errors: false, items: [] });
    expect(bulkItems("<html>proxy error</html>")).toEqual({ errors: undefined, items: [] });
  });
});
