// SPDX-License-Identifier: Apache-2.0
/**
 * The console's server side on a real collector: the static files and their headers, sessions
 * (login, role, logout, cookie flags), the auth limiter on bad logins, CSRF (Origin) on
 * cookie-authenticated changes and WebSocket upgrades, and the read-only token.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { startCollector, type RunningCollector } from "../../collector/server.js";
import { Roles, SessionStore } from "../../collector/console/session.js";
import { CONSOLE_HEADERS } from "../../collector/console/static.js";
import { makeAlert, quiet, tempDir, waitFor } from "../collector/helpers.js";
import { alertToJson, WS_BEARER_PREFIX, WS_PROTOCOL } from "../../proto/index.js";
import { cookieOf, send, setCookie } from "./server-helpers.js";

const TOKEN = "console-admin-token";
const READ = "console-read-token";
const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/** A console build of our own (the tests do not depend on the app's current state). */
function fakeBuild(): string {
  const dir = tempDir("vigil-console-build-");
  mkdirSync(join(dir, "assets"));
  writeFileSync(
    join(dir, "index.html"),
    '<!doctype html><title>Vigil</title><script type="module" src="/assets/main-ABCDEFGH.js"></script><div id="app"></div>',
  );
  writeFileSync(join(dir, "assets", "main-ABCDEFGH.js"), "document.title='Vigil';\n");
  writeFileSync(join(dir, "assets", "main-ABCDEFGH.css"), "body{margin:0}\n");
  return dir;
}

const login = (base: string, token: string, headers: Record<string, string> = {}) =>
  send(base, "/api/v1/session", { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify({ token }) });

