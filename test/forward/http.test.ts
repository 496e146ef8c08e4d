// SPDX-License-Identifier: Apache-2.0
/**
 * What every HTTP destination shares: the status policy (which refusals are for good), the one
 * HTTP client (status → DeliveryError, secrets kept out of errors, a URL that moves between http
 * and https), secrets re-read per send, and redaction. Against real local servers.
 */
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { batchOf, DeliveryError, destinationWideStatus, permanentStatus, postInOrder } from "../../collector/forward/destination.js";
import { HttpClient, statusError } from "../../collector/forward/http.js";
import { Credentials, redactError, redactText, RotatingSecret, urlSecrets } from "../../collector/forward/secrets.js";
import { captureLogger } from "../helpers/capture-logger.js";
import { makeTestTls } from "../helpers/image-pods.js";
import { quiet, tempDir } from "../collector/helpers.js";
import { type Recorder, startRecorder } from "./http-recorder.js";

const failure = (p: Promise<unknown>): Promise<unknown> =>
  p.then(
    () => undefined,
    (e: unknown) => e,
  );

let servers: Recorder[] = [];
let clients: HttpClient[] = [];
afterEach(async () => {
  for (const c of clients) c.close();
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
  clients = [];
});
const serve = async (tls?: { cert: string; key: string }) => {
  const s = await startRecorder(tls);
  servers.push(s);
  return s;
};
const client = (...a: ConstructorParameters<typeof HttpClient>) => {
  const c = new HttpClient(...a);
  clients.push(c);
  return c;
};

describe("status policy", () => {
  it("refuses for good only what is wrong with the message; destination-wide refusals and throttling are retried", () => {
    const permanent = [400, 405, 409, 411, 413, 414, 415, 422, 499];
    const retried = [401, 403, 404, 407, 410, 408, 425, 429, 500, 502, 503, 504];
    for (const s of permanent) expect([s, permanentStatus(s)]).toEqual([s, true]);
    for (const s of retried) expect([s, permanentStatus(s)]).toEqual([s, false]);
    expect([200, 301, 400, 408, 429, 500].filter(destinationWideStatus)).toEqual([]);
    expect([401, 403, 404, 407, 410].every(destinationWideStatus)).toBe(true);
  });

  it("says what a destination-wide refusal means in the error the status command shows", () => {
    const e = statusError("HTTP 403", 403, "  action_prohibited\n\n");
    expect([e.permanent, e.status]).toEqual([false, 403]);
    expect(e.message).toBe("HTTP 403 (refused as configured: check the URL, credentials and permissions; retried until fixed): action_prohibited");
    expect(statusError("HTTP 400", 400, "bad\tinput").message).toBe("HTTP 400: bad input");
    expect(statusError("Teams", undefined, "delivery failed").permanent).toBe(false);
    const long = statusError("HTTP 500", 500, `${"x".repeat(5000)}\u001b[2J`);
    expect(long.message.length).toBeLessThanOrEqual("HTTP 500: ".length + 300);
    expect(long.message).toMatch(/ … \[truncated: 5004 characters in all\]$/);
  });

  it("caps a batch at the forwarder's batch_size", () => {
    expect([batchOf(500, 0), batchOf(500, 20), batchOf(1, 20)]).toEqual([500, 20, 1]);
  });

  it("sends requests in order: a first failure throws, a later one returns the rest as retryable", async () => {
    const sent: number[] = [];
    const unit = (i: number, fail = false) => ({
      indices: [i],
      send: async () => {
        if (fail) throw new DeliveryError("HTTP 503: busy");
        sent.push(i);
      },
    });
    expect(await postInOrder([unit(0), unit(1)])).toBeUndefined();
    await expect(postInOrder([unit(2, true), unit(3)])).rejects.toThrow("HTTP 503: busy");
    expect(await postInOrder([unit(4), unit(5, true), unit(6)])).toEqual({
      failed: [
        { index: 5, permanent: false, error: "HTTP 503: busy" },
        { index: 6, permanent: false, error: "HTTP 503: busy" },
      ],
    });
    expect(sent).toEqual([0, 1, 4]);
  });
});

