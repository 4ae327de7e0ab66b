# imagestream-bridge: thin wrappers around the go tool.
GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  ?= -s -w -X github.com/imagestream-bridge/imagestream-bridge/app.Version=$(VERSION)
BIN      ?= bin/imagestream-bridge
IMAGE    ?= imagestream-bridge:$(VERSION)
# RACE is in both go vet's and go test's flags: vet then compiles every package as the race-enabled tests
# need them, and the tests reuse that build (make test RACE= builds and tests without the race detector).
RACE      ?= -race
TESTFLAGS ?= $(RACE) -timeout 15m
# STEP runs a step and reports its progress: what it builds, the packages compiled, the time taken. Once a
# step compiles many packages (a first build, or much of one) it prints what a first build costs (README,
# "Quick start": measured from an empty build cache, modules downloaded, on 2 shared cores).
STEP      ?= hack/step/step.sh
BUILD_FIRST      ?= a first build (about 890 packages) takes about 5 CPU-minutes, 3 to 6 minutes on 2 cores
DEMO_FIRST       ?= a first build (about 1,170 packages) takes about 6 CPU-minutes, 3 to 7 minutes on 2 cores
VET_FIRST        ?= a first build (about 1,210 packages, race-enabled; the tests reuse it) takes about 8 CPU-minutes, 4 to 10 minutes on 2 cores
VET_CHARTS_FIRST ?= Helm and the chart tests add about 60 packages: under a minute

.PHONY: all build test vet lint demo demo-up demo-build bench bench-resync fuzz image clean promcheck

all: build

# build compiles with the go tool's default flags, as the demo and go run do, so that it
# reuses their build cache (-trimpath or CGO_ENABLED=0 would recompile every package:
# minutes on 2 cores). The static, trimmed release binary is make image's.
build:
	@$(STEP) -p "go build -o $(BIN) ./cmd/imagestream-bridge" "$(BUILD_FIRST)" -- \
		$(GO) build -v -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/imagestream-bridge

# vet runs every go vet analyzer on both modules: the service (.) and the chart tests (charts/, a module of
# its own so that Helm and prometheus-operator stay out of the service's go.mod). Its compile is the tests'.
vet:
	@$(STEP) -p "go vet $(RACE) ./... (the service's module: compiles it and its tests' dependencies)" \
		"$(VET_FIRST)" -- $(GO) vet -v $(RACE) ./...
	@$(STEP) -p "go vet $(RACE) ./... in charts/ (the chart tests' module: adds Helm)" \
		"$(VET_CHARTS_FIRST)" -- $(GO) -C charts vet -v $(RACE) ./...

# test: go vet above, then the tests, which link and run one binary per package (-vet=off: vet ran above,
# with every analyzer; go test's own vet runs a subset). go test prints each package as it finishes.
test: vet
	@$(STEP) "go test $(TESTFLAGS) ./... (the service: one test binary per package, linked and run)" "" -- $(GO) test -vet=off $(TESTFLAGS) ./...
	@$(STEP) "go test $(TESTFLAGS) ./... in charts/ (render, lint and check the chart)" "" -- $(GO) -C charts test -vet=off $(TESTFLAGS) ./...

# lint runs golangci-lint with .golangci.yml on both modules (the service, then charts/).
# The pinned version is installed into bin/golangci-lint-VERSION/ on first use (go install:
# about 3.5 CPU-minutes from an empty build cache, 2 minutes on 2 cores). Its type-checking
# compiles the packages with $(RACE), as go vet and go test do, so that a first make lint and
# make test share one compile; the analysis itself takes about 2 CPU-minutes, later runs seconds.
GOLANGCI_LINT_VERSION ?= v2.15.0
GOLANGCI_LINT         ?= bin/golangci-lint-$(GOLANGCI_LINT_VERSION)/golangci-lint
LINT_GOFLAGS          := $(strip $(GOFLAGS) $(RACE))
LINT_FIRST            ?= a first install takes about 3.5 CPU-minutes, 2 to 4 minutes on 2 cores
lint: $(GOLANGCI_LINT)
	@GOFLAGS='$(LINT_GOFLAGS)' $(STEP) "golangci-lint run ./... (type-checks race-enabled, the compile make test reuses)" "" -- \
		$(GOLANGCI_LINT) run ./...
	@cd charts && GOFLAGS='$(LINT_GOFLAGS)' $(abspath $(STEP)) "golangci-lint run ./... in charts/" "" -- \
		$(abspath $(GOLANGCI_LINT)) run ./...

bin/golangci-lint-%/golangci-lint:
	@GOBIN=$(abspath $(dir $@)) $(STEP) -p "go install golangci-lint@$* into $(dir $@)" "$(LINT_FIRST)" -- \
		$(GO) install -v github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$*

# demo pushes an image, a multi-arch index and a second version of the image (roll-up tags
# move: derivedTags) through a registry, the emulator and the bridge on loopback and prints
# the result; demo-up keeps the three running and prints what to type.
DEMO_BIN ?= bin/imagestream-bridge-demo
demo: demo-build
	$(DEMO_BIN)

demo-up: demo-build
	$(DEMO_BIN) up

demo-build:
	@$(STEP) -p "go build -o $(DEMO_BIN) ./cmd/imagestream-bridge-demo" "$(DEMO_FIRST)" -- \
		$(GO) build -v -o $(DEMO_BIN) ./cmd/imagestream-bridge-demo

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
