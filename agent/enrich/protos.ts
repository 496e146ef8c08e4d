// SPDX-License-Identifier: Apache-2.0
/**
 * Loads the `.proto` files under the repository's `proto/` (containerd's API subset and the CRI
 * runtime.v1 subset) with protobufjs at run time. Works from the TypeScript sources and from
 * `dist/`: the proto folder is found by walking up from this module.
 */
import { existsSync } from "node:fs";
import { dirname, isAbsolute, join } from "node:path";
import { fileURLToPath } from "node:url";
import protobuf from "protobufjs";
import { ProtoLoadError } from "./errors.js";

/** The containerd API files Vigil uses, relative to `proto/containerd`. */
const CONTAINERD_FILES = ["containers.proto", "images.proto", "content.proto", "events.proto", "event-types.proto", "version.proto"] as const;

let protoDirCache: string | undefined;

/** The package's `proto/` directory, found from this module's own location (sources or dist/). */
export function protoDir(): string {
  if (protoDirCache !== undefined) return protoDirCache;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    const cand = join(dir, "proto");
    if (existsSync(join(cand, "containerd", "containers.proto"))) return (protoDirCache = cand);
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  throw new ProtoLoadError("proto directory not found beside the package");
}

function load(sub: string, files: readonly string[]): protobuf.Root {
  const base = join(protoDir(), sub);
  const root = new protobuf.Root();
  // google/protobuf/* come from protobufjs's bundled well-known types; ours resolve in `base`.
  root.resolvePath = (_origin: string, target: string): string => (target.startsWith("google/protobuf/") || isAbsolute(target) ? target : join(base, target));
  try {
    root.loadSync(
      files.map((f) => join(base, f)),
      { keepCase: false },
    );
    root.resolveAll();
  } catch (err) {
    throw new ProtoLoadError(`cannot load ${sub} protos`, { cause: err });
  }
  return root;
}

let containerdRoot: protobuf.Root | undefined;
let criRoot: protobuf.Root | undefined;

/** containerd's API subset (services containers, images, content, events, version; event payloads). */
export function containerdProtos(): protobuf.Root {
  return (containerdRoot ??= load("containerd", CONTAINERD_FILES));
}

/** The CRI runtime.v1 subset. */
export function criProtos(): protobuf.Root {
  return (criRoot ??= load("cri", ["api.proto"]));
}
