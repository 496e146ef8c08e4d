// SPDX-License-Identifier: Apache-2.0
/**
 * The Falco schema loaded the way a Node tool for Falco would: @grpc/proto-loader over the
 * .proto files (an independent decoder from the one Vigil uses), for the interop tests.
 */
import { join } from "node:path";
import { loadPackageDefinition, type GrpcObject, type ServiceClientConstructor } from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { REPO } from "./helpers/run-ts.js";

export function falcoPackage(): { outputs: ServiceClientConstructor & { service: Record<string, unknown> }; version: ServiceClientConstructor & { service: Record<string, unknown> } } {
  const def = loadSync(["outputs.proto", "version.proto"], {
    includeDirs: [join(REPO, "proto", "falco")],
    keepCase: true,
    longs: Number,
    enums: String,
    defaults: true,
  });
  const pkg = loadPackageDefinition(def) as unknown as { falco: { outputs: GrpcObject; version: GrpcObject } };
  return {
    outputs: pkg.falco.outputs["service"] as ServiceClientConstructor & { service: Record<string, unknown> },
    version: pkg.falco.version["service"] as ServiceClientConstructor & { service: Record<string, unknown> },
  };
}
