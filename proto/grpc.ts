// SPDX-License-Identifier: Apache-2.0
/**
 * Loads the `.proto` files at run time with protobufjs (once per process) and builds grpc-js
 * service definitions from them. Requests are deserialized inside the handlers, not by grpc-js,
 * so that a malformed protobuf becomes INVALID_ARGUMENT (and is counted) instead of INTERNAL.
 */
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { MethodDefinition, ServiceDefinition } from "@grpc/grpc-js";
import protobuf from "protobufjs";
import type { Root, Type } from "protobufjs";

/** The Vigil ingest messages. */
export interface VigilProto {
  PushRequest: Type;
  PushResponse: Type;
  Alert: Type;
}

/** The Falco outputs/version messages. */
export interface FalcoProto {
  request: Type;
  response: Type;
  versionRequest: Type;
  versionResponse: Type;
}

let protoDir: string | undefined;

/**
 * The folder of the `.proto` files: this module's own folder when it runs from the sources, the
 * package's `proto/` when it runs from `dist/proto/` (tsc does not copy `.proto` files).
 */
function protoPath(...parts: string[]): string {
  if (protoDir === undefined) {
    let dir = dirname(fileURLToPath(import.meta.url));
    for (;;) {
      if (existsSync(join(dir, "vigil", "collector.proto"))) break;
      if (existsSync(join(dir, "proto", "vigil", "collector.proto"))) {
        dir = join(dir, "proto");
        break;
      }
      const up = dirname(dir);
      if (up === dir) throw new Error("cannot find the vigil .proto files (proto/vigil/collector.proto)");
      dir = up;
    }
    protoDir = dir;
  }
  return join(protoDir, ...parts);
}

let vigil: VigilProto | undefined;
let falco: FalcoProto | undefined;

function loadRoot(files: string[]): Root {
  const root = new protobuf.Root();
  // Falco's protos import each other by bare name ("schema.proto"); resolve beside the importer.
  root.resolvePath = (origin: string, target: string): string => (target.startsWith("google/") || origin === "" ? target : join(dirname(origin), target));
  root.loadSync(files, { keepCase: true });
  root.resolveAll();
  return root;
}

/** The Vigil collector protocol (proto/vigil/collector.proto). */
export function vigilProto(): VigilProto {
  if (vigil) return vigil;
  const root = loadRoot([protoPath("vigil", "collector.proto")]);
  vigil = {
    PushRequest: root.lookupType("vigil.collector.v1.PushRequest"),
    PushResponse: root.lookupType("vigil.collector.v1.PushResponse"),
    Alert: root.lookupType("vigil.collector.v1.Alert"),
  };
  return vigil;
}

/** Falco's gRPC outputs and version protocol (proto/falco/*.proto). */
export function falcoProto(): FalcoProto {
  if (falco) return falco;
  const root = loadRoot([protoPath("falco", "outputs.proto"), protoPath("falco", "version.proto")]);
  falco = {
    request: root.lookupType("falco.outputs.request"),
    response: root.lookupType("falco.outputs.response"),
    versionRequest: root.lookupType("falco.version.request"),
    versionResponse: root.lookupType("falco.version.response"),
  };
  return falco;
}

const identity = (b: Buffer): Buffer => b;

/** A method whose messages travel as raw bytes; handlers encode/decode themselves. */
function rawMethod(path: string, requestStream: boolean, responseStream: boolean): MethodDefinition<Buffer, Buffer> {
  return {
    path,
    requestStream,
    responseStream,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  };
}

/** `vigil.collector.v1.Ingest`. */
export const INGEST_SERVICE = {
  Push: rawMethod("/vigil.collector.v1.Ingest/Push", false, false),
} satisfies ServiceDefinition;

/** `falco.outputs.service` (Falco ≤ 0.43). */
export const FALCO_OUTPUTS_SERVICE = {
  sub: rawMethod("/falco.outputs.service/sub", true, true),
  get: rawMethod("/falco.outputs.service/get", false, true),
} satisfies ServiceDefinition;

/** `falco.version.service`. */
export const FALCO_VERSION_SERVICE = {
  version: rawMethod("/falco.version.service/version", false, false),
} satisfies ServiceDefinition;
