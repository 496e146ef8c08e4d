// SPDX-License-Identifier: Apache-2.0
/**
 * Falco 0.44's suggested output fields and `append_output`, through the real rule engine and
 * alert builder with synthetic events: Falco's stable rules (read in place) for a rule whose
 * output has no container fields, compared with what Falco prints; the match semantics of
 * Falco's own unit tests (unit_tests/engine/test_extra_output.cpp); extra fields in
 * output_fields only; bad entries as errors naming the entry; reloads; the Pipeline's option.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterAll, describe, expect, it } from "vitest";
import { AlertBuilder } from "../../agent/engine/alert-builder.js";
import { AppendOutputError, compileOutputOptions, SUGGESTED_FORMAT, type AppendOutputEntry, type OutputOptions } from "../../agent/engine/append-output.js";
import { appendOutputEntrySchema, appendOutputSchema } from "../../agent/engine/append-output-schema.js";
import { RuleEngine } from "../../agent/engine/rule-engine.js";
import { Pipeline, type SourceContext } from "../../agent/pipeline.js";
import type { ExportResult, Sink } from "../../agent/sinks/types.js";
import type { SyscallEvent } from "../../rules/event.js";
import type { CompiledRule } from "../../rules/index.js";
import type { Alert } from "../../proto/index.js";
import { waitFor } from "../collector/helpers.js";
import { container, execve, HOST, proc } from "../rules/event-builder.js";
import { STABLE_RULES } from "../rules/stable-path.js";

const logger = pino({ level: "silent" });
const dir = mkdtempSync(join(tmpdir(), "vigil-append-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function builder(opts: OutputOptions, host = "node-1"): AlertBuilder {
  return new AlertBuilder(host, compileOutputOptions(opts, { fields: { hostname: host, ipNames: () => undefined } }).appender);
}

/** Loads rules text through the real RuleEngine (a file in the temp folder). */
function engineFor(text: string, name = "rules.yaml"): RuleEngine {
  const file = join(dir, name);
  writeFileSync(file, text);
  const e = new RuleEngine({ files: [file], logger, ruleMatching: "all" });
  e.load();
  return e;
}

function matches(engine: RuleEngine, e: SyscallEvent): CompiledRule[] {
  const out: CompiledRule[] = [];
  engine.evaluate(e, (r) => out.push(r));
  return out;
}

/** A shell with a terminal, started by runc in a Kubernetes pod's container. */
function kubectlExec(c = container({ k8s: { podName: "shop-7d9f", namespace: "prod" } })): SyscallEvent {
  const p = proc({ comm: "bash", exe: "/bin/bash", exepath: "/bin/bash", args: ["-i"], tty: 34816, container: c, parents: [{ comm: "runc" }] });
  return execve(p);
}

