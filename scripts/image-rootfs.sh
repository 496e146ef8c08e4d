#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Prepares the four layers of the Vigil image for one architecture as folders:
#
#   scripts/image-rootfs.sh amd64|arm64 OUTDIR     # → OUTDIR/{base,node,deps,app}
#
# scripts/build-image.sh packs them into the OCI archive; the Dockerfile copies them into a
# `scratch` image, so both ways give the same files. Expects scripts/setup.sh to have run (the
# TypeScript build in dist/, native-bridge/build/ and native-bridge/build/arm64/).
#
#   base   glibc, libstdc++ and libgcc_s from Debian 12's packages for the architecture (the only
#          shared libraries node and vigil-probe load; vigil-trace and vigil-syslog are static),
#          /etc/passwd with root and vigil (65532), /tmp; every file is owned by root: what a
#          container writes goes to its volumes
#   node   /usr/local/bin/node: the official Node.js build (version in .node-version) from the npm
#          registry's node-linux-<arch> package
#   deps   /opt/vigil/node_modules: production dependencies only, no install scripts run (nothing
#          compiled, no npm cache); a native addon must be prebuilt for the architecture (checked)
#   app    /opt/vigil: package.json, dist/ (JavaScript), rules/files/, proto/, native-bridge/build/
#          (vigil-probe with the CO-RE probe object built in, probe.bpf.o, vigil-trace, and
#          vigil-syslog, syslog_output's writer to a mounted /dev/log), and
#          /usr/local/bin/vigil
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$PWD"

arch="${1:-}"
root="${2:-}"
case "$arch" in
amd64) triplet=x86_64-linux-gnu npm_arch=x64 machine=62 ;;
arm64) triplet=aarch64-linux-gnu npm_arch=arm64 machine=183 ;;
*)
  echo "usage: scripts/image-rootfs.sh amd64|arm64 OUTDIR" >&2
  exit 2
  ;;
esac
[ -n "$root" ] || { echo "usage: scripts/image-rootfs.sh amd64|arm64 OUTDIR" >&2; exit 2; }
# shellcheck source=scripts/node-env.sh
. scripts/node-env.sh
cache="${VIGIL_IMAGE_CACHE:-$repo/.cache/image}"
mkdir -p "$cache"
rm -rf "$root"
mkdir -p "$root"
echo "image-rootfs: linux/$arch" >&2

# Fetches a Debian package for the architecture into the cache (once), prints its path.
deb() {
  local pkg="$1" f
  f="$(find "$cache" -maxdepth 1 -name "${pkg}_*_${arch}.deb" | head -n1)"
  if [ -z "$f" ]; then
    (cd "$cache" && apt-get download -qq -o APT::Sandbox::User=root "$pkg:$arch" >/dev/null 2>&1) || {
      echo "image-rootfs: apt-get download $pkg:$arch failed (is the $arch architecture added? scripts/setup.sh adds it)" >&2
      exit 1
    }
    f="$(find "$cache" -maxdepth 1 -name "${pkg}_*_${arch}.deb" | head -n1)"
  fi
  echo "$f"
}

# The official Node.js build for the architecture (node-env.sh fetches it from the npm registry once).
node_bin() {
  vigil_node_fetch "$npm_arch" >&2 || exit 1
  echo "$(vigil_node_dir "$npm_arch")/bin/node"
}

# e_machine of an ELF file: 62 x86-64, 183 AArch64.
elf_machine() {
  od -An -t u2 -j 18 -N 2 "$1" | tr -d ' '
}

# base: the C and C++ runtime from Debian's own packages for the architecture
base="$root/base"
mkdir -p "$base"
for p in libc6 libgcc-s1 libstdc++6; do dpkg-deb -x "$(deb "$p")" "$base"; done
# the shared libraries and the dynamic loader only: no docs, locales, gconv modules, helpers
rm -rf "$base/usr/share" "$base/usr/libexec" "$base/usr/lib/$triplet/gconv" "$base/etc" "$base/sbin" "$base/usr/sbin" "$base/usr/bin" "$base/usr/lib/$triplet/audit"
find "$base" -name '*.a' -delete
mkdir -p "$base/etc" "$base/tmp" "$base/var/lib/vigil" "$base/var/spool/vigil" "$base/proc" "$base/sys" "$base/dev"
chmod 1777 "$base/tmp"
printf 'root:x:0:0:root:/root:/sbin/nologin\nvigil:x:65532:65532:vigil:/nonexistent:/sbin/nologin\n' >"$base/etc/passwd"
printf 'root:x:0:\nvigil:x:65532:\n' >"$base/etc/group"
# name lookups: the kubelet's /etc/hosts first, then DNS (without this file glibc asks DNS first)
printf 'hosts: files dns\n' >"$base/etc/nsswitch.conf"

# node: the official build for the architecture
nodel="$root/node"
mkdir -p "$nodel/usr/local/bin"
install -m 0755 "$(node_bin)" "$nodel/usr/local/bin/node"
[ "$(elf_machine "$nodel/usr/local/bin/node")" = "$machine" ] || { echo "image-rootfs: node for $arch has the wrong ELF machine" >&2; exit 1; }

