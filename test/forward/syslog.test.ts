// SPDX-License-Identifier: Apache-2.0
/**
 * The syslog destination against a real rsyslog (Debian's rsyslogd, started in a temp dir with its
 * own config by test/helpers/rsyslog.ts): imudp and imtcp on free loopback ports, imtcp with TLS through the ossl
 * stream driver (one input that requires a client certificate, one that does not), every message
 * parsed as RFC 5424 by rsyslog and its structured data by mmpstrucdata, written as one JSON line
 * per message, which the tests read back. RFCs: https://www.rfc-editor.org/rfc/rfc5424,
 * https://www.rfc-editor.org/rfc/rfc5426, https://www.rfc-editor.org/rfc/rfc6587#section-3.4.1,
 * https://www.rfc-editor.org/rfc/rfc5425; rsyslog: https://www.rsyslog.com/doc/configuration/modules/imtcp.html,
 * https://www.rsyslog.com/doc/configuration/modules/mmpstrucdata.html.
 */
import { createSocket } from "node:dgram";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { DeliveryError, type DeliveryItem, type Destination } from "../../collector/forward/destination.js";
import { createSyslogDestination, formatSyslog, parseSyslogAddress, SYSLOG_MAX_BYTES, SYSLOG_SD_ID, syslogMsgId } from "../../collector/forward/syslog.js";
import { forwarderSchema, type ForwarderOf } from "../../proto/forwarders.js";
import { PRIORITY_NAMES, type Alert } from "../../proto/index.js";
import { makeAlert, quiet, tempDir, waitFor } from "../collector/helpers.js";
import { makeTestTls } from "../helpers/image-pods.js";
import { freePort } from "../helpers/nats.js";
import { type Received, RSYSLOGD, Rsyslog, TLS_DRIVER } from "../helpers/rsyslog.js";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function syslogCfg(over: Record<string, unknown>): ForwarderOf<"syslog"> {
  return forwarderSchema.parse({ name: "siem-syslog", type: "syslog", timeout_ms: 3000, ...over }) as ForwarderOf<"syslog">;
}

function destination(over: Record<string, unknown>): Destination {
  const d = createSyslogDestination(syslogCfg(over), { logger: quiet() });
  cleanups.push(() => d.close?.());
  return d;
}

const items = (alerts: Alert[], count = 1): DeliveryItem[] => alerts.map((alert, i) => ({ seq: i + 1, alert, count }));
const send = (d: Destination, its: DeliveryItem[]) => d.send(its, new AbortController().signal);

async function rejection(p: Promise<unknown>): Promise<DeliveryError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DeliveryError);
  return err as DeliveryError;
}

/** An alert whose strings try everything: quotes, backslashes, `]`, newlines, control characters, a fake syslog header. */
function hostileAlert(): Alert {
  return makeAlert({
    rule: 'Evil "rule"] \\ with\nnewline',
    priority: "Critical",
    hostname: "node-1",
    output: "line one\n<13>1 2026-01-01T00:00:00Z fake - - - - injected\r\tcontrol:\u0000\u0007\u001b[31m\u007f\u0085 end",
    fields: {
      "k8s.ns.name": 'ns"]\\',
      "k8s.pod.name": "pod\nnext",
      "container.id": "abc123",
      "container.name": "web",
      "container.image": "nginx:1.25",
    },
    tags: ["mitre_execution", "T1059"],
  });
}

