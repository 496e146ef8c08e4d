// SPDX-License-Identifier: Apache-2.0
/**
 * The nats destination against real nats-server processes (test/helpers/nats.ts, plus one started
 * here with per-user publish permissions and a reloadable password): subjects per priority, the
 * Falco JSON payload, `Nats-Msg-Id`, JetStream publish (PubAck, deduplication) when a stream covers
 * the subject and core publish otherwise, too-large messages refused for good and denied ones retried, the
 * server down and back, user/password and token authentication (a rotated password used at the
 * reconnect), TLS verified against a CA file.
 * Docs: https://docs.nats.io/reference/reference-protocols/nats-protocol (PUB/HPUB, -ERR),
 * https://docs.nats.io/using-nats/developer/develop_jetstream/model_deep_dive#message-deduplication,
 * https://docs.nats.io/running-a-nats-service/configuration/securing_nats/authorization.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { jetstreamManager, type JetStreamManager, type StoredMsg } from "@nats-io/jetstream";
import { connect, type Msg, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { DeliveryError, type DeliveryItem, type DeliveryOutcome, type Destination } from "../../collector/forward/destination.js";
import { createNatsDestination, natsSubject } from "../../collector/forward/nats.js";
import { forwarderSchema, type ForwarderOf } from "../../proto/forwarders.js";
import { alertToFalcoJson, PRIORITY_NAMES, type Alert } from "../../proto/index.js";
import { makeAlert, quiet, tempDir, waitFor } from "../collector/helpers.js";
import { makeTestTls } from "../helpers/image-pods.js";
import { freePort, NATS_SERVER_BIN, startNats, type NatsTestCluster } from "../helpers/nats.js";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A temp dir removed after the test. */
function tmp(prefix: string): string {
  const d = tempDir(prefix);
  cleanups.push(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

function natsCfg(over: Record<string, unknown>): ForwarderOf<"nats"> {
  return forwarderSchema.parse({ name: "bus", type: "nats", timeout_ms: 3000, ...over }) as ForwarderOf<"nats">;
}

function destination(over: Record<string, unknown>): Destination {
  const d = createNatsDestination(natsCfg(over), { logger: quiet() });
  cleanups.push(() => d.close?.());
  return d;
}

const items = (alerts: Alert[]): DeliveryItem[] => alerts.map((alert, i) => ({ seq: i + 1, alert, count: 1 }));
const send = (d: Destination, its: DeliveryItem[]) => d.send(its, new AbortController().signal) as Promise<DeliveryOutcome>;

async function rejection(p: Promise<unknown>): Promise<DeliveryError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DeliveryError);
  return err as DeliveryError;
}

/** Every message on `subject` (wildcards allowed) from now on. */
async function collect(nc: NatsConnection, subject: string): Promise<Msg[]> {
  const got: Msg[] = [];
  const sub = nc.subscribe(subject, { callback: (_err, m) => got.push(m) });
  cleanups.push(() => sub.unsubscribe());
  await nc.flush();
  return got;
}

async function storedMessages(jsm: JetStreamManager, stream: string): Promise<StoredMsg[]> {
  const { state } = await jsm.streams.info(stream);
  const out: StoredMsg[] = [];
  for (let seq = state.first_seq; seq <= state.last_seq && state.messages > 0; seq++) {
    const m = await jsm.streams.getMessage(stream, { seq });
    if (m !== null) out.push(m);
  }
  return out;
}

/** An alert whose Falco JSON is larger than nats-server's default max_payload (1 MiB). */
function hugeAlert(): Alert {
  const fields: Alert["output_fields"] = {};
  for (let i = 0; i < 70; i++) fields[`big.${i}`] = "x".repeat(16 * 1024);
  return makeAlert({ fields });
}

function hostileAlert(): Alert {
  return makeAlert({
    rule: "Evil\r\nrule\u0000",
    output: 'out\n{"uuid":"forged"}\u001b[2J\u0007 "quoted" \\ end',
    fields: { "proc.cmdline": "sh -c 'echo \"$HOME\"'\n\u0000", "k8s.ns.name": "ns" },
  });
}

