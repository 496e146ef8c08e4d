# syntax=docker/dockerfile:1
# SPDX-License-Identifier: Apache-2.0
#
# The Vigil image for those with a registry, for both architectures in one go:
#
#   docker buildx build --platform linux/amd64,linux/arm64 -t REGISTRY/vigil:VERSION --push .
#
# It holds the same files as the offline build (scripts/build-image.sh OUT.tar): the build stage
# runs scripts/image-rootfs.sh, which prepares the four layers both builds use, and the final
# stage copies them into an empty image. The build stage runs on the builder's own platform
# (amd64: it builds the probe for the host and cross-compiles the arm64 loader and tracer, as
# scripts/setup.sh does) and needs the builder kernel's BTF (/sys/kernel/btf/vmlinux) for
# vmlinux.h; nothing of the builder's kernel ends up in the image (CO-RE relocates at load time).

ARG NODE_IMAGE=node:24-bookworm

FROM --platform=$BUILDPLATFORM ${NODE_IMAGE} AS build
ARG TARGETARCH
ENV DEBIAN_FRONTEND=noninteractive
# the probe toolchain, the arm64 cross toolchain and libraries (the loader links libbpf, libelf
# and zlib statically), as scripts/setup.sh installs them
RUN dpkg --add-architecture arm64 \
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
 && make -s -C native-bridge \
 && make -s -C native-bridge cross-arm64
# Debian's glibc, libstdc++ and libgcc for the target architecture come from its package index
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
ENV PATH=/usr/local/bin:/usr/bin:/bin NODE_ENV=production
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="vigil" \
      org.opencontainers.image.description="Runtime security agent for Kubernetes nodes and AWS Fargate" \
      org.opencontainers.image.source="https://github.com/vigil-security/vigil" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0"
