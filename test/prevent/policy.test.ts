// SPDX-License-Identifier: Apache-2.0
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../agent/config/index.js";
import { HOST_CONTAINER } from "../../agent/enrich/container-info.js";
import { PreventBit } from "../../agent/decode/layout.js";
import { PreventionPolicy, kindBits, kindNames, parseSelector } from "../../agent/prevent/index.js";
import type { ContainerInfo } from "../../rules/event.js";
import { container as baseContainer } from "../rules/event-builder.js";

/** A container of image docker.io/acme/shop:1.2, in Kubernetes namespace `ns` when given. */
function container(over: Partial<ContainerInfo> = {}, ns?: string): ContainerInfo {
  return baseContainer({
    image: "docker.io/acme/shop:1.2",
    imageRepository: "docker.io/acme/shop",
    imageTag: "1.2",
    ...(ns !== undefined ? { k8s: { podName: "p", namespace: ns, podUid: "u", sandboxId: undefined, podIp: undefined, containerName: "web" } } : {}),
    ...over,
  });
}

describe("selectors: accepted", () => {
  it.each([
    ["*", { all: true }],
    ["namespace=prod", { namespace: "prod" }],
    ["image=docker.io/acme/*", {}],
    ["container=web", { container: "web" }],
    ["namespace=prod&image=acme/*", { namespace: "prod" }],
    [" namespace = prod ", { namespace: "prod" }],
  ])("%s", (text, expected) => {
    expect(parseSelector(text)).toMatchObject(expected);
  });
  it("object form with its own kinds", () => {
    const s = parseSelector({ namespace: "prod", block: ["memfd"] });
    expect(s.bits).toBe(PreventBit.Memfd);
    expect(s.text).toBe("namespace=prod");
  });
});

describe("selectors: rejected with a reason", () => {
  it.each([
    ["", /expected namespace=/],
    ["prod", /expected namespace=/],
    ["pod=x", /expected namespace=/],
    ["namespace=", /1\.\.512/],
    ["namespace=a&namespace=b", /given twice/],
    ["namespace=a&", /expected namespace=/],
  ])("%j", (text, reason) => {
    expect(() => parseSelector(text)).toThrow(reason);
  });
  it("an object naming nothing", () => {
    expect(() => parseSelector({})).toThrow(/names nothing/);
  });
  it("an unknown kind", () => {
    expect(() => kindBits(["upper"])).toThrow(/unknown drift kind/);
  });
});

describe("PreventionPolicy.bitsFor", () => {
  const all = PreventBit.Upper | PreventBit.Memfd | PreventBit.Tmpfs;
  const policy = (scope: (string | object)[], block = ["upper_layer", "memfd", "tmpfs"]) => new PreventionPolicy({ block, scope });

  it.each([
    ["namespace matches", ["namespace=prod"], container({}, "prod"), all],
    ["namespace differs", ["namespace=prod"], container({}, "dev"), 0],
    ["namespace needs Kubernetes facts", ["namespace=prod"], container(), 0],
    ["image glob on the reference", ["image=docker.io/acme/*"], container(), all],
    ["image glob on the repository", ["image=*/acme/shop"], container(), all],
    ["image differs", ["image=docker.io/other/*"], container(), 0],
    ["image unknown", ["image=*"], container({ image: undefined, imageRepository: undefined }), 0],
    ["container by name", ["container=web"], container(), all],
    ["container by short id", ["container=0123456789ab"], container(), all],
    ["container by long id prefix", ["container=0123456789abcdef"], container(), all],
    ["container id too short to be a prefix", ["container=0123"], container(), 0],
    ["conjunction: both hold", ["namespace=prod&image=*acme*"], container({}, "prod"), all],
    ["conjunction: one fails", ["namespace=prod&image=*other*"], container({}, "prod"), 0],
    ["any selector of the list", ["namespace=x", "container=web"], container(), all],
    ["* selects every container", ["*"], container(), all],
    ["empty scope selects nothing", [], container(), 0],
  ])("%s", (_n, scope, c, bits) => {
    expect(policy(scope).bitsFor(c)).toBe(bits);
  });

  it("kinds: global default, narrowed per selector, unioned over matching selectors", () => {
    expect(policy(["*"], ["upper_layer"]).bitsFor(container())).toBe(PreventBit.Upper);
    expect(policy([{ container: "web", block: ["memfd"] }], ["upper_layer"]).bitsFor(container())).toBe(PreventBit.Memfd);
    expect(policy([{ container: "web", block: ["memfd"] }, "image=*"], ["upper_layer"]).bitsFor(container())).toBe(PreventBit.Memfd | PreventBit.Upper);
    expect(kindNames(PreventBit.Upper | PreventBit.Tmpfs)).toEqual(["upper_layer", "tmpfs"]);
  });

  it("the host is never in scope, whatever the selectors say", () => {
    expect(policy(["*", "container=host", "image=*"]).bitsFor(HOST_CONTAINER)).toBe(0);
    expect(policy(["*"]).matching(HOST_CONTAINER)).toEqual([]);
  });
});

describe("prevention config", () => {
  it("defaults: off, all kinds, empty scope", () => {
    const c = loadConfig({ env: {}, overrides: {} });
    expect(c.prevention).toEqual({ enabled: false, block: ["upper_layer", "memfd", "tmpfs"], scope: [], max_cgroups: 4096 });
  });
  it("environment variables like every other option", () => {
    const c = loadConfig({
      env: {
        VIGIL_PREVENTION_ENABLED: "true",
        VIGIL_PREVENTION_SCOPE: "namespace=prod, image=docker.io/acme/*&namespace=x",
        VIGIL_PREVENTION_BLOCK: "upper_layer,memfd",
        VIGIL_PREVENTION_MAX_CGROUPS: "64",
      },
      overrides: {},
    });
    expect(c.prevention).toEqual({
      enabled: true,
      block: ["upper_layer", "memfd"],
      scope: ["namespace=prod", "image=docker.io/acme/*&namespace=x"],
      max_cgroups: 64,
    });
  });
  it.each([
    [{ VIGIL_PREVENTION_SCOPE: "nope=1" }, /prevention\.scope\.0/],
    [{ VIGIL_PREVENTION_BLOCK: "upper" }, /prevention\.block/],
    [{ VIGIL_PREVENTION_MAX_CGROUPS: "0" }, /prevention\.max_cgroups/],
  ])("rejects %j naming the path", (env, reason) => {
    expect(() => loadConfig({ env, overrides: {} })).toThrow(reason);
  });
  it("object selectors from a file's structure", () => {
    const c = loadConfig({ env: {}, overrides: { prevention: { enabled: true, scope: [{ namespace: "prod", block: ["memfd"] }] } } });
    expect(new PreventionPolicy(c.prevention).bitsFor(container({}, "prod"))).toBe(PreventBit.Memfd);
  });
});
