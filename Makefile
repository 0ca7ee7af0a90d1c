# sota build, test and tooling. Everything a fresh machine needs beyond the Go
# toolchain is installed by these targets into the project (./.tools).

GO          ?= go
VERSION     ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS     := -s -w -X main.version=$(VERSION)
TOOLS       := $(CURDIR)/.tools
STATICCHECK := $(TOOLS)/staticcheck
STATICCHECK_VERSION := v0.8.2
# go-nvml's cgo wrappers call NVML functions that nvml.h marks deprecated:
# without this every fresh build prints a page of -Wdeprecated-declarations
# warnings about a dependency (the calls are NVML's own, kept for old drivers).
CGO_CFLAGS  ?= -O2 -g -Wno-deprecated-declarations
export CGO_CFLAGS
# The shared test models (tests skip what needs them when absent).
SHARED_MODELS ?= $(or $(SOTA_SHARED_MODELS),$(CURDIR)/../shared/models)
# Packages whose code runs goroutines: tested again under the race detector.
RACE_PKGS   := ./backend/... ./tokenizer/... ./model/... ./kvcache/... ./scheduler/... ./engine/... ./server/... ./store/...

.PHONY: all build run test test-short lint bench golden generate clean pyenv

all: build

build: build-bench
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/sota ./cmd/sota

# The load generator (sota-bench), built with the server.
.PHONY: build-bench
build-bench:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/sota-bench ./cmd/sota-bench

# The main job: serve the built-in demo model on http://127.0.0.1:8080 (CPU).
run: build
	./bin/sota serve

