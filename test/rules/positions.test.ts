// SPDX-License-Identifier: Apache-2.0
/** Every condition error points at the file line and column of the offending token. */
import { describe, expect, it } from "vitest";
import { loadRuleFiles } from "../../rules/index.js";
import { locator } from "../../rules/load/reader.js";

function firstError(text: string): string {
  const r = loadRuleFiles([{ path: "p.yaml", text }]);
  const d = r.diagnostics.find((x) => x.severity === "error");
  return d === undefined ? "" : `${d.line}:${d.col} ${d.message}`;
}

const head = "- rule: R\n  desc: d\n  output: o\n  priority: INFO\n";

describe("error positions", () => {
  it.each([
    ["plain scalar", `${head}  condition: evt.type = execve and proc.nmae = x\n`, "5:36 unknown field 'proc.nmae'"],
    ["folded block", `${head}  condition: >\n    evt.type = execve\n    and proc.nmae = x\n`, "7:9 unknown field 'proc.nmae'"],
    ["literal block", `${head}  condition: |\n    evt.type = execve and\n      (proc.name = a or\n       fd.nme = b)\n`, "8:8 unknown field 'fd.nme'"],
    ["double quoted", `${head}  condition: "evt.type = execve and proc.nmae = \\"x\\""\n`, "5:37 unknown field 'proc.nmae'"],
    ["multi-line plain", `${head}  condition: evt.type = execve\n    and proc.name = a\n    and fd.nme = b\n`, "7:9 unknown field 'fd.nme'"],
    ["parse error", `${head}  condition: >\n    evt.type = execve and\n    (proc.name = a\n`, "8:1 expected ')'"],
    ["undefined macro", `${head}  condition: >\n    evt.type = execve\n    and not my_macro\n`, "7:13 Undefined macro 'my_macro' used in filter."],
  ])("%s", (_n, text, want) => {
    expect(firstError(text)).toBe(want);
  });
  it("offsets map back through list expansion", () => {
    const text = `- list: shells\n  items: [sh, bash, zsh, "a b"]\n${head}  condition: evt.type = execve and proc.name in (shells) and proc.nmae = x\n`;
    expect(firstError(text)).toBe("7:62 unknown field 'proc.nmae'");
  });
  it("offsets map through exceptions", () => {
    const text = `${head}  condition: evt.type = execve and proc.nmae = x\n  exceptions:\n  - name: e\n    fields: [proc.name]\n    values: [[a]]\n`;
    expect(firstError(text)).toBe("5:36 unknown field 'proc.nmae'");
  });
  it("errors inside a macro used by a rule name the macro's position", () => {
    const text = `- macro: m\n  condition: proc.nmae = x\n${head}  condition: evt.type = execve and m\n`;
    expect(firstError(text)).toBe("7:14 unknown field 'proc.nmae' (in macro 'm' at p.yaml:2:14)");
  });
  it("appended conditions map each part to its own file", () => {
    const r = loadRuleFiles([
      { path: "a.yaml", text: `${head}  condition: evt.type = execve\n` },
      { path: "b.yaml", text: "- rule: R\n  condition: and fd.nme = x\n  override:\n    condition: append\n" },
    ]);
    const d = r.diagnostics.find((x) => x.severity === "error");
    expect(d).toMatchObject({ file: "b.yaml", line: 2, col: 18 });
  });
  it("locator aligns folded text with its source", () => {
    const src = ">\n  a b\n  c\n";
    const at = locator("a b c\n", src, true, (off) => ({ file: "f", line: 1, col: off }));
    expect(at(0)?.col).toBe(4);
    expect(at(4)?.col).toBe(10);
  });
});
