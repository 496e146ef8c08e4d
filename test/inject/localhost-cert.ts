// SPDX-License-Identifier: Apache-2.0
/** A throwaway self-signed certificate for localhost / 127.0.0.1 (TLS servers in tests). */
import { execFileSync } from "node:child_process";
import { join } from "node:path";

/** Writes `key.pem` and `cert.pem` (valid one day) into `dir`. */
export function writeLocalhostCert(dir: string): void {
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-days",
      "1",
      "-subj",
      "/CN=localhost",
      "-addext",
      "subjectAltName=DNS:localhost,IP:127.0.0.1",
      "-keyout",
      join(dir, "key.pem"),
      "-out",
      join(dir, "cert.pem"),
    ],
    { stdio: "ignore" },
  );
}
