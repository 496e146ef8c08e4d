// SPDX-License-Identifier: Apache-2.0
/**
 * Throwaway mutual-TLS material made with openssl in a temporary folder: a CA, a server
 * certificate for 127.0.0.1/localhost and a client certificate it signed, plus a second,
 * unrelated CA with its own client certificate (a client the server must not trust).
 */
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface MtlsFiles {
  dir: string;
  caCert: string;
  serverKey: string;
  serverCert: string;
  clientKey: string;
  clientCert: string;
  /** A client certificate signed by another CA. */
  rogueKey: string;
  rogueCert: string;
  read(file: string): Buffer;
}

/** Writes the files into `dir` (valid two days); EC P-256 keys, quick to make. */
export function makeMtlsFiles(dir: string): MtlsFiles {
  const ossl = (args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "ignore" });
  const key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  const ca = (name: string) => ossl(["req", "-x509", ...key, "-keyout", `${name}.key`, "-out", `${name}.crt`, "-days", "2", "-subj", `/CN=${name}`]);
  const leaf = (name: string, cn: string, signer: string, ext: string) => {
    ossl(["req", ...key, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${cn}`]);
    writeFileSync(join(dir, `${name}.ext`), ext);
    ossl([
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      `${signer}.crt`,
      "-CAkey",
      `${signer}.key`,
      "-CAcreateserial",
      "-out",
      `${name}.crt`,
      "-days",
      "2",
      "-extfile",
      `${name}.ext`,
    ]);
  };
  ca("vigil-test-ca");
  ca("rogue-ca");
  leaf("server", "localhost", "vigil-test-ca", "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n");
  leaf("client", "falco-node-1", "vigil-test-ca", "extendedKeyUsage=clientAuth\n");
  leaf("rogue", "falco-node-1", "rogue-ca", "extendedKeyUsage=clientAuth\n");
  const p = (f: string) => join(dir, f);
  return {
    dir,
    caCert: p("vigil-test-ca.crt"),
    serverKey: p("server.key"),
    serverCert: p("server.crt"),
    clientKey: p("client.key"),
    clientCert: p("client.crt"),
    rogueKey: p("rogue.key"),
    rogueCert: p("rogue.crt"),
    read: (file) => readFileSync(file),
  };
}
