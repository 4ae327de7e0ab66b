# imagestream-bridge: thin wrappers around the go tool.
GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  ?= -s -w -X github.com/imagestream-bridge/imagestream-bridge/app.Version=$(VERSION)
BIN      ?= bin/imagestream-bridge
IMAGE    ?= imagestream-bridge:$(VERSION)
TESTFLAGS ?= -race -timeout 15m

.PHONY: all build test vet demo bench fuzz image clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/imagestream-bridge

vet:
	$(GO) vet ./...

test: vet
	$(GO) test $(TESTFLAGS) ./...

demo:
	$(GO) run ./cmd/imagestream-bridge demo

clean:
	rm -rf bin

# bench builds the benchmark once and runs its full matrix (about 10 minutes on
# 2 cores); it prints a markdown report. BENCHFLAGS=-quick is a smoke run.
BENCH_BIN  ?= bin/imagestream-bridge-bench
BENCHFLAGS ?=
bench:
	$(GO) build -o $(BENCH_BIN) ./cmd/imagestream-bridge-bench
	$(BENCH_BIN) $(BENCHFLAGS)
