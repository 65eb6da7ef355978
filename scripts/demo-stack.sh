#!/usr/bin/env bash
# The stack of `make demo` (mk/stack.mk passes the built files and addresses), in the foreground
# until Ctrl-C: fake SGLang/vLLM engines and kubelet (cmd/fake-engines) whose counters and the
# fixture's InfiniBand counters grow, the exporter on a copy of the fixture node, and Prometheus
# (built with its web UI) with the committed rules and alerts scraping both every 5 s. It prints
# the pages to open and the fault switches; docs/e2e.md describes it.
set -euo pipefail

: "${BINARY:?}" "${FAKENVML:?}" "${DEMO_PROC:?}" "${PROMETHEUS:?}" "${FAKE_ENGINES:?}" "${DIR:?}"
DEMO_ADDR=${DEMO_ADDR:-127.0.0.1:9836}
PROM_ADDR=${PROM_ADDR:-127.0.0.1:9090}
ENGINE_BASE=${ENGINE_BASE:-30000}
# Empty: the committed alerts as they are. A duration (10s): a copy with every non-zero `for:`
# set to it, so that alerts fire within seconds.
ALERT_FOR=${ALERT_FOR:-}

rm -rf "$DIR" && mkdir -p "$DIR" && DIR=$(cd "$DIR" && pwd)
root=$(pwd)
p=$ENGINE_BASE d=$((ENGINE_BASE + 1)) v=$((ENGINE_BASE + 2)) v0=$((ENGINE_BASE + 3))
alerts=$root/alerts/llm-node-exporter.alerts.yaml
if [ -n "$ALERT_FOR" ]; then
  sed -E "s/^( +for: )([1-9][0-9a-z]*)$/\1$ALERT_FOR/" "$alerts" > "$DIR/alerts.yaml"
  alerts=$DIR/alerts.yaml
fi
# A copy of the fixture's sysfs: fake-engines gives its ACTIVE ports traffic.
cp -a testdata/sys "$DIR/sys"

cat > "$DIR/prometheus.yml" <<EOF
global: {scrape_interval: 5s, evaluation_interval: 5s}
rule_files: [$root/rules/llm-node-exporter.rules.yaml, $alerts]
scrape_configs:
  - job_name: llm-node-exporter
    honor_labels: true
    static_configs: [{targets: ["$DEMO_ADDR"], labels: {node: fixture-node, cluster: demo}}]
  - job_name: llm/sglang-prefill
    static_configs: [{targets: ["127.0.0.1:$p"], labels: {namespace: llm, pod: sglang-prefill-0, node: fixture-node, cluster: demo}}]
  - job_name: llm/sglang-decode
    static_configs: [{targets: ["127.0.0.1:$d"], labels: {namespace: llm, pod: sglang-decode-0, node: fixture-node, cluster: demo}}]
  - job_name: llm/vllm
    static_configs: [{targets: ["127.0.0.1:$v"], labels: {namespace: llm, pod: vllm-0, node: fixture-node, cluster: demo}}]
  - job_name: llm/vllm-v0
    static_configs: [{targets: ["127.0.0.1:$v0"], labels: {namespace: llm, pod: vllm-v0-0, node: fixture-node, cluster: demo}}]
EOF

pids=
stop() {
  trap - INT TERM EXIT
  echo
  echo "stopping the stack (logs in $DIR/)"
  kill $pids 2>/dev/null || true
  wait $pids 2>/dev/null || true
  exit 0
}
trap stop INT TERM EXIT

pages=collector/engine/testdata stackpages=cmd/llm-node-exporter/testdata/engines
# -advance 1m: every minute the engines serve one more page's worth of requests and tokens.
"$FAKE_ENGINES" -kubelet-socket "$DIR/kubelet.sock" -advance 1m -sysfs "$DIR/sys" \
  -engine "127.0.0.1:$p=$pages/sglang-prefill-tp2.txt" -engine "127.0.0.1:$d=$pages/sglang-decode-dp2.txt" \
  -engine "127.0.0.1:$v=$stackpages/vllm-v1-dp2.txt" -engine "127.0.0.1:$v0=$pages/vllm-v0-old.txt" \
  >"$DIR/fake-engines.log" 2>&1 &
