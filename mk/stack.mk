# The whole stack end to end (docs/e2e.md): fake SGLang prefill/decode and vLLM V1 and V0 engines, the fake
# kubelet, the exporter on the fixture node and a real Prometheus (the build with the web UI of
# mk/prometheus-ui.mk, from the version pinned in mixin/go.mod: the one `make demo` runs) with the
# committed rules and alerts loaded; asserted through Prometheus's HTTP API. `demo-stack` runs the
# same stack by hand until Ctrl-C.
STACK_DEMO_DIR   := $(CACHE)/demo/stack
STACK_PROM_ADDR  ?= 127.0.0.1:9090
STACK_ENGINE_BASE ?= 30000
# Empty: the committed alerts' `for:` durations; e.g. 10s: every non-zero `for:` shortened to that.
STACK_ALERT_FOR  ?=
FAKE_ENGINES     := $(CACHE)/demo/fake-engines

.PHONY: test-stack-e2e demo-stack $(FAKE_ENGINES)

test-stack-e2e: $(PROMETHEUS_UI_BIN)
	PROMETHEUS_BIN=$(CURDIR)/$(PROMETHEUS_UI_BIN) $(GO) test -count=1 ./cmd/llm-node-exporter -run 'StackEndToEnd' -v

TEST_TARGETS += test-stack-e2e

# Phony, so that go's own cache decides whether it is stale.
$(FAKE_ENGINES):
	@mkdir -p $(dir $@)
	$(GO) build -o $@ ./cmd/fake-engines

# The stack as a demo, until Ctrl-C (scripts/demo-stack.sh): fake engines and kubelet
# (cmd/fake-engines), the exporter on a copy of the fixture node (as `make demo-exporter`, plus
# the engine targets and the kubelet), and Prometheus with its web UI and the committed rules and
# alerts scraping it every 5s; it prints the pages to open and the fault switches.
demo-stack: $(BINARY) $(FAKENVML) $(DEMO_PROC) $(PROMETHEUS_UI_BIN) $(FAKE_ENGINES)
	@BINARY=./$(BINARY) FAKENVML=$(FAKENVML) DEMO_PROC=$(DEMO_PROC) PROMETHEUS=$(PROMETHEUS_UI_BIN) \
	  FAKE_ENGINES=$(FAKE_ENGINES) DIR=$(STACK_DEMO_DIR) DEMO_ADDR=$(DEMO_ADDR) PROM_ADDR=$(STACK_PROM_ADDR) \
	  ENGINE_BASE=$(STACK_ENGINE_BASE) ALERT_FOR=$(STACK_ALERT_FOR) bash scripts/demo-stack.sh
