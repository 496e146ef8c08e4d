// SPDX-License-Identifier: Apache-2.0
/**
 * A test Kubernetes API server on 127.0.0.1 (HTTP, or HTTPS with a given certificate) that speaks
 * the list/watch protocol of the real one, as its OpenAPI schema and API conventions describe it:
 *
 * - a global, increasing resourceVersion; every object carries the one of its last change;
 * - `GET` of a collection: a JSON `<Kind>List` with `metadata.resourceVersion`, chunked by `limit`
 *   with an opaque `metadata.continue` token (a snapshot: later pages see the state of the first;
 *   a token older than the compaction point is `410 Gone`, reason Expired);
 * - `GET ...?watch=true`: HTTP 200 with a chunked stream of newline-delimited
 *   `{"type":"ADDED|MODIFIED|DELETED|BOOKMARK|ERROR","object":...}`; from `resourceVersion=R` it
 *   replays the changes after R, from none (or "0") it starts with ADDED for every object; a R
 *   older than the compaction point is an ERROR event with a Status of code 410 (or HTTP 410:
 *   `goneAs`); BOOKMARKs only with `allowWatchBookmarks=true`; `timeoutSeconds` ends the stream;
 * - `fieldSelector` on `spec.nodeName`, `metadata.name`, `metadata.namespace` (others: 400);
 * - `Accept: application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1` (and
 *   `as=PartialObjectMetadata` for one object or a watch): metadata only;
 * - a bearer token (`401` with a Status otherwise); errors are `Status` objects.
 *
 * Every object it is given is validated with kubernetes-models first, and every Status it sends
 * with the apimachinery schema. Test controls: apply/remove objects, send bookmarks, drop the open
 * watch streams, compact history, fail requests, stop and restart on the same port.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo, Socket } from "node:net";
import { Status } from "@kubernetes-models/apimachinery/apis/meta/v1/Status";
import { validateObject, type KObj } from "./k8s-objects.js";

interface ResourceDef {
  prefix: string;
  resource: string;
  kind: string;
  namespaced: boolean;
}

const DEFS: ResourceDef[] = [
  { prefix: "/api/v1", resource: "pods", kind: "Pod", namespaced: true },
  { prefix: "/api/v1", resource: "namespaces", kind: "Namespace", namespaced: false },
  { prefix: "/api/v1", resource: "nodes", kind: "Node", namespaced: false },
  { prefix: "/apis/apps/v1", resource: "replicasets", kind: "ReplicaSet", namespaced: true },
  { prefix: "/apis/apps/v1", resource: "deployments", kind: "Deployment", namespaced: true },
  { prefix: "/apis/apps/v1", resource: "statefulsets", kind: "StatefulSet", namespaced: true },
  { prefix: "/apis/apps/v1", resource: "daemonsets", kind: "DaemonSet", namespaced: true },
  { prefix: "/apis/batch/v1", resource: "jobs", kind: "Job", namespaced: true },
  { prefix: "/apis/batch/v1", resource: "cronjobs", kind: "CronJob", namespaced: true },
];
const BY_KIND = new Map(DEFS.map((d) => [d.kind, d]));

/** One change in a resource's history. */
interface Change {
  rv: number;
  type: "ADDED" | "MODIFIED" | "DELETED";
  key: string;
  obj: KObj;
}

interface Watcher {
  res: string;
  match: (o: KObj) => boolean;
  meta: boolean;
  bookmarks: boolean;
  res_: ServerResponse;
  socket: Socket;
}

/** A request the server saw (for assertions: resume resourceVersions, selectors, pages). */
export interface SeenRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  accept: string;
  authorization: string;
}

export interface FakeKubeApiOptions {
  token: string;
  /** Serve HTTPS with this certificate and key (PEM). */
  tls?: { cert: Buffer; key: Buffer };
  /** How a watch from a too-old resourceVersion is refused: an ERROR event (the watch cache's way) or HTTP 410. */
  goneAs?: "event" | "http";
  /** A fixed port (a restart listens again where it was). */
  port?: number;
}