pids="$pids $!"
for _ in $(seq 100); do [ -S "$DIR/kubelet.sock" ] && break; sleep 0.1; done
[ -S "$DIR/kubelet.sock" ] || { echo "fake-engines did not start: see $DIR/fake-engines.log" >&2; exit 1; }

# GPU 6 falls off the bus while $DIR/gpu6-lost exists (the fake NVML's switch).
FAKENVML_LOST_GPU=6 FAKENVML_LOST_FILE=$DIR/gpu6-lost \
"$BINARY" --web.listen-address="$DEMO_ADDR" --path.sysfs="$DIR/sys" --path.procfs="$DEMO_PROC" \
  --collector.gpu.nvml-library="$FAKENVML" --attribution.kubelet-socket="$DIR/kubelet.sock" \
  --engine.target="http://127.0.0.1:$p/metrics,role=prefill,namespace=llm,pod=sglang-prefill-0,engine=sglang" \
  --engine.target="http://127.0.0.1:$d/metrics,role=decode,namespace=llm,pod=sglang-decode-0,engine=sglang" \
  --engine.target="http://127.0.0.1:$v/metrics,role=unified,namespace=llm,pod=vllm-0,engine=vllm" \
  --engine.target="http://127.0.0.1:$v0/metrics,role=unified,namespace=llm,pod=vllm-v0-0,engine=vllm" \
  >"$DIR/exporter.log" 2>&1 &
pids="$pids $!"
"$PROMETHEUS" --config.file="$DIR/prometheus.yml" --storage.tsdb.path="$DIR/data" \
  --web.listen-address="$PROM_ADDR" >"$DIR/prometheus.log" 2>&1 &
pids="$pids $!"

# urlencode S: S as a URL query value.
urlencode() {
  local s=$1 out= c i
  for ((i = 0; i < ${#s}; i++)); do
    c=${s:i:1}
    case $c in
      [a-zA-Z0-9._~-]) out+=$c ;;
      *) printf -v c '%%%02X' "'$c"; out+=$c ;;
    esac
  done
  printf '%s' "$out"
}
graph() { printf 'http://%s/query?g0.expr=%s&g0.tab=graph&g0.range_input=5m' "$PROM_ADDR" "$(urlencode "$1")"; }

port_for=$(sed -nE '/alert: LLMInfiniBandPortDown$/,/for:/s/^ +for: //p' "$alerts" | head -1)
cat <<EOF
llm-node-exporter stack on the fixture node (logs in $DIR/):
  exporter:            http://$DEMO_ADDR/
  Prometheus alerts:   http://$PROM_ADDR/alerts
  Prometheus rules:    http://$PROM_ADDR/rules
  Prometheus targets:  http://$PROM_ADDR/targets
  decode DRAM bandwidth per DP rank:  $(graph 'namespace_pod_dp_rank:llm_gpu_dram_bandwidth_utilization_ratio:avg{role="decode"}')
  SGLang P/D per-stage latency:       $(graph 'namespace_pod:engine_stage_latency_seconds:mean1m{engine="sglang"}')
  InfiniBand bytes received per pod:  $(graph 'namespace_pod:llm_infiniband_port_data_received_bytes:rate1m')
The fixture's DOWN port mlx5_3 fires LLMInfiniBandPortDown after its for: of $port_for.
Faults (each fires its alert after its for:, and resolves when switched back):
  decode engine down / up:  curl http://127.0.0.1:$d/down ; curl http://127.0.0.1:$d/up
  GPU 6 lost / back:        touch $DIR/gpu6-lost ; rm $DIR/gpu6-lost
Ctrl-C stops everything.
EOF
wait -n $pids
echo "a process of the stack exited: see $DIR/*.log" >&2
stop
