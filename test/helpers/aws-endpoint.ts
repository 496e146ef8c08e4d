// SPDX-License-Identifier: Apache-2.0
/**
 * A local HTTP(S) server standing in for AWS service endpoints (the SDK reaches it through
 * AWS_ENDPOINT_URL_<SERVICE>). It checks every request the way the service would before a handler
 * sees it:
 *
 * - the Signature Version 4 signature, recomputed from a known access key and secret (canonical
 *   request, string to sign, signing key: https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html),
 *   the credential scope (date, region, service), the clock skew, the signed headers (host,
 *   x-amz-date, content-type, x-amz-target, the session token when one is expected), the body's
 *   hash;
 * - the wire protocol of the service: AWS JSON 1.1 for CloudWatch Logs (`X-Amz-Target:
 *   Logs_20140328.<Op>`), AWS JSON 1.0 for SQS (`AmazonSQS.<Op>`, with the query-compatibility
 *   header), REST-JSON for Security Hub (`POST /findings/import`, `GET /accounts`), the query
 *   protocol for SNS and STS (form-encoded `Action`/`Version`).
 *   https://smithy.io/2.0/aws/protocols/aws-json-1_1-protocol.html,
 *   https://smithy.io/2.0/aws/protocols/aws-json-1_0-protocol.html,
 *   https://smithy.io/2.0/aws/protocols/aws-restjson1-protocol.html,
 *   https://smithy.io/2.0/aws/protocols/aws-query-protocol.html.
 *
 * A request that fails a check is answered like the service answers a bad signature or a
 * malformed request, and recorded in `rejections` (tests assert it stays empty). Handlers answer
 * per operation, with a result or an {@link AwsServiceError} that is rendered in the service's
 * error format (the JSON `__type`, SQS's `x-amzn-query-error`, REST-JSON's `x-amzn-ErrorType`,
 * the query protocol's `<ErrorResponse>`). Two unsigned routes serve credentials the way EKS
 * does: STS AssumeRoleWithWebIdentity (IRSA) and a container credentials endpoint (Pod Identity).
 */
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { createServer as createHttpServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";

/** A key pair the server accepts. */
export interface TestCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/** The key pair tests give the SDK through AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY. */
export const TEST_CREDENTIALS: TestCredentials = {
  accessKeyId: "AKIAVIGILTEST0000001",
  secretAccessKey: "vigil+test/Secret0123456789abcdefGHIJKLMN",
};

export type AwsProtocol = "awsJson1_1" | "awsJson1_0" | "restJson1" | "awsQuery";

/** A request that passed every check. */
export interface AwsRequest {
  /** Signing name from the credential scope: logs, securityhub, sns, sqs. */
  service: string;
  operation: string;
  protocol: AwsProtocol;
  region: string;
  accessKeyId: string;
  /** The JSON body, or the form fields of a query request. */
  input: Record<string, unknown>;
  headers: IncomingHttpHeaders;
  path: string;
}

/** An error answer in the service's format. */
export class AwsServiceError {
  constructor(
    readonly code: string,
    readonly message: string,
    readonly status = 400,
    readonly opts: { retryAfter?: string; queryCode?: string; fault?: "Sender" | "Receiver" } = {},
  ) {}
}

/** What a handler answers: a JSON result (JSON protocols), an XML string (query protocol), or an error. */
export type AwsHandler = (r: AwsRequest) => unknown | AwsServiceError | Promise<unknown | AwsServiceError>;

const SERVICES: Record<string, { protocol: AwsProtocol; target?: string; version?: string }> = {
  logs: { protocol: "awsJson1_1", target: "Logs_20140328" },
  sqs: { protocol: "awsJson1_0", target: "AmazonSQS" },
  securityhub: { protocol: "restJson1" },
  sns: { protocol: "awsQuery", version: "2010-03-31" },
};

/** Security Hub's REST routes used by the destination. */
const REST_ROUTES: Record<string, string> = { "POST /findings/import": "BatchImportFindings", "GET /accounts": "DescribeHub" };

/** Options of {@link startAwsEndpoint}. */
export interface AwsEndpointOptions {
  /** The region every signature must be scoped to. */
  region: string;
  /** Accepted keys (default: TEST_CREDENTIALS). */
  credentials?: TestCredentials[];
  /** PEM certificate and key: serve HTTPS. */
  tls?: { cert: string; key: string };
  /** IRSA: AssumeRoleWithWebIdentity with this token and role returns these credentials. */
  webIdentity?: { token: string; roleArn: string; credentials: TestCredentials };
  /** EKS Pod Identity: GET /pod-identity/credentials with this Authorization returns these credentials. */
  containerCredentials?: { token: string; credentials: TestCredentials; accountId?: string };
}

/** A running endpoint. */
export interface AwsEndpoint {
  readonly url: string;
  /** Every request that passed the checks, in order. */
  readonly requests: AwsRequest[];
  /** Why requests were refused (signature, protocol). */
  readonly rejections: string[];
  /** Unsigned credential requests served (STS web identity, container credentials). */
  readonly credentialRequests: string[];
  /** Sets the handler of a service's operation (`sqs:SendMessageBatch`). */
  on(operation: string, handler: AwsHandler): void;
  /** Stops listening and cuts open connections; handlers and records stay, for {@link start}. */
  stop(): Promise<void>;
  /** Listens again on the same port after {@link stop} (an outage and a recovery). */
  start(): Promise<void>;
  close(): Promise<void>;
}

/** RFC 3986 encoding as SigV4 wants it: everything but A-Z a-z 0-9 - _ . ~ as %XX. */
function uriEncode(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

const sha256Hex = (b: Buffer | string) => createHash("sha256").update(b).digest("hex");
const hmac = (key: Buffer | string, data: string) => createHmac("sha256", key).update(data).digest();

/** The canonical URI of a path as it came on the wire (already encoded once): normalized, then encoded again. */
function canonicalUri(rawPath: string): string {
  const segs: string[] = [];
  for (const s of rawPath.split("/")) {
    if (s === "" || s === ".") continue;
    if (s === "..") segs.pop();
    else segs.push(s);
  }
  const path = `/${segs.join("/")}${segs.length > 0 && rawPath.endsWith("/") ? "/" : ""}`;
  return path
    .split("/")
    .map((s) => uriEncode(s))
    .join("/");
}

function canonicalQuery(rawQuery: string): string {
  if (rawQuery === "") return "";
  const pairs = rawQuery
    .split("&")
    .filter((p) => p !== "")
    .map((p) => {
      const i = p.indexOf("=");
      const k = decodeURIComponent((i < 0 ? p : p.slice(0, i)).replace(/\+/g, " "));
      const v = i < 0 ? "" : decodeURIComponent(p.slice(i + 1).replace(/\+/g, " "));
      return [uriEncode(k), uriEncode(v)] as const;
    });
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  return pairs.map(([k, v]) => `${k}=${v}`).join("&");
}

const AUTH_RE = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/;

/**
 * Verifies a request's SigV4 signature; returns the scope or why it is wrong. The canonical
 * request is rebuilt here from what arrived, so any header, path, query or body byte changed
 * after signing fails the check.
 */
export function verifySigV4(
  req: { method: string; url: string; headers: IncomingHttpHeaders; body: Buffer },
  keys: TestCredentials[],
  now = Date.now(),
): { ok: true; accessKeyId: string; region: string; service: string } | { ok: false; code: string; why: string } {
  const auth = req.headers["authorization"];
  if (typeof auth !== "string") return { ok: false, code: "MissingAuthenticationToken", why: "no Authorization header" };
  const m = AUTH_RE.exec(auth);
  if (m === null) return { ok: false, code: "IncompleteSignature", why: `malformed Authorization: ${auth.slice(0, 120)}` };
  const [, akid, date, region, service, signedList, signature] = m as unknown as [string, string, string, string, string, string, string];
  const key = keys.find((k) => k.accessKeyId === akid);
  if (key === undefined) return { ok: false, code: "UnrecognizedClientException", why: `unknown access key ${akid}` };
  const amzDate = req.headers["x-amz-date"];
  if (typeof amzDate !== "string" || !/^\d{8}T\d{6}Z$/.test(amzDate)) return { ok: false, code: "IncompleteSignature", why: "no X-Amz-Date" };
  if (amzDate.slice(0, 8) !== date) return { ok: false, code: "SignatureDoesNotMatch", why: "credential scope date differs from X-Amz-Date" };
  const t = Date.UTC(
    +amzDate.slice(0, 4),
    +amzDate.slice(4, 6) - 1,
    +amzDate.slice(6, 8),
    +amzDate.slice(9, 11),
    +amzDate.slice(11, 13),
    +amzDate.slice(13, 15),
  );
  if (Math.abs(now - t) > 15 * 60_000) return { ok: false, code: "RequestTimeTooSkewed", why: `X-Amz-Date ${amzDate} is more than 15 minutes off` };
  const signed = signedList.split(";");
  const sortedUnique = [...new Set(signed)].sort();
  if (signed.join(";") !== sortedUnique.join(";")) return { ok: false, code: "SignatureDoesNotMatch", why: "SignedHeaders not sorted/unique" };
  for (const h of [
    "host",
    "x-amz-date",
    ...Object.keys(req.headers).filter((h) => h === "content-type" || h === "x-amz-target" || h === "x-amz-security-token"),
  ]) {
    if (!signed.includes(h)) return { ok: false, code: "SignatureDoesNotMatch", why: `header ${h} is not signed` };
  }
  if (key.sessionToken !== undefined && req.headers["x-amz-security-token"] !== key.sessionToken)
    return { ok: false, code: "UnrecognizedClientException", why: "session token missing or wrong" };
  const bodyHash = sha256Hex(req.body);
  const declared = req.headers["x-amz-content-sha256"];
  if (typeof declared === "string" && declared !== bodyHash)
    return { ok: false, code: "SignatureDoesNotMatch", why: "x-amz-content-sha256 differs from the body" };
  const canonHeaders = signed
    .map((h) => {
      const v = req.headers[h];
      if (v === undefined) return undefined;
      const value = (Array.isArray(v) ? v.join(",") : v).trim().replace(/\s+/g, " ");
      return `${h}:${value}\n`;
    })
    .filter((x) => x !== undefined);
  if (canonHeaders.length !== signed.length) return { ok: false, code: "SignatureDoesNotMatch", why: "a signed header is missing from the request" };
  const q = req.url.indexOf("?");
  const canonical = [
    req.method,
    canonicalUri(q < 0 ? req.url : req.url.slice(0, q)),
    canonicalQuery(q < 0 ? "" : req.url.slice(q + 1)),
    canonHeaders.join(""),
    signedList,
    bodyHash,
  ].join("\n");
  const scope = `${date}/${region}/${service}/aws4_request`;
  const toSign = ["AWS4-HMAC-SHA256", amzDate, scope, sha256Hex(canonical)].join("\n");
  const kSigning = hmac(hmac(hmac(hmac(`AWS4${key.secretAccessKey}`, date), region), service), "aws4_request");
  const expected = createHmac("sha256", kSigning).update(toSign).digest();
  if (!timingSafeEqual(expected, Buffer.from(signature, "hex")))
    return { ok: false, code: "SignatureDoesNotMatch", why: `signature mismatch; canonical request was:\n${canonical}` };
  return { ok: true, accessKeyId: akid, region, service };
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

const xmlEscape = (s: string) => s.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);

/** Sends an error in the protocol's format. */
function sendError(res: ServerResponse, protocol: AwsProtocol, service: string, e: AwsServiceError): void {
  const headers: Record<string, string> = { "x-amzn-requestid": "00000000-0000-4000-8000-000000000000" };
  if (e.opts.retryAfter !== undefined) headers["retry-after"] = e.opts.retryAfter;
  const fault = e.opts.fault ?? (e.status >= 500 ? "Receiver" : "Sender");
  let body: string;
  if (protocol === "awsQuery") {
    headers["content-type"] = "text/xml";
    const ns = service === "sts" ? "https://sts.amazonaws.com/doc/2011-06-15/" : "http://sns.amazonaws.com/doc/2010-03-31/";
    body = `<ErrorResponse xmlns="${ns}"><Error><Type>${fault}</Type><Code>${xmlEscape(e.code)}</Code><Message>${xmlEscape(e.message)}</Message></Error><RequestId>00000000-0000-4000-8000-000000000000</RequestId></ErrorResponse>`;
  } else if (protocol === "restJson1") {
    headers["content-type"] = "application/json";
    headers["x-amzn-errortype"] = e.code;
    body = JSON.stringify({ Code: e.code, Message: e.message });
  } else {
    headers["content-type"] = protocol === "awsJson1_1" ? "application/x-amz-json-1.1" : "application/x-amz-json-1.0";
    if (service === "sqs") {
      headers["x-amzn-query-error"] = `${e.opts.queryCode ?? e.code};${fault}`;
      body = JSON.stringify({ __type: `com.amazonaws.sqs#${e.code}`, message: e.message });
    } else body = JSON.stringify({ __type: e.code, message: e.message });
  }
  res.writeHead(e.status, headers);
  res.end(body);
}

/** Parses an application/x-www-form-urlencoded body into its fields (the last value of a repeated key wins). */
export function parseForm(body: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of new URLSearchParams(body)) out[k] = v;
  return out;
}

/** The credentials document of STS AssumeRoleWithWebIdentity. */
function assumeRoleXml(c: TestCredentials, roleArn: string): string {
  const exp = new Date(Date.now() + 3_600_000).toISOString();
  return `<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleWithWebIdentityResult><Credentials><AccessKeyId>${c.accessKeyId}</AccessKeyId><SecretAccessKey>${xmlEscape(c.secretAccessKey)}</SecretAccessKey><SessionToken>${xmlEscape(c.sessionToken ?? "")}</SessionToken><Expiration>${exp}</Expiration></Credentials><AssumedRoleUser><Arn>${xmlEscape(roleArn)}/vigil</Arn><AssumedRoleId>AROAVIGILTEST:vigil</AssumedRoleId></AssumedRoleUser></AssumeRoleWithWebIdentityResult><ResponseMetadata><RequestId>00000000-0000-4000-8000-000000000001</RequestId></ResponseMetadata></AssumeRoleWithWebIdentityResponse>`;
}

/** Starts the endpoint on a free loopback port. */
export async function startAwsEndpoint(o: AwsEndpointOptions): Promise<AwsEndpoint> {
  const keys = [...(o.credentials ?? [TEST_CREDENTIALS])];
  if (o.webIdentity !== undefined) keys.push(o.webIdentity.credentials);
  if (o.containerCredentials !== undefined) keys.push(o.containerCredentials.credentials);
  const handlers = new Map<string, AwsHandler>();
  const requests: AwsRequest[] = [];
  const rejections: string[] = [];
  const credentialRequests: string[] = [];

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const body = await readBody(req);
    const method = req.method ?? "GET";
    const url = req.url ?? "/";
    const path = url.split("?")[0] ?? "/";
    const reject = (protocol: AwsProtocol, service: string, e: AwsServiceError) => {
      rejections.push(`${method} ${url}: ${e.code}: ${e.message}`);
      sendError(res, protocol, service, e);
    };

    // EKS Pod Identity's agent: a GET with the projected token as Authorization, no signature
    if (method === "GET" && path === "/pod-identity/credentials" && o.containerCredentials !== undefined) {
      const cc = o.containerCredentials;
      credentialRequests.push("container");
      if (req.headers["authorization"] !== cc.token) {
        rejections.push("container credentials: wrong Authorization token");
        res.writeHead(401, { "content-type": "application/json" });
        res.end(JSON.stringify({ Code: "AccessDenied", Message: "bad token" }));
        return;
      }
      res.writeHead(200, { "content-type": "application/json" });
      res.end(
        JSON.stringify({
          AccessKeyId: cc.credentials.accessKeyId,
          SecretAccessKey: cc.credentials.secretAccessKey,
          Token: cc.credentials.sessionToken,
          Expiration: new Date(Date.now() + 3_600_000).toISOString(),
          ...(cc.accountId !== undefined ? { AccountId: cc.accountId } : {}),
        }),
      );
      return;
    }
    // IRSA: STS AssumeRoleWithWebIdentity is not signed (the token is the proof)
    if (req.headers["authorization"] === undefined && method === "POST" && o.webIdentity !== undefined) {
      const form = parseForm(body.toString("utf8"));
      if (form["Action"] === "AssumeRoleWithWebIdentity") {
        credentialRequests.push("web-identity");
        const wi = o.webIdentity;
        if (form["Version"] !== "2011-06-15") return reject("awsQuery", "sts", new AwsServiceError("InvalidAction", "bad Version"));
        if (form["WebIdentityToken"] !== wi.token || form["RoleArn"] !== wi.roleArn)
          return reject("awsQuery", "sts", new AwsServiceError("InvalidIdentityToken", "token or role not accepted"));
        res.writeHead(200, { "content-type": "text/xml" });
        res.end(assumeRoleXml(wi.credentials, wi.roleArn));
        return;
      }
    }

    const v = verifySigV4({ method, url, headers: req.headers, body }, keys);
    // the scope names the service even when the signature is bad; answer in its format
    const scopeService = /Credential=[^/]+\/\d{8}\/[^/]+\/([^/]+)\//.exec(String(req.headers["authorization"] ?? ""))?.[1] ?? "logs";
    const svc = SERVICES[scopeService];
    if (svc === undefined) return reject("awsJson1_1", scopeService, new AwsServiceError("UnknownService", `no such service ${scopeService}`));
    if (!v.ok) return reject(svc.protocol, scopeService, new AwsServiceError(v.code, v.why, 403));
    if (v.region !== o.region)
      return reject(svc.protocol, scopeService, new AwsServiceError("SignatureDoesNotMatch", `signed for region ${v.region}, this is ${o.region}`, 403));

    let operation: string;
    let input: Record<string, unknown>;
    const ct = String(req.headers["content-type"] ?? "");
    if (svc.protocol === "awsJson1_1" || svc.protocol === "awsJson1_0") {
      const want = svc.protocol === "awsJson1_1" ? "application/x-amz-json-1.1" : "application/x-amz-json-1.0";
      if (method !== "POST" || path !== "/")
        return reject(svc.protocol, scopeService, new AwsServiceError("UnknownOperationException", `${method} ${path}: JSON protocols POST to /`));
      if (ct !== want) return reject(svc.protocol, scopeService, new AwsServiceError("SerializationException", `Content-Type ${ct}, expected ${want}`));
      const target = String(req.headers["x-amz-target"] ?? "");
      if (!target.startsWith(`${svc.target}.`))
        return reject(svc.protocol, scopeService, new AwsServiceError("UnknownOperationException", `X-Amz-Target ${target}`));
      if (scopeService === "sqs" && req.headers["x-amzn-query-mode"] !== "true")
        return reject(
          svc.protocol,
          scopeService,
          new AwsServiceError("SerializationException", "SQS's query-compatible JSON clients send x-amzn-query-mode: true"),
        );
      operation = target.slice(svc.target?.length ? svc.target.length + 1 : 0);
      try {
        input = JSON.parse(body.toString("utf8")) as Record<string, unknown>;
      } catch {
        return reject(svc.protocol, scopeService, new AwsServiceError("SerializationException", "body is not JSON"));
      }
      if (input === null || typeof input !== "object" || Array.isArray(input))
        return reject(svc.protocol, scopeService, new AwsServiceError("SerializationException", "body is not a JSON object"));
    } else if (svc.protocol === "restJson1") {
      const op = REST_ROUTES[`${method} ${path}`];
      if (op === undefined) return reject(svc.protocol, scopeService, new AwsServiceError("ResourceNotFoundException", `no route ${method} ${path}`, 404));
      operation = op;
      if (method === "GET") input = Object.fromEntries(new URLSearchParams(url.split("?")[1] ?? ""));
      else {
        if (!ct.startsWith("application/json")) return reject(svc.protocol, scopeService, new AwsServiceError("InvalidInputException", `Content-Type ${ct}`));
        try {
          input = JSON.parse(body.toString("utf8")) as Record<string, unknown>;
        } catch {
          return reject(svc.protocol, scopeService, new AwsServiceError("InvalidInputException", "body is not JSON"));
        }
      }
    } else {
      if (method !== "POST" || path !== "/") return reject(svc.protocol, scopeService, new AwsServiceError("InvalidAction", `${method} ${path}`));
      if (!ct.startsWith("application/x-www-form-urlencoded"))
        return reject(svc.protocol, scopeService, new AwsServiceError("MalformedQueryString", `Content-Type ${ct}`));
      const form = parseForm(body.toString("utf8"));
      if (form["Version"] !== svc.version) return reject(svc.protocol, scopeService, new AwsServiceError("InvalidAction", `Version ${form["Version"]}`));
      operation = form["Action"] ?? "";
      input = form;
    }

    const r: AwsRequest = {
      service: scopeService,
      operation,
      protocol: svc.protocol,
      region: v.region,
      accessKeyId: v.accessKeyId,
      input,
      headers: req.headers,
      path,
    };
    requests.push(r);
    const h = handlers.get(`${scopeService}:${operation}`);
    if (h === undefined) return reject(svc.protocol, scopeService, new AwsServiceError("InvalidAction", `no handler for ${scopeService}:${operation}`));
    const out = await h(r);
    if (out instanceof AwsServiceError) {
      sendError(res, svc.protocol, scopeService, out);
      return;
    }
    if (svc.protocol === "awsQuery") {
      res.writeHead(200, { "content-type": "text/xml", "x-amzn-requestid": "00000000-0000-4000-8000-000000000002" });
      res.end(String(out));
      return;
    }
    const ctype =
      svc.protocol === "restJson1" ? "application/json" : svc.protocol === "awsJson1_1" ? "application/x-amz-json-1.1" : "application/x-amz-json-1.0";
    res.writeHead(200, { "content-type": ctype, "x-amzn-requestid": "00000000-0000-4000-8000-000000000003" });
    res.end(JSON.stringify(out ?? {}));
  };

  const listener = (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch((err: unknown) => {
      rejections.push(`handler crashed: ${(err as Error).stack ?? String(err)}`);
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  };
  const server: Server = o.tls !== undefined ? createHttpsServer({ cert: o.tls.cert, key: o.tls.key }, listener) : createHttpServer(listener);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  const stop = () =>
    new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    });
  return {
    url: `${o.tls !== undefined ? "https" : "http"}://127.0.0.1:${port}`,
    requests,
    rejections,
    credentialRequests,
    on(operation, handler) {
      handlers.set(operation, handler);
    },
    stop,
    start: () =>
      new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, "127.0.0.1", () => {
          server.off("error", reject);
          resolve();
        });
      }),
    close: stop,
  };
}
