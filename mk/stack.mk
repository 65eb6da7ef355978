# The whole stack end to end (docs/e2e.md): fake SGLang prefill/decode and vLLM engines, the fake
# kubelet, the exporter on the fixture node and a real Prometheus (built by mk/push.mk from the
# version pinned in mixin/go.mod) with the committed rules and alerts loaded; asserted through
# Prometheus's HTTP API. `demo-stack` runs the same stack by hand until Ctrl-C.
STACK_DEMO_DIR   := $(CACHE)/demo/stack
STACK_PROM_ADDR  ?= 127.0.0.1:9090
STACK_ENGINE_BASE ?= 30000

.PHONY: test-stack-e2e demo-stack

test-stack-e2e: $(PROMETHEUS_BIN)
	PROMETHEUS_BIN=$(CURDIR)/$(PROMETHEUS_BIN) $(GO) test -count=1 ./cmd/llm-node-exporter -run 'StackEndToEnd' -v

TEST_TARGETS += test-stack-e2e
