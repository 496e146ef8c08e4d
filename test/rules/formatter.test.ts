// SPDX-License-Identifier: Apache-2.0
import { describe, expect, it } from "vitest";
import { compileFormat } from "../../rules/compile/formatter.js";
import { CompileError } from "../../rules/errors.js";
import { container, O, openat, proc } from "./event-builder.js";

const p = proc({ comm: "cat", args: ["/etc/shadow"], parents: [{ comm: "bash" }, { comm: "sshd" }] });
const e = openat("/etc/shadow", O.RDONLY, p);

describe("output format", () => {
  it.each([
    ["file=%fd.name", "file=/etc/shadow"],
    ["%proc.name read %fd.name.", "cat read /etc/shadow."],
    ["ptree=%proc.aname[1]/%proc.aname[2]/%proc.aname[3]", "ptree=bash/sshd/<NA>"],
    ["aname=%proc.aname", "aname=cat"],
    ["flags=%evt.arg.flags res=%evt.res", "flags=O_RDONLY res=SUCCESS"],
    ["fd=%evt.rawres", "fd=3"],
    ["%toupper(proc.name) %basename(fd.name)", "CAT shadow"],
    ["[%5proc.name]", "[cat  ]"],
    ["[%2proc.name]", "[ca]"],
    ["img=%container.image.repository id=%container.id", "img=<NA> id=host"],
    ["no fields at all", "no fields at all"],
    ["(%proc.name)", "(cat)"],
    ["%proc.name,%proc.pname", "cat,bash"],
    ["uid=%user.uid tty=%proc.tty loginuid=%user.loginuid", "uid=0 tty=0 loginuid=-1"],
    ["%container.info x", " x"],
  ])("%s", (fmt, want) => {
    expect(compileFormat(fmt).format(e).message).toBe(want);
  });

  it("output_fields are typed, null when missing, transformers excluded", () => {
    const f = compileFormat("%fd.name %fd.num %proc.aname[3] %evt.is_open_read %toupper(proc.name) %user.loginuid %container.privileged").format(e).fields;
    expect(f).toEqual({
      "fd.name": "/etc/shadow",
      "fd.num": 3,
      "proc.aname[3]": null,
      "evt.is_open_read": true,
      "user.loginuid": -1,
      "container.privileged": null,
    });
  });

  it("container fields", () => {
    const c = openat("/x", O.RDONLY, proc({ container: container({ k8s: { podName: "api-1" } }) }));
    expect(compileFormat("%container.name %k8s.pod.name %container.privileged").format(c).message).toBe("web api-1 false");
  });

  it.each([["ends with %"], ["%"], ["100% sure"], ["%nosuch.field"], ["%proc.name[2]"], ["%evt.arg.nosuchparam"]])("rejects %j", (fmt) => {
    expect(() => compileFormat(fmt)).toThrow(CompileError);
  });
});

describe("hostile values", () => {
  it("an unrenderable value is <NA>, never an exception", () => {
    const bad = { ...e, sec: Number.MAX_VALUE };
    const out = compileFormat("%evt.time %evt.time.iso8601 %proc.name").format(bad);
    expect(out.message).toBe("<NA> <NA> cat");
    expect(out.fields["evt.time.iso8601"]).toBeNull();
  });
  it("huge strings are rendered as they are", () => {
    const big = openat("/x".repeat(100_000), O.RDONLY, p);
    expect(compileFormat("%fd.name").format(big).message.length).toBe(200_000);
  });
});