describe("suggested output fields, Falco's stable rules", () => {
  const engine = new RuleEngine({ files: [STABLE_RULES], logger, ruleMatching: "all" });
  engine.load();
  const e = kubectlExec();
  const [rule] = matches(engine, e).filter((r) => r.name === "Terminal shell in container");

  it("appends `name_with_underscores=%name` for the container plugin's six fields, in its order, after one space", () => {
    expect(rule).toBeDefined();
    const a = builder({ suggestedFields: true, append: [] }).build(rule!, e);
    // the text Falco 0.44 prints for this rule and event (its output has no container field)
    expect(a.output).toBe(
      "2026-11-28T12:00:00.123456789Z: Notice A shell was spawned in a container with an attached terminal | evt_type=execve user=root " +
        "user_uid=0 user_loginuid=-1 process=bash proc_exepath=/bin/bash parent=runc command=bash -i terminal=34816 exe_flags=<NA> " +
        "container_id=0123456789ab container_name=web container_image_repository=docker.io/library/nginx container_image_tag=1.25 " +
        "k8s_pod_name=shop-7d9f k8s_ns_name=prod",
    );
    expect(a.output_fields).toEqual({
      "evt.time": 1_795_867_200 * 1e9 + 123_456_789, // ns since the epoch, as a JSON number (loses the last digits past 2^53)
      "evt.type": "execve",
      "user.name": "root",
      "user.uid": 0,
      "user.loginuid": -1,
      "proc.name": "bash",
      "proc.exepath": "/bin/bash",
      "proc.pname": "runc",
      "proc.cmdline": "bash -i",
      "proc.tty": 34816,
      "evt.arg.flags": null,
      "container.id": "0123456789ab",
      "container.name": "web",
      "container.image.repository": "docker.io/library/nginx",
      "container.image.tag": "1.25",
      "k8s.pod.name": "shop-7d9f",
      "k8s.ns.name": "prod",
    });
  });

  it("missing values print <NA> and are null in output_fields", () => {
    const bare = kubectlExec(container({ name: undefined, imageRepository: undefined, imageTag: undefined }));
    const a = builder({ suggestedFields: true, append: [] }).build(rule!, bare);
    expect(
      a.output.endsWith(
        " container_id=0123456789ab container_name=<NA> container_image_repository=<NA> container_image_tag=<NA> k8s_pod_name=<NA> k8s_ns_name=<NA>",
      ),
    ).toBe(true);
    expect(a.output_fields).toMatchObject({
      "container.id": "0123456789ab",
      "container.name": null,
      "container.image.repository": null,
      "container.image.tag": null,
      "k8s.pod.name": null,
      "k8s.ns.name": null,
    });
  });

  it("are on by default, and off leaves the rule's own output and fields", () => {
    const def = new AlertBuilder("node-1").build(rule!, e);
    const off = builder({ suggestedFields: false, append: [] }).build(rule!, e);
    expect(def.output).toBe(
      `${off.output} ${SUGGESTED_FORMAT.replace("%container.id", "0123456789ab").replace("%container.name", "web").replace("%container.image.repository", "docker.io/library/nginx").replace("%container.image.tag", "1.25").replace("%k8s.pod.name", "shop-7d9f").replace("%k8s.ns.name", "prod")}`,
    );
    expect(off.output.endsWith("exe_flags=<NA>")).toBe(true);
    expect(Object.keys(off.output_fields).some((k) => k.startsWith("container.") || k.startsWith("k8s."))).toBe(false);
  });

  it("apply to the syscall source only (the container plugin's)", () => {
    const other = engineFor(
      `- rule: Other source\n  desc: d\n  condition: evt.type = execve\n  output: "other (proc=%proc.name)"\n  priority: INFO\n  source: syscall\n`,
      "other.yaml",
    );
    const [r] = matches(other, kubectlExec());
    const fake = Object.assign(Object.create(Object.getPrototypeOf(r)), r, { source: "k8s_audit" }) as CompiledRule;
    const b = builder({ suggestedFields: true, append: [{ match: { source: "k8s_audit" }, extra_output: "audit" }] });
    expect(b.build(fake, kubectlExec()).output).toMatch(/: Informational other \(proc=bash\) audit$/);
    expect(b.build(r!, kubectlExec()).output).toMatch(/other \(proc=bash\) container_id=0123456789ab .* k8s_ns_name=prod$/);
  });

  it("a field the rule already prints is appended again, as Falco does (output_fields keeps one key)", () => {
    const own = engineFor(`- rule: Own\n  desc: d\n  condition: evt.type = execve\n  output: "own (id=%container.id)"\n  priority: WARNING\n`, "own.yaml");
    const [r] = matches(own, execve(proc({ comm: "sh" })));
    const a = new AlertBuilder("node-1").build(r!, execve(proc({ comm: "sh" })));
    expect(a.output).toMatch(
      /Warning own \(id=host\) container_id=host container_name=host container_image_repository=<NA> container_image_tag=<NA> k8s_pod_name=<NA> k8s_ns_name=<NA>$/,
    );
    expect(a.output_fields["container.id"]).toBe("host");
  });

  it("a blocked exec no rule reported carries the same suffix instead of its own container part", () => {
    const ev = kubectlExec();
    ev.blocked = true;
    const on = new AlertBuilder("node-1").blockedExec(ev);
    expect(on.output).toMatch(/parent=runc container_id=0123456789ab container_name=web .* k8s_pod_name=shop-7d9f k8s_ns_name=prod \(blocked\)$/);
    const off = builder({ suggestedFields: false, append: [] }).blockedExec(ev);
    expect(off.output).toMatch(
      /parent=runc container_id=0123456789ab container_name=web image=docker.io\/library\/nginx k8s_ns=prod k8s_pod=shop-7d9f \(blocked\)$/,
    );
  });
});

