# imagestream-bridge container image: make image (PLATFORMS=linux/amd64,linux/arm64 for a multi-arch build)
#   docker build --build-arg VERSION=$(git describe --tags --always) --build-arg REVISION=$(git rev-parse HEAD) -t imagestream-bridge:TAG .
# A static binary (no cgo) on distroless, run as the unprivileged user 65532.
#
# Base images. Pin them by digest for a reproducible build, keeping the tag for readers:
#   --build-arg GO_IMAGE=golang:1.26@sha256:<digest> --build-arg BASE_IMAGE=gcr.io/distroless/static:nonroot@sha256:<digest>
# (docker buildx imagetools inspect golang:1.26 prints the digest of the multi-arch index). The defaults
# are tags: no digest is written here that was not read from the registry.
ARG GO_IMAGE=golang:1.26
ARG BASE_IMAGE=gcr.io/distroless/static:nonroot

# The compiler runs on the build machine's platform and cross-compiles (no emulation).
FROM --platform=$BUILDPLATFORM ${GO_IMAGE} AS build
WORKDIR /src
ENV CGO_ENABLED=0 GOFLAGS=-buildvcs=false
# Modules first, so that source changes reuse the download layer.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG TARGETOS
ARG TARGETARCH
RUN GOOS=${TARGETOS} GOARCH=${TARGETARCH} go build -trimpath \
      -ldflags "-s -w -X github.com/imagestream-bridge/imagestream-bridge/app.Version=${VERSION}" \
      -o /out/imagestream-bridge ./cmd/imagestream-bridge

FROM ${BASE_IMAGE}
ARG VERSION=dev
ARG REVISION=unknown
ARG SOURCE=https://github.com/imagestream-bridge/imagestream-bridge
LABEL org.opencontainers.image.title="imagestream-bridge" \
      org.opencontainers.image.description="Registry push notifications to OpenShift ImageStreamMappings" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"
COPY --from=build /out/imagestream-bridge /usr/local/bin/imagestream-bridge
# distroless's nonroot user, numerically: the kubelet can only enforce runAsNonRoot
# for a numeric user when the pod does not set runAsUser.
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/imagestream-bridge"]
CMD ["serve", "--config", "/etc/imagestream-bridge/config.yaml"]
