# Engine collector (collector/engine, docs/metrics-engine.md): the end-to-end test that runs promtool
# on the exporter's output with passthrough over real-shaped engine pages, and the cost benchmark.
ENGINE_PROMTOOL := $(TOOLBIN)/promtool
# Built by mk/prometheus-ui.mk (the same server as the stack test and the demo).
ENGINE_PROMETHEUS := $(TOOLBIN)/prometheus-ui

.PHONY: test-engine-e2e bench-engine

# promtool is built by mk/rules.mk from the version pinned in mixin/go.mod.
test-engine-e2e: $(ENGINE_PROMTOOL)
	PROMTOOL_BIN=$(CURDIR)/$(ENGINE_PROMTOOL) $(GO) test -count=1 ./cmd/llm-node-exporter -run 'EngineEndToEnd' -v

TEST_TARGETS += test-engine-e2e

# Cost of one collection next to the expfmt path it replaced and textparse alone, then this exporter,
# the one before the streaming parser and a Prometheus server fetching the same 8 pages every second
# for DURATION seconds (default 300). Not part of `make test`.
bench-engine: $(ENGINE_PROMETHEUS)
	PROMETHEUS_BIN=$(CURDIR)/$(ENGINE_PROMETHEUS) bash scripts/bench-engine.sh