# The whole test suite: unit, golden and end-to-end tests, the race detector
# on concurrent packages, and the portable (non-assembly) kernels. Output is
# go test's (packages, failures); it ends with the skipped tests by reason
# (internal/testsummary reads go test -json).
TESTSUMMARY := $(TOOLS)/testsummary
SKIPS       := $(TOOLS)/test-skips
test: pyenv-if-used $(TESTSUMMARY)
	$(GO) vet ./...
	@mkdir -p $(SKIPS) && rm -f $(SKIPS)/*.jsonl
	$(GO) test -count=1 -json ./... | $(TESTSUMMARY) -skips $(SKIPS)/all.jsonl
	$(GO) test -count=1 -race -json $(RACE_PKGS) | $(TESTSUMMARY) -skips $(SKIPS)/race.jsonl -label race
	$(GO) test -count=1 -tags purego -json ./backend/cpu/... | $(TESTSUMMARY) -skips $(SKIPS)/purego.jsonl -label purego
	@$(TESTSUMMARY) -report $(SKIPS)/all.jsonl $(SKIPS)/race.jsonl $(SKIPS)/purego.jsonl

$(TESTSUMMARY): internal/testsummary/main.go
	$(GO) build -o $@ ./internal/testsummary

# The Python reference, only where the tests that use it can run: they read
# the shared models. Where PyPI cannot be reached the Go suite still runs
# (those tests skip, and the summary says so; under CI they fail instead).
.PHONY: pyenv-if-used
pyenv-if-used:
	@if [ ! -d "$(SHARED_MODELS)" ]; then \
		echo "make test: no shared models at $(SHARED_MODELS): the Python reference is not installed (the tests that need either skip)"; \
	elif ! command -v python3 >/dev/null || ! $(MAKE) -s --no-print-directory pyenv; then \
		[ -f $(VENV)/.installed ] || rm -rf $(VENV); \
		echo "make test: the Python reference (tokenizer/testdata/requirements.txt) could not be installed: the differential tests skip"; \
	fi

# Python reference (tokenizers, sentencepiece, jinja2; pinned) for the tokenizer
# differential tests, in a project-local virtual environment.
VENV        := $(CURDIR)/.venv
PY_REQS     := tokenizer/testdata/requirements.txt

pyenv: $(VENV)/.installed

$(VENV)/.installed: $(PY_REQS)
	python3 -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r $(PY_REQS)
	touch $@

# End-to-end: the built server (bin/sota serve) against the official OpenAI SDKs,
# Python (PyPI) and Node (npm), both pinned, then concurrency and graceful drain
# on the fake backend (scripts/e2e/run.sh); multi-tenant admission (caps, queue,
# 408/429 through both SDKs, disconnects, stalled clients: scripts/e2e/admission.py);
# sota-bench (scripts/e2e/bench.sh). e2e-deps installs the SDKs into
# .venv and scripts/e2e/node/node_modules, starting over if either is stale.
E2E_PY_REQS := scripts/e2e/requirements.txt
E2E_PY_STAMP := $(VENV)/.e2e-installed
E2E_NODE    := scripts/e2e/node

.PHONY: e2e e2e-deps
e2e: build e2e-deps
	bash scripts/e2e/run.sh
	$(VENV)/bin/python scripts/e2e/admission.py --sota bin/sota
	$(VENV)/bin/python scripts/e2e/jobs.py --sota bin/sota
	$(VENV)/bin/python scripts/e2e/apis.py --sota bin/sota
	bash scripts/e2e/bench.sh
	bash scripts/e2e/redis.sh

e2e-deps:
	@$(VENV)/bin/python -c 'import openai' 2>/dev/null || { \
		$(VENV)/bin/python -c '' 2>/dev/null || rm -rf $(VENV); rm -f $(E2E_PY_STAMP); }
	@$(MAKE) -s --no-print-directory $(E2E_PY_STAMP)
	cd $(E2E_NODE) && npm ci --prefer-offline --no-audit --no-fund --loglevel=error

$(E2E_PY_STAMP): $(E2E_PY_REQS) $(VENV)/.installed
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r $(E2E_PY_REQS)
	touch $@

# redis-server for store/redis's tests and scripts/e2e/redis.sh: Debian's
# package, installed when none is on PATH (CI runs as root on Debian).
.PHONY: redis
redis:
	@command -v redis-server >/dev/null || { apt-get update -qq && apt-get install -y -qq redis-server; }

test-short: $(TESTSUMMARY)
	@mkdir -p $(SKIPS) && rm -f $(SKIPS)/short.jsonl
	$(GO) test -short -json ./... | $(TESTSUMMARY) -skips $(SKIPS)/short.jsonl
	@$(TESTSUMMARY) -report $(SKIPS)/short.jsonl

$(STATICCHECK):
	GOBIN=$(TOOLS) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

lint: $(STATICCHECK)
	$(GO) vet ./...
	$(STATICCHECK) ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }

# Protobuf and gRPC code (proto/sota/v1/*.pb.go, committed), regenerated by
# make proto with pinned tools installed into .tools from the Go module proxy:
# buf's built-in compiler (no protoc) and the two Go plugins. proto-check
# regenerates into a temporary folder and fails when the committed code differs.
BUF_VERSION                := v1.75.0
PROTOC_GEN_GO_VERSION      := v1.36.12
PROTOC_GEN_GO_GRPC_VERSION := v1.6.2
PROTO_TOOLS := $(TOOLS)/.proto-tools-$(BUF_VERSION)-$(PROTOC_GEN_GO_VERSION)-$(PROTOC_GEN_GO_GRPC_VERSION)

.PHONY: proto proto-check
proto: $(PROTO_TOOLS)
	$(TOOLS)/buf generate

proto-check: $(PROTO_TOOLS)
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	$(TOOLS)/buf generate --output "$$tmp" && \
	for f in proto/sota/v1/*.pb.go; do cmp -s "$$f" "$$tmp/$$f" || { echo "$$f is stale: run make proto"; exit 1; }; done && \
	n=$$(find "$$tmp/proto" -name '*.pb.go' | wc -l) && [ "$$n" -eq "$$(ls proto/sota/v1/*.pb.go | wc -l)" ] || { echo "generated files differ from proto/sota/v1: run make proto"; exit 1; }

$(PROTO_TOOLS):
	GOBIN=$(TOOLS) $(GO) install github.com/bufbuild/buf/cmd/buf@$(BUF_VERSION)
	GOBIN=$(TOOLS) $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
	GOBIN=$(TOOLS) $(GO) install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GO_GRPC_VERSION)
	touch $@

# Benchmarks: CPU decode against the memory-bandwidth roofline, scheduler step
# cost, batched vs one-at-a-time engine throughput, sampler, tokenizer.
bench:
	$(GO) test -run '^$$' -bench DecodeRoofline -benchtime 5x ./backend/cpu/
	$(GO) test -run '^$$' -bench Step -benchmem ./scheduler/
	$(GO) test -run '^$$' -bench Throughput110M -benchtime 1x -v ./engine/
	$(GO) test -run '^$$' -bench . ./sample/ ./tokenizer/
	$(GO) test -run '^$$' -bench AdmitRelease ./store/redis/

# Regenerate golden files (needs network access to PyPI; never run by CI).
golden:
	scripts/golden.sh

generate:
	$(GO) generate ./...

# CUDA library (libsota_cuda.so in build/) for sm_90a, sm_100a and sm_103a.
# Uses the CUDA toolkit found ($CUDA_HOME, nvcc on PATH, /usr/local/cuda) or
# installs CUDA 13 from NVIDIA's PyPI wheels into .tools/cuda (compile and
# link only; running needs a GPU machine). cuda-check verifies with cuobjdump
# that SASS for every architecture is inside; CI runs it.
.PHONY: cuda cuda-check
cuda:
	scripts/cuda-build.sh >/dev/null

cuda-check:
	scripts/cuda-check.sh "$$(scripts/cuda-build.sh)"

clean:
	rm -rf bin .tools build $(E2E_NODE)/node_modules