// the rules of Falco's unit_tests/engine/test_extra_output.cpp (extra_format_by_tag_rule)
const TAGGED = `- rule: legit_rule
  desc: d
  condition: evt.type = execve
  output: out 1
  priority: INFO
  tags: [tag1]
- rule: another_rule
  desc: d
  condition: evt.type = execve
  output: out 2
  priority: INFO
  tags: [tag1]
- rule: a_third_rule
  desc: d
  condition: evt.type = execve
  output: out 3
  priority: INFO
  tags: [tag1, tag2]
`;

function outputsWith(append: AppendOutputEntry[], suggestedFields = false): Record<string, Alert> {
  const engine = engineFor(TAGGED, "tagged.yaml");
  const b = builder({ suggestedFields, append });
  const e = execve(proc({ comm: "sh", container: HOST }));
  return Object.fromEntries(matches(engine, e).map((r) => [r.name, b.build(r, e)]));
}

const msg = (a: Alert | undefined): string => (a?.output ?? "").replace(/^\S+: Informational /, "");

describe("append_output entries", () => {
  it("match by tags (all of them), rule name and source, applied in order after one space", () => {
    const out = outputsWith([
      { match: { tags: ["tag1"] }, extra_output: "extra 1" },
      { match: { rule: "another_rule" }, extra_output: "extra 2" },
      { match: { tags: ["tag1", "tag2"] }, extra_output: "extra 3" },
      { match: { source: "syscall", rule: "legit_rule" }, extra_output: "extra 4" },
      { match: { source: "k8s_audit" }, extra_output: "never" },
    ]);
    expect(msg(out.legit_rule)).toBe("out 1 extra 1 extra 4");
    expect(msg(out.another_rule)).toBe("out 2 extra 1 extra 2");
    expect(msg(out.a_third_rule)).toBe("out 3 extra 1 extra 3");
  });

  it("an entry without match applies to every rule; its text is formatted with the event's fields", () => {
    const out = outputsWith([{ extra_output: "on %evt.hostname pid=%proc.pid name=%5proc.name|" }]);
    expect(msg(out.legit_rule)).toMatch(/^out 1 on node-1 pid=\d+ name=sh {3}\|$/);
    expect(out.legit_rule?.output_fields).toMatchObject({ "evt.hostname": "node-1", "proc.name": "sh" });
    expect(typeof out.legit_rule?.output_fields["proc.pid"]).toBe("number");
  });

  it("extra_fields go to output_fields only: bare fields typed, `name: format` as a string", () => {
    const out = outputsWith([
      { match: { tags: ["tag2"] }, extra_fields: ["proc.pid", { home: "home is %user.homedir" }, "k8s.pod.name", { shell: "%proc.name" }] },
    ]);
    const a = out.a_third_rule!;
    expect(msg(a)).toBe("out 3");
    expect(typeof a.output_fields["proc.pid"]).toBe("number");
    expect(a.output_fields.home).toBe("home is /root");
    expect(a.output_fields["k8s.pod.name"]).toBeNull();
    expect(a.output_fields.shell).toBe("sh");
    expect(out.legit_rule?.output_fields).not.toHaveProperty("home");
  });

  it("a later entry's field replaces an earlier one of the same name", () => {
    const out = outputsWith([{ extra_fields: [{ who: "first %proc.name" }] }, { match: { rule: "legit_rule" }, extra_fields: [{ who: "second" }] }]);
    expect(out.legit_rule?.output_fields.who).toBe("second");
    expect(out.another_rule?.output_fields.who).toBe("first sh");
  });

  it("suggested_output in an entry follows its match; with extra_output the text comes first", () => {
    const out = outputsWith([{ match: { rule: "another_rule" }, extra_output: "x=%proc.name", suggested_output: true }]);
    expect(msg(out.another_rule)).toBe(
      "out 2 x=sh container_id=host container_name=host container_image_repository=<NA> container_image_tag=<NA> k8s_pod_name=<NA> k8s_ns_name=<NA>",
    );
    expect(msg(out.legit_rule)).toBe("out 1");
  });

  it("suggestedFields comes first, as falco.yaml's default entry does", () => {
    const out = outputsWith([{ match: { rule: "legit_rule" }, extra_output: "after" }], true);
    expect(msg(out.legit_rule)).toMatch(/^out 1 container_id=host .* k8s_ns_name=<NA> after$/);
  });

  it("rules of a reload get the entries that match them then", async () => {
    const file = join(dir, "reload.yaml");
    writeFileSync(file, TAGGED);
    const engine = new RuleEngine({ files: [file], logger, ruleMatching: "all" });
    engine.load();
    const b = builder({ suggestedFields: false, append: [{ match: { tags: ["tag3"] }, extra_output: "tagged 3" }] });
    const e = execve(proc({ comm: "sh" }));
    expect(matches(engine, e).map((r) => msg(b.build(r, e)))).toEqual(["out 1", "out 2", "out 3"]);
    writeFileSync(file, TAGGED.replace("tags: [tag1, tag2]", "tags: [tag1, tag3]"));
    expect(await engine.reload()).toBe(true);
    expect(matches(engine, e).map((r) => msg(b.build(r, e)))).toEqual(["out 1", "out 2", "out 3 tagged 3"]);
  });
});

