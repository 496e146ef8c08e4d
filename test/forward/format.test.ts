// SPDX-License-Identifier: Apache-2.0
import { describe, expect, it } from "vitest";
import {
  alertLink,
  chatFacts,
  compileTemplate,
  fitText,
  PRIORITY_COLOURS,
  priorityColour,
  renderTemplate,
  sanitizeText,
  TEMPLATE_PLACEHOLDERS,
  truncateText,
  truncationNote,
} from "../../collector/forward/format.js";
import { PRIORITY_NAMES } from "../../proto/index.js";
import { HOSTILE, itemOf, makeAlert } from "./raw-recorder.js";

const plain = { escape: (s: string) => s, collectorUrl: "https://vigil.example:8443/" };
const brackets = { escape: (s: string) => `[${s}]`, collectorUrl: "" };

describe("renderTemplate", () => {
  it("fills every placeholder from the alert, the Kubernetes keys and the grouping count", () => {
    const t = compileTemplate(TEMPLATE_PLACEHOLDERS.map((p) => `${p}={{${p}}}`).join("\n"));
    const out = renderTemplate(t, itemOf(makeAlert(), 4), plain);
    expect(out.split("\n")).toEqual([
      "rule=Terminal shell in container",
      "priority=Critical",
      "output=12:00:00.123456789: Critical A shell was spawned in a container (user=root shell=bash container=web-1)",
      "node=ip-10-0-1-23.ec2.internal",
      "namespace=payments",
      "pod=web-7d9f8-abcde",
      "container=web",
      "time=2026-11-28T12:00:00.123456789Z",
      "id=0192a4c5-7e10-7abc-8def-0123456789ab",
      "count=4",
      "link=https://vigil.example:8443/api/v1/alerts/0192a4c5-7e10-7abc-8def-0123456789ab",
    ]);
  });

  it("leaves unknown placeholders and unclosed braces as written, accepts spaces inside, and finds {{x}} inside {{{x}}}", () => {
    const t = compileTemplate("{{ rule }} {{unknown}} {{{priority}}} {{ output_fields }} {{pod");
    expect(renderTemplate(t, itemOf(makeAlert()), brackets)).toBe("[Terminal shell in container] {{unknown}} {[Critical]} {{ output_fields }} {{pod");
  });

  it("escapes values but never the template's own text", () => {
    const t = compileTemplate("*{{rule}}* <{{link}}|open>");
    const out = renderTemplate(t, itemOf(makeAlert({ rule: "a*b" })), { escape: (s) => s.replace(/\*/g, "\\*"), collectorUrl: "http://c" });
    expect(out).toBe("*a\\*b* <http://c/api/v1/alerts/0192a4c5-7e10-7abc-8def-0123456789ab|open>");
  });

  it("renders missing Kubernetes values empty and falls back from the container name to its ID", () => {
    const a = makeAlert({}, {});
    a.output_fields = { "container.id": "abc123" };
    const t = compileTemplate("ns={{namespace}} pod={{pod}} c={{container}} link={{link}}");
    expect(renderTemplate(t, itemOf(a), { ...plain, collectorUrl: "" })).toBe("ns= pod= c=abc123 link=");
  });

  it("compiles once: the compiled template is frozen and renders many items without reparsing", () => {
    const t = compileTemplate("{{priority}}: {{rule}} ×{{count}}");
    expect(Object.isFrozen(t)).toBe(true);
    expect(Object.isFrozen(t.parts)).toBe(true);
    expect(t.parts).toEqual([{ name: "priority" }, ": ", { name: "rule" }, " ×", { name: "count" }]);
    for (let i = 1; i <= 3; i++) expect(renderTemplate(t, itemOf(makeAlert(), i), plain)).toBe(`Critical: Terminal shell in container ×${i}`);
  });

  it("sanitizes values: controls visible, bidi overrides removed, one line except the output", () => {
    const a = makeAlert({ rule: `r${HOSTILE.newlines}`, output: `o\n${HOSTILE.controls}${HOSTILE.bidi}` });
    const out = renderTemplate(compileTemplate("{{rule}}|{{output}}"), itemOf(a), plain);
    const [rule, output] = out.split("|");
    expect(rule).not.toContain("\n");
    expect(output).toContain("\n");
    expect(output).toContain("\\x00");
    expect(output).toContain("\\x1b[31m");
    expect(output).toContain("\\x85");
    expect(output).toContain("\\u2028");
    expect(output).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069\u200b]/);
  });

  it("bounds each value before escaping, saying so", () => {
    const out = renderTemplate(compileTemplate("{{output}}"), itemOf(makeAlert({ output: "x".repeat(1 << 20) })), { ...plain, maxValueChars: 100 });
    expect(out.length).toBeLessThanOrEqual(100);
    expect(out).toContain(`[truncated: ${1 << 20} characters in all]`);
  });
});

