#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Sets up everything Vigil needs on a Debian 12 machine, idempotently: Debian packages for the
# probe toolchain and the container runtime, the pinned Node.js, npm dependencies, the TypeScript
# build and the probe.
# Quick when everything is already in place.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PKGS=(clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev pkg-config make gcc containerd runc busybox-static iproute2 skopeo buildah debootstrap)
# the arm64 probe, loader and tracer (make -C native-bridge cross-arm64): cross compiler, arm64 UAPI
# headers, Debian's arm64 libbpf/libelf/zlib through multiarch, qemu-user to start the arm64 programs
APT_PKGS+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross linux-libc-dev-arm64-cross qemu-user-static libbpf-dev:arm64 libelf-dev:arm64 zlib1g-dev:arm64)
# kubectl kustomize for scripts/render-manifests.mjs and the deploy tests: Debian's kubernetes-client
# (kubectl 1.20), unless a kubectl is already installed (another package owning /usr/bin/kubectl,
# such as Google Cloud's kubectl, would make it fail to install); any later kubectl renders the same
command -v kubectl >/dev/null 2>&1 || APT_PKGS+=(kubernetes-client)
# npm fetches the pinned Node.js once (scripts/node-env.sh): Debian's when the machine has none
command -v npm >/dev/null 2>&1 || APT_PKGS+=(npm)
# the fleet path's servers, which its tests start on loopback in temporary folders: NATS with
# JetStream (a 3-node cluster) and PostgreSQL 15 (initdb/pg_ctl run as the postgres user)
APT_PKGS+=(nats-server postgresql-15)
# the syslog forwarder's tests run a real rsyslog on loopback (UDP, TCP, and TLS with the ossl driver)
APT_PKGS+=(rsyslog rsyslog-openssl)
# the console's browser test (test/console/browser.test.ts) drives Debian's Chromium headless
APT_PKGS+=(chromium)

missing=()
for p in "${APT_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  dpkg --print-foreign-architectures | grep -qx arm64 || dpkg --add-architecture arm64
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Node.js as pinned in .node-version (fetched from the npm registry the first time), first on PATH
. scripts/node-env.sh

# npm ci only when the lock changed since the last install, or another Node installed node_modules
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ] ||
  [ "$(cat node_modules/.vigil-node 2>/dev/null)" != "$(node --version)" ]; then
  echo "setup: installing npm dependencies (Node $(node --version))" >&2
  npm ci --no-audit --no-fund --loglevel=error
  touch node_modules/.package-lock.json
  node --version >node_modules/.vigil-node
fi

echo "setup: building TypeScript" >&2
npx tsc -p tsconfig.json
echo "setup: building the web console" >&2
node scripts/build-console.mjs

echo "setup: building the probe" >&2
make -s -C native-bridge
make -s -C native-bridge cross-arm64

# the pre-commit hook (Biome on the staged files), only in a git checkout
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  git config core.hooksPath .githooks
fi