describe("bad entries", () => {
  // the shape is the configuration schema's to refuse, the formats the compile's
  const bad = (append: unknown[]): string => {
    const shape = appendOutputSchema.safeParse(append);
    if (!shape.success) {
      const issue = shape.error.issues[0];
      return `output.append${(issue?.path ?? []).map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`)).join("")}: ${issue?.message}`;
    }
    try {
      compileOutputOptions({ suggestedFields: true, append: append as AppendOutputEntry[] });
    } catch (err) {
      expect(err).toBeInstanceOf(AppendOutputError);
      return (err as Error).message;
    }
    throw new Error("accepted");
  };

  it("are errors naming the entry, never a crash", () => {
    expect(bad([{ extra_output: "ok" }, { extra_output: "x=%proc.nosuchfield" }])).toMatch(/^output\.append\[1\]\.extra_output: .*proc\.nosuchfield/);
    expect(bad([{ extra_output: "ends with %" }])).toMatch(/^output\.append\[0\]\.extra_output: .*%/);
    expect(bad([{ extra_fields: ["proc.name", { x: "%nope.field" }] }])).toMatch(/^output\.append\[0\]\.extra_fields\[1\]: /);
    expect(bad([{ extra_fields: ["not a field"] }])).toMatch(/^output\.append\[0\]\.extra_fields\[0\]: /);
    expect(bad([{ extra_fields: ["toupper(proc.name)"] }])).toMatch(/is not a field name/);
    expect(bad([{ extra_fields: [{ a: "1", b: "2" }] }])).toMatch(/^output\.append\[0\]\.extra_fields\[0\]: .*exactly one key/);
    expect(bad([{ extra_fields: [{ a: "1" }, { a: "2" }] }])).toMatch(/^output\.append\[0\]\.extra_fields\[1\]: extra field 'a' is defined twice/);
    expect(bad([{ extra_fields: ["proc.name", { "proc.name": "x" }] }])).toMatch(/defined twice/);
    expect(bad([{ match: { tags: "t" } }])).toMatch(/^output\.append\[0\]\.match\.tags: /);
    expect(bad([{ extra: "typo" }])).toMatch(/^output\.append\[0\]: .*extra/);
  });

  it("a falco.yaml path names them as falco.yaml does", () => {
    expect(() => compileOutputOptions({ suggestedFields: false, append: [{ extra_output: "%bad.field" }] }, { path: "append_output" })).toThrow(
      /^append_output\[0\]\.extra_output: /,
    );
  });

  it("suppress_output_format (not a Falco 0.44 key) loads with a warning naming it; %container.info warns", () => {
    const { warnings } = compileOutputOptions({ suggestedFields: true, append: [{ extra_output: "a %container.info", suppress_output_format: true }] });
    expect(warnings).toEqual([
      "output.append[0].suppress_output_format: not an append_output key in Falco 0.44 (it reads match, extra_output, extra_fields, suggested_output); it has no effect",
      "output.append[0].extra_output: %container.info is deprecated and rendered as an empty string",
    ]);
    expect(
      appendOutputEntrySchema.safeParse({
        match: { source: "syscall", tags: ["a"], rule: "r" },
        extra_output: "x",
        extra_fields: ["proc.name", { a: "b" }],
        suggested_output: true,
      }).success,
    ).toBe(true);
  });
});

class MemorySink implements Sink {
  readonly name = "memory";
  readonly alerts: Alert[] = [];
  async export(batch: readonly Alert[]): Promise<ExportResult> {
    this.alerts.push(...batch);
    return { ok: true };
  }
  async forceFlush(): Promise<void> {}
  async shutdown(): Promise<void> {}
}

describe("the pipeline's `output` option", () => {
  async function run(output: OutputOptions | undefined): Promise<Alert[]> {
    const rules = join(dir, "pipeline.yaml");
    writeFileSync(
      rules,
      `- rule: Shell\n  desc: d\n  condition: evt.type = execve and proc.name = sh\n  output: "shell (proc=%proc.name)"\n  priority: WARNING\n`,
    );
    const sink = new MemorySink();
    let ctx: SourceContext | undefined;
    const p = new Pipeline({
      rulesFiles: [rules],
      hostname: "node-9",
      logger,
      sinks: [sink],
      statsIntervalSec: 0,
      ...(output === undefined ? {} : { output }),
      source: (c) => {
        ctx = c;
        return { name: "test", start: async () => undefined, stop: async () => undefined, stats: () => ({}) };
      },
    });
    await p.start();
    try {
      ctx?.onEvent(execve(proc({ comm: "sh" })));
      await waitFor(() => p.counters.events > 0, 5000, "event seen");
    } finally {
      await p.stop();
    }
    return sink.alerts;
  }

  it("defaults to the suggested fields and takes append entries compiled with the node's field context", async () => {
    const [def] = await run(undefined);
    expect(def?.output).toMatch(/Warning shell \(proc=sh\) container_id=host container_name=host .* k8s_ns_name=<NA>$/);
    const [own] = await run({ suggestedFields: false, append: [{ extra_output: "on %evt.hostname", extra_fields: ["evt.hostname"] }] });
    expect(own?.output).toMatch(/Warning shell \(proc=sh\) on node-9$/);
    expect(own?.output_fields["evt.hostname"]).toBe("node-9");
  });

  it("a bad entry stops the pipeline's construction with the entry's name", () => {
    expect(
      () =>
        new Pipeline({
          rulesFiles: [],
          logger,
          sinks: [],
          output: { suggestedFields: true, append: [{ extra_output: "%no.such" }] },
          source: () => ({ name: "t", start: async () => undefined, stop: async () => undefined, stats: () => ({}) }),
        }),
    ).toThrow(/output\.append\[0\]\.extra_output/);
  });
});