# deps: production dependencies for the architecture
deps="$root/deps"
mkdir -p "$deps/opt/vigil"
cp package.json package-lock.json "$deps/opt/vigil/"
(cd "$deps/opt/vigil" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error --os=linux --cpu="$npm_arch" >&2)
rm -f "$deps/opt/vigil/package.json" "$deps/opt/vigil/package-lock.json" "$deps/opt/vigil/node_modules/.package-lock.json"
# what no program reads at run time: type declarations, source maps, documents
find "$deps/opt/vigil/node_modules" -type f \( -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' -o -name '*.map' -o -name '*.md' -o -name '*.markdown' \) -delete
while IFS= read -r -d '' addon; do
  if [ "$(elf_machine "$addon")" != "$machine" ]; then
    echo "image-rootfs: native addon ${addon#"$deps"/} is not built for $arch" >&2
    exit 1
  fi
done < <(find "$deps" -name '*.node' -type f -print0)
# a package that compiles itself at install time would be broken here (its install script did not run)
while IFS= read -r -d '' gyp; do
  pkgdir="$(dirname "$gyp")"
  # its build for the platform: in the package, or in the @NAME/NAME-linux-<arch> package that
  # npm installs for the platform (prebuildify's platform packages)
  prebuilt="$(dirname "$pkgdir")/@$(basename "$pkgdir")"
  if [ -z "$(find "$pkgdir" "$prebuilt" -name '*.node' -type f -print -quit 2>/dev/null)" ]; then
    echo "image-rootfs: ${pkgdir#"$deps"/} is a native addon with no build for $arch" >&2
    exit 1
  fi
done < <(find "$deps" -name binding.gyp -type f -not -path '*/node_modules/*/node_modules/*/test/*' -print0)

# app: the built JavaScript, rules, protocol files, probe, tracer and syslog writer. Those of the
# architecture: the cross build (native-bridge/build/<arch>/) or the host's own (native-bridge/build/)
bindir=""
for d in "native-bridge/build/$arch" native-bridge/build; do
  if [ -x "$d/vigil-probe" ] && [ "$(elf_machine "$d/vigil-probe")" = "$machine" ]; then bindir="$d" && break; fi
done
[ -n "$bindir" ] || { echo "image-rootfs: no vigil-probe built for $arch (scripts/setup.sh builds both)" >&2; exit 1; }
app="$root/app"
mkdir -p "$app/opt/vigil/native-bridge/build" "$app/opt/vigil/rules" "$app/opt/vigil/dist" "$app/usr/local/bin"
cp package.json "$app/opt/vigil/"
# the JavaScript of today's sources only: dist/ keeps the output of a source that was renamed or
# removed since (tsc never deletes), which must not ship; the console's browser code is bundled
# into dist/console instead (tsconfig.json leaves it out)
find agent collector proto rules -path collector/console/web -prune -o -name '*.ts' -not -name '*.d.ts' -print0 | sed -z 's/\.ts$/.js/' | (cd dist && xargs -0 cp --parents -t "$app/opt/vigil/dist")
# the web console the collector serves (scripts/build-console.mjs: index.html, hashed assets)
[ -f dist/console/index.html ] || { echo "image-rootfs: dist/console is missing (npm run build builds it)" >&2; exit 1; }
cp -r dist/console "$app/opt/vigil/dist/console"
cp -r rules/files "$app/opt/vigil/rules/files"
find proto -name '*.proto' -print0 | xargs -0 cp --parents -t "$app/opt/vigil"
for b in vigil-probe vigil-trace vigil-syslog; do
  [ -x "$bindir/$b" ] || { echo "image-rootfs: $bindir/$b is missing (scripts/setup.sh builds it)" >&2; exit 1; }
  [ "$(elf_machine "$bindir/$b")" = "$machine" ] || { echo "image-rootfs: $bindir/$b is not built for $arch" >&2; exit 1; }
  install -m 0755 "$bindir/$b" "$app/opt/vigil/native-bridge/build/$b"
done
install -m 0644 "$bindir/probe.bpf.o" "$app/opt/vigil/native-bridge/build/probe.bpf.o"
# the agent's code-page trim (memory.trim_code), loaded by the image's node
[ -f "$bindir/vigil-mem.node" ] || { echo "image-rootfs: $bindir/vigil-mem.node is missing (scripts/setup.sh builds it)" >&2; exit 1; }
[ "$(elf_machine "$bindir/vigil-mem.node")" = "$machine" ] || { echo "image-rootfs: $bindir/vigil-mem.node is not built for $arch" >&2; exit 1; }
install -m 0644 "$bindir/vigil-mem.node" "$app/opt/vigil/native-bridge/build/vigil-mem.node"
# `vigil` on PATH: the CLI through the image's node (the image has no shell and no /usr/bin/env)
printf '#!/usr/local/bin/node\nimport("/opt/vigil/dist/agent/cli/main.js");\n' >"$app/usr/local/bin/vigil"
chmod 0755 "$app/usr/local/bin/vigil"
