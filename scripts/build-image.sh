#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds the Vigil image offline as an OCI archive holding linux/amd64 and linux/arm64:
#
#   scripts/build-image.sh OUT.tar            # both platforms
#   scripts/build-image.sh OUT.tar amd64      # one platform (quicker, e.g. for a local test)
#   ctr -n k8s.io images import --all-platforms OUT.tar
#
# No registry and no Docker engine: every input comes from this checkout (the TypeScript build,
# the probe and tracer built by setup.sh for both architectures), Debian's packages (glibc,
# libstdc++ and libgcc for each architecture, as `apt-get download` fetches them) and the npm
# registry (the official Node.js build for each architecture as the node-linux-<arch> package;
# the production dependencies by `npm ci --omit=dev`). The Dockerfile builds the same image with
# `docker buildx` for those who have a registry.
#
# Layers, per platform: base (glibc, libstdc++, libgcc from Debian), node, deps (production
# node_modules), app (/opt/vigil and /usr/local/bin/vigil); scripts/image-rootfs.sh prepares them
# and says what each holds, scripts/oci-image.mjs packs them. The image config (entrypoint `vigil`,
# default user 65532 for the collector, webhook and tail; the agent's DaemonSet runs it as root
# with the capabilities it lists) is written here and in the Dockerfile, and a test compares them.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$#" -lt 1 ] || [ "$#" -gt 2 ]; then
  echo "usage: scripts/build-image.sh OUT.tar [amd64|arm64|amd64,arm64]" >&2
  exit 2
fi
out="$(realpath -m "$1")"
IFS=',' read -r -a arches <<<"${2:-amd64,arm64}"
for a in "${arches[@]}"; do
  case "$a" in amd64 | arm64) ;; *) echo "build-image: unknown architecture $a (amd64, arm64)" >&2; exit 2 ;; esac
done

./scripts/setup.sh >&2
# shellcheck source=scripts/node-env.sh
. scripts/node-env.sh

version="$(node -p 'require("./package.json").version')"
revision="$(git rev-parse HEAD 2>/dev/null || echo unknown)"
if [ "$revision" != unknown ] && [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then revision="$revision-dirty"; fi
# reproducible: the time stamps are the last commit's
created="$(git log -1 --format=%cI 2>/dev/null || date -u +%Y-%m-%dT%H:%M:%SZ)"
name="ghcr.io/vigil-security/vigil:$version"

work="$(mktemp -d /tmp/vigil-image.XXXXXX)"
trap 'rm -rf "$work"' EXIT
platform_args=()
for arch in "${arches[@]}"; do
  ./scripts/image-rootfs.sh "$arch" "$work/$arch"
  platform_args+=(--platform "$arch=$work/$arch/base,$work/$arch/node,$work/$arch/deps,$work/$arch/app")
done

# the same as the Dockerfile's USER, ENTRYPOINT, CMD, WORKDIR and ENV (test/image/ compares them)
config='{"User":"65532:65532","Entrypoint":["/usr/local/bin/vigil"],"Cmd":["--help"],"WorkingDir":"/opt/vigil","Env":["PATH=/usr/local/bin:/usr/bin:/bin","NODE_ENV=production","MALLOC_ARENA_MAX=2"]}'

node scripts/oci-image.mjs --out "$out" --name "$name" --created "$created" --config "$config" \
  --label "org.opencontainers.image.title=vigil" \
  --label "org.opencontainers.image.description=Runtime security agent for Kubernetes nodes and AWS Fargate" \
  --label "org.opencontainers.image.source=https://github.com/vigil-security/vigil" \
  --label "org.opencontainers.image.version=$version" \
  --label "org.opencontainers.image.revision=$revision" \
  --label "org.opencontainers.image.created=$created" \
  --label "org.opencontainers.image.licenses=Apache-2.0" \
  "${platform_args[@]}"
echo "build-image: wrote $out ($name)" >&2