describe("fitText", () => {
  it("cuts a 1 MiB string to the limit after escaping, never splitting a surrogate pair", () => {
    const raw = "&".repeat(1 << 20);
    const out = fitText(raw, 3000, (s) => s.replace(/&/g, "&amp;"));
    expect(out.length).toBeLessThanOrEqual(3000);
    expect(out).toMatch(/truncated: 1048576 characters in all\]$/);
    const emoji = "😀".repeat(5000);
    for (const max of [99, 100, 101, 102]) {
      const e = fitText(emoji, max);
      expect(e.length).toBeLessThanOrEqual(max);
      expect(e).not.toMatch(/[\ud800-\udbff](?![\udc00-\udfff])/);
      expect(e).not.toMatch(/(?<![\ud800-\udbff])[\udc00-\udfff]/);
    }
  });

  it("keeps short text whole and replaces lone surrogates", () => {
    expect(fitText("short", 10)).toBe("short");
    expect(sanitizeText("a\ud800b")).toBe("a\ufffdb");
    expect(truncateText("abc", 3)).toBe("abc");
    expect(truncateText("x".repeat(500), 100).length).toBeLessThanOrEqual(100);
  });
});

describe("truncateText", () => {
  it("keeps text that fits, cuts at a code point boundary saying how long it was, and stays within the limit", () => {
    expect(truncateText("x".repeat(100), 100)).toBe("x".repeat(100));
    expect(truncateText("x".repeat(101), 100)).toBe(`${"x".repeat(100 - truncationNote(101).length)}${truncationNote(101)}`);
    const emoji = "😀".repeat(300);
    for (let max = 0; max <= 120; max++) {
      const out = truncateText(emoji, max);
      expect(out.length).toBeLessThanOrEqual(max);
      expect(out).not.toMatch(/[\ud800-\udbff](?![\udc00-\udfff])/);
      if (max > 0) expect(out.endsWith("…") || out.endsWith("characters in all]")).toBe(true);
    }
    // too short a limit for the sentence: an ellipsis says it
    expect(truncateText("abcdefghijklmnopqrstuvwxyz", 10)).toBe("abcdefghi…");
    expect(truncateText("abc", 0)).toBe("");
  });
});

describe("chat facts", () => {
  it("gives each priority its own colour, reds for the paging ones", () => {
    const colours = PRIORITY_NAMES.map((p) => priorityColour(p));
    expect(new Set(colours).size).toBe(PRIORITY_NAMES.length);
    for (const c of colours) expect(c).toMatch(/^#[0-9a-f]{6}$/);
    expect(PRIORITY_COLOURS.Critical).toBe("#d32f2f");
    expect(priorityColour("Bogus")).toBe("#9e9e9e");
  });

  it("lists the facts of the default layout, with the count and blocked state", () => {
    const f = chatFacts(itemOf(makeAlert({ blocked: true }), 3), "https://vigil.example");
    expect(f.title).toBe("Critical: Terminal shell in container ×3 [blocked]");
    expect(f.colour).toBe(PRIORITY_COLOURS.Critical);
    expect(f.link).toBe("https://vigil.example/api/v1/alerts/0192a4c5-7e10-7abc-8def-0123456789ab");
    expect(f.fields.map((x) => [x.label, x.value])).toEqual([
      ["Node", "ip-10-0-1-23.ec2.internal"],
      ["Namespace", "payments"],
      ["Pod", "web-7d9f8-abcde"],
      ["Container", "web (3f2a1b4c5d6e)"],
      ["Image", "registry.example/web:1.2.3"],
      ["Time", "2026-11-28T12:00:00.123456789Z"],
      ["Repeats", "×3 (grouped)"],
      ["Action", "blocked (the process was stopped)"],
      ["Tags", "container, shell, T1059"],
      ["Source", "syscall"],
    ]);
  });

  it("percent-encodes the ID in the link", () => {
    expect(alertLink("http://c/", "a:b.c")).toBe("http://c/api/v1/alerts/a%3Ab.c");
    expect(alertLink("http://c", "x(1)!")).toBe("http://c/api/v1/alerts/x%281%29%21");
    expect(alertLink("", "x")).toBe("");
  });
});
