// SPDX-License-Identifier: Apache-2.0
/**
 * Requests to the API server: JSON GETs (lists, one object) with the KubeConfig's credentials
 * and TLS applied, and watches through @kubernetes/client-node's `Watch` (a chunked stream of
 * newline-delimited `{"type","object"}` events). Where only metadata is needed the agent asks for
 * `PartialObjectMetadata` (what kubectl and client-go's metadata informers ask for): owners and
 * namespaces then cost their metadata, not their pod templates. A server that does not know it
 * answers with the full objects, which read the same.
 */
import type { IncomingMessage, RequestOptions } from "node:http";
import { request as httpRequest } from "../../../proto/node-http.js";
import { request as httpsRequest } from "node:https";
import { Watch, type KubeConfig } from "@kubernetes/client-node";
import { AcceptingKubeConfig, loadAccess, type KubeAccess } from "./kubeconfig.js";
import { K8sApiError, K8sApiErrorCode, toApiError } from "./errors.js";

/** Accept for a list / for one object or a watch, metadata only (JSON fallback: the full object). */
export const ACCEPT_META_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json";
export const ACCEPT_META = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json";

export interface TransportOptions {
  /** Largest JSON answer read (a list page), bytes (default 64 MiB). */
  maxBodyBytes?: number;
  /** A GET that has not answered in this long fails, ms (default 30 s). */
  requestTimeoutMs?: number;
  /** A watch that has carried nothing (not even a bookmark) for this long is dropped and resumed, ms (default 5 min). */
  watchIdleMs?: number;
}

/** Handlers of one watch stream. */
export interface WatchHandlers {
  /** One event: ADDED, MODIFIED, DELETED, BOOKMARK or ERROR with its object. */
  onEvent(type: string, object: unknown): void;
}

/** A running watch: `done` settles when the stream ends (resolves on a clean end, rejects on an error). */
export interface WatchHandle {
  readonly done: Promise<void>;
  abort(): void;
}

/** What the reflectors need from the API server; the real one is {@link KubeTransport}. */
export interface Transport {
  /** A GET of a JSON document. Throws K8sApiError (Gone for 410, Http for other statuses). */
  getJson(path: string, query: Record<string, string>, metadataOnly: boolean, list: boolean): Promise<unknown>;
  watch(path: string, query: Record<string, string>, metadataOnly: boolean, handlers: WatchHandlers): WatchHandle;
  /** The server's URL (for logs). */
  readonly server: string;
}

/** The API server of a KubeConfig. */
export class KubeTransport implements Transport {
  readonly server: string;
  private readonly full: KubeConfig;
  private readonly meta: KubeConfig;
  private readonly maxBody: number;
  private readonly timeoutMs: number;
  private readonly idleMs: number;

  /** Throws K8sApiError `config` when the access cannot be loaded. */
  constructor(access: KubeAccess, env: NodeJS.ProcessEnv, opts: TransportOptions = {}) {
    this.full = new AcceptingKubeConfig(undefined);
    this.meta = new AcceptingKubeConfig(ACCEPT_META);
    loadAccess(this.full, access, env);
    loadAccess(this.meta, access, env);
    const cluster = this.full.getCurrentCluster();
    if (cluster === null) throw new K8sApiError(K8sApiErrorCode.Config, "no cluster in the configuration");
    this.server = cluster.server.replace(/\/+$/, "");
    this.maxBody = opts.maxBodyBytes ?? 64 * 1024 * 1024;
    this.timeoutMs = opts.requestTimeoutMs ?? 30_000;
    this.idleMs = opts.watchIdleMs ?? 300_000;
  }

  async getJson(path: string, query: Record<string, string>, metadataOnly: boolean, list: boolean): Promise<unknown> {
    const url = new URL(this.server + path);
    for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
    const opts: RequestOptions & { headers: Record<string, string> } = { method: "GET", headers: {} };
    try {
      await this.full.applyToHTTPSOptions(opts);
    } catch (err) {
      throw new K8sApiError(K8sApiErrorCode.Config, `credentials: ${err instanceof Error ? err.message : String(err)}`, undefined, { cause: err });
    }
    opts.headers["Accept"] = metadataOnly ? (list ? ACCEPT_META_LIST : ACCEPT_META) : "application/json";
    const what = `GET ${url.pathname}`;
    const res = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = (url.protocol === "http:" ? httpRequest : httpsRequest)(url, opts, (r: IncomingMessage) => {
        const chunks: Buffer[] = [];
        let size = 0;
        r.on("data", (c: Buffer) => {
          size += c.length;
          if (size > this.maxBody) {
            req.destroy(new K8sApiError(K8sApiErrorCode.BadResponse, `${what}: answer larger than ${this.maxBody} bytes`));
            return;
          }
          chunks.push(c);
        });
        r.on("end", () => resolve({ status: r.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }));
        r.on("error", (err) => reject(toApiError(err, what)));
      });
      req.setTimeout(this.timeoutMs, () => req.destroy(new K8sApiError(K8sApiErrorCode.Network, `${what}: no answer in ${this.timeoutMs} ms`)));
      req.on("error", (err) => reject(toApiError(err, what)));
      req.end();
    });
    let body: unknown;
    try {
      body = JSON.parse(res.text);
    } catch (err) {
      if (res.status >= 200 && res.status < 300)
        throw new K8sApiError(K8sApiErrorCode.BadResponse, `${what}: the answer is not JSON`, res.status, { cause: err });
    }
    if (res.status === 410) throw new K8sApiError(K8sApiErrorCode.Gone, `${what}: 410 Gone${statusMessage(body)}`, 410);
    if (res.status < 200 || res.status >= 300) throw new K8sApiError(K8sApiErrorCode.Http, `${what}: HTTP ${res.status}${statusMessage(body)}`, res.status);
    return body;
  }

  watch(path: string, query: Record<string, string>, metadataOnly: boolean, handlers: WatchHandlers): WatchHandle {
    const w = new Watch(metadataOnly ? this.meta : this.full);
    // The library drops a watch that carried nothing for 30 s; a quiet resource with bookmarks
    // (about one a minute from a real API server) would reconnect twice a minute. Its own field.
    const tunable = w as unknown as { requestTimeoutMs?: unknown };
    if (typeof tunable.requestTimeoutMs === "number") tunable.requestTimeoutMs = this.idleMs;
    let controller: AbortController | undefined;
    let aborted = false;
    let finish: (() => void) | undefined;
    const what = `watch ${path}`;
    const done = new Promise<void>((resolve, reject) => {
      finish = resolve;
      w.watch(
        path,
        query,
        (type, object) => handlers.onEvent(type, object),
        (err: unknown) => {
          if (err === null || err === undefined || aborted) resolve();
          else reject(toApiError(err, what));
        },
      ).then(
        (c) => {
          controller = c;
          if (aborted) c.abort();
        },
        (err: unknown) => reject(toApiError(err, what)),
      );
    });
    return {
      done,
      // settles at once: the request may still be waiting for its response headers (the
      // controller comes with them), and is aborted as soon as it can be
      abort: () => {
        aborted = true;
        controller?.abort();
        finish?.();
      },
    };
  }
}

/** `: message` of a Status body, or nothing. */
function statusMessage(body: unknown): string {
  const m = (body as { message?: unknown } | null)?.message;
  return typeof m === "string" && m !== "" ? `: ${m.slice(0, 300)}` : "";
}