function status(code: number, reason: string, message: string): object {
  const s = { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message, reason, code };
  new Status(s as never).validate();
  return s;
}

function keyOf(o: KObj): string {
  return `${o.metadata.namespace ?? ""}/${o.metadata.name}`;
}

function partial(o: KObj): object {
  return { kind: "PartialObjectMetadata", apiVersion: "meta.k8s.io/v1", metadata: o.metadata };
}

/** The test API server. */
export class FakeKubeApi {
  readonly requests: SeenRequest[] = [];
  private rv = 1000;
  private compacted = 0;
  private readonly history = new Map<string, Change[]>(DEFS.map((d) => [d.resource, []]));
  private readonly state = new Map<string, Map<string, KObj>>(DEFS.map((d) => [d.resource, new Map()]));
  private readonly watchers = new Set<Watcher>();
  private readonly sockets = new Set<Socket>();
  private readonly failures: { match: (r: SeenRequest) => boolean; code: number; times: number }[] = [];
  private server: Server | undefined;
  private portNo: number;
  goneAs: "event" | "http";

  private constructor(private readonly opts: FakeKubeApiOptions) {
    this.goneAs = opts.goneAs ?? "event";
    this.portNo = opts.port ?? 0;
  }

  static async start(opts: FakeKubeApiOptions): Promise<FakeKubeApi> {
    const api = new FakeKubeApi(opts);
    await api.listen();
    return api;
  }

  get port(): number {
    return this.portNo;
  }

  get url(): string {
    return `${this.opts.tls !== undefined ? "https" : "http"}://127.0.0.1:${this.portNo}`;
  }

  /** The current resourceVersion. */
  get resourceVersion(): number {
    return this.rv;
  }

