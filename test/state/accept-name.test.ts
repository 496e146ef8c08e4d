// SPDX-License-Identifier: Apache-2.0
/**
 * Real kernel, real probe: an accepted TCP socket is named `client->server` as in Falco (sinsp
 * names the fd at accept and keeps that name), on the accept event and on every later event on
 * that fd (send, close), where the probe describes the socket as local → remote (server → client).
 */
import { spawn } from "node:child_process";
import { createConnection, createServer } from "node:net";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KernelEventStream } from "../../agent/sources/ebpf-source.js";
import { resolveField } from "../../rules/compile/fields.js";
import { EVENTS } from "../../rules/event-table.js";
import type { SyscallEvent } from "../../rules/event.js";
import { until } from "../helpers/containers.js";

const skip = process.getuid?.() !== 0;
const FIELDS = ["fd.name", "fd.is_server", "fd.sport", "fd.cport", "fd.lport", "fd.rport", "fd.num"];
const getters = FIELDS.map((f) => resolveField(f, undefined).get);

interface Seen {
  pid: number;
  type: string;
  values: Record<string, unknown>;
}

describe.skipIf(skip)("accepted socket names (real probe)", () => {
  let stream: KernelEventStream;
  const seen: Seen[] = [];

  beforeAll(async () => {
    stream = new KernelEventStream({
      syscalls: ["execve", "clone", "clone3", "fork", "vfork", "procexit", "accept", "accept4", "sendto", "close", "connect"],
      logger: pino({ level: "silent" }),
      onEvent: (e: SyscallEvent) => {
        if (e.fd === undefined || (e.fd.type !== "ipv4" && e.fd.type !== "ipv6")) return;
        const values: Record<string, unknown> = {};
        for (let i = 0; i < FIELDS.length; i++) values[FIELDS[i]!] = getters[i]!(e);
        seen.push({ pid: e.proc.pid, type: EVENTS[e.type]!.name, values });
      },
    });
    await stream.start();
  }, 120_000);

  afterAll(async () => {
    await stream?.stop();
  });

  it("accept, then send and close on the accepted fd: client->server every time", async () => {
    // the server is a child process (the stream ignores the agent's own pid)
    const py = [
      "import socket,sys",
      "s=socket.socket(); s.bind(('127.0.0.1',0)); s.listen(1)",
      "print(s.getsockname()[1], flush=True)",
      "c,_=s.accept(); c.send(b'hello'); c.close()",
    ].join("\n");
    const child = spawn("python3", ["-c", py], { stdio: ["ignore", "pipe", "ignore"] });
    const port = await new Promise<number>((res) => child.stdout.once("data", (d: Buffer) => res(Number(d.toString().trim()))));
    const client = createConnection({ host: "127.0.0.1", port });
    const cport = await new Promise<number>((res) => client.on("connect", () => res(client.localPort!)));
    client.on("data", () => undefined);
    await new Promise((r) => child.on("close", r));
    client.destroy();
    const want = `127.0.0.1:${cport}->127.0.0.1:${port}`;
    const mine = () => seen.filter((s) => s.pid === child.pid);
    expect(await until(() => mine().some((s) => s.type === "close"), 5000)).toBe(true);
    const acc = mine().find((s) => s.type === "accept" || s.type === "accept4")!;
    expect(acc.values).toMatchObject({ "fd.name": want, "fd.is_server": true, "fd.sport": port, "fd.cport": cport, "fd.lport": port, "fd.rport": cport });
    const fdnum = acc.values["fd.num"];
    const later = mine().filter((s) => s.values["fd.num"] === fdnum && (s.type === "sendto" || s.type === "close"));
    expect(later.map((s) => s.type)).toEqual(expect.arrayContaining(["sendto", "close"]));
    for (const s of later) expect(s.values).toMatchObject({ "fd.name": want, "fd.is_server": true, "fd.lport": port, "fd.rport": cport });
  }, 60_000);

  it("the connecting side is named client->server too (local->remote)", async () => {
    const server = createServer((s) => s.resume());
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as { port: number }).port;
    const py = `import socket\nc=socket.create_connection(('127.0.0.1',${port}))\nprint(c.getsockname()[1], flush=True)\nc.send(b'x'); c.close()`;
    const child = spawn("python3", ["-c", py], { stdio: ["ignore", "pipe", "ignore"] });
    const cport = await new Promise<number>((res) => child.stdout.once("data", (d: Buffer) => res(Number(d.toString().trim()))));
    await new Promise((r) => child.on("close", r));
    server.close();
    const mine = () => seen.filter((s) => s.pid === child.pid);
    expect(await until(() => mine().some((s) => s.type === "connect"), 5000)).toBe(true);
    const c = mine().find((s) => s.type === "connect")!;
    expect(c.values).toMatchObject({ "fd.name": `127.0.0.1:${cport}->127.0.0.1:${port}`, "fd.lport": cport, "fd.rport": port });
  }, 60_000);
});
