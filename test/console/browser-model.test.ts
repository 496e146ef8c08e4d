// SPDX-License-Identifier: Apache-2.0
/** The console's pure parts (collector/console/web: model.ts, view-state.ts), without a browser. */
import { describe, expect, it } from "vitest";
import { ancestry, context, mitre, parseAlert } from "../../collector/console/web/model.js";
import { isLive, queryFilter, readView, tailFilter, viewToSearch } from "../../collector/console/web/view-state.js";

const base = { id: "a1", time: "2026-06-01T00:00:00.000000000Z", rule: "R", priority: "Error", source: "syscall", hostname: "n", output: "o", tags: [] };

describe("console model", () => {
  it("reads the collector's alert JSON and refuses what is not one", () => {
    expect(parseAlert({ ...base, output_fields: { "proc.pid": 1, x: { nested: true } }, blocked: true })).toMatchObject({
      id: "a1",
      priority: "Error",
      blocked: true,
      output_fields: { "proc.pid": 1, x: '{"nested":true}' },
    });
    expect(parseAlert({ ...base, priority: "Loud" })).toBeUndefined();
    expect(parseAlert({ ...base, id: 7 })).toBeUndefined();
    expect(parseAlert([base])).toBeUndefined();
  });

  it("builds the ancestry from proc.* and proc.aname[N], skipping levels it has nothing of", () => {
    const a = parseAlert({
      ...base,
      output_fields: { "proc.name": "cat", "proc.pid": 9, "proc.pname": "sh", "proc.aname[3]": "init", "proc.apid[3]": 1, "proc.aname[5]": "x" },
    })!;
    expect(ancestry(a).map((p) => [p.level, p.name, p.pid])).toEqual([
      [0, "cat", "9"],
      [1, "sh", ""],
      [3, "init", "1"],
      [5, "x", ""],
    ]);
  });

  it("gives container and Kubernetes context, the image from repository and tag", () => {
    const a = parseAlert({
      ...base,
      output_fields: { "container.id": "c1", "container.image.repository": "nginx", "container.image.tag": "1", "k8s.ns.name": "ns", "k8s.pod.name": null },
    })!;
    expect(context(a)).toEqual({
      container: [
        ["ID", "c1"],
        ["Image", "nginx:1"],
      ],
      kubernetes: [["Namespace", "ns"]],
    });
  });

  it("links ATT&CK tactics and techniques, and nothing else", () => {
    expect(mitre(["mitre_credential_access", "T1003.008", "t1059", "mitre_unknown", "T10", "container"])).toEqual([
      { kind: "tactic", id: "TA0006", label: "Credential Access", href: "https://attack.mitre.org/tactics/TA0006/" },
      { kind: "technique", id: "T1003.008", label: "T1003.008", href: "https://attack.mitre.org/techniques/T1003/008/" },
      { kind: "technique", id: "T1059", label: "T1059", href: "https://attack.mitre.org/techniques/T1059/" },
    ]);
  });
});

describe("console view state", () => {
  it("round-trips every filter, source and the open alert through the URL", () => {
    const search = "?since=2h&rule=Read+sensitive*&priority=error&node=n1&namespace=ns&pod=p&container=c&image=nginx&tag=a&tag=b&source=syscall&alert=a1";
    const v = readView(search);
    expect(v).toEqual({
      filter: {
        since: "2h",
        rule: "Read sensitive*",
        priority: "error",
        node: "n1",
        namespace: "ns",
        pod: "p",
        container: "c",
        image: "nginx",
        tags: ["a", "b"],
        source: "syscall",
      },
      alert: "a1",
    });
    expect(readView(viewToSearch(v))).toEqual(v);
    expect(viewToSearch({ filter: {} })).toBe("");
  });

  it("queries the default range, tails without a range, and is live only without an end", () => {
    expect(queryFilter(readView("?rule=x"))).toEqual({ rule: "x", since: "24h" });
    expect(tailFilter(readView("?since=1h&until=2026-01-01&rule=x"))).toEqual({ rule: "x" });
    // the source is the collector's filter: the query's and the tail's alike
    expect(queryFilter(readView("?source=k8s_*"))).toEqual({ source: "k8s_*", since: "24h" });
    expect(tailFilter(readView("?since=1h&source=k8s_*"))).toEqual({ source: "k8s_*" });
    expect(isLive(readView("?since=1h"))).toBe(true);
    expect(isLive(readView("?until=2026-01-01"))).toBe(false);
  });
});
