// SPDX-License-Identifier: Apache-2.0
/**
 * `vigil inject ecs TASKDEF.json`: writes the task definition with Vigil's Fargate
 * instrumentation (agent sidecar, vigil-trace around each essential container).
 * `vigil inject install-trace DEST`: copies the packaged vigil-trace to DEST (what the
 * `vigil-install` container runs to fill the shared volume).
 */
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { type Command, InvalidArgumentError } from "commander";
import { InjectError, parseImageConfig, patchTaskDefinition, type ImageProcess } from "../inject/index.js";
import { pino } from "pino";
import { RuleEngine } from "../engine/rule-engine.js";
import { packagePath } from "../paths.js";
import { syscallsFor } from "../pipeline.js";
import { DEFAULT_IMAGE } from "../version.js";

const MAX_INPUT = 8 * 1024 * 1024;

/** Reads a JSON file with a size limit; one-line errors. */
export function readJsonFile(file: string): unknown {
  let size: number;
  try {
    size = statSync(file).size;
  } catch (err) {
    throw new InjectError("INVALID_JSON", `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? "error"}`);
  }
  if (size > MAX_INPUT) throw new InjectError("TOO_LARGE", `${file} is larger than ${MAX_INPUT} bytes`);
  try {
    return JSON.parse(readFileSync(file, "utf8"));
  } catch (err) {
    throw new InjectError("INVALID_JSON", `${file} is not valid JSON: ${(err as Error).message.split("\n")[0]}`);
  }
}

function collectImage(v: string, prev: Record<string, ImageProcess>): Record<string, ImageProcess> {
  const eq = v.indexOf("=");
  if (eq <= 0) throw new InvalidArgumentError("expected IMAGE_OR_CONTAINER=FILE.json");
  return { ...prev, [v.slice(0, eq)]: parseImageConfig(readJsonFile(v.slice(eq + 1))) };
}

/** The vigil-trace shipped with this package. */
export function packagedTracer(): string {
  return packagePath("native-bridge", "build", "vigil-trace");
}

/**
 * The syscalls the tracer must report for a rule set (the built-in rules when `files` is empty):
 * what the rules' event types need plus what the process table needs, so every other syscall runs
 * without a stop. Throws with the first rule error when the set does not load.
 */
export function tracerSyscalls(files: readonly string[]): string {
  const engine = new RuleEngine({ files, logger: pino({ level: "silent" }) });
  return syscallsFor(engine.load()).join(",");
}

function collect(v: string, prev: string[]): string[] {
  return [...prev, v];
}

interface EcsOpts {
  rules: string[];
  image: string;
  imageConfig: Record<string, ImageProcess>;
  output?: string;
  syscalls?: string;
  agentEssential?: boolean;
  skipUnwrappable?: boolean;
  collector?: string;
  collectorTokenSecret?: string;
}

/** Adds `vigil inject`. */
export function registerInject(program: Command): void {
  const inject = program.command("inject").description("instrument workloads where eBPF is not allowed (AWS Fargate)");
  inject
    .command("ecs")
    .description("write an ECS task definition whose essential containers run under vigil-trace with an agent sidecar")
    .argument("<taskdef>", "task definition JSON (or describe-task-definition output)")
    .option("--image <ref>", "the Vigil image for the sidecar and the tracer", DEFAULT_IMAGE)
    .option(
      "--image-config <ref=file>",
      "ENTRYPOINT/CMD of a workload image (docker image inspect or OCI config JSON), by image or container name; repeatable",
      collectImage,
      {},
    )
    .option("-o, --output <file>", "write here instead of stdout")
    .option("--rules <file>", "rules the agent sidecar will run (repeatable; default the built-in rules): the tracer stops only on their syscalls", collect, [])
    .option("--syscalls <list>", "syscalls the tracer reports (Falco names, comma-separated; overrides --rules)")
    .option("--agent-essential", "stop the task when the agent sidecar dies")
    .option("--skip-unwrappable", "leave containers whose image ENTRYPOINT is unknown uninstrumented instead of failing")
    .option("--collector <host:port>", "the sidecar also ships alerts to this collector (plain gRPC: ECS has no Secret volume for a CA file)")
    .option("--collector-token-secret <arn>", "Secrets Manager secret or SSM parameter ARN holding the collector token (read with the task execution role)")
    .action((file: string, o: EcsOpts) => {
      if (o.collectorTokenSecret !== undefined && o.collector === undefined) throw new Error("--collector-token-secret needs --collector HOST:PORT");
      const input = readJsonFile(file);
      const r = patchTaskDefinition(input, {
        image: o.image,
        images: o.imageConfig,
        syscalls: o.syscalls ?? tracerSyscalls(o.rules),
        ...(o.agentEssential ? { agentEssential: true } : {}),
        ...(o.skipUnwrappable ? { skipUnwrappable: true } : {}),
        ...(o.collector !== undefined ? { collector: { address: o.collector, tokenSecretArn: o.collectorTokenSecret } } : {}),
      });
      const text = `${JSON.stringify(r.taskDefinition, null, 2)}\n`;
      if (o.output) {
        const tmp = `${o.output}.tmp-${process.pid}`;
        writeFileSync(tmp, text);
        renameSync(tmp, o.output);
      } else process.stdout.write(text);
      for (const s of r.skipped) process.stderr.write(`vigil inject: container ${JSON.stringify(s.name)} not instrumented: ${s.reason}\n`);
      if (r.alreadyInjected) process.stderr.write("vigil inject: the task definition is already instrumented (unchanged)\n");
    });
  inject
    .command("install-trace")
    .description("copy the packaged vigil-trace binary to DEST (run by the vigil-install sidecar)")
    .argument("<dest>", "destination path, e.g. /vigil/bin/vigil-trace")
    .action((dest: string) => {
      const src = packagedTracer();
      if (!existsSync(src)) throw new Error(`vigil-trace not found at ${src}: build it with 'make -C native-bridge'`);
      mkdirSync(dirname(dest), { recursive: true });
      const tmp = `${dest}.tmp-${process.pid}`;
      copyFileSync(src, tmp);
      chmodSync(tmp, 0o755);
      renameSync(tmp, dest);
    });
}
