// SPDX-License-Identifier: Apache-2.0
/**
 * `vigil inject ecs`: real task definitions (describe-task-definition output, firelens sidecar,
 * image without ENTRYPOINT) and hostile ones. The wrapped command is also run for real under the
 * built vigil-trace to show it still runs the same program with the same exit code.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { InjectError, effectiveArgv, parseImageConfig, patchTaskDefinition, type ImageProcess } from "../../agent/inject/index.js";
import { CLI, REPO_ROOT } from "../helpers/agent.js";

const FIX = join(REPO_ROOT, "test", "inject", "fixtures");
const webApp = JSON.parse(readFileSync(join(FIX, "web-app.json"), "utf8")) as unknown;
const webAppText = JSON.stringify(webApp);
const pythonImage = parseImageConfig(JSON.parse(readFileSync(join(FIX, "python-image.json"), "utf8")));
const IMAGE = "ghcr.io/vigil-security/vigil:0.1.0";
const dir = mkdtempSync(join(tmpdir(), "vigil-inject-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type C = Record<string, unknown> & { name: string; entryPoint?: string[]; command?: string[] };
function containers(td: Record<string, unknown>): C[] {
  return td["containerDefinitions"] as C[];
}
function byName(td: Record<string, unknown>, n: string): C {
  const c = containers(td).find((x) => x.name === n);
  if (!c) throw new Error(`no container ${n}`);
  return c;
}
function codeOf(f: () => unknown): string {
  try {
    f();
  } catch (err) {
    if (err instanceof InjectError) return err.code;
    throw err;
  }
  return "none";
}

describe("patching a real task definition", () => {
  const images: Record<string, ImageProcess> = { "public.ecr.aws/docker/library/python:3.12-slim": pythonImage };
  const r = patchTaskDefinition(webApp, { image: IMAGE, images });
  const td = r.taskDefinition;

  it("drops the read-only fields of describe-task-definition output", () => {
    for (const k of ["taskDefinitionArn", "revision", "status", "requiresAttributes", "compatibilities", "registeredAt", "registeredBy"])
      expect(td).not.toHaveProperty(k);
    expect(td["family"]).toBe("web-app");
    expect(td["requiresCompatibilities"]).toEqual(["FARGATE"]);
  });

  it("wraps the essential containers and leaves the non-essential log router", () => {
    expect(r.wrapped.sort()).toEqual(["web", "worker"]);
    expect(r.skipped).toEqual([{ name: "log_router", reason: "not essential" }]);
    const lr = byName(td, "log_router");
    expect(lr.entryPoint).toBeUndefined();
    expect(lr["dependsOn"]).toBeUndefined();
  });

  const PREFIX = ["/vigil/bin/vigil-trace", "--socket", "/vigil/trace.sock", "--"];
  const cases: [string, string[], string[] | undefined, ImageProcess | undefined][] = [
    // entryPoint + command: entryPoint is wrapped, command unchanged
    ["web", ["/usr/local/bin/docker-entrypoint.sh", "node", "server.js", "--port", "8080"], ["node", "server.js", "--port", "8080"], undefined],
    // command only: the image's (empty) ENTRYPOINT + the given command
    ["worker", ["python", "-m", "worker"], ["python", "-m", "worker"], pythonImage],
  ];
  it.each(cases)("%s runs the same argv after the tracer prefix", (name, argv, command, image) => {
    const c = byName(td, name);
    expect(c.entryPoint?.slice(0, 4)).toEqual(PREFIX);
    expect(c.command).toEqual(command);
    expect(effectiveArgv(c.entryPoint, c.command, image)).toEqual([...PREFIX, ...argv]);
  });

  it("adds SYS_PTRACE, the read-only volume mount and the start order", () => {
    for (const n of ["web", "worker"]) {
      const c = byName(td, n);
      const lp = c["linuxParameters"] as { capabilities: { add: string[] }; initProcessEnabled?: boolean };
      expect(lp.capabilities.add).toContain("SYS_PTRACE");
      expect(c["mountPoints"]).toContainEqual({ sourceVolume: "vigil", containerPath: "/vigil", readOnly: true });
      expect(c["dependsOn"]).toEqual([
        { containerName: "vigil-install", condition: "SUCCESS" },
        { containerName: "vigil-agent", condition: "START" },
      ]);
    }
    expect((byName(td, "web")["linuxParameters"] as { initProcessEnabled: boolean }).initProcessEnabled).toBe(true);
    expect(td["volumes"]).toEqual([{ name: "vigil" }]);
  });

  it("adds the installer and the agent sidecar, configured through VIGIL_* variables", () => {
    const inst = byName(td, "vigil-install");
    const agent = byName(td, "vigil-agent");
    expect(inst["essential"]).toBe(false);
    expect(inst["image"]).toBe(IMAGE);
    expect(inst.command).toEqual(["inject", "install-trace", "/vigil/bin/vigil-trace"]);
    expect(agent["essential"]).toBe(false);
    expect(agent["dependsOn"]).toEqual([{ containerName: "vigil-install", condition: "SUCCESS" }]);
    const env = Object.fromEntries((agent["environment"] as { name: string; value: string }[]).map((e) => [e.name, e.value]));
    expect(env["VIGIL_SOURCES_PTRACE_SOCKET"]).toBe("/vigil/trace.sock");
    expect(env["VIGIL_SOURCES_EBPF_ENABLED"]).toBe("false");
    // the sidecars log where the workload logs
    expect((agent["logConfiguration"] as { logDriver: string }).logDriver).toBe("awslogs");
  });

  it("is idempotent: a patched definition stays as it is", () => {
    const again = patchTaskDefinition(td, { image: IMAGE, images });
    expect(again.alreadyInjected).toBe(true);
    expect(again.taskDefinition).toEqual(td);
  });

  it("does not touch its input", () => {
    expect(JSON.stringify(webApp)).toBe(webAppText);
  });
});

describe("containers that cannot be wrapped without the image's ENTRYPOINT", () => {
  it("fail with IMAGE_CONFIG_NEEDED naming the container", () => {
    expect(() => patchTaskDefinition(webApp, { image: IMAGE })).toThrow(/"worker" sets no entrypoint/);
    expect(codeOf(() => patchTaskDefinition(webApp, { image: IMAGE }))).toBe("IMAGE_CONFIG_NEEDED");
  });
  it("are left alone with --skip-unwrappable", () => {
    const r = patchTaskDefinition(webApp, { image: IMAGE, skipUnwrappable: true });
    expect(r.wrapped).toEqual(["web"]);
    expect(r.skipped.map((s) => s.name).sort()).toEqual(["log_router", "worker"]);
  });
  it("use the image's ENTRYPOINT and CMD when neither is set", () => {
    const td = { family: "x", containerDefinitions: [{ name: "app", image: "img" }] };
    const r = patchTaskDefinition(td, { image: IMAGE, images: { img: { entrypoint: ["/init"], cmd: ["serve", "-v"] } } });
    const c = containers(r.taskDefinition)[2] as C;
    expect(c.entryPoint).toEqual(["/vigil/bin/vigil-trace", "--socket", "/vigil/trace.sock", "--", "/init"]);
    expect(c.command).toEqual(["serve", "-v"]);
  });
});

const hostile: [string, unknown, string][] = [
  ["not an object", [1, 2, 3], "INVALID_TASKDEF"],
  ["null", null, "INVALID_TASKDEF"],
  ["no containers", { family: "x" }, "INVALID_TASKDEF"],
  ["empty containers", { containerDefinitions: [] }, "INVALID_TASKDEF"],
  ["container not an object", { containerDefinitions: ["web"] }, "INVALID_TASKDEF"],
  ["container without image", { containerDefinitions: [{ name: "a" }] }, "INVALID_TASKDEF"],
  [
    "duplicate names",
    {
      containerDefinitions: [
        { name: "a", image: "i", entryPoint: ["x"] },
        { name: "a", image: "i" },
      ],
    },
    "INVALID_TASKDEF",
  ],
  ["entryPoint with a number", { containerDefinitions: [{ name: "a", image: "i", entryPoint: ["x", 1] }] }, "INVALID_TASKDEF"],
  ["entryPoint as a string", { containerDefinitions: [{ name: "a", image: "i", entryPoint: "sh -c x" }] }, "INVALID_TASKDEF"],
  ["thousands of containers", { containerDefinitions: Array.from({ length: 5000 }, (_, i) => ({ name: `c${i}`, image: "i" })) }, "TOO_LARGE"],
  ["huge argv", { containerDefinitions: [{ name: "a", image: "i", entryPoint: Array(100_000).fill("x") }] }, "INVALID_TASKDEF"],
  [
    "Windows task",
    { runtimePlatform: { operatingSystemFamily: "WINDOWS_SERVER_2022_CORE" }, containerDefinitions: [{ name: "a", image: "i", entryPoint: ["x"] }] },
    "UNSUPPORTED",
  ],
  ["name clash with the installer", { containerDefinitions: [{ name: "vigil-install", image: "i", entryPoint: ["x"] }] }, "INVALID_TASKDEF"],
  ["only non-essential containers", { containerDefinitions: [{ name: "a", image: "i", essential: false }] }, "UNSUPPORTED"],
  ["volume name clash", { volumes: [{ name: "vigil" }], containerDefinitions: [{ name: "a", image: "i", entryPoint: ["x"] }] }, "INVALID_TASKDEF"],
];

describe("hostile and malformed task definitions", () => {
  it.each(hostile)("%s → %s", (_n, input, code) => {
    expect(codeOf(() => patchTaskDefinition(input, { image: IMAGE }))).toBe(code);
  });

  it("__proto__ keys stay data and pollute nothing", () => {
    const text = '{"containerDefinitions":[{"name":"a","image":"i","entryPoint":["x"],"__proto__":{"polluted":1}}],"__proto__":{"evil":true}}';
    const r = patchTaskDefinition(JSON.parse(text), { image: IMAGE });
    expect(({} as Record<string, unknown>)["polluted"]).toBeUndefined();
    expect(({} as Record<string, unknown>)["evil"]).toBeUndefined();
    expect(r.wrapped).toEqual(["a"]);
  });
});

describe("vigil inject ecs (CLI)", () => {
  const cfg = join(dir, "python.json");
  writeFileSync(cfg, readFileSync(join(FIX, "python-image.json")));
  const run = (args: string[]) => spawnSync(process.execPath, [CLI, "inject", "ecs", ...args], { encoding: "utf8" });

  it("writes the patched definition", () => {
    const out = join(dir, "out.json");
    const r = run([join(FIX, "web-app.json"), "--image-config", `public.ecr.aws/docker/library/python:3.12-slim=${cfg}`, "-o", out]);
    expect(r.stderr).toContain('"log_router" not instrumented: not essential');
    expect(r.status).toBe(0);
    const td = JSON.parse(readFileSync(out, "utf8")) as Record<string, unknown>;
    expect(containers(td).map((c) => c.name)).toEqual(["vigil-install", "vigil-agent", "web", "worker", "log_router"]);
  });

  it.each([
    [["/nonexistent.json"], /cannot read \/nonexistent.json: ENOENT/],
    [[join(FIX, "pod-review.json")], /containerDefinitions must be a non-empty list/],
    [[join(FIX, "web-app.json")], /"worker" sets no entrypoint/],
  ])("fails with one clear line: %j", (args, re) => {
    const r = run(args as string[]);
    expect(r.status).not.toBe(0);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(re);
  });

  it("makes the tracer stop only on the syscalls the agent's rules need", () => {
    const rules = join(dir, "only-open.yaml");
    writeFileSync(
      rules,
      "- rule: Test only open\n  desc: test\n  condition: evt.type = openat and fd.name = /tmp/x\n  output: opened %fd.name\n  priority: WARNING\n",
    );
    const out = join(dir, "out-rules.json");
    const r = run([join(FIX, "web-app.json"), "--skip-unwrappable", "--rules", rules, "-o", out]);
    expect(r.status, r.stderr).toBe(0);
    const web = byName(JSON.parse(readFileSync(out, "utf8")) as Record<string, unknown>, "web");
    const env = (web["environment"] as { name: string; value: string }[]).find((e) => e.name === "VIGIL_TRACE_SYSCALLS");
    // the rule's event type plus what the process table always needs
    expect(env?.value.split(",").sort()).toEqual(["clone", "clone3", "execve", "execveat", "fork", "openat", "procexit", "vfork"]);
    // built-in rules by default: a broader set, still without syscalls no rule reads
    const def = run([join(FIX, "web-app.json"), "--skip-unwrappable", "-o", out]);
    expect(def.status, def.stderr).toBe(0);
    const all =
      (byName(JSON.parse(readFileSync(out, "utf8")) as Record<string, unknown>, "web")["environment"] as { name: string; value: string }[])
        .find((e) => e.name === "VIGIL_TRACE_SYSCALLS")
        ?.value.split(",") ?? [];
    expect(all).toContain("openat");
    expect(all).toContain("execve");
  });

  it("refuses a rules file it cannot read, with one line", () => {
    const r = run([join(FIX, "web-app.json"), "--skip-unwrappable", "--rules", join(dir, "no-such-rules.yaml")]);
    expect(r.status).not.toBe(0);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
  });

  it("rejects a file that is not JSON", () => {
    const bad = join(dir, "bad.json");
    writeFileSync(bad, "{ containerDefinitions: [");
    const r = run([bad]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/is not valid JSON/);
  });
});

describe("the wrapped command really runs the same program under vigil-trace", () => {
  const trace = join(REPO_ROOT, "native-bridge", "build", "vigil-trace");
  it("exit code and output are the workload's", () => {
    const td = { containerDefinitions: [{ name: "a", image: "i", entryPoint: ["sh", "-c"], command: ['echo "$0 $1"; exit 4', "hello", "world"] }] };
    const c = containers(patchTaskDefinition(td, { image: IMAGE }).taskDefinition)[2] as C;
    const argv = [...(c.entryPoint ?? []), ...(c.command ?? [])];
    argv[0] = trace; // the binary's place in the shared volume, here the build output
    argv[2] = join(dir, "absent.sock");
    const r = spawnSync(argv[0] as string, argv.slice(1), { encoding: "utf8" });
    expect(r.stdout).toBe("hello world\n");
    expect(r.status).toBe(4);
  });
});