describe("RFC 5424 formatting", () => {
  const f = { facility: 4, appName: "vigil", maxBytes: SYSLOG_MAX_BYTES.tcp };

  it("PRI = facility × 8 + the priority as syslog severity (Emergency 0 … Debug 7)", () => {
    PRIORITY_NAMES.forEach((p, sev) => {
      for (const facility of [0, 4, 16, 23]) {
        const m = formatSyslog({ seq: 1, count: 1, alert: makeAlert({ priority: p }) }, { ...f, facility }).toString();
        expect(m.startsWith(`<${facility * 8 + sev}>1 `)).toBe(true);
      }
    });
  });

  it("header: microsecond UTC timestamp, node, app name, nil PROCID, rule token, then the structured data", () => {
    const a = makeAlert({ time: "2026-03-04T05:06:07.123456789Z", hostname: "node-7", rule: "Terminal shell in container" });
    const m = formatSyslog({ seq: 1, count: 3, alert: a }, f).toString();
    expect(m.startsWith(`<36>1 2026-03-04T05:06:07.123456Z node-7 vigil - Terminal_shell_in_container [${SYSLOG_SD_ID} id="${a.id}" `)).toBe(true);
    expect(m).toContain(' count="3"');
    expect(m.endsWith(`] ${a.output}`)).toBe(true);
  });

  it.each([
    ["Terminal shell in container", "Terminal_shell_in_container"],
    ["  --weird  rule--  ", "--weird_rule--"],
    ["Écriture sous /etc", "criture_sous_etc"],
    ["日本語", "-"],
    ["a".repeat(100), "a".repeat(32)],
    ["x".repeat(31) + " y", "x".repeat(31)],
  ])("MSGID of %j is %j", (rule, id) => {
    expect(syslogMsgId(rule)).toBe(id);
  });

  it('escapes ", \\ and ] in structured data values and drops control characters everywhere', () => {
    const a = hostileAlert();
    const m = formatSyslog({ seq: 1, count: 1, alert: a }, f).toString();
    expect(m).toContain(' rule="Evil \\"rule\\"\\] \\\\ with newline"');
    expect(m).toContain(' namespace="ns\\"\\]\\\\"');
    expect(m).toContain(' pod="pod next"');
    expect(m).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
    expect(m).toContain("line one <13>1 2026-01-01T00:00:00Z fake - - - - injected  control:[31m end");
  });

  it("starts a non-ASCII MSG with a BOM (RFC 5424 §6.4), an ASCII one without", () => {
    const u = formatSyslog({ seq: 1, count: 1, alert: makeAlert({ output: "écrit dans /etc" }) }, f);
    const i = u.indexOf("] ") + 2;
    expect([...u.subarray(i, i + 3)]).toEqual([0xef, 0xbb, 0xbf]);
    expect(u.subarray(i + 3).toString()).toBe("écrit dans /etc");
    const ascii = formatSyslog({ seq: 1, count: 1, alert: makeAlert({ output: "plain" }) }, f);
    expect(ascii.toString().endsWith("] plain")).toBe(true);
  });

  it.each([SYSLOG_MAX_BYTES.udp, SYSLOG_MAX_BYTES.tcp])("cuts a 1 MiB alert to %i bytes and says so", (maxBytes) => {
    const big = "é".repeat(512 * 1024) + "x".repeat(4000);
    const a = makeAlert({
      rule: "R".repeat(1024),
      output: big,
      fields: { "k8s.ns.name": "n".repeat(16_000), "k8s.pod.name": "p".repeat(16_000), "container.image": "i".repeat(16_000) },
      tags: Array.from({ length: 100 }, (_, i) => `tag-${i}-${"t".repeat(200)}`),
    });
    const m = formatSyslog({ seq: 1, count: 1, alert: a }, { ...f, maxBytes });
    expect(m.length).toBeLessThanOrEqual(maxBytes);
    const s = m.toString("utf8");
    expect(s).not.toContain("\ufffd");
    expect(s).toMatch(/ truncated="\d+"\]/);
    expect(s).toContain(`id="${a.id}"`);
    expect(s.endsWith(" [truncated]")).toBe(true);
    expect(Number(/ truncated="(\d+)"/.exec(s)?.[1])).toBeGreaterThan(1024 * 1024);
  });

  it.each([
    ["syslog.example:514", { host: "syslog.example", port: 514 }],
    ["10.0.0.1:6514", { host: "10.0.0.1", port: 6514 }],
    ["[::1]:514", { host: "::1", port: 514 }],
  ])("address %s", (addr, want) => {
    expect(parseSyslogAddress(addr)).toEqual(want);
  });

  it.each(["syslog.example", "host:0", "host:70000", "::1:514", "host :514", "tcp://host:514"])("address %s is refused", (addr) => {
    expect(() => parseSyslogAddress(addr)).toThrow(/expected HOST:PORT/);
  });

  it("refuses a TLS client certificate without its key and unreadable TLS files, naming the setting", () => {
    expect(() => destination({ address: "127.0.0.1:6514", protocol: "tls", tls: { cert_file: "/x.crt" } })).toThrow(/cert_file and tls.key_file/);
    expect(() => destination({ address: "127.0.0.1:6514", protocol: "tls", tls: { ca_file: "/nonexistent/ca.crt" } })).toThrow(
      "tls.ca_file /nonexistent/ca.crt: ENOENT",
    );
  });

  it("maxBatch is 100, capped by batch_size", () => {
    expect(destination({ address: "127.0.0.1:514" }).maxBatch).toBe(100);
    expect(destination({ address: "127.0.0.1:514", batch_size: 7 }).maxBatch).toBe(7);
  });
});

