# The whole stack end to end (docs/e2e.md): fake SGLang prefill/decode and vLLM V1 and V0 engines, the fake
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

# The stack as a demo, until Ctrl-C: fake engines and kubelet (cmd/fake-engines), the exporter on
# the fixture node (as `make demo`, plus the engine targets and the kubelet), and Prometheus with the
# committed rules and alerts (their real `for:` durations) scraping it every 5s.
demo-stack: SHELL := /bin/bash
demo-stack: $(BINARY) $(FAKENVML) $(DEMO_PROC) $(PROMETHEUS_BIN)
	@rm -rf $(STACK_DEMO_DIR) && mkdir -p $(STACK_DEMO_DIR)
	$(GO) build -o $(STACK_DEMO_DIR)/fake-engines ./cmd/fake-engines
	@p=$(STACK_ENGINE_BASE); d=$$((p + 1)); v=$$((p + 2)); v0=$$((p + 3)); \
	printf '%s\n' \
	  'global: {scrape_interval: 5s, evaluation_interval: 5s}' \
	  'rule_files: [$(CURDIR)/rules/llm-node-exporter.rules.yaml, $(CURDIR)/alerts/llm-node-exporter.alerts.yaml]' \
	  'scrape_configs:' \
	  '  - job_name: llm-node-exporter' \
	  '    honor_labels: true' \
	  '    static_configs: [{targets: ["$(DEMO_ADDR)"], labels: {node: fixture-node, region: demo}}]' \
	  "  - job_name: llm/sglang-prefill" \
	  "    static_configs: [{targets: [\"127.0.0.1:$$p\"], labels: {namespace: llm, pod: sglang-prefill-0, node: fixture-node, region: demo}}]" \
	  "  - job_name: llm/sglang-decode" \
	  "    static_configs: [{targets: [\"127.0.0.1:$$d\"], labels: {namespace: llm, pod: sglang-decode-0, node: fixture-node, region: demo}}]" \
	  "  - job_name: llm/vllm" \
	  "    static_configs: [{targets: [\"127.0.0.1:$$v\"], labels: {namespace: llm, pod: vllm-0, node: fixture-node, region: demo}}]" \
	  "  - job_name: llm/vllm-v0" \
	  "    static_configs: [{targets: [\"127.0.0.1:$$v0\"], labels: {namespace: llm, pod: vllm-v0-0, node: fixture-node, region: demo}}]" \
	  > $(STACK_DEMO_DIR)/prometheus.yml; \
	pages=collector/engine/testdata; stackpages=cmd/llm-node-exporter/testdata/engines; dir=$(STACK_DEMO_DIR); pids=; \
	stop() { trap - INT TERM EXIT; echo; echo "stopping the stack (logs in $$dir/)"; kill $$pids 2>/dev/null; wait $$pids 2>/dev/null; exit 0; }; \
	trap stop INT TERM EXIT; \
	$$dir/fake-engines -kubelet-socket $$dir/kubelet.sock \
	  -engine 127.0.0.1:$$p=$$pages/sglang-prefill-tp2.txt -engine 127.0.0.1:$$d=$$pages/sglang-decode-dp2.txt \
	  -engine 127.0.0.1:$$v=$$stackpages/vllm-v1-dp2.txt -engine 127.0.0.1:$$v0=$$pages/vllm-v0-old.txt >$$dir/fake-engines.log 2>&1 & pids="$$pids $$!"; \
	sleep 1; \
	./$(BINARY) --web.listen-address=$(DEMO_ADDR) --path.sysfs=testdata/sys --path.procfs=$(DEMO_PROC) \
	  --collector.gpu.nvml-library=$(FAKENVML) --attribution.kubelet-socket=$$dir/kubelet.sock \
	  --engine.target=http://127.0.0.1:$$p/metrics,role=prefill,namespace=llm,pod=sglang-prefill-0,engine=sglang \
	  --engine.target=http://127.0.0.1:$$d/metrics,role=decode,namespace=llm,pod=sglang-decode-0,engine=sglang \
	  --engine.target=http://127.0.0.1:$$v/metrics,role=unified,namespace=llm,pod=vllm-0,engine=vllm \
	  --engine.target=http://127.0.0.1:$$v0/metrics,role=unified,namespace=llm,pod=vllm-v0-0,engine=vllm \
	  >$$dir/exporter.log 2>&1 & pids="$$pids $$!"; \
	$(PROMETHEUS_BIN) --config.file=$$dir/prometheus.yml --storage.tsdb.path=$$dir/data \
	  --web.listen-address=$(STACK_PROM_ADDR) >$$dir/prometheus.log 2>&1 & pids="$$pids $$!"; \
	echo "llm-node-exporter stack on the fixture node (logs in $$dir/):"; \
	echo "  exporter metrics:  http://$(DEMO_ADDR)/metrics"; \
	echo "  Prometheus alerts: http://$(STACK_PROM_ADDR)/api/v1/alerts"; \
	echo "  rules:             http://$(STACK_PROM_ADDR)/api/v1/rules"; \
	echo "  targets:           http://$(STACK_PROM_ADDR)/api/v1/targets"; \
	echo "  a query:           http://$(STACK_PROM_ADDR)/api/v1/query?query=namespace_pod_dp_rank:engine_requests_running:max"; \
	echo "  (this prometheus is a plain go build: no web UI assets; the HTTP API and Grafana with dashboards/*.json work)"; \
	echo "  engine down / up:  curl http://127.0.0.1:$$d/down , curl http://127.0.0.1:$$d/up"; \
	echo "Ctrl-C stops everything."; \
	wait -n $$pids; stop