describe("nats destination on one server", () => {
  let nats: NatsTestCluster;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  let n = 0;
  const prefix = () => `fw${++n}`;

  beforeAll(async () => {
    nats = await startNats({ nodes: 1 });
    nc = await connect({ servers: nats.urls });
    jsm = await jetstreamManager(nc);
  });
  afterAll(async () => {
    await nc?.close();
    await nats?.close();
  });

  it("core NATS: <prefix>.<priority> subjects in order, Falco's JSON, Nats-Msg-Id = alert ID, a grouped count", async () => {
    const p = prefix();
    const got = await collect(nc, `${p}.>`);
    const d = destination({ servers: nats.urls.join(","), subject_prefix: p });
    const alerts = [...PRIORITY_NAMES.map((priority) => makeAlert({ priority })), hostileAlert()];
    const batch = items(alerts);
    batch.push({ seq: 99, alert: makeAlert({ priority: "Critical" }), count: 7 });
    expect(await send(d, batch)).toEqual({ failed: [] });
    await waitFor(() => got.length === batch.length);
    got.forEach((m, i) => {
      const it = batch[i] as DeliveryItem;
      expect(m.subject).toBe(`${p}.${it.alert.priority.toLowerCase()}`);
      expect(m.subject).toBe(natsSubject(p, it.alert));
      expect(m.headers?.get("Nats-Msg-Id")).toBe(it.alert.id);
      const want: Record<string, unknown> = alertToFalcoJson(it.alert);
      if (it.count > 1) want["count"] = it.count;
      expect(m.json()).toEqual(want);
      expect(m.headers?.get("Vigil-Count")).toBe(it.count > 1 ? String(it.count) : "");
    });
    expect(got.map((m) => m.subject.split(".")[1])).toEqual([
      "emergency",
      "alert",
      "critical",
      "error",
      "warning",
      "notice",
      "informational",
      "debug",
      "warning",
      "critical",
    ]);
  });

  it("JetStream where a stream covers the subject (PubAck, a resend stored once), core NATS for the other subjects", async () => {
    const p = prefix();
    const stream = `S${p}`;
    await jsm.streams.add({ name: stream, subjects: [`${p}.critical`, `${p}.error`], duplicate_window: 120e9 });
    const got = await collect(nc, `${p}.>`);
    const d = destination({ servers: nats.urls.join(","), subject_prefix: p });
    const alerts = Array.from({ length: 12 }, (_, i) => makeAlert({ priority: (["Critical", "Error", "Warning"] as const)[i % 3] }));
    expect(await send(d, items(alerts))).toEqual({ failed: [] });
    const stored = await storedMessages(jsm, stream);
    const inStream = alerts.filter((a) => a.priority !== "Warning");
    expect(stored.map((m) => m.header.get("Nats-Msg-Id"))).toEqual(inStream.map((a) => a.id));
    expect(stored.map((m) => m.subject)).toEqual(inStream.map((a) => `${p}.${a.priority.toLowerCase()}`));
    expect(stored.map((m) => m.json())).toEqual(inStream.map((a) => alertToFalcoJson(a)));
    await waitFor(() => got.length === 12);
    expect(got.map((m) => m.headers?.get("Nats-Msg-Id"))).toEqual(alerts.map((a) => a.id));

    // the runner resends a batch it could not confirm: the duplicate window drops the copies
    expect(await send(d, items(alerts))).toEqual({ failed: [] });
    expect((await jsm.streams.info(stream)).state.messages).toBe(inStream.length);
  });

  it("a message over the server's max_payload is refused for good, the others of the batch go", async () => {
    const p = prefix();
    const got = await collect(nc, `${p}.>`);
    const d = destination({ servers: nats.urls.join(","), subject_prefix: p });
    const alerts = [makeAlert(), hugeAlert(), makeAlert()];
    const out = await send(d, items(alerts));
    expect(out.failed).toEqual([{ index: 1, permanent: true, error: expect.stringMatching(/larger than the NATS server's max_payload \(1048576 bytes\)/) }]);
    await waitFor(() => got.length === 2);
    expect(got.map((m) => m.headers?.get("Nats-Msg-Id"))).toEqual([alerts[0]?.id, alerts[2]?.id]);
  });

  it("a message over the stream's max_msg_size is refused for good, the others stored", async () => {
    const p = prefix();
    const stream = `S${p}`;
    await jsm.streams.add({ name: stream, subjects: [`${p}.>`], max_msg_size: 4096 });
    const d = destination({ servers: nats.urls.join(","), subject_prefix: p });
    const alerts = [makeAlert(), makeAlert({ output: "y".repeat(8000) }), makeAlert()];
    const out = await send(d, items(alerts));
    expect(out.failed).toEqual([{ index: 1, permanent: true, error: expect.stringContaining("larger than the stream's max_msg_size") }]);
    expect((await storedMessages(jsm, stream)).map((m) => m.header.get("Nats-Msg-Id"))).toEqual([alerts[0]?.id, alerts[2]?.id]);
  });

  it("maxBatch is 100, capped by batch_size", () => {
    expect(destination({ servers: nats.urls.join(",") }).maxBatch).toBe(100);
    expect(destination({ servers: nats.urls.join(","), batch_size: 5 }).maxBatch).toBe(5);
  });
});

describe("nats destination: server down and back", () => {
  it("fails fast (retryable) while nothing listens or the server is down, delivers once it is back", async () => {
    const port = await freePort();
    const nobody = destination({ servers: `nats://127.0.0.1:${port}` });
    const t0 = Date.now();
    const e0 = await rejection(send(nobody, items([makeAlert()])));
    expect(e0.permanent).toBe(false);
    expect(e0.message).toContain(`cannot connect to NATS (nats://127.0.0.1:${port})`);
    expect(Date.now() - t0).toBeLessThan(3000);

    const nats = await startNats({ nodes: 1 });
    cleanups.push(() => nats.close());
    const nc = await connect({ servers: nats.urls, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
    cleanups.push(() => nc.close());
    const got = await collect(nc, "updown.>");
    const d = destination({ servers: nats.urls.join(","), subject_prefix: "updown" });
    const a1 = makeAlert();
    await send(d, items([a1]));
    await nats.stopAll();
    await waitFor(async () => {
      const r = await send(d, items([makeAlert()])).then(
        () => undefined,
        (e: unknown) => e,
      );
      return r instanceof DeliveryError && !r.permanent && /not connected to NATS/.test(r.message);
    });
    await nats.startAll();
    const a2 = makeAlert();
    await waitFor(
      async () =>
        await send(d, items([a2])).then(
          () => true,
          () => false,
        ),
      15_000,
      "the destination to reconnect",
    );
    await waitFor(() => got.some((m) => m.headers?.get("Nats-Msg-Id") === a2.id), 10_000, "the alert after the restart");
    expect(got[0]?.headers?.get("Nats-Msg-Id")).toBe(a1.id);
  });
});

describe("nats destination: authentication and TLS", () => {
  it("user with password_file; a wrong password is a retryable error that does not show it", async () => {
    const password = "s3cret-Pass-word";
    const nats = await startNats({ nodes: 1, auth: { user: "fwd", password } });
    cleanups.push(() => nats.close());
    const dir = tmp("vigil-nats-fw-");
    writeFileSync(join(dir, "pw"), `${password}\n`);
    writeFileSync(join(dir, "bad"), "wrong-Pass-word-123\n");
    const nc = await connect({ servers: nats.urls, user: "fwd", pass: password });
    cleanups.push(() => nc.close());
    const got = await collect(nc, "auth.>");
    const ok = destination({ servers: nats.urls.join(","), subject_prefix: "auth", user: "fwd", password_file: join(dir, "pw") });
    const a = makeAlert();
    expect(await send(ok, items([a]))).toEqual({ failed: [] });
    await waitFor(() => got.length === 1);

    const bad = destination({ servers: nats.urls.join(","), subject_prefix: "auth", user: "fwd", password_file: join(dir, "bad") });
    const err = await rejection(send(bad, items([makeAlert()])));
    expect(err.permanent).toBe(false);
    expect(err.message).toMatch(/cannot connect to NATS.*Authorization Violation/i);
    expect(err.message).not.toContain("wrong-Pass-word-123");
    expect(err.message).not.toContain(password);
  });

  it("token from an environment variable", async () => {
    const token = "tok-0123456789abcdef";
    const nats = await startNats({ nodes: 1, auth: { token } });
    cleanups.push(() => nats.close());
    process.env["VIGIL_TEST_NATS_TOKEN"] = token;
    cleanups.push(() => {
      delete process.env["VIGIL_TEST_NATS_TOKEN"];
    });
    const nc = await connect({ servers: nats.urls, token });
    cleanups.push(() => nc.close());
    const got = await collect(nc, "tok.>");
    const d = destination({ servers: nats.urls.join(","), subject_prefix: "tok", token_env: "VIGIL_TEST_NATS_TOKEN" });
    await send(d, items([makeAlert()]));
    await waitFor(() => got.length === 1);
  });

  it("TLS verified against tls.ca_file; without it the server's certificate is refused", async () => {
    const dir = tmp("vigil-nats-fw-tls-");
    const pki = makeTestTls(join(dir, "pki"), ["localhost"]);
    writeFileSync(join(dir, "ca.crt"), pki["ca.crt"]);
    const nats = await startNats({ nodes: 1, tls: { cert: pki["tls.crt"], key: pki["tls.key"], ca: pki["ca.crt"] } });
    cleanups.push(() => nats.close());
    expect(nats.urls[0]).toMatch(/^tls:\/\//);
    const nc = await connect({ servers: nats.urls, tls: { caFile: join(dir, "ca.crt") } });
    cleanups.push(() => nc.close());
    const got = await collect(nc, "tls.>");
    const d = destination({ servers: nats.urls.join(","), subject_prefix: "tls", tls: { ca_file: join(dir, "ca.crt") } });
    await send(d, items([makeAlert()]));
    await waitFor(() => got.length === 1);

    const unverified = destination({ servers: nats.urls.join(","), subject_prefix: "tls" });
    const err = await rejection(send(unverified, items([makeAlert()])));
    expect(err.permanent).toBe(false);
    expect(err.message).toMatch(/certificate/i);
  });

  it.each([
    [{ password_file: "/x" }, "nats password_file/password_env need user"],
    [{ user: "u" }, "nats user needs password_file or password_env"],
    [{ user: "u", password_env: "VIGIL_TEST_UNSET_PW", token_env: "T" }, "exclude each other"],
    [{ user: "u", password_file: "/nonexistent/pw" }, "password_file /nonexistent/pw: ENOENT"],
    [{ token_env: "VIGIL_TEST_UNSET_TOKEN" }, "token_env names VIGIL_TEST_UNSET_TOKEN, which is not set"],
    [{ tls: { cert_file: "/c" } }, "nats tls.cert_file and tls.key_file go together"],
    [{ servers: "http://x:4222" }, "the scheme must be nats:// or tls://"],
    [{ servers: "nats://u:p@x:4222" }, "credentials in a NATS URL are refused"],
  ])("refuses %j", (over, message) => {
    expect(() => createNatsDestination(natsCfg({ servers: "nats://127.0.0.1:4222", ...over }), { logger: quiet() })).toThrow(message);
  });
});

/** A nats-server with a config of our own (publish permissions, a password changed by a reload). */
async function ownServer(dir: string, conf: (port: number) => string): Promise<{ url: string; proc: ChildProcess; reconfigure(text: string): void }> {
  const port = await freePort();
  const path = join(dir, "nats.conf");
  writeFileSync(path, conf(port));
  const proc = spawn(NATS_SERVER_BIN, ["-c", path], { stdio: "ignore" });
  const exited = new Promise((r) => proc.once("exit", r));
  cleanups.push(async () => {
    proc.kill("SIGTERM");
    await exited;
  });
  const url = `nats://127.0.0.1:${port}`;
  await waitFor(
    async () => {
      try {
        const nc = await connect({ servers: url, user: "probe", pass: "probe" });
        await nc.close();
        return true;
      } catch {
        return false;
      }
    },
    15_000,
    "nats-server up",
  );
  return {
    url,
    proc,
    reconfigure(text: string) {
      writeFileSync(path, text);
      proc.kill("SIGHUP");
    },
  };
}

describe("nats destination: permissions and a rotated password", () => {
  const users = (port: number, fwdPassword: string) => `listen: "127.0.0.1:${port}"
authorization {
  users = [
    { user: "probe", password: "probe" },
    { user: "fwd", password: ${JSON.stringify(fwdPassword)}, permissions: { publish: { allow: ["perm.>", "_INBOX.>", "$JS.API.>"], deny: ["perm.critical"] } } }
  ]
}
`;

  it("a subject the user may not publish to fails those alerts (retryable, like a 403: the setup is wrong, not the alert); the others go", async () => {
    const dir = tmp("vigil-nats-perm-");
    const srv = await ownServer(dir, (port) => users(port, "fwd-pass-1"));
    writeFileSync(join(dir, "pw"), "fwd-pass-1");
    const nc = await connect({ servers: srv.url, user: "probe", pass: "probe" });
    cleanups.push(() => nc.close());
    const got = await collect(nc, "perm.>");
    const d = destination({ servers: srv.url, subject_prefix: "perm", user: "fwd", password_file: join(dir, "pw") });
    const alerts = [makeAlert({ priority: "Warning" }), makeAlert({ priority: "Critical" }), makeAlert({ priority: "Notice" })];
    const out = await send(d, items(alerts));
    expect(out.failed).toEqual([
      { index: 1, permanent: false, error: expect.stringMatching(/NATS refused the publish: .*Permissions Violation.*perm\.critical/i) },
    ]);
    await waitFor(() => got.length === 2);
    expect(got.map((m) => m.subject)).toEqual(["perm.warning", "perm.notice"]);
  });

  it("a rotated password file is read again when the server drops the connection for the old password", async () => {
    const dir = tmp("vigil-nats-rotate-");
    let port = 0;
    const srv = await ownServer(dir, (p) => {
      port = p;
      return users(p, "fwd-pass-1");
    });
    writeFileSync(join(dir, "pw"), "fwd-pass-1\n");
    const nc = await connect({ servers: srv.url, user: "probe", pass: "probe", maxReconnectAttempts: -1, reconnectTimeWait: 100 });
    cleanups.push(() => nc.close());
    const got = await collect(nc, "perm.>");
    const d = destination({ servers: srv.url, subject_prefix: "perm", user: "fwd", password_file: join(dir, "pw") });
    await send(d, items([makeAlert()]));
    // the Secret is updated, then the server's config: the server closes the connection made with the old password
    writeFileSync(join(dir, "pw"), "fwd-pass-2\n");
    srv.reconfigure(users(port, "fwd-pass-2"));
    // the reload is done once the old password is refused (the server closed the connections that used it)
    await waitFor(
      async () =>
        connect({ servers: srv.url, user: "fwd", pass: "fwd-pass-1", maxReconnectAttempts: 0 }).then(
          async (c) => {
            await c.close();
            return false;
          },
          () => true,
        ),
      10_000,
      "the server to reload",
    );
    const a = makeAlert();
    await waitFor(
      async () =>
        (await send(d, items([a])).then(
          () => true,
          () => false,
        )) && got.some((m) => m.headers?.get("Nats-Msg-Id") === a.id),
      15_000,
      "delivery with the rotated password",
    );
  });
});
