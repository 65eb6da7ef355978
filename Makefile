# llm-node-exporter — build, demo and test entry points.
# `make demo` runs the whole stack on the bundled fixture node; `make test` runs every test CI runs.

GO       ?= go
CACHE    := .cache
TOOLBIN  := $(CACHE)/bin
BINARY   := bin/llm-node-exporter
PKG      := github.com/llm-node-exporter/llm-node-exporter
VERSION  ?= $(shell cat VERSION 2>/dev/null || echo 0.0.0)
REVISION ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS  := -X github.com/prometheus/common/version.Version=$(VERSION) \
            -X github.com/prometheus/common/version.Revision=$(REVISION) \
            -X github.com/prometheus/common/version.Branch=main
DEMO_ADDR ?= 127.0.0.1:9836
# The fake libnvidia-ml.so.1 and the demo's /proc (their rules are below); named here, before
# mk/*.mk is read, because mk/stack.mk's demo and test targets list them as prerequisites.
FAKENVML  := $(CACHE)/fakenvml/libnvidia-ml.so.1
DEMO_PROC := $(CACHE)/demo/proc

# go-nvml's cgo wrappers include functions NVML deprecates; their warnings are noise.
export CGO_CFLAGS ?= -O2 -g -Wno-deprecated-declarations

# Test targets that fragments in mk/*.mk append to.
TEST_TARGETS := check-format vet check-fixture test-go test-race fuzz-smoke
# The /metrics golden files are not generated: `make golden` rewrites them on purpose, to review.
GENERATE_TARGETS := fixture