describe("console static files", () => {
  let col: RunningCollector;
  let base: string;
  beforeAll(async () => {
    col = await startCollector({ listen: "127.0.0.1:0", dataDir: ":memory:", token: TOKEN, consoleDir: fakeBuild(), logger: quiet() });
    base = `http://${col.address}`;
  });
  afterAll(() => col.close());

  it("GET / is the page, without auth, with the console's security headers and no-cache", async () => {
    const r = await send(base, "/");
    expect(r.status).toBe(200);
    expect(r.headers["content-type"]).toBe("text/html; charset=utf-8");
    expect(r.body).toContain('<div id="app">');
    expect(r.headers["content-security-policy"]).toBe(CSP);
    expect(r.headers["x-content-type-options"]).toBe("nosniff");
    expect(r.headers["referrer-policy"]).toBe("no-referrer");
    expect(r.headers["x-frame-options"]).toBe("DENY");
    expect(r.headers["cache-control"]).toBe("no-cache");
    const head = await send(base, "/", { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.body).toBe("");
    expect(Number(head.headers["content-length"])).toBe(Buffer.byteLength(r.body));
  });

  it("serves hashed assets with their type and immutable caching; anything else under /assets is a 404", async () => {
    const js = await send(base, "/assets/main-ABCDEFGH.js");
    expect(js.status).toBe(200);
    expect(js.headers["content-type"]).toBe("text/javascript; charset=utf-8");
    expect(js.headers["cache-control"]).toBe("public, max-age=31536000, immutable");
    expect(js.headers["content-security-policy"]).toBe(CSP);
    expect(js.body).toBe("document.title='Vigil';\n");
    expect((await send(base, "/assets/main-ABCDEFGH.css")).headers["content-type"]).toBe("text/css; charset=utf-8");
    for (const p of ["/assets/nope.js", "/assets/%2e%2e%2fmanifest.json", "/assets/"]) {
      const r = await send(base, p);
      expect([400, 404]).toContain(r.status);
      expect(r.body).not.toContain("<div");
    }
  });

  it("POST / stays Falco's http_output ingest (token required, the alert stored)", async () => {
    const a = makeAlert();
    const body = JSON.stringify(alertToJson(a));
    expect((await send(base, "/", { method: "POST", headers: { "content-type": "application/json" }, body })).status).toBe(401);
    const r = await send(base, "/", { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${TOKEN}` }, body });
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toEqual({ id: a.id, stored: true });
  });

  it("a collector without a console build answers GET / with a 503 page that says so; the API works", async () => {
    const c2 = await startCollector({ listen: "127.0.0.1:0", dataDir: ":memory:", token: TOKEN, consoleDir: join(tempDir(), "missing"), logger: quiet() });
    try {
      const b = `http://${c2.address}`;
      const r = await send(b, "/");
      expect(r.status).toBe(503);
      expect(r.body).toContain("The console was not built");
      expect(r.body).toContain("npm run build");
      expect(r.headers["content-security-policy"]).toBe(CSP);
      expect((await send(b, "/assets/main-ABCDEFGH.js")).status).toBe(503);
      expect((await send(b, "/healthz")).status).toBe(200);
      expect((await send(b, "/api/v1/alerts", { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(200);
    } finally {
      await c2.close();
    }
  });

  it("the default build directory is the repository's dist/console (built by npm run build and the test setup)", async () => {
    const c3 = await startCollector({ listen: "127.0.0.1:0", dataDir: ":memory:", token: TOKEN, logger: quiet() });
    try {
      const r = await send(`http://${c3.address}`, "/");
      expect(r.status).toBe(200);
      const src = /src="(\/assets\/[^"]+\.js)"/.exec(r.body)?.[1];
      expect(src).toBeDefined();
      const js = await send(`http://${c3.address}`, src!);
      expect(js.status).toBe(200);
      expect(js.headers["cache-control"]).toContain("immutable");
    } finally {
      await c3.close();
    }
  });

  it("the console's headers are the ones the issue fixes", () => {
    expect(CONSOLE_HEADERS["content-security-policy"]).toBe(CSP);
  });
});

describe("console sessions", () => {
  let col: RunningCollector;
  let base: string;
  let origin: string;
  beforeAll(async () => {
    col = await startCollector({
      listen: "127.0.0.1:0",
      dataDir: ":memory:",
      token: TOKEN,
      readToken: READ,
      consoleDir: fakeBuild(),
      limits: { auth_failures_per_minute: 1000 },
      logger: quiet(),
    });
    base = `http://${col.address}`;
    origin = base;
  });
  afterAll(() => col.close());

  it("login sets an HttpOnly, SameSite=Strict, Path=/ cookie of a random 256-bit ID (no Secure on plain HTTP)", async () => {
    const r = await login(base, TOKEN, { origin });
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toEqual({ role: "admin" });
    const sc = setCookie(r)!;
    expect(sc).toMatch(/^vigil_session=[A-Za-z0-9_-]{43}; HttpOnly; SameSite=Strict; Path=\/; Max-Age=\d+$/);
    expect(sc).not.toContain("Secure");
    expect(r.body).not.toContain(TOKEN);
    const again = await login(base, TOKEN);
    expect(cookieOf(again)).not.toBe(cookieOf(r));
    expect(r.headers["cache-control"]).toBe("no-store");
  });

  it("the cookie authenticates the API; GET /api/v1/session says the role; logout forgets it and clears the cookie", async () => {
    const cookie = cookieOf(await login(base, TOKEN));
    const a = makeAlert();
    col.ingest([a]);
    const who = await send(base, "/api/v1/session", { headers: { cookie } });
    expect(who.status).toBe(200);
    expect(JSON.parse(who.body)).toEqual({ role: "admin" });
    const q = await send(base, "/api/v1/alerts", { headers: { cookie } });
    expect(q.status).toBe(200);
    expect(q.body).toContain(a.id);
    expect((await send(base, `/api/v1/alerts/${a.id}`, { headers: { cookie } })).status).toBe(200);
    const out = await send(base, "/api/v1/session", { method: "DELETE", headers: { cookie, origin } });
    expect(out.status).toBe(204);
    expect(setCookie(out)).toMatch(/^vigil_session=; HttpOnly; SameSite=Strict; Path=\/; Max-Age=0$/);
    const after = await send(base, "/api/v1/alerts", { headers: { cookie } });
    expect(after.status).toBe(401);
    expect(setCookie(after)).toContain("Max-Age=0");
    expect((await send(base, "/api/v1/session", { headers: { cookie } })).status).toBe(401);
  });

  it("no credential: GET /api/v1/session is 401 without counting a failed authentication", async () => {
    const before = col.stats()["http_unauthenticated"]!;
    const r = await send(base, "/api/v1/session");
    expect(r.status).toBe(401);
    expect(col.stats()["http_unauthenticated"]).toBe(before);
  });

  it("a bad token is 401, counted; bad bodies are 400; other methods 405", async () => {
    const before = col.stats()["console_login_failures"]!;
    const r = await login(base, "wrong");
    expect(r.status).toBe(401);
    expect(setCookie(r)).toBeUndefined();
    expect(col.stats()["console_login_failures"]).toBe(before + 1);
    for (const body of ["", "{", "null", "[]", '{"token":5}', '{"token":""}', JSON.stringify({ token: "x".repeat(5000) })])
      expect((await send(base, "/api/v1/session", { method: "POST", body })).status).toBe(400);
    expect((await send(base, "/api/v1/session", { method: "POST", body: "x".repeat(9000) })).status).toBe(413);
    const put = await send(base, "/api/v1/session", { method: "PUT" });
    expect(put.status).toBe(405);
    expect(put.headers["allow"]).toBe("GET, POST, DELETE");
  });

  it("behind a proxy that terminates TLS, the https:// origin of the same host is the collector's own", async () => {
    const r = await login(base, TOKEN, { origin: "https://127.0.0.1" });
    expect(r.status).toBe(200);
    const cookie = cookieOf(r);
    expect((await send(base, "/api/v1/session", { method: "DELETE", headers: { cookie, origin: "https://evil.example" } })).status).toBe(403);
    expect((await send(base, "/api/v1/session", { method: "DELETE", headers: { cookie, origin: "https://127.0.0.1" } })).status).toBe(204);
  });

  it("a login from another origin is refused (login CSRF); one without Origin (a script) is not", async () => {
    expect((await login(base, TOKEN, { origin: "https://evil.example" })).status).toBe(403);
    expect((await login(base, TOKEN, { origin: "null" })).status).toBe(403);
    expect((await login(base, TOKEN)).status).toBe(200);
  });

  it("a cookie-authenticated change needs the collector's own Origin (CSRF): POST / and logout", async () => {
    const cookie = cookieOf(await login(base, TOKEN));
    const post = (headers: Record<string, string>) =>
      send(base, "/", { method: "POST", headers: { cookie, "content-type": "application/json", ...headers }, body: JSON.stringify(alertToJson(makeAlert())) });
    const before = col.stats()["http_forbidden"]!;
    expect((await post({})).status).toBe(403);
    expect((await post({ origin: "https://evil.example" })).status).toBe(403);
    expect((await post({ origin: base.replace("127.0.0.1", "localhost") })).status).toBe(403);
    expect((await post({ origin })).status).toBe(200);
    expect(col.stats()["http_forbidden"]).toBe(before + 3);
    // a bearer token is never sent by a browser on its own: no Origin needed
    expect(
      (await send(base, "/", { method: "POST", headers: { authorization: `Bearer ${TOKEN}` }, body: JSON.stringify(alertToJson(makeAlert())) })).status,
    ).toBe(200);
    // logout by a cross-site page: refused, the session lives on
    expect((await send(base, "/api/v1/session", { method: "DELETE", headers: { cookie, origin: "https://evil.example" } })).status).toBe(403);
    expect((await send(base, "/api/v1/session", { method: "DELETE", headers: { cookie } })).status).toBe(403);
    // another port of the same host over plain HTTP is another origin
    expect((await send(base, "/api/v1/session", { method: "DELETE", headers: { cookie, origin: "http://127.0.0.1:1" } })).status).toBe(403);
    expect((await send(base, "/api/v1/session", { headers: { cookie } })).status).toBe(200);
    // GETs by cookie need no Origin (they change nothing; the CSP and SameSite keep their answers from other sites)
    expect((await send(base, "/api/v1/stats", { headers: { cookie } })).status).toBe(200);
  });

  it("a WebSocket upgrade authenticated by the cookie needs the collector's Origin; by token it does not", async () => {
    const cookie = cookieOf(await login(base, TOKEN));
    const open = (headers: Record<string, string>, protocols: string[] = [WS_PROTOCOL]) =>
      new Promise<number>((resolve) => {
        const ws = new WebSocket(`ws://${col.address}/api/v1/tail`, protocols, { headers });
        ws.on("open", () => {
          ws.close();
          resolve(101);
        });
        ws.on("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0));
        ws.on("error", () => undefined);
      });
    expect(await open({ cookie, origin: "https://evil.example" })).toBe(403);
    expect(await open({ cookie })).toBe(403);
    expect(await open({ cookie, origin })).toBe(101);
    expect(await open({}, [WS_PROTOCOL, `${WS_BEARER_PREFIX}${TOKEN}`])).toBe(101);
    expect(await open({ origin: "https://evil.example" })).toBe(401);
  });

  it("the cookie's tail delivers a new alert", async () => {
    const cookie = cookieOf(await login(base, READ));
    const got: string[] = [];
    const ws = new WebSocket(`ws://${col.address}/api/v1/tail`, [WS_PROTOCOL], { headers: { cookie, origin } });
    ws.on("message", (m) => got.push(String(m)));
    await new Promise((r) => ws.once("open", r));
    const a = makeAlert({ rule: "Console tail rule" });
    col.ingest([a]);
    await waitFor(() => got.some((m) => m.includes(a.id)), 5000, "tailed alert");
    ws.close();
  });

  it("the read-only token: GETs and the tail, every write refused with 403 (bearer or session)", async () => {
    const bearer = { authorization: `Bearer ${READ}` };
    expect((await send(base, "/api/v1/alerts", { headers: bearer })).status).toBe(200);
    expect((await send(base, "/api/v1/stats", { headers: bearer })).status).toBe(200);
    const write = await send(base, "/", { method: "POST", headers: bearer, body: JSON.stringify(alertToJson(makeAlert())) });
    expect(write.status).toBe(403);
    expect(write.body).toContain("read-only");
    expect((await send(base, "/api/v1/falco", { method: "POST", headers: bearer, body: JSON.stringify(alertToJson(makeAlert())) })).status).toBe(403);
    const r = await login(base, READ, { origin });
    expect(JSON.parse(r.body)).toEqual({ role: "read" });
    const cookie = cookieOf(r);
    expect(JSON.parse((await send(base, "/api/v1/session", { headers: { cookie } })).body)).toEqual({ role: "read" });
    expect((await send(base, "/", { method: "POST", headers: { cookie, origin }, body: JSON.stringify(alertToJson(makeAlert())) })).status).toBe(403);
    // but it may log itself out
    expect((await send(base, "/api/v1/session", { method: "DELETE", headers: { cookie, origin } })).status).toBe(204);
  });
});

describe("console auth limiter and TLS", () => {
  it("bad logins count against the address's failed-auth limit: then even the good token gets 429", async () => {
    const col = await startCollector({ listen: "127.0.0.1:0", dataDir: ":memory:", token: TOKEN, limits: { auth_failures_per_minute: 3 }, logger: quiet() });
    try {
      const base = `http://${col.address}`;
      for (let i = 0; i < 3; i++) expect((await login(base, `guess-${i}`)).status).toBe(401);
      const r = await login(base, TOKEN);
      expect(r.status).toBe(429);
      expect(Number(r.headers["retry-after"])).toBeGreaterThan(0);
      expect(setCookie(r)).toBeUndefined();
      expect(col.stats()["auth_rate_limited"]).toBeGreaterThanOrEqual(1);
    } finally {
      await col.close();
    }
  });

  it("a stale or forged cookie counts as a failed authentication", async () => {
    const col = await startCollector({ listen: "127.0.0.1:0", dataDir: ":memory:", token: TOKEN, limits: { auth_failures_per_minute: 2 }, logger: quiet() });
    try {
      const base = `http://${col.address}`;
      const cookie = `vigil_session=${"A".repeat(43)}`;
      expect((await send(base, "/api/v1/alerts", { headers: { cookie } })).status).toBe(401);
      expect((await send(base, "/api/v1/session", { headers: { cookie } })).status).toBe(401);
      expect((await send(base, "/api/v1/alerts", { headers: { cookie } })).status).toBe(429);
    } finally {
      await col.close();
    }
  });

  it("over TLS the cookie is Secure and the own origin is https://", async () => {
    const { makeMtlsFiles } = await import("../helpers/mtls-certs.js");
    const certs = makeMtlsFiles(tempDir());
    const col = await startCollector({
      listen: "127.0.0.1:0",
      dataDir: ":memory:",
      token: TOKEN,
      tls: { cert: certs.read(certs.serverCert), key: certs.read(certs.serverKey) },
      logger: quiet(),
    });
    try {
      const base = `https://${col.address}`;
      const ca = certs.read(certs.caCert);
      const r = await send(base, "/api/v1/session", { method: "POST", body: JSON.stringify({ token: TOKEN }), ca });
      expect(setCookie(r)).toMatch(/; Secure$/);
      const cookie = cookieOf(r);
      const http = `http://${col.address}`;
      expect((await send(base, "/api/v1/session", { method: "DELETE", headers: { cookie, origin: http }, ca })).status).toBe(403);
      expect((await send(base, "/api/v1/session", { method: "DELETE", headers: { cookie, origin: base }, ca })).status).toBe(204);
    } finally {
      await col.close();
    }
  });
});

describe("roles and the session store", () => {
  it("a read-only token needs the collector's token and must differ from it", () => {
    expect(() => new Roles(undefined, "r")).toThrow(/needs the collector's token/);
    expect(() => new Roles("same", "same")).toThrow(/must differ/);
    const r = new Roles("a-token", "r-token");
    expect(r.roleOf("Bearer a-token")).toBe("admin");
    expect(r.roleOf("r-token")).toBe("read");
    expect(r.roleOf("Bearer nope")).toBeUndefined();
    expect(r.roleOf(undefined)).toBeUndefined();
    expect(new Roles(undefined, undefined).roleOf(undefined)).toBe("admin");
  });

  it("is bounded: sessions expire at their TTL and the least recently used go past the cap", () => {
    let now = 1_000_000;
    const s = new SessionStore({ maxSessions: 3, ttlMs: 60_000 }, () => now);
    const ids = [s.create("admin"), s.create("read"), s.create("admin")];
    expect(ids.map((id) => s.get(id))).toEqual(["admin", "read", "admin"]);
    const fourth = s.create("read");
    expect(s.size).toBe(3);
    expect(s.get(ids[0]!)).toBeUndefined();
    expect(s.get(fourth)).toBe("read");
    now += 60_000;
    expect(s.get(fourth)).toBeUndefined();
    expect(s.get("short")).toBeUndefined();
  });
});
