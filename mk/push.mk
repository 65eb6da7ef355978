# Push mode (remotewrite/, docs/push.md): its tests under -race, and the end-to-end test against a
# real Prometheus server (remote-write receiver on loopback) built from the version pinned in
# mixin/go.mod, so that the prometheus module never enters the exporter's go.mod. It is the same
# server as the stack test's and the demo's (mk/prometheus-ui.mk, with its web UI), so that a cold
# `make test` builds Prometheus once.
PROMETHEUS_BIN := $(PROMETHEUS_UI_BIN)
PUSH_TEST_TARGETS := test-push-race test-push-e2e

.PHONY: $(PUSH_TEST_TARGETS) bench-push bench-push-cost

test-push-race:
	$(GO) test -count=1 -race ./remotewrite/...

test-push-e2e: $(PROMETHEUS_BIN)
	PROMETHEUS_BIN=$(CURDIR)/$(PROMETHEUS_BIN) $(GO) test -count=1 ./cmd/llm-node-exporter -run 'PushEndToEnd' -v

# CPU time and memory per pushed sample (docs/push.md).
bench-push:
	$(GO) test ./remotewrite -run '^$$' -bench . -benchmem

# Push mode (WAL on) against prometheus --agent on the same job, side by side: CPU and RSS
# ratios (docs/push.md). INTERVAL, WARMUP, DURATION as in the script.
bench-push-cost: $(PROMETHEUS_BIN)
	bash scripts/push-cost.sh

TEST_TARGETS += $(PUSH_TEST_TARGETS)
# `test:` expanded its prerequisite list before this file was included.
test: $(PUSH_TEST_TARGETS)
