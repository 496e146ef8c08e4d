// SPDX-License-Identifier: Apache-2.0
/** HTTP helpers of the console's server tests: every header under the test's control (Origin, Cookie, Host). */
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";

/** One answer, body read whole. */
export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** Sends one request to `base` (http:// or https://) and reads the whole answer. */
export function send(
  base: string,
  path: string,
  opts: { method?: string; headers?: Record<string, string>; body?: string | Buffer; ca?: Buffer } = {},
): Promise<Answer> {
  const u = new URL(path, base);
  const req = (u.protocol === "https:" ? httpsRequest : httpRequest)(u, {
    method: opts.method ?? "GET",
    headers: opts.headers ?? {},
    ...(opts.ca !== undefined ? { ca: opts.ca } : {}),
    agent: false,
  });
  return new Promise((resolve, reject) => {
    req.on("error", reject);
    req.on("response", (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }));
      res.on("error", reject);
    });
    req.end(opts.body);
  });
}

/** The `name=value` of a Set-Cookie answer (for the next request's Cookie header). */
export function cookieOf(a: Answer): string {
  const sc = a.headers["set-cookie"];
  const first = Array.isArray(sc) ? sc[0] : sc;
  if (first === undefined) throw new Error("no set-cookie");
  return first.split(";")[0]!;
}

/** The Set-Cookie header's first value. */
export function setCookie(a: Answer): string | undefined {
  const sc = a.headers["set-cookie"];
  return Array.isArray(sc) ? sc[0] : sc;
}
