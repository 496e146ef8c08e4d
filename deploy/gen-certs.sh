#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Makes the TLS material Vigil's manifests expect when cert-manager is not used (deploy/README.md):
#   deploy/gen-certs.sh OUT_DIR [NAMESPACE]      (NAMESPACE defaults to vigil)
# writes into OUT_DIR (created, mode 0700; existing files are never overwritten):
#   ca.crt, ca.key              a private CA (ECDSA P-256, 5 years): signs the two below
#   collector.crt, collector.key  the collector's serving certificate (1 year): the Service's names
#                               (vigil-collector.NAMESPACE.svc, ...) and localhost, which
#                               `kubectl port-forward` + `vigil tail --collector localhost:9377` uses
#   webhook.crt, webhook.key    the webhooks' serving certificate (1 year): the names of the Fargate
#                               webhook's Service and of admission control's (deploy/admission)
# and prints the kubectl commands that load them into the Secrets the manifests mount. Keep ca.key
# offline (it signs anything the agents and the API server would trust); nothing in the cluster needs it.
set -euo pipefail

if [ "$#" -lt 1 ] || [ "$#" -gt 2 ]; then
  echo "usage: $0 OUT_DIR [NAMESPACE]" >&2
  exit 2
fi
out=$1
ns=${2:-vigil}
# a DNS label: it goes into certificate names
if ! [[ "$ns" =~ ^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$ ]]; then
  echo "gen-certs: namespace must be a DNS label (lowercase letters, digits, '-'): $ns" >&2
  exit 2
fi
command -v openssl >/dev/null || { echo "gen-certs: openssl not found" >&2; exit 1; }

umask 077
mkdir -p "$out"
for f in ca.crt ca.key collector.crt collector.key webhook.crt webhook.key; do
  if [ -e "$out/$f" ]; then
    echo "gen-certs: $out/$f exists; refusing to overwrite (use an empty folder)" >&2
    exit 1
  fi
done

ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
openssl req -x509 "${ec[@]}" -keyout "$out/ca.key" -out "$out/ca.crt" -days 1825 -subj "/CN=vigil-ca" \
  -addext "basicConstraints=critical,CA:TRUE,pathlen:0" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null

# leaf NAME SERVICE [EXTRA_SAN]: a serving certificate for the Service SERVICE in the namespace
leaf() {
  local name=$1 svc=$2 extra=${3:-}
  local sans="DNS:$svc,DNS:$svc.$ns,DNS:$svc.$ns.svc,DNS:$svc.$ns.svc.cluster.local$extra"
  openssl req -new "${ec[@]}" -keyout "$out/$name.key" -out "$out/$name.csr" -subj "/CN=$svc.$ns.svc" 2>/dev/null
  printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=%s\n' "$sans" >"$out/$name.ext"
  openssl x509 -req -in "$out/$name.csr" -CA "$out/ca.crt" -CAkey "$out/ca.key" -set_serial "0x$(openssl rand -hex 16)" \
    -days 365 -extfile "$out/$name.ext" -out "$out/$name.crt" 2>/dev/null
  rm -f "$out/$name.csr" "$out/$name.ext"
}
leaf collector vigil-collector ",DNS:localhost"
leaf webhook vigil-webhook ",DNS:vigil-admission,DNS:vigil-admission.$ns,DNS:vigil-admission.$ns.svc,DNS:vigil-admission.$ns.svc.cluster.local"

cat <<EOF
gen-certs: wrote $out/{ca,collector,webhook}.{crt,key}. Load them (namespace $ns):
  kubectl -n $ns create secret generic vigil-collector-tls --type=kubernetes.io/tls \\
    --from-file=tls.crt=$out/collector.crt --from-file=tls.key=$out/collector.key --from-file=ca.crt=$out/ca.crt
  kubectl -n $ns create secret tls vigil-webhook-tls --cert=$out/webhook.crt --key=$out/webhook.key   # Fargate overlay, deploy/admission
EOF
