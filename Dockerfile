# llm-node-exporter image: docs/install.md ("The image").
#   docker build -t ghcr.io/llm-node-exporter/llm-node-exporter:$(cat VERSION) .
# NVML (libnvidia-ml.so.1) is NOT in the image: the NVIDIA container runtime injects the host
# driver's library at run time (runtimeClassName nvidia or NVIDIA_VISIBLE_DEVICES=all with
# NVIDIA_DRIVER_CAPABILITIES=utility); go-nvml dlopens it, so the binary builds and starts without it.

# GO_VERSION is the Go release of the build stage (go.mod needs 1.26.8 or later).
ARG GO_VERSION=1.26

FROM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
# go-nvml is cgo: build with the bookworm toolchain so the binary's glibc matches the runtime image.
ENV CGO_ENABLED=1 \
    CGO_CFLAGS="-O2 -g -Wno-deprecated-declarations"
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/root/go/pkg/mod go mod download
COPY . .
ARG VERSION=0.0.0
ARG REVISION=unknown
RUN --mount=type=cache,target=/root/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    go build -trimpath -o /out/llm-node-exporter \
      -ldflags "-s -w \
        -X github.com/prometheus/common/version.Version=${VERSION} \
        -X github.com/prometheus/common/version.Revision=${REVISION} \
        -X github.com/prometheus/common/version.Branch=main" \
      ./cmd/llm-node-exporter && \
    /out/llm-node-exporter --version

# glibc (for cgo and dlopen of the host's libnvidia-ml), CA certificates (remote write over TLS),
# no shell, no package manager.
FROM gcr.io/distroless/base-debian12:nonroot
COPY --from=build /out/llm-node-exporter /bin/llm-node-exporter
# Non-root (65532) by default: enough for GPU, InfiniBand and engine metrics and for the
# pod-resources socket where it is readable. The DaemonSet runs it as uid 0 with every capability
# dropped but SYS_PTRACE, because reading /proc/<pid>/environ of the engines (root in their
# containers) needs it: see deploy/kubernetes/base/daemonset.yaml and docs/install.md.
USER 65532:65532
EXPOSE 9836
ENTRYPOINT ["/bin/llm-node-exporter"]
