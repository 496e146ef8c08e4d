// SPDX-License-Identifier: Apache-2.0
/**
 * Falco's alert format (falco `userspace/engine/formats.cpp` format_event, as summarized in
 * /work/shared/reference/falco-compat.md §1.9): the text line and the JSON object, field by field.
 */
import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { FalcoStdoutSink } from "../../../agent/sinks/outputs/index.js";
import { falcoJson, falcoMessage, falcoTextLine, falcoTimeNs, formatFalco } from "../../../agent/sinks/outputs/falco-format.js";
import { alert, outputConfig } from "./helpers.js";

describe("Falco's text line", () => {
  it("is `HH:MM:SS.nnnnnnnnn: Priority message` by default", () => {
    const a = alert("A shell was spawned (user=root)", {
      time: "2026-12-04T21:28:33.000000042Z",
      output: "2026-12-04T21:28:33.000000042Z: Notice A shell was spawned (user=root)",
    });
    expect(falcoTextLine(a, outputConfig())).toBe("21:28:33.000000042: Notice A shell was spawned (user=root)");
  });

  it("has the ISO 8601 prefix of %evt.time.iso8601 with time_format_iso_8601", () => {
    const a = alert("m", { time: "2026-12-04T21:28:33.000000042Z", output: "2026-12-04T21:28:33.000000042Z: Notice m" });
    expect(falcoTextLine(a, outputConfig({ time_format_iso_8601: true }))).toBe("2026-12-04T21:28:33.000000042+0000: Notice m");
  });

  it("keeps a message that has no engine prefix whole, and never breaks the line", () => {
    const a = alert("x", { output: "no prefix here: Notice really" });
    expect(falcoMessage(a)).toBe("no prefix here: Notice really");
    const b = alert("evil\nline\r\u001b[31m\u2028end");
    const line = falcoTextLine(b, outputConfig());
    expect(line).not.toMatch(/[\n\r\u001b\u2028]/);
    expect(line.endsWith("Notice evil\\nline\\r\\u001b[31m\\u2028end")).toBe(true);
  });
});

describe("Falco's JSON alert", () => {
  const a = alert("A shell was spawned (user=root)");
  const ns = falcoTimeNs(a);

  it("has Falco's keys in Falco's order (nlohmann::json: byte order), default options", () => {
    const line = falcoJson(a, outputConfig({ json: true }));
    const o = JSON.parse(line) as Record<string, unknown>;
    // falco-compat.md §1.9: time, rule, priority, source, hostname; output, tags, output_fields by default; message off
    expect(Object.keys(o)).toEqual(["hostname", "output", "output_fields", "priority", "rule", "source", "tags", "time"]);
    expect(o["hostname"]).toBe("node-1");
    expect(o["output"]).toBe(`21:28:33.${a.time.slice(20, 29)}: Notice A shell was spawned (user=root)`);
    expect(o["priority"]).toBe("Notice");
    expect(o["rule"]).toBe("Terminal shell in container");
    expect(o["source"]).toBe("syscall");
    expect(o["tags"]).toEqual(["container", "mitre_execution", "shell"]);
    expect(o["time"]).toBe(a.time);
    const f = o["output_fields"] as Record<string, unknown>;
    expect(Object.keys(f)).toEqual(["container.id", "evt.time", "k8s.ns.name", "proc.name", "proc.pid", "user.name"]);
    expect(f["proc.pid"]).toBe(4242);
    expect(f["k8s.ns.name"]).toBeNull();
    // the prefix's field: raw nanoseconds since the epoch, written exactly (beyond a double)
    expect(line).toContain(`"evt.time":${ns}`);
    expect(ns).toBe(`${Date.UTC(2026, 11, 4, 21, 28, 33) / 1000}${a.time.slice(20, 29)}`);
    expect(o).not.toHaveProperty("uuid");
  });

  it("follows every json_include_* option and time_format_iso_8601", () => {
    const o = JSON.parse(
      falcoJson(
        a,
        outputConfig({
          json: true,
          json_include_message_property: true,
          json_include_output_property: false,
          json_include_tags_property: false,
          json_include_output_fields_property: true,
          time_format_iso_8601: true,
        }),
      ),
    ) as Record<string, unknown>;
    expect(Object.keys(o)).toEqual(["hostname", "message", "output_fields", "priority", "rule", "source", "time"]);
    expect(o["message"]).toBe("A shell was spawned (user=root)");
    expect(Object.keys(o["output_fields"] as object)).toContain("evt.time.iso8601");
    const bare = JSON.parse(
      falcoJson(
        a,
        outputConfig({ json: true, json_include_output_fields_property: false, json_include_output_property: false, json_include_tags_property: false }),
      ),
    ) as Record<string, unknown>;
    expect(Object.keys(bare)).toEqual(["hostname", "priority", "rule", "source", "time"]);
    const withId = JSON.parse(falcoJson(a, { ...outputConfig({ json: true }), uuid: true })) as Record<string, unknown>;
    expect(Object.keys(withId).at(-1)).toBe("uuid");
    expect(withId["uuid"]).toBe(a.id);
  });

  it("is one line whatever the alert holds", () => {
    const b = alert("line1\nline2\u2028\u007f");
    const line = formatFalco(b, outputConfig({ json: true }));
    expect(line).not.toMatch(/[\n\u2028\u007f]/);
    expect((JSON.parse(line) as { output: string }).output.endsWith("line1\nline2\u2028\u007f")).toBe(true);
  });
});

describe("FalcoStdoutSink (stdout_output)", () => {
  it("prints Falco's line per alert, or its JSON", async () => {
    const chunks: string[] = [];
    const w = new Writable({
      write(c: Buffer, _e, cb) {
        chunks.push(c.toString("utf8"));
        cb();
      },
    });
    const a = alert("to stdout");
    await new FalcoStdoutSink(outputConfig(), w).export([a, a]);
    await new FalcoStdoutSink(outputConfig({ json: true }), w).export([a]);
    const lines = chunks.join("").split("\n");
    expect(lines.slice(0, 2)).toEqual([falcoTextLine(a, outputConfig()), falcoTextLine(a, outputConfig())]);
    expect(lines[2]).toBe(falcoJson(a, outputConfig({ json: true })));
    expect(lines[3]).toBe("");
  });
});