# Fragments (the rules pack, push mode, ...) append to TEST_TARGETS and
# GENERATE_TARGETS; they are read here, before `test:` and `generate:` expand
# those lists.
-include mk/*.mk

.PHONY: all build demo demo-exporter test check-format vet check-fixture test-go test-race fuzz-smoke fixture golden generate bench-infiniband gpu-smoke-bundle gpu-smoke-dry-run fuzz clean

all: build

build: $(BINARY)

$(BINARY): $(shell find cmd collector attribution -name '*.go' -not -name '*_test.go' 2>/dev/null) go.mod go.sum
	@mkdir -p bin
	CGO_ENABLED=1 $(GO) build -ldflags '$(LDFLAGS)' -o $@ ./cmd/llm-node-exporter

# The fake libnvidia-ml.so.1 of the end-to-end tests: 8 deterministic H100s.
$(FAKENVML): collector/gpu/testdata/fakenvml/fakenvml.c go.mod
	@mkdir -p $(dir $@)
	cc -shared -fPIC -O2 -Wno-deprecated-declarations -DNVML_NO_UNVERSIONED_FUNC_DEFS=1 \
	  -I$$($(GO) list -m -f '{{.Dir}}' github.com/NVIDIA/go-nvml)/pkg/nvml -o $@ $<

# The demo's /proc: attribution's fixture (SGLang P/D prefill and decode pods) with
# the prefill schedulers DP0-3 and the decode schedulers DP0-3 under the PIDs the
# fake NVML reports for GPUs 0-7 (4100+i).
$(DEMO_PROC): $(shell find attribution/testdata/proc -type f 2>/dev/null)
	rm -rf $@ && mkdir -p $(dir $@) && cp -a attribution/testdata/proc $@
	for i in 0 1 2 3 4 5 6 7; do \
	  if [ $$i -lt 4 ]; then from=$$((1010 + i)); else from=$$((2006 + i)); fi; pid=$$((4100 + i)); \
	  cp -a $@/$$from $@/$$pid && sed -i "s/^[0-9]* /$$pid /" $@/$$pid/stat; \
	done

# The README's run command: the whole stack on the fixture node (mk/stack.mk): fake
# SGLang/vLLM engines and kubelet, the exporter, and a real Prometheus with the rules
# and alerts, printing the URLs to open; Ctrl-C stops it all.
demo: demo-stack

# The exporter alone on the bundled fixture node: the sysfs of testdata/sys (8 IB + 2
# RoCE ports), 8 H100s served by the fake NVML library, engine processes in
# $(DEMO_PROC); no kubelet, so pod names stay empty.
demo-exporter: $(BINARY) $(FAKENVML) $(DEMO_PROC)
	@echo "llm-node-exporter on the fixture node: open http://$(DEMO_ADDR)/metrics"
	./$(BINARY) --web.listen-address=$(DEMO_ADDR) --path.sysfs=testdata/sys --path.procfs=$(DEMO_PROC) \
	  --collector.gpu.nvml-library=$(FAKENVML) --no-attribution.kubelet

check-format:
	@out=$$(gofmt -l $$(find . -name '*.go' -not -path './.cache/*')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

test-go:
	$(GO) test -count=1 ./...

# Collectors and the attribution cache share state between concurrent scrapes
# and background goroutines: run them under -race.
test-race:
	$(GO) test -count=1 -race ./collector/... ./attribution/... ./discovery/... ./cmd/...

# A short fuzz of the sysfs value, process-title and engine-page parsers on every test run, and of
# the engine collector against expfmt (the differential test); `make fuzz` goes longer.
fuzz-smoke:
	$(GO) test ./collector/infiniband -run '^$$' -fuzz FuzzParseValue -fuzztime 10s
	$(GO) test ./attribution -run '^$$' -fuzz FuzzParseProcessTitle -fuzztime 10s
	$(GO) test ./collector/engine -run '^$$' -fuzz FuzzNormalise -fuzztime 10s
	$(GO) test ./collector/engine -run '^$$' -fuzz FuzzDifferential -fuzztime 10s
	$(GO) test ./collector/engine -run '^$$' -fuzz FuzzTextPath -fuzztime 10s

test: $(TEST_TARGETS)

# The fixture node is generated; the committed tree must match its script.
fixture:
	bash testdata/make-sysfs.sh

check-fixture:
	@tmp=$$(mktemp -d) && bash testdata/make-sysfs.sh $$tmp/sys >/dev/null && \
	  diff -r --no-dereference testdata/sys $$tmp/sys && rm -rf $$tmp || \
	  { echo "testdata/sys is stale: run 'make fixture' and review"; rm -rf $$tmp; exit 1; }

# Rewrites the golden /metrics pages of the end-to-end tests (testdata/fixture.metrics and
# testdata/gpu-fixture.metrics in cmd/llm-node-exporter) from the current binary: run it on purpose
# when the output is meant to change, review `git diff`, then commit. Not part of `make generate`.
golden:
	$(GO) test -count=1 ./cmd/llm-node-exporter -run 'EndToEndGolden' -update

generate: $(GENERATE_TARGETS)

bench-infiniband:
	bash scripts/bench-infiniband.sh

# The bundle of the GPU smoke run (scripts/gpu-smoke.sh, docs/benchmarks.md) for a GPU machine
# without Go: the exporter cross-built as `make build` builds it (cgo, linux/amd64, same ldflags),
# and the gpu collector's test binary, whose BenchmarkRealNVMLUpdate times every NVML call on the
# real driver. Dynamically linked against glibc: the GPU machine needs glibc >= the version printed.
GPU_SMOKE_BUNDLE := $(CACHE)/gpu-smoke
gpu-smoke-bundle:
	rm -rf $(GPU_SMOKE_BUNDLE) && mkdir -p $(GPU_SMOKE_BUNDLE)
	CGO_ENABLED=1 GOOS=linux GOARCH=amd64 $(GO) build -ldflags '$(LDFLAGS)' -o $(GPU_SMOKE_BUNDLE)/llm-node-exporter ./cmd/llm-node-exporter
	CGO_ENABLED=1 GOOS=linux GOARCH=amd64 $(GO) test -c -o $(GPU_SMOKE_BUNDLE)/gpu.test ./collector/gpu
	@echo "bundle $(GPU_SMOKE_BUNDLE): $$(du -sh $(GPU_SMOKE_BUNDLE) | cut -f1); needs glibc >= \
	  $$(objdump -T $(GPU_SMOKE_BUNDLE)/llm-node-exporter $(GPU_SMOKE_BUNDLE)/gpu.test | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -1)"

# The smoke run without a GPU: the fake libnvidia-ml.so.1 and the fake nvidia-smi of
# collector/gpu/testdata/fakenvml, idle processes instead of the PyTorch loads (their checks are
# reported, not enforced). Checks the script, the bundle and the comparison with nvidia-smi.
gpu-smoke-dry-run: gpu-smoke-bundle $(FAKENVML)
	rm -rf $(CACHE)/gpu-smoke-dry-run
	PATH=$(CURDIR)/collector/gpu/testdata/fakenvml:$$PATH OUT=$(CURDIR)/$(CACHE)/gpu-smoke-dry-run \
	  GPU_SMOKE_DRY_RUN=1 GPU_SMOKE_NVML_LIBRARY=$(CURDIR)/$(FAKENVML) GPU_SMOKE_LOAD_SECONDS=6 \
	  bash scripts/gpu-smoke.sh

fuzz:
	$(GO) test ./collector/infiniband -run '^$$' -fuzz FuzzParseValue -fuzztime 30s

clean:
	rm -rf bin

