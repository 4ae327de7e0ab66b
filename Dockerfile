# imagestream-bridge container image: make image
#   docker build --build-arg VERSION=$(git describe --tags --always) -t imagestream-bridge:TAG .
# A static binary (no cgo) on distroless, run as the unprivileged user 65532.

FROM golang:1.26 AS build
WORKDIR /src
ENV CGO_ENABLED=0 GOFLAGS=-buildvcs=false
# Modules first, so that source changes reuse the download layer.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN go build -trimpath \
      -ldflags "-s -w -X github.com/imagestream-bridge/imagestream-bridge/app.Version=${VERSION}" \
      -o /out/imagestream-bridge ./cmd/imagestream-bridge

FROM gcr.io/distroless/static:nonroot
COPY --from=build /out/imagestream-bridge /usr/local/bin/imagestream-bridge
# distroless's nonroot user, numerically: the kubelet can only enforce runAsNonRoot
# for a numeric user when the pod does not set runAsUser.
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/imagestream-bridge"]
CMD ["serve", "--config", "/etc/imagestream-bridge/config.yaml"]
