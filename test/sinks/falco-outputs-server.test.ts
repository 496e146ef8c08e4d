// SPDX-License-Identifier: Apache-2.0
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { credentials, Metadata, status, type ClientDuplexStream, type ClientReadableStream } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { alertToFalcoResponse, startFalcoOutputsServer, type FalcoOutputsServer } from "../../agent/sinks/falco-outputs-server.js";
import { makeAlert, quiet, tempDir, waitFor } from "../collector/helpers.js";
import { falcoPackage } from "./falco-interop.helpers.js";
import { REPO_ROOT } from "../helpers/agent.js";

interface Resp {
  time: { seconds: number; nanos: number };
  priority: string;
  rule: string;
  output: string;
  output_fields: Record<string, string>;
  hostname: string;
  tags: string[];
  source: string;
  source_deprecated: string;
}

describe("Falco gRPC outputs server sink", () => {
  let srv: FalcoOutputsServer;
  let client: InstanceType<ReturnType<typeof falcoPackage>["outputs"]>;
  const sock = join(tempDir(), "falco.sock");
  beforeAll(async () => {
    srv = await startFalcoOutputsServer({ address: `unix://${sock}`, logger: quiet(), maxQueue: 5 });
    const { outputs } = falcoPackage();
    client = new outputs(`unix://${sock}`, credentials.createInsecure());
  });
  afterAll(async () => {
    client.close();
    await srv.shutdown();
  });

  it("pins Falco's field numbers on the wire", () => {
    const a = makeAlert({ rule: "R", source: "syscall", hostname: "h", output: "o", tags: ["t"], fields: { "proc.pid": 7 } });
    const b = alertToFalcoResponse(a);
    // tag bytes: (field << 3) | wiretype
    const has = (byte: number) => b.includes(Buffer.from([byte]));
    expect(b[0]).toBe((1 << 3) | 2); // time, first
    for (const [field, wt] of [
      [2, 0],
      [4, 2],
      [5, 2],
      [6, 2],
      [7, 2],
      [8, 2],
      [9, 2],
    ] as const)
      expect(has((field << 3) | wt), `field ${field}`).toBe(true);
    expect(b.includes(Buffer.concat([Buffer.from([(4 << 3) | 2, 1]), Buffer.from("R")]))).toBe(true);
    expect(b.includes(Buffer.concat([Buffer.from([(9 << 3) | 2, 7]), Buffer.from("syscall")]))).toBe(true);
  });

  it("get: streams the queued alerts (Falco's field values) and ends", async () => {
    const a = makeAlert({ time: "2026-11-28T12:00:01.123456789Z", priority: "Critical", fields: { "proc.pid": 42, "fd.name": null, "x.ok": true } });
    await srv.export([a]);
    const got: Resp[] = [];
    await new Promise<void>((resolve, reject) => {
      const s = (client as unknown as { get(r: object): ClientReadableStream<Resp> }).get({});
      s.on("data", (r: Resp) => got.push(r));
      s.on("end", resolve);
      s.on("error", reject);
    });
    expect(got).toHaveLength(1);
    const r = got[0]!;
    expect(r.time).toEqual({ seconds: Date.parse("2026-11-28T12:00:01Z") / 1000, nanos: 123456789 });
    expect(r.priority).toBe("CRITICAL");
    expect(r.rule).toBe(a.rule);
    expect(r.output).toBe(a.output);
    expect(r.output_fields).toMatchObject({ "proc.pid": "42", "fd.name": "null", "x.ok": "true", "proc.name": "cat" });
    expect(r.hostname).toBe("node-a");
    expect(r.tags).toEqual(a.tags);
    expect(r.source).toBe("syscall");
    expect(r.source_deprecated).toBe("SYSCALL");
  });

  it("sub: answers each request with the queue, then pushes new alerts live; consumers compete", async () => {
    const early = makeAlert({ rule: "early" });
    await srv.export([early]);
    const got1: string[] = [];
    const got2: string[] = [];
    const open = (into: string[]) => {
      const s = (client as unknown as { sub(): ClientDuplexStream<object, Resp> }).sub();
      s.on("data", (r: Resp) => into.push(r.rule));
      s.on("error", () => undefined);
      s.write({});
      return s;
    };
    const s1 = open(got1);
    await waitFor(() => got1.length === 1, 5000, "queued alert");
    expect(got1).toEqual(["early"]);
    const s2 = open(got2);
    await waitFor(() => srv.stats()["subscribers"] === 2, 5000, "two subscribers");
    await srv.export(Array.from({ length: 10 }, (_v, i) => makeAlert({ rule: `live-${i}` })));
    await waitFor(() => got1.length + got2.length === 11, 5000, "live alerts");
    // each alert once, across competing consumers (Falco's global queue)
    expect(new Set([...got1, ...got2]).size).toBe(11);
    expect(got2.length).toBeGreaterThan(0);
    s1.end();
    s2.end();
    await waitFor(() => srv.stats()["subscribers"] === 0, 5000, "unsubscribed");
  });

  it("bounds the queue without a consumer, dropping the oldest (counted)", async () => {
    await srv.export(Array.from({ length: 8 }, (_v, i) => makeAlert({ rule: `q-${i}` })));
    expect(srv.stats()["dropped_queue_full"]).toBe(3);
    const rules: string[] = [];
    await new Promise<void>((resolve, reject) => {
      const s = (client as unknown as { get(r: object): ClientReadableStream<Resp> }).get({});
      s.on("data", (r: Resp) => rules.push(r.rule));
      s.on("end", resolve);
      s.on("error", reject);
    });
    expect(rules).toEqual(["q-3", "q-4", "q-5", "q-6", "q-7"]);
  });

  it("answers falco.version.service/version", async () => {
    const { version } = falcoPackage();
    const v = new version(`unix://${sock}`, credentials.createInsecure());
    const r = await new Promise<Record<string, unknown>>((resolve, reject) =>
      (v as unknown as { version(q: object, cb: (e: Error | null, r: Record<string, unknown>) => void): void }).version({}, (e, r) =>
        e ? reject(e) : resolve(r),
      ),
    );
    expect(r).toMatchObject({ engine_version: "0.62.0", engine_minor: 62 });
    // the version is package.json's, not a constant of the server
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")) as { version: string };
    const [major, minor, patch] = pkg.version.split(/[.+-]/).map(Number);
    expect(r).toMatchObject({ version: `${pkg.version}+vigil`, major, minor, patch });
    v.close();
  });

  it("refuses unauthenticated and malformed requests when a token is set", async () => {
    const s2 = await startFalcoOutputsServer({ address: "127.0.0.1:0", token: "tok", logger: quiet() });
    const { outputs } = falcoPackage();
    const c = new outputs(s2.address, credentials.createInsecure());
    const code = (md: Metadata) =>
      new Promise<number>((resolve) => {
        const s = (c as unknown as { get(r: object, md: Metadata): ClientReadableStream<Resp> }).get({}, md);
        s.on("data", () => undefined);
        s.on("error", (e: { code: number }) => resolve(e.code));
        s.on("end", () => resolve(0));
      });
    expect(await code(new Metadata())).toBe(status.UNAUTHENTICATED);
    const good = new Metadata();
    good.set("authorization", "Bearer tok");
    expect(await code(good)).toBe(0);
    // a malformed request body through a raw client
    const raw = c as unknown as { makeServerStreamRequest: Function };
    const malformed = await new Promise<number>((resolve) => {
      const s = raw.makeServerStreamRequest(
        "/falco.outputs.service/get",
        (b: Buffer) => b,
        (b: Buffer) => b,
        Buffer.from([0xff, 0xff]),
        good,
        {},
      ) as ClientReadableStream<Buffer>;
      s.on("data", () => undefined);
      s.on("error", (e: { code: number }) => resolve(e.code));
      s.on("end", () => resolve(0));
    });
    expect(malformed).toBe(status.INVALID_ARGUMENT);
    expect(s2.stats()).toMatchObject({ refused_unauthenticated: 1, refused_malformed: 1 });
    c.close();
    await s2.shutdown();
  });
});
