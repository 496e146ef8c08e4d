// SPDX-License-Identifier: Apache-2.0
/** The collector says at start when its open-file limit cannot hold max_connections. */
import { describe, expect, it } from "vitest";
import { FDS_PER_CONNECTION, openFileLimit } from "../../collector/conn-limit.js";
import { startCollector } from "../../collector/server.js";
import { memoryLogger, tempDir } from "./helpers.js";

const MSG =
  "open-file limit is below what max_connections needs (3 descriptors per gRPC connection): raise ulimit -n or lower collector.limits.max_connections";

describe("open-file limit check", () => {
  it("reads the soft limit from /proc/self/limits text", () => {
    const text =
      "Limit                     Soft Limit           Hard Limit           Units\nMax open files            1024                 524288               files\n";
    expect(openFileLimit(text)).toBe(1024);
    expect(openFileLimit("Max open files            unlimited            unlimited            files\n")).toBeUndefined();
    expect(openFileLimit()).toBeGreaterThan(0);
  });

  it("warns once at start when max_connections needs more descriptors than the limit, not otherwise", async () => {
    const nofile = openFileLimit()!;
    const over = Math.ceil(nofile / FDS_PER_CONNECTION) + 10;
    const a = memoryLogger();
    const big = await startCollector({ listen: "127.0.0.1:0", dataDir: tempDir(), logger: a.logger, limits: { max_connections: over } });
    await big.close();
    expect(a.lines.filter((l) => l["msg"] === MSG)).toEqual([expect.objectContaining({ openFileLimit: nofile, maxConnections: over })]);
    const b = memoryLogger();
    const small = await startCollector({ listen: "127.0.0.1:0", dataDir: tempDir(), logger: b.logger, limits: { max_connections: 16 } });
    await small.close();
    expect(b.lines.filter((l) => l["msg"] === MSG)).toEqual([]);
  });
});