describe("HttpClient", () => {
  it("turns answers into outcomes: 2xx resolves, 401 retryable with the hint, 400 permanent, 429 with Retry-After", async () => {
    const s = await serve();
    const http = client(s.url, 2000);
    s.handle(() => ({ status: 202, body: "accepted" }));
    expect(await http.request(`${s.url}/x`, { body: "{}" })).toMatchObject({ status: 202, body: "accepted" });
    s.handle(() => ({ status: 401, body: "who are you" }));
    const a = (await failure(http.request(`${s.url}/x`, { body: "{}" }))) as DeliveryError;
    expect([a instanceof DeliveryError, a.permanent, a.status]).toEqual([true, false, 401]);
    expect(a.message).toContain("check the URL, credentials and permissions");
    s.handle(() => ({ status: 400, body: "bad" }));
    const b = (await failure(http.request(`${s.url}/x`, { body: "{}" }))) as DeliveryError;
    expect([b.permanent, b.message]).toEqual([true, "HTTP 400: bad"]);
    s.handle(() => ({ status: 429, headers: { "retry-after": "4" } }));
    const c = (await failure(http.request(`${s.url}/x`, { body: "{}" }))) as DeliveryError;
    expect([c.permanent, c.retryAfterMs, c.message]).toEqual([false, 4000, "HTTP 429"]);
  });

  it("removes the caller's secrets from a refusal before cutting it, so a cut cannot leave part of one", async () => {
    const s = await serve();
    const http = client(s.url, 2000);
    const secret = "S3cr3t-token-0123456789abcdefghij";
    // the second copy straddles the 300 characters kept of the body
    s.handle(() => ({ status: 400, body: `${"x".repeat(100)}${secret}${"x".repeat(140)}${secret}${"y".repeat(100)}` }));
    const e = (await failure(http.request(`${s.url}/x`, { body: "{}", secrets: [secret] }))) as DeliveryError;
    expect(e.message).not.toContain("S3cr");
    expect(e.message).toContain("[redacted]");
    expect(e.message).toContain("[truncated:");
  });

  it("follows a URL that moves from http to https (a rotated webhook URL), with the TLS files for the https one", async () => {
    const dir = tempDir();
    const t = makeTestTls(dir, ["localhost"]);
    const plain = await serve();
    const secure = await serve({ cert: t["tls.crt"], key: t["tls.key"] });
    const cap = captureLogger("warn");
    const http = client(plain.url, 2000, { ca_file: join(dir, "ca.crt"), cert_file: "", key_file: "" }, cap.logger);
    expect(cap.withMsg("tls settings have no effect on an http:// URL")).toHaveLength(1);
    await http.request(`${plain.url}/a`, { body: "1" });
    await http.request(`${secure.url}/b`, { body: "2" });
    await http.request(`${plain.url}/c`, { body: "3" });
    expect([plain.requests.map((r) => r.url), secure.requests.map((r) => r.url)]).toEqual([["/a", "/c"], ["/b"]]);
    // without a CA for it the https server is refused, retryably
    const bare = client(plain.url, 2000);
    const e = (await failure(bare.request(`${secure.url}/d`, { body: "4" }))) as DeliveryError;
    expect([e instanceof DeliveryError, e.permanent]).toEqual([true, false]);
    // an https base URL reads its TLS files at creation: a missing CA stops the start
    expect(() => new HttpClient(secure.url, 2000, { ca_file: join(dir, "nope.crt"), cert_file: "", key_file: "" })).toThrow(/tls.ca_file .*nope.crt: ENOENT/);
    rmSync(dir, { recursive: true, force: true });
  });

  it("keeps secrets out of network failures too", async () => {
    const s = await serve();
    const url = `${s.url}/hook/T0SECRET99/verysecretpath`;
    await s.close();
    servers = [];
    const http = client(url, 2000);
    const e = (await failure(http.request(url, { body: "{}", secrets: urlSecrets(url) }))) as DeliveryError;
    expect([e instanceof DeliveryError, e.permanent]).toEqual([true, false]);
    expect(e.message).not.toContain("verysecretpath");
    expect(e.message).not.toContain("T0SECRET99");
  });
});

