// SPDX-License-Identifier: Apache-2.0
/**
 * The Falco schema loaded the way a Node tool for Falco would: @grpc/proto-loader over the
 * .proto files (an independent decoder from the one Vigil uses), for the interop tests.
 */
import { join } from "node:path";
import {
  loadPackageDefinition,
  Server,
  ServerCredentials,
  type GrpcObject,
  type ServerDuplexStream,
  type ServerWritableStream,
  type ServiceClientConstructor,
} from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { REPO } from "./helpers/run-ts.js";

export function falcoPackage(): {
  outputs: ServiceClientConstructor & { service: Record<string, unknown> };
  version: ServiceClientConstructor & { service: Record<string, unknown> };
} {
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

/** A fake Falco gRPC outputs server (the real falco.outputs.service schema): responses pushed are
 * served to `sub` (on each request) and `get`. */
export interface FakeFalco {
  address: string;
  push(r: object): void;
  server: Server;
  subRequests: number;
}

export async function fakeFalco(address: string): Promise<FakeFalco> {
  const { outputs } = falcoPackage();
  const queue: object[] = [];
  const server = new Server();
  const f: FakeFalco = { address, push: (r) => queue.push(r), server, subRequests: 0 };
  server.addService(outputs.service as never, {
    get: (call: ServerWritableStream<object, object>) => {
      while (queue.length) call.write(queue.shift()!);
      call.end();
    },
    sub: (call: ServerDuplexStream<object, object>) => {
      call.on("data", () => {
        f.subRequests++;
        while (queue.length) call.write(queue.shift()!);
      });
      call.on("end", () => call.end());
    },
  });
  await new Promise<void>((res, rej) => server.bindAsync(address, ServerCredentials.createInsecure(), (e) => (e ? rej(e) : res())));
  return f;
}
