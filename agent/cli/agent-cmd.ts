// SPDX-License-Identifier: Apache-2.0
/**
 * `vigil agent`: the daemon. Loads the rules, attaches the kernel probe, prints alerts on stdout
 * (JSON lines with `--output json`, readable colored lines by default) and logs to stderr.
 */
import { Command, Option } from "commander";
import { createLogger, type Logger } from "../log.js";
import { Pipeline, type Enricher, type EventSource, type SourceContext } from "../pipeline.js";
import { StdoutSink } from "../sinks/stdout-sink.js";
import type { Sink } from "../sinks/types.js";

interface AgentOptions {
  rules: string[];
  output: "json" | "text";
  probe?: string;
  ruleMatching: "first" | "all";
  minPriority?: string;
  containerdSocket: string;
  containerd: boolean;
  statsInterval: string;
}

function collect(v: string, prev: string[]): string[] {
  return [...prev, v];
}

/** The kernel probe source. */
async function ebpfSource(ctx: SourceContext, probePath: string | undefined): Promise<EventSource> {
  const { KernelEventStream } = await import("../sources/ebpf-source.js");
  const opts: ConstructorParameters<typeof KernelEventStream>[0] = {
    syscalls: ctx.syscalls,
    logger: ctx.logger,
    onEvent: ctx.onEvent,
  };
  if (probePath !== undefined) opts.probePath = probePath;
  if (ctx.resolveContainer !== undefined) opts.resolveContainer = ctx.resolveContainer;
  const s = new KernelEventStream(opts);
  return {
    name: "ebpf",
    start: () => s.start(),
    stop: () => s.stop(),
    stats: () => s.stats(),
    setSyscalls: (names) => s.setSyscalls(names),
  };
}

async function containerEnricher(socket: string, logger: Logger): Promise<Enricher | undefined> {
  try {
    const { ContainerEnricher } = await import("../enrich/index.js");
    return new ContainerEnricher({ socket, logger: logger.child({ component: "enrich" }) });
  } catch (err) {
    logger.warn({ err }, "container enrichment unavailable");
    return undefined;
  }
}

/** Runs the agent until SIGINT/SIGTERM. */
export async function runAgent(o: AgentOptions): Promise<void> {
  const logger = createLogger();
  const sinks: Sink[] = [new StdoutSink(o.output)];
  const enricher = o.containerd ? await containerEnricher(o.containerdSocket, logger) : undefined;
  let source: EventSource | undefined;
  const pipeline = new Pipeline({
    rulesFiles: o.rules,
    ruleMatching: o.ruleMatching,
    ...(o.minPriority !== undefined ? { minPriority: o.minPriority } : {}),
    logger,
    enricher,
    sinks,
    statsIntervalSec: Number(o.statsInterval),
    source: (ctx) => {
      // the factory is sync; the real source is created on start
      let real: EventSource | undefined;
      source = {
        name: "ebpf",
        start: async () => {
          real = await ebpfSource(ctx, o.probe);
          await real.start();
        },
        stop: async () => real?.stop(),
        stats: () => real?.stats() ?? {},
        setSyscalls: async (names) => real?.setSyscalls?.(names),
      };
      return source;
    },
  });

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "stopping");
    pipeline.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, "stop failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGHUP", () => {
    logger.info("SIGHUP: reloading rules");
    pipeline.engine.reload();
  });
  process.on("uncaughtException", (err) => {
    logger.fatal({ err }, "uncaught exception");
    process.exit(70);
  });

  try {
    await pipeline.start();
  } catch (err) {
    // one clear line for the operator, details in the log
    logger.debug({ err }, "start failed");
    process.stderr.write(`vigil agent: ${err instanceof Error ? err.message : String(err)}\n`);
    await pipeline.stop().catch(() => undefined);
    process.exit(1);
  }
  pipeline.engine.watch();
  logger.info(
    { rules: pipeline.engine.ruleset.rules.length, files: pipeline.engine.files },
    "vigil agent ready",
  );
}

/** Adds `vigil agent`. */
export function registerAgent(program: Command): void {
  program
    .command("agent")
    .description("run the agent on this host: attach the kernel probe, evaluate rules, print alerts")
    .option("--rules <file>", "rules file to load instead of the built-in ones (repeatable, in order)", collect, [])
    .addOption(new Option("--output <format>", "alert format on stdout").choices(["json", "text"]).default("text"))
    .option("--probe <path>", "path of the vigil-probe binary")
    .addOption(new Option("--rule-matching <mode>", "stop at the first matching rule or run all").choices(["first", "all"]).default("first"))
    .option("--min-priority <name>", "drop rules below this priority (emergency..debug)")
    .option("--containerd-socket <path>", "containerd socket for container metadata", "/run/containerd/containerd.sock")
    .option("--no-containerd", "do not query a container runtime (container IDs from cgroups only)")
    .option("--stats-interval <sec>", "seconds between stats lines in the log (0 = off)", "60")
    .action(async (o: AgentOptions) => {
      await runAgent(o);
    });
}
