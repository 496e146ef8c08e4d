// SPDX-License-Identifier: Apache-2.0
/**
 * For the Slack, Teams and webhook tests: a real local HTTP(S) server that keeps every request
 * with its raw body bytes (signatures are checked over the exact bytes) and answers with what the
 * test says; and alerts with hostile strings in every field a chat message shows.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import pino from "pino";
import type { DeliveryItem } from "../../collector/forward/destination.js";
import type { Alert } from "../../proto/index.js";

export interface RawRequest {
  method: string;
  url: string;
  headers: IncomingMessage["headers"];
  raw: Buffer;
  /** The body parsed as JSON (undefined when it is not JSON). */
  json: unknown;
}

export interface RawAnswer {
  status: number;
  headers?: Record<string, string>;
  body?: string;
}

export interface RawRecorder {
  url: string;
  requests: RawRequest[];
  answer(h: (r: RawRequest) => RawAnswer): void;
  close(): Promise<void>;
}

/** A recorder on a free loopback port (HTTPS with `tls`). */
export async function startRawRecorder(tls?: { cert: string; key: string }): Promise<RawRecorder> {
  const requests: RawRequest[] = [];
  let h: (r: RawRequest) => RawAnswer = () => ({ status: 200, body: "ok" });
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const raw = Buffer.concat(chunks);
      let json: unknown;
      try {
        json = JSON.parse(raw.toString("utf8"));
      } catch {
        json = undefined;
      }
      const r: RawRequest = { method: req.method ?? "", url: req.url ?? "", headers: req.headers, raw, json };
      requests.push(r);
      const a = h(r);
      res.writeHead(a.status, a.headers ?? {});
      res.end(a.body ?? "");
    });
  };
  const server: Server = tls === undefined ? createHttpServer(onRequest) : createHttpsServer({ cert: tls.cert, key: tls.key }, onRequest);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `${tls === undefined ? "http" : "https"}://127.0.0.1:${port}`,
    requests,
    answer(fn) {
      h = fn;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export const quietLogger = () => pino({ level: "silent" });

/** A plausible Falco alert from a pod. */
export function makeAlert(over: Partial<Alert> = {}, fields: Alert["output_fields"] = {}): Alert {
  return {
    id: "0192a4c5-7e10-7abc-8def-0123456789ab",
    time: "2026-11-28T12:00:00.123456789Z",
    rule: "Terminal shell in container",
    priority: "Critical",
    source: "syscall",
    hostname: "ip-10-0-1-23.ec2.internal",
    output: "12:00:00.123456789: Critical A shell was spawned in a container (user=root shell=bash container=web-1)",
    output_fields: {
      "k8s.ns.name": "payments",
      "k8s.pod.name": "web-7d9f8-abcde",
      "container.id": "3f2a1b4c5d6e",
      "container.name": "web",
      "container.image.repository": "registry.example/web",
      "container.image.tag": "1.2.3",
      "proc.cmdline": "bash -i",
      ...fields,
    },
    tags: ["container", "shell", "T1059"],
    ...over,
  };
}

export function itemOf(alert: Alert, count = 1, seq = 1): DeliveryItem {
  return { seq, alert, count };
}

/** Strings an attacker controls, aimed at chat markup: mentions, links, code fences, HTML, controls, bidi. */
export const HOSTILE = {
  mention: "<!channel> <!here> <@U024BE7LH> @everyone",
  link: "<https://evil.example/login|Click to reset your password> [click](https://evil.example/x) <https://evil.example>",
  fence: "``` closed the block `inline` ```",
  emphasis: "*bold* _italic_ ~strike~ **bold** __bold__",
  html: "<script>alert(1)</script><img src=x onerror=alert(1)><b>html</b>&amp;&lt;",
  controls: "a\u0000b\u0007c\u001b[31mred\u001b[0m\u007f\u0085d\u2028e",
  bidi: "file\u202egnp.exe\u2066x\u2069\u200bz",
  newlines: "line one\nline two\r\nline three\n- list item\n1. numbered\n# heading",
  adaptive: "{{DATE(2017-02-14T06:08:39Z, SHORT)}}",
};

/** An alert with every hostile string in rule, output and the Kubernetes fields. */
export function hostileAlert(): Alert {
  const all = Object.values(HOSTILE).join(" | ");
  return makeAlert(
    { rule: `Rule ${HOSTILE.mention} ${HOSTILE.link} ${HOSTILE.emphasis}`, output: all, hostname: `node ${HOSTILE.mention}` },
    { "k8s.ns.name": `ns ${HOSTILE.link}`, "k8s.pod.name": `pod ${HOSTILE.fence}`, "container.name": `c ${HOSTILE.html}` },
  );
}
