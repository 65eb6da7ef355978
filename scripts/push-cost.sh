#!/usr/bin/env bash
# Push mode's cost against what a user would run instead, side by side in one run: the
# exporter pushing the fixture node (testdata/sys, GPU collector off) with its WAL on, and
# `prometheus --agent` scraping the same fixture node from a pull-mode exporter and
# remote-writing it, both every $INTERVAL to the same real Prometheus receiver on loopback.
# Prints each process's CPU time over the measured window, its resident memory (VmRSS and
# the peak VmHWM) at the end, and the ratios push / agent (the figures of docs/push.md).
#
#   bash scripts/push-cost.sh        (or make bench-push-cost)
#
# Environment:
#   INTERVAL=15s      collection, scrape and push period of both
#   WARMUP=30         seconds before the window (start-up is not measured)
#   DURATION=180      seconds of the window
#   PROMETHEUS=.cache/bin/prometheus-ui   (built by make from mixin/go.mod)
#   WAL=1             0 runs the push without --remote-write.wal-dir, to see the WAL's share
# The exit status is non-zero only if a process fails to start or dies; the ratios are
# measurements, never a pass/fail criterion.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
INTERVAL=${INTERVAL:-15s}
WARMUP=${WARMUP:-30}
DURATION=${DURATION:-180}
PROMETHEUS=${PROMETHEUS:-.cache/bin/prometheus-ui}
WAL=${WAL:-1}
[ -x "$PROMETHEUS" ] || { echo "push-cost: no $PROMETHEUS (make prometheus-ui)" >&2; exit 1; }

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

go build -o "$work/llm-node-exporter" ./cmd/llm-node-exporter

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() { # url what
  for _ in $(seq 600); do
    curl -fs -o /dev/null "$1" && return 0
    sleep 0.1
  done
  echo "push-cost: $2 did not start; its log:" >&2
  cat "$work/$2.log" >&2
  exit 1
}

recv_port=$(free_port)
cat >"$work/receiver.yml" <<EOF
global: {scrape_interval: 1h}
EOF
"$PROMETHEUS" --config.file="$work/receiver.yml" --storage.tsdb.path="$work/receiver-data" \
  --web.listen-address="127.0.0.1:$recv_port" --web.enable-remote-write-receiver >"$work/receiver.log" 2>&1 &
pids+=($!)
wait_http "http://127.0.0.1:$recv_port/-/ready" receiver
write_url="http://127.0.0.1:$recv_port/api/v1/write"

# Ours: push only, WAL on.
wal_flag=()
mkdir -p "$work/wal"
[ "$WAL" = 0 ] || wal_flag=(--remote-write.wal-dir="$work/wal")
"$work/llm-node-exporter" --web.listen-address= --no-collector.gpu --path.sysfs=testdata/sys \
  --remote-write.url="$write_url" --remote-write.interval="$INTERVAL" --remote-write.instance=push \
  "${wal_flag[@]}" >"$work/push.log" 2>&1 &
push_pid=$!
pids+=($push_pid)

# The alternative: the exporter serving /metrics, prometheus --agent scraping and forwarding it.
pull_port=$(free_port)
"$work/llm-node-exporter" --web.listen-address="127.0.0.1:$pull_port" --no-collector.gpu \
  --path.sysfs=testdata/sys >"$work/pull.log" 2>&1 &
pull_pid=$!
pids+=($pull_pid)
wait_http "http://127.0.0.1:$pull_port/metrics" pull
agent_port=$(free_port)
cat >"$work/agent.yml" <<EOF
global: {scrape_interval: $INTERVAL}
scrape_configs:
  - job_name: llm-node-exporter
    static_configs: [{targets: ['127.0.0.1:$pull_port'], labels: {instance: agent}}]
remote_write:
  - url: $write_url
EOF
"$PROMETHEUS" --agent --config.file="$work/agent.yml" --storage.agent.path="$work/agent-wal" \
  --web.listen-address="127.0.0.1:$agent_port" >"$work/agent.log" 2>&1 &