  private async listen(): Promise<void> {
    const handler = (req: IncomingMessage, res: ServerResponse) => this.handle(req, res);
    const srv = this.opts.tls !== undefined ? createHttpsServer({ cert: this.opts.tls.cert, key: this.opts.tls.key }, handler) : createHttpServer(handler);
    srv.on(this.opts.tls !== undefined ? "secureConnection" : "connection", (s: Socket) => {
      this.sockets.add(s);
      s.on("close", () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      srv.once("error", reject);
      srv.listen(this.portNo, "127.0.0.1", () => resolve());
    });
    this.portNo = (srv.address() as AddressInfo).port;
    this.server = srv;
  }

  /** Stops listening and cuts every connection (the API server is gone). */
  async stop(): Promise<void> {
    const srv = this.server;
    this.server = undefined;
    for (const w of this.watchers) w.socket.destroy();
    this.watchers.clear();
    for (const s of this.sockets) s.destroy();
    if (srv !== undefined) await new Promise<void>((resolve) => srv.close(() => resolve()));
  }

  /** Listens again on the same port, with the same objects and history. */
  async restart(): Promise<void> {
    if (this.server === undefined) await this.listen();
  }

  // ---- test controls ----

  /** Creates or updates an object (validated first); returns it as stored. */
  apply(o: KObj): KObj {
    validateObject(o);
    const def = BY_KIND.get(o.kind);
    if (def === undefined) throw new Error(`unknown kind ${o.kind}`);
    const map = this.state.get(def.resource) as Map<string, KObj>;
    const key = keyOf(o);
    const prev = map.get(key);
    const stored: KObj = structuredClone(o);
    stored.metadata.resourceVersion = String(++this.rv);
    if (prev !== undefined) stored.metadata.uid = prev.metadata.uid;
    map.set(key, stored);
    this.record(def.resource, { rv: this.rv, type: prev === undefined ? "ADDED" : "MODIFIED", key, obj: stored });
    return stored;
  }

  /** Deletes an object; returns false when there was none. */
  remove(kind: string, namespace: string | undefined, name: string): boolean {
    const def = BY_KIND.get(kind);
    if (def === undefined) throw new Error(`unknown kind ${kind}`);
    const map = this.state.get(def.resource) as Map<string, KObj>;
    const key = `${namespace ?? ""}/${name}`;
    const prev = map.get(key);
    if (prev === undefined) return false;
    map.delete(key);
    const gone: KObj = structuredClone(prev);
    gone.metadata.resourceVersion = String(++this.rv);
    this.record(def.resource, { rv: this.rv, type: "DELETED", key, obj: gone });
    return true;
  }

  /** Sends a BOOKMARK at the current resourceVersion to the watches of `resource` that allow them; returns how many got one. */
  bookmark(resource: string): number {
    let n = 0;
    for (const w of this.watchers) {
      if (w.res !== resource || !w.bookmarks) continue;
      const def = DEFS.find((d) => d.resource === resource) as ResourceDef;
      const obj = w.meta
        ? { kind: "PartialObjectMetadata", apiVersion: "meta.k8s.io/v1", metadata: { resourceVersion: String(this.rv) } }
        : { kind: def.kind, apiVersion: apiVersionOf(def), metadata: { resourceVersion: String(this.rv) } };
      w.res_.write(`${JSON.stringify({ type: "BOOKMARK", object: obj })}\n`);
      n++;
    }
    return n;
  }

  /** Advances the resourceVersion without a change to `resource` (other resources moved on). */
  tick(n = 1): void {
    this.rv += n;
  }

  /** Forgets history up to now: a watch or continue token from an older resourceVersion is Gone. */
  compact(): void {
    this.compacted = this.rv;
    for (const [res, list] of this.history)
      this.history.set(
        res,
        list.filter((c) => c.rv > this.compacted),
      );
  }

  /** Cuts the open watch streams (of one resource, or all) mid-stream; returns how many. */
  dropWatches(resource?: string): number {
    let n = 0;
    for (const w of [...this.watchers]) {
      if (resource !== undefined && w.res !== resource) continue;
      this.watchers.delete(w);
      w.socket.destroy();
      n++;
    }
    return n;
  }

  /** Open watch streams of a resource. */
  watching(resource: string): number {
    let n = 0;
    for (const w of this.watchers) if (w.res === resource) n++;
    return n;
  }

  /** Answers the next `times` requests that `match` with HTTP `code` and a Status. */
  fail(match: (r: SeenRequest) => boolean, code: number, times = 1): void {
    this.failures.push({ match, code, times });
  }

  /** Requests to a path, optionally only watches or lists. */
  seen(path: string, kind?: "watch" | "list"): SeenRequest[] {
    return this.requests.filter(
      (r) => r.path === path && (kind === undefined || (kind === "watch") === (r.query["watch"] === "true" || r.query["watch"] === "1")),
    );
  }

  private record(resource: string, c: Change): void {
    (this.history.get(resource) as Change[]).push(c);
    for (const w of this.watchers) {
      if (w.res !== resource || !w.match(c.obj)) continue;
      w.res_.write(`${JSON.stringify({ type: c.type, object: w.meta ? partial(c.obj) : c.obj })}\n`);
    }
  }

  // ---- the protocol ----

  private send(res: ServerResponse, code: number, body: object): void {
    const text = JSON.stringify(body);
    res.writeHead(code, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text) });
    res.end(text);
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? "/", "http://x");
    const query: Record<string, string> = {};
    for (const [k, v] of url.searchParams) query[k] = v;
    const seen: SeenRequest = {
      method: req.method ?? "",
      path: url.pathname,
      query,
      accept: String(req.headers["accept"] ?? ""),
      authorization: String(req.headers["authorization"] ?? ""),
    };
    this.requests.push(seen);
    if (seen.authorization !== `Bearer ${this.opts.token}`) {
      this.send(res, 401, status(401, "Unauthorized", "Unauthorized"));
      return;
    }
    const f = this.failures.find((x) => x.times > 0 && x.match(seen));
    if (f !== undefined) {
      f.times--;
      this.send(res, f.code, status(f.code, f.code === 403 ? "Forbidden" : "InternalError", `injected failure ${f.code}`));
      return;
    }
    if (req.method !== "GET") {
      this.send(res, 405, status(405, "MethodNotAllowed", "the server does not allow this method on the requested resource"));
      return;
    }
    const route = this.route(url.pathname);
    if (route === undefined) {
      this.send(res, 404, status(404, "NotFound", "the server could not find the requested resource"));
      return;
    }
    const metaOnly = /as=PartialObjectMetadata/.test(seen.accept);
    if (route.name !== undefined) {
      const o = (this.state.get(route.def.resource) as Map<string, KObj>).get(`${route.namespace ?? ""}/${route.name}`);
      if (o === undefined) this.send(res, 404, status(404, "NotFound", `${route.def.resource} "${route.name}" not found`));
      else this.send(res, 200, metaOnly ? partial(o) : o);
      return;
    }
    let match: (o: KObj) => boolean;
    try {
      match = this.selector(route.def, route.namespace, query["fieldSelector"] ?? "");
    } catch (err) {
      this.send(res, 400, status(400, "BadRequest", (err as Error).message));
      return;
    }
    if (query["watch"] === "true" || query["watch"] === "1") this.watch(req, res, route.def, match, metaOnly, query);
    else this.list(res, route.def, match, metaOnly, query);
  }

  private route(path: string): { def: ResourceDef; namespace: string | undefined; name: string | undefined } | undefined {
    for (const def of DEFS) {
      if (!path.startsWith(`${def.prefix}/`)) continue;
      const parts = path
        .slice(def.prefix.length + 1)
        .split("/")
        .map(decodeURIComponent);
      // [res] | [res, name] | [namespaces, ns, res] | [namespaces, ns, res, name]
      if (parts[0] === def.resource && parts.length <= 2) return { def, namespace: undefined, name: parts[1] };
      if (def.namespaced && parts[0] === "namespaces" && parts[2] === def.resource && parts.length <= 4) return { def, namespace: parts[1], name: parts[3] };
    }
    return undefined;
  }

  private selector(def: ResourceDef, namespace: string | undefined, fs: string): (o: KObj) => boolean {
    const terms: ((o: KObj) => boolean)[] = [];
    if (namespace !== undefined) terms.push((o) => o.metadata.namespace === namespace);
    for (const t of fs === "" ? [] : fs.split(",")) {
      const m = /^([a-zA-Z.]+)(==|=|!=)(.*)$/.exec(t);
      if (m === null) throw new Error(`invalid field selector: ${t}`);
      const [, field, op, value] = m as unknown as [string, string, string, string];
      let get: (o: KObj) => unknown;
      if (field === "metadata.name") get = (o) => o.metadata.name;
      else if (field === "metadata.namespace") get = (o) => o.metadata.namespace ?? "";
      else if (field === "spec.nodeName" && def.kind === "Pod") get = (o) => o.spec?.["nodeName"] ?? "";
      else throw new Error(`field label not supported: ${field}`);
      terms.push(op === "!=" ? (o) => get(o) !== value : (o) => get(o) === value);
    }
    return (o) => terms.every((f) => f(o));
  }

  /** The objects of a resource as of `rv` (history replayed), sorted by key. */
  private snapshot(def: ResourceDef, rv: number): KObj[] {
    if (rv >= this.rv) return [...(this.state.get(def.resource) as Map<string, KObj>).entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, o]) => o);
    // state now, with the changes after rv undone (history newer than the compaction point is whole)
    const m = new Map(this.state.get(def.resource) as Map<string, KObj>);
    const hist = this.history.get(def.resource) as Change[];
    for (let i = hist.length - 1; i >= 0; i--) {
      const c = hist[i] as Change;
      if (c.rv <= rv) break;
      const before = hist
        .slice(0, i)
        .reverse()
        .find((p) => p.key === c.key);
      if (before !== undefined) {
        if (before.type === "DELETED") m.delete(c.key);
        else m.set(c.key, before.obj);
      } else if (c.type === "ADDED") m.delete(c.key);
      // older than the history kept: its state before is unknown, its last state stands in
      else m.set(c.key, c.obj);
    }
    return [...m.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, o]) => o);
  }

  private list(res: ServerResponse, def: ResourceDef, match: (o: KObj) => boolean, metaOnly: boolean, q: Record<string, string>): void {
    const limit = q["limit"] !== undefined ? Number(q["limit"]) : 0;
    let listRv = this.rv;
    let start = "";
    if (q["continue"] !== undefined) {
      let tok: { rv: number; start: string };
      try {
        tok = JSON.parse(Buffer.from(q["continue"], "base64url").toString("utf8")) as { rv: number; start: string };
      } catch {
        this.send(res, 400, status(400, "BadRequest", "continue key is not valid"));
        return;
      }
      if (tok.rv < this.compacted) {
        this.send(res, 410, status(410, "Expired", "The provided continue parameter is too old to display a consistent list result."));
        return;
      }
      listRv = tok.rv;
      start = tok.start;
    }
    const all = this.snapshot(def, listRv).filter(match);
    const from = start === "" ? all : all.filter((o) => keyOf(o) > start);
    const page = limit > 0 ? from.slice(0, limit) : from;
    const more = limit > 0 && from.length > limit;
    const last = page[page.length - 1];
    const metadata: Record<string, unknown> = { resourceVersion: String(listRv) };
    if (more && last !== undefined) {
      metadata["continue"] = Buffer.from(JSON.stringify({ rv: listRv, start: keyOf(last) })).toString("base64url");
      metadata["remainingItemCount"] = from.length - page.length;
    }
    this.send(
      res,
      200,
      metaOnly
        ? { kind: "PartialObjectMetadataList", apiVersion: "meta.k8s.io/v1", metadata, items: page.map(partial) }
        : { kind: `${def.kind}List`, apiVersion: apiVersionOf(def), metadata, items: page },
    );
  }

  private watch(req: IncomingMessage, res: ServerResponse, def: ResourceDef, match: (o: KObj) => boolean, metaOnly: boolean, q: Record<string, string>): void {
    const fromText = q["resourceVersion"] ?? "";
    const from = fromText === "" || fromText === "0" ? undefined : Number(fromText);
    if (from !== undefined && (!Number.isSafeInteger(from) || from < 0)) {
      this.send(res, 400, status(400, "BadRequest", `invalid resource version: ${fromText}`));
      return;
    }
    const gone = from !== undefined && from < this.compacted;
    if (gone && this.goneAs === "http") {
      this.send(res, 410, status(410, "Expired", `too old resource version: ${from} (${this.compacted})`));
      return;
    }
    res.writeHead(200, { "Content-Type": "application/json", "Transfer-Encoding": "chunked" });
    // the API server sends the headers at once, before any event
    res.flushHeaders();
    const line = (type: string, o: object) => res.write(`${JSON.stringify({ type, object: o })}\n`);
    if (gone) {
      line("ERROR", status(410, "Expired", `too old resource version: ${from} (${this.compacted})`));
      res.end();
      return;
    }
    if (from === undefined) {
      for (const o of this.snapshot(def, this.rv)) if (match(o)) line("ADDED", metaOnly ? partial(o) : o);
    } else {
      for (const c of this.history.get(def.resource) as Change[]) if (c.rv > from && match(c.obj)) line(c.type, metaOnly ? partial(c.obj) : c.obj);
    }
    const w: Watcher = { res: def.resource, match, meta: metaOnly, bookmarks: q["allowWatchBookmarks"] === "true", res_: res, socket: req.socket };
    this.watchers.add(w);
    const timeout = q["timeoutSeconds"] !== undefined ? Number(q["timeoutSeconds"]) : 1800;
    const timer = setTimeout(() => {
      this.watchers.delete(w);
      res.end();
    }, timeout * 1000);
    timer.unref();
    res.on("close", () => {
      clearTimeout(timer);
      this.watchers.delete(w);
    });
  }
}

function apiVersionOf(def: ResourceDef): string {
  return def.prefix === "/api/v1" ? "v1" : def.prefix.slice("/apis/".length);
}
