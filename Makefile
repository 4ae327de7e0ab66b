# imagestream-bridge: thin wrappers around the go tool.
GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  ?= -s -w -X github.com/imagestream-bridge/imagestream-bridge/app.Version=$(VERSION)
BIN      ?= bin/imagestream-bridge
IMAGE    ?= imagestream-bridge:$(VERSION)
TESTFLAGS ?= -race -timeout 15m

.PHONY: all build test vet demo demo-up demo-build bench bench-resync fuzz image clean promcheck

all: build

# build compiles with the go tool's default flags, as vet, the demo and go run do, so
# that it reuses their build cache (-trimpath or CGO_ENABLED=0 would recompile every
# package: minutes on 2 cores). The static, trimmed release binary is make image's.
build:
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/imagestream-bridge

vet:
	$(GO) vet ./...

test: vet
	$(GO) test $(TESTFLAGS) ./...

# demo pushes two images through a registry, the emulator and the bridge on loopback
# and prints the result; demo-up keeps the three running and prints what to type.
DEMO_BIN ?= bin/imagestream-bridge-demo
demo: demo-build
	$(DEMO_BIN)

demo-up: demo-build
	$(DEMO_BIN) up

demo-build:
	@echo "building the demo (the first build compiles ~1,100 packages: 2-5 minutes on 2 cores; then seconds)..."
	@$(GO) build -o $(DEMO_BIN) ./cmd/imagestream-bridge-demo

clean:
	rm -rf bin

# bench builds the benchmark once and runs its full matrix (about 6 minutes on
# 2 cores); it prints a markdown report. BENCHFLAGS=-quick is a smoke run.
BENCH_BIN  ?= bin/imagestream-bridge-bench
BENCHFLAGS ?=
bench:
	$(GO) build -ldflags '-X main.buildCommit=$(VERSION)' -o $(BENCH_BIN) ./cmd/imagestream-bridge-bench
	$(BENCH_BIN) $(BENCHFLAGS)

# bench-resync measures one resync pass (with every tag drifted, then none) over an in-process registry of
# N repositories x 5 tags, running the resync command as a child process (docs/benchmarks.md, "Resync").
RESYNC_REPOS ?= 1000,5000
bench-resync:
	$(GO) build -o bin/imagestream-bridge ./cmd/imagestream-bridge
	$(GO) build -o bin/imagestream-bridge-bench-resync ./cmd/imagestream-bridge-bench-resync
	bin/imagestream-bridge-bench-resync -bin bin/imagestream-bridge -repos $(RESYNC_REPOS)

# image builds the container image (Dockerfile: static binary on distroless, nonroot), with the
# OCI labels source, version and revision. PLATFORMS=linux/amd64,linux/arm64 builds a multi-arch
# image with buildx (add --push through DOCKER_BUILD_FLAGS: a local image store holds one platform).
REVISION ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
SOURCE   ?= https://github.com/imagestream-bridge/imagestream-bridge
PLATFORMS ?=
DOCKER_BUILD_FLAGS ?=
image:
	docker $(if $(PLATFORMS),buildx build --platform $(PLATFORMS),build) $(DOCKER_BUILD_FLAGS) \
		--build-arg VERSION=$(VERSION) --build-arg REVISION=$(REVISION) --build-arg SOURCE=$(SOURCE) \
		-t $(IMAGE) .

# promcheck validates the chart's alert rules with promtool and evaluates every dashboard
# and alert expression on a real Prometheus scraping a real bridge. It needs prometheus and
# promtool on PATH; when they are missing it installs Debian's prometheus package with apt-get,
# only as root, showing apt's output (README, Development).
promcheck:
	GO=$(GO) bash hack/promcheck/promcheck.sh

# fuzz runs each fuzz target for FUZZTIME (CI runs only their seed corpora, in make test).
FUZZTIME ?= 30s
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) ./webhook/
	$(GO) test -run '^$$' -fuzz '^FuzzToJob$$' -fuzztime $(FUZZTIME) ./bridge/
	$(GO) test -run '^$$' -fuzz '^FuzzNotifyHandler$$' -fuzztime $(FUZZTIME) ./e2e/
	$(GO) test -run '^$$' -fuzz '^FuzzBuild$$' -fuzztime $(FUZZTIME) ./bridge/mapping/