describe("secrets", () => {
  it("re-reads a secret on each use, keeps the last good value when the file goes away, and logs that once", () => {
    const dir = tempDir();
    const file = join(dir, "token");
    writeFileSync(file, "first\n");
    const cap = captureLogger("info");
    const s = new RotatingSecret("token", file, "", "", cap.logger);
    expect(s.get()).toBe("first");
    writeFileSync(file, "second\n");
    expect(s.get()).toBe("second");
    rmSync(file);
    expect([s.get(), s.get()]).toEqual(["second", "second"]);
    expect(cap.withMsg("secret re-read failed; the last value stays in use")).toHaveLength(1);
    writeFileSync(file, "third");
    expect(s.get()).toBe("third");
    expect(cap.withMsg("secret readable again")).toHaveLength(1);
    expect(JSON.stringify(cap.lines)).not.toContain("second");
    rmSync(dir, { recursive: true, force: true });
  });

  it("builds basic, bearer and API key authorization from rotating secrets, at most one of them", () => {
    const dir = tempDir();
    writeFileSync(join(dir, "pw"), "pw-one");
    const basic = new Credentials({ user: "ops", password_file: join(dir, "pw") }, quiet());
    expect(basic.authorization()).toBe(`Basic ${Buffer.from("ops:pw-one").toString("base64")}`);
    writeFileSync(join(dir, "pw"), "pw-two");
    expect(basic.authorization()).toBe(`Basic ${Buffer.from("ops:pw-two").toString("base64")}`);
    expect(basic.secrets()).toEqual(["pw-two", Buffer.from("ops:pw-two").toString("base64")]);
    process.env["VIGIL_TEST_CRED_TOKEN"] = "tok-123";
    try {
      expect(new Credentials({ token_env: "VIGIL_TEST_CRED_TOKEN" }, quiet()).authorization()).toBe("Bearer tok-123");
    } finally {
      delete process.env["VIGIL_TEST_CRED_TOKEN"];
    }
    expect(new Credentials({ api_key_file: join(dir, "pw") }, quiet()).authorization()).toBe("ApiKey pw-two");
    expect(new Credentials({}, quiet()).authorization()).toBeUndefined();
    expect(() => new Credentials({ user: "ops", password_file: join(dir, "pw"), token_file: join(dir, "pw") }, quiet())).toThrow(/one way to authenticate/);
    expect(() => new Credentials({ user: "a:b", password_file: join(dir, "pw") }, quiet())).toThrow(/must not contain ':'/);
    expect(() => new Credentials({ token_file: join(dir, "missing") }, quiet())).toThrow(/token_file .*missing: ENOENT/);
    rmSync(dir, { recursive: true, force: true });
  });

  it("redacts every secret, and the start of one a message was cut inside; keeps the error's kind", () => {
    expect(redactText("a KEY123 b KEY123", ["KEY123", ""])).toBe("a [redacted] b [redacted]");
    expect(redactText("cut at KEY12345", ["KEY123456789"])).toBe("cut at [redacted]");
    // a short common ending is not taken for a secret's start
    expect(redactText("HTTP 404: no_service", ["services"])).toBe("HTTP 404: no_service");
    const e = redactError(new DeliveryError("HTTP 401: token tok-9", { status: 401, retryAfterMs: 5 }), ["tok-9"]) as DeliveryError;
    expect([e.message, e.permanent, e.status, e.retryAfterMs]).toEqual(["HTTP 401: token [redacted]", false, 401, 5]);
    const plain = redactError(new Error("connect to tok-9 failed"), ["tok-9"]) as DeliveryError;
    expect([plain instanceof DeliveryError, plain.permanent, plain.message]).toEqual([true, false, "connect to [redacted] failed"]);
    const same = new Error("nothing secret");
    expect(redactError(same, ["tok-9"])).toBe(same);
  });
});