describe.skipIf(RSYSLOGD === undefined)("against a real rsyslog", () => {
  let rs: Rsyslog;
  let dir: string;
  let otherCa: string;

  beforeAll(async () => {
    dir = tempDir("vigil-rsyslog-");
    const tls = makeTestTls(join(dir, "pki"), ["localhost"]);
    writeFileSync(join(dir, "ca.crt"), tls["ca.crt"]);
    writeFileSync(join(dir, "tls.crt"), tls["tls.crt"]);
    writeFileSync(join(dir, "tls.key"), tls["tls.key"], { mode: 0o600 });
    otherCa = join(dir, "other-ca.crt");
    writeFileSync(otherCa, makeTestTls(join(dir, "other-pki"), ["localhost"])["ca.crt"]);
    const [udp, tcp, tlsPort, tlsAnon] = [await freePort(), await freePort(), await freePort(), await freePort()];
    rs = new Rsyslog(dir, { udp: udp ?? 0, tcp: tcp ?? 0, tls: tlsPort ?? 0, tlsAnon: tlsAnon ?? 0 });
    await rs.start();
  });

  afterAll(async () => {
    await rs?.stop();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  afterEach(() => rs.mark());

  /** Checks everything rsyslog parsed out of one message against the alert. */
  function expectParsed(r: Received, a: Alert, o: { facility: number; app: string; count?: number }) {
    const sev = PRIORITY_NAMES.indexOf(a.priority);
    expect(r.pri).toBe(String(o.facility * 8 + sev));
    expect(r.facility).toBe(String(o.facility));
    expect(r.severity).toBe(String(sev));
    expect(r.version).toBe("1");
    expect(r.timestamp).toBe(`${a.time.slice(0, 26)}Z`);
    expect(r.hostname).toBe(a.hostname);
    expect(r.app).toBe(o.app);
    expect(r.procid).toBe("-");
    expect(r.msgid).toBe(syslogMsgId(a.rule));
    const sd = r.parsed["rfc5424-sd"]?.[SYSLOG_SD_ID];
    expect(sd?.["id"]).toBe(a.id);
    expect(sd?.["priority"]).toBe(a.priority);
    expect(sd?.["source"]).toBe(a.source);
    expect(sd?.["count"]).toBe(String(o.count ?? 1));
    return sd ?? {};
  }

  it("UDP: one datagram per alert, every header field and the structured data parsed by rsyslog", async () => {
    const d = destination({ address: `127.0.0.1:${rs.ports.udp}`, protocol: "udp", facility: 16, app_name: "vigil-test" });
    const plain = makeAlert({ priority: "Notice", rule: "Read sensitive file" });
    const hostile = hostileAlert();
    await send(d, [...items([plain]), { seq: 2, alert: hostile, count: 5 }]);
    const got = await rs.waitReceived(2);
    expect(got).toHaveLength(2);
    const byId = (id: string) => got.find((r) => r.parsed["rfc5424-sd"]?.[SYSLOG_SD_ID]?.["id"] === id);
    const r1 = byId(plain.id);
    const r2 = byId(hostile.id);
    if (r1 === undefined || r2 === undefined) throw new Error(`missing messages: ${JSON.stringify(got)}`);
    expect(r1.input).toBe("udp");
    const sd1 = expectParsed(r1, plain, { facility: 16, app: "vigil-test" });
    expect(sd1).toMatchObject({ rule: "Read sensitive file", namespace: "default", pod: "web-1", container_id: "abcdef123456", container_name: "web" });
    expect(r1.msg).toBe(plain.output);
    // the hostile one: rsyslog unescapes exactly the original values (control characters gone)
    const sd2 = expectParsed(r2, hostile, { facility: 16, app: "vigil-test", count: 5 });
    expect(sd2).toMatchObject({ rule: 'Evil "rule"] \\ with newline', namespace: 'ns"]\\', pod: "pod next", tags: "mitre_execution,T1059" });
    expect(r2.msg).toBe("line one <13>1 2026-01-01T00:00:00Z fake - - - - injected  control:[31m end");
  });

  it("UDP: a 1 MiB alert arrives as one datagram of at most 2048 bytes that says it was cut", async () => {
    const d = destination({ address: `127.0.0.1:${rs.ports.udp}`, protocol: "udp" });
    const a = makeAlert({ output: `${"A".repeat(64 * 1024 - 10)}END`, fields: { "k8s.pod.name": "p".repeat(16_000), "k8s.ns.name": "n".repeat(16_000) } });
    await send(d, items([a]));
    const [r] = await rs.waitReceived(1);
    if (r === undefined) throw new Error("nothing received");
    expect(Buffer.byteLength(r.raw)).toBeLessThanOrEqual(SYSLOG_MAX_BYTES.udp);
    const sd = expectParsed(r, a, { facility: 4, app: "vigil" });
    expect(Number(sd["truncated"])).toBeGreaterThan(64 * 1024);
    expect(r.msg.endsWith("[truncated]")).toBe(true);
  });

  it("UDP: a port nobody listens on is reported (ICMP port unreachable) as a retryable error", async () => {
    const port = await freePort();
    const d = destination({ address: `127.0.0.1:${port}`, protocol: "udp" });
    // the first datagram goes out; the ICMP answer fails the next send on the connected socket
    const err = await rejection(
      (async () => {
        for (let i = 0; i < 20; i++) {
          await send(d, items([makeAlert()]));
          await new Promise((r) => setTimeout(r, 20));
        }
      })(),
    );
    expect(err.permanent).toBe(false);
    expect(err.message).toMatch(/ECONNREFUSED/);
  });

  it("TCP: octet-counted frames, a batch of 300 arrives in order, 8 KiB messages intact within rsyslog's default limit", async () => {
    const d = destination({ address: `127.0.0.1:${rs.ports.tcp}`, protocol: "tcp" });
    const alerts = Array.from({ length: 300 }, (_, i) => makeAlert({ rule: `Rule ${i}`, output: `alert ${i}\nwith a newline that must not split it` }));
    const big = makeAlert({ output: `${"B".repeat(64 * 1024 - 10)}END` });
    for (let i = 0; i < alerts.length; i += d.maxBatch) await send(d, items(alerts.slice(i, i + d.maxBatch)));
    await send(d, [...items([big]), { seq: 2, alert: hostileAlert(), count: 2 }]);
    const got = await rs.waitReceived(302);
    expect(got).toHaveLength(302);
    got.slice(0, 300).forEach((r, i) => {
      expect(r.input).toBe("tcp");
      expect(r.msgid).toBe(`Rule_${i}`);
      expect(r.msg).toBe(`alert ${i} with a newline that must not split it`);
    });
    const r = got[300];
    if (r === undefined) throw new Error("big message missing");
    expect(Buffer.byteLength(r.raw)).toBeGreaterThan(SYSLOG_MAX_BYTES.tcp - 200);
    expect(Buffer.byteLength(r.raw)).toBeLessThanOrEqual(SYSLOG_MAX_BYTES.tcp);
    expect(r.parsed["rfc5424-sd"]?.[SYSLOG_SD_ID]?.["id"]).toBe(big.id);
    expect(r.msg.endsWith("[truncated]")).toBe(true);
    expect(got[301]?.parsed["rfc5424-sd"]?.[SYSLOG_SD_ID]?.["rule"]).toBe('Evil "rule"] \\ with newline');
  });

  it("TCP: rsyslog down → retryable error; restarted → the destination reconnects and delivers", async () => {
    const d = destination({ address: `127.0.0.1:${rs.ports.tcp}`, protocol: "tcp" });
    const a1 = makeAlert();
    await send(d, items([a1]));
    await rs.waitReceived(1);
    await rs.stop();
    // the server's FIN is seen; the next send opens a new connection, which is refused
    await new Promise((r) => setTimeout(r, 100));
    const err = await rejection(send(d, items([makeAlert()])));
    expect(err.permanent).toBe(false);
    expect(err.message).toMatch(/ECONNREFUSED/);
    await rs.start();
    const a2 = makeAlert();
    await send(d, items([a2]));
    const got = await rs.waitReceived(2);
    expect(got.map((r) => r.parsed["rfc5424-sd"]?.[SYSLOG_SD_ID]?.["id"])).toEqual([a1.id, a2.id]);
  });

  describe.skipIf(TLS_DRIVER === undefined)(`TLS (rsyslog's ${TLS_DRIVER} stream driver)`, () => {
    it("verified against tls.ca_file, with a client certificate rsyslog requires", async () => {
      const d = destination({
        address: `localhost:${rs.ports.tls}`,
        protocol: "tls",
        tls: { ca_file: join(dir, "ca.crt"), cert_file: join(dir, "tls.crt"), key_file: join(dir, "tls.key") },
      });
      const alerts = [makeAlert({ priority: "Emergency" }), hostileAlert(), makeAlert({ priority: "Debug" })];
      await send(d, items(alerts));
      const got = await rs.waitReceived(3);
      got.forEach((r, i) => {
        expect(r.input).toBe("tls-x509/certvalid");
        const a = alerts[i];
        if (a !== undefined) expectParsed(r, a, { facility: 4, app: "vigil" });
      });
    });

    it("without the client certificate rsyslog requires, nothing gets in (so the test above used it)", async () => {
      const d = destination({ address: `localhost:${rs.ports.tls}`, protocol: "tls", tls: { ca_file: join(dir, "ca.crt") } });
      // TLS 1.3: the client's handshake ends before the server checks for a certificate, so the send may look fine
      await send(d, items([makeAlert()])).catch(() => undefined);
      await new Promise((r) => setTimeout(r, 500));
      expect(rs.received()).toHaveLength(0);
    });

    it("without a client certificate when the server does not ask for one", async () => {
      const d = destination({ address: `127.0.0.1:${rs.ports.tlsAnon}`, protocol: "tls", tls: { ca_file: join(dir, "ca.crt") } });
      const a = makeAlert();
      await send(d, items([a]));
      const [r] = await rs.waitReceived(1);
      expect(r?.input).toBe("tls-anon");
      expect(r?.parsed["rfc5424-sd"]?.[SYSLOG_SD_ID]?.["id"]).toBe(a.id);
    });

    it("a server certificate from another CA is refused (retryable) and nothing is sent", async () => {
      const d = destination({ address: `127.0.0.1:${rs.ports.tlsAnon}`, protocol: "tls", tls: { ca_file: otherCa } });
      const err = await rejection(send(d, items([makeAlert()])));
      expect(err.permanent).toBe(false);
      expect(err.message).toMatch(/certificate/i);
      await new Promise((r) => setTimeout(r, 300));
      expect(rs.received()).toHaveLength(0);
    });
  });
});

describe("UDP on IPv6 loopback", () => {
  it("sends to [::1]", async () => {
    const s = createSocket("udp6");
    const got: Buffer[] = [];
    s.on("message", (m) => got.push(m));
    const ok = await new Promise<boolean>((resolve) => {
      s.once("error", () => resolve(false));
      s.bind(0, "::1", () => resolve(true));
    });
    if (!ok) return; // no IPv6 here
    cleanups.push(() => s.close());
    const d = destination({ address: `[::1]:${s.address().port}`, protocol: "udp" });
    const a = makeAlert();
    await send(d, items([a]));
    await waitFor(() => got.length === 1);
    expect(got[0]?.toString()).toContain(`id="${a.id}"`);
  });
});