agent_pid=$!
pids+=($agent_pid)
wait_http "http://127.0.0.1:$agent_port/-/ready" agent

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; } # utime + stime
status_kb() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }
alive() {
  for p in "$push_pid" "$pull_pid" "$agent_pid"; do
    kill -0 "$p" 2>/dev/null || { echo "push-cost: process $p died; logs in $work" >&2; cat "$work"/*.log >&2; exit 1; }
  done
}

echo "push-cost: warming up ${WARMUP}s, then measuring ${DURATION}s at --remote-write.interval / scrape_interval $INTERVAL" >&2
sleep "$WARMUP"
alive
p0=$(cpu_ticks "$push_pid"); a0=$(cpu_ticks "$agent_pid"); l0=$(cpu_ticks "$pull_pid")
sleep "$DURATION"
alive
p1=$(cpu_ticks "$push_pid"); a1=$(cpu_ticks "$agent_pid"); l1=$(cpu_ticks "$pull_pid")
hz=$(getconf CLK_TCK)

# Both delivered: the receiver holds the fixture's series from each.
q() { curl -fsG "http://127.0.0.1:$recv_port/api/v1/query" --data-urlencode "query=$1" |
  python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else 0)'; }
push_series=$(q 'count({instance="push",__name__=~"llm_infiniband_.+"})')
agent_series=$(q 'count({instance="agent",__name__=~"llm_infiniband_.+"})')

python3 - "$WAL" "$hz" "$DURATION" "$INTERVAL" "$push_series" "$agent_series" \
  "$((p1 - p0))" "$(status_kb "$push_pid" VmRSS)" "$(status_kb "$push_pid" VmHWM)" \
  "$((a1 - a0))" "$(status_kb "$agent_pid" VmRSS)" "$(status_kb "$agent_pid" VmHWM)" \
  "$((l1 - l0))" "$(status_kb "$pull_pid" VmRSS)" "$(status_kb "$pull_pid" VmHWM)" \
  "$(du -sk "$work/wal" | cut -f1)" "$(du -sk "$work/agent-wal" | cut -f1)" <<'EOF'
import sys
wal_on = sys.argv[1] != "0"
a = sys.argv[2:]
hz, dur, interval = int(a[0]), int(a[1]), a[2]
push_series, agent_series = a[3], a[4]
rows = {}
push_name = "push (WAL on)" if wal_on else "push (no WAL)"
for i, name in enumerate([push_name, "prometheus --agent", "pull exporter (the agent's target)"]):
    ticks, rss, hwm = (int(x) for x in a[5 + 3 * i: 8 + 3 * i])
    rows[name] = (ticks / hz, rss / 1024, hwm / 1024)
wal_kb, agent_wal_kb = int(a[14]), int(a[15])
print(f"push cost, fixture node, every {interval}, CPU over {dur}s after warm-up, memory at the end")
print(f"{'process':38} {'CPU s':>7} {'% core':>7} {'RSS MB':>7} {'peak MB':>8}")
for name, (cpu, rss, hwm) in rows.items():
    print(f"{name:38} {cpu:7.2f} {100 * cpu / dur:7.3f} {rss:7.1f} {hwm:8.1f}")
push, agent, pull = rows[push_name], rows["prometheus --agent"], rows["pull exporter (the agent's target)"]
def ratio(x, y):
    return float("nan") if y == 0 else x / y
print(f"WAL on disk: push {wal_kb} KB, agent {agent_wal_kb} KB; llm_infiniband_* series received: push {push_series}, agent {agent_series}")
print(f"push / agent:                   CPU {ratio(push[0], agent[0]):.2f}x  RSS {ratio(push[1], agent[1]):.2f}x")
print(f"push / (agent + pull exporter): CPU {ratio(push[0], agent[0] + pull[0]):.2f}x  RSS {ratio(push[1], agent[1] + pull[1]):.2f}x")
EOF
