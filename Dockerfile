# syntax=docker/dockerfile:1
# SPDX-License-Identifier: Apache-2.0
#
# The Vigil image for those with a registry, for both architectures in one go:
#
#   docker buildx build --platform linux/amd64,linux/arm64 -t REGISTRY/vigil:VERSION --push .
#
# It holds the same files as the offline build (scripts/build-image.sh OUT.tar): the build stage
# runs scripts/image-rootfs.sh, which prepares the four layers both builds use, and the final
# stage copies them into an empty image. The build stage runs as linux/amd64, which must be the
# builder's own platform: it builds the probe for the host and cross-compiles the arm64 loader and
# tracer, as scripts/setup.sh does, and needs the builder kernel's BTF (/sys/kernel/btf/vmlinux)
# for vmlinux.h; nothing of the builder's kernel ends up in the image (CO-RE relocates at load
# time). So the builder runs an x86_64 kernel with BTF: an arm64 one has no x86_64 BTF for the
# amd64 probe (emulating amd64 does not change the kernel), and Debian has no arm64 builds of the
# cross packages below (gcc-aarch64-linux-gnu, *-arm64-cross); from an arm64 machine use a remote
# amd64 builder (`docker buildx create ssh://USER@HOST`) or scripts/build-image.sh on an amd64
# one. The first RUN checks the kernel.

ARG NODE_IMAGE=node:24-bookworm

FROM --platform=linux/amd64 ${NODE_IMAGE} AS build
ENV DEBIAN_FRONTEND=noninteractive
# the probe toolchain, the arm64 cross toolchain and libraries (the loader links libbpf, libelf
# and zlib statically), as scripts/setup.sh installs them; first, what the builder must have
RUN if [ ! -r /sys/kernel/btf/vmlinux ]; then echo "Dockerfile: the builder's kernel has no /sys/kernel/btf/vmlinux (CONFIG_DEBUG_INFO_BTF), which the probe's vmlinux.h comes from" >&2; exit 1; fi \
 && if ! grep -qs cpuinfo_x86 /sys/kernel/btf/vmlinux; then echo "Dockerfile: the builder's kernel is not x86_64 (its BTF has no x86 types): the build stage needs an amd64 builder (see the top of the Dockerfile)" >&2; exit 1; fi \
 && dpkg --add-architecture arm64 \
 && apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends \
      clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev pkg-config make gcc \
      gcc-aarch64-linux-gnu libc6-dev-arm64-cross linux-libc-dev-arm64-cross \
      libbpf-dev:arm64 libelf-dev:arm64 zlib1g-dev:arm64 \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json .node-version ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY . .
RUN npx tsc -p tsconfig.json \
 && node scripts/build-console.mjs \
 && make -s -C native-bridge \
 && make -s -C native-bridge cross-arm64
# Debian's glibc, libstdc++ and libgcc for the target architecture come from its package index.
# Only this step depends on the target: declared here, TARGETARCH leaves the steps above the same
# for both platforms, so a two-platform build runs them once.
ARG TARGETARCH
RUN dpkg --add-architecture "$TARGETARCH" && apt-get update -qq \
 && VIGIL_IMAGE_CACHE=/tmp/image-cache scripts/image-rootfs.sh "$TARGETARCH" /rootfs

FROM scratch
COPY --from=build /rootfs/base/ /
COPY --from=build /rootfs/node/ /
COPY --from=build /rootfs/deps/ /
COPY --from=build /rootfs/app/ /
# the same image config as scripts/build-image.sh writes (test/image/ compares them)
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/vigil"]
CMD ["--help"]
WORKDIR /opt/vigil
# MALLOC_ARENA_MAX: glibc malloc with 2 arenas for V8's worker threads, 5-8 MiB less RSS (BENCHMARKS.md, agent memory)
ENV PATH=/usr/local/bin:/usr/bin:/bin NODE_ENV=production MALLOC_ARENA_MAX=2
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="vigil" \
      org.opencontainers.image.description="Runtime security agent for Kubernetes nodes and AWS Fargate" \
      org.opencontainers.image.source="https://github.com/vigil-security/vigil" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0"
