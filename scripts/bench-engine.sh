#!/usr/bin/env bash
# Cost of the engine collector, measured side by side in one run (docs/metrics-engine.md, "Cost"):
#
# 1. One collection of the 8-target DP-8 benchmark (collector/engine TestEngineCostReport): this
#    collector, the expfmt path it replaced, textparse.PromParser iterating the same pages, and
#    reading their bytes alone; time, allocations and bytes per collection, and the ratios.
# 2. Processes: this exporter, the exporter as it was before the streaming parser (built from
#    OLD_REV), and a Prometheus server (.cache/bin/prometheus-ui), each fetching the same 8 DP-8
#    pages every INTERVAL seconds for DURATION seconds (after WARMUP): CPU seconds per minute, CPU
#    and bytes allocated per engine page, VmRSS and VmHWM at the end. The pages change every value
#    on every answer (CHANGING=1, the worst case for the exporter, which reuses what did not
#    change); CHANGING=0 serves them as they are.
#
# OLD_REV=main OLD_NAME="exporter (main)" compares with another build instead.
#
# Not part of `make test`: about DURATION + 3 minutes. DURATION=300 INTERVAL=1 by default;
# PROCESSES_ONLY=1 skips the first part.
set -euo pipefail

DURATION=${DURATION:-300}
INTERVAL=${INTERVAL:-1}
WARMUP=${WARMUP:-15}
CHANGING=${CHANGING:-1}
ROUNDS=${ENGINE_COST_ROUNDS:-5}
GO=${GO:-go}
ROOT=$(git rev-parse --show-toplevel)
cd "$ROOT"
PROMETHEUS=${PROMETHEUS_BIN:-$ROOT/.cache/bin/prometheus-ui}
PAGE=$ROOT/collector/engine/testdata/bench-sglang-decode-dp8.txt
# The last commit before the streaming parser: the parent of the one that added parse.go.
OLD_REV=${OLD_REV:-$(git log --diff-filter=A --format=%H -- collector/engine/parse.go | tail -1)^}

if [ "${PROCESSES_ONLY:-0}" != 1 ]; then
	echo "== one collection, side by side (go test, best of $ROUNDS rounds)"
	ENGINE_COST_REPORT=1 ENGINE_COST_ROUNDS=$ROUNDS $GO test -count=1 ./collector/engine -run '^TestEngineCostReport$' -v |
		sed -n '/one collection/,/streaming \/ bytes alone/p' | sed 's/^        //'
fi

[ -x "$PROMETHEUS" ] || { echo "no $PROMETHEUS: make prometheus-ui" >&2; exit 1; }
tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

echo
echo "== processes: building this exporter, the one of $(git rev-parse --short "$OLD_REV"), the page server"
$GO build -o "$tmp/exporter-new" ./cmd/llm-node-exporter
mkdir "$tmp/old-src" && git archive "$OLD_REV" | tar -x -C "$tmp/old-src"
(cd "$tmp/old-src" && $GO build -o "$tmp/exporter-old" ./cmd/llm-node-exporter)
$GO build -o "$tmp/pages" ./scripts/bench-engine-pages

freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
listen=() targets=() promtargets=()
for i in 0 1 2 3 4 5 6 7; do
	p=$(freeport)
	listen+=("127.0.0.1:$p")
	targets+=("--engine.target=http://127.0.0.1:$p/metrics,namespace=bench,pod=decode-$i")
	promtargets+=("\"127.0.0.1:$p\"")
done
"$tmp/pages" -page "$PAGE" -listen "$(IFS=,; echo "${listen[*]}")" -changing=$([ "$CHANGING" = 1 ] && echo true || echo false) >"$tmp/pages.log" 2>&1 &
pids+=($!)

new_port=$(freeport) old_port=$(freeport) prom_port=$(freeport)
flags=(--no-collector.gpu --no-collector.infiniband --no-attribution "${targets[@]}")
"$tmp/exporter-new" --web.listen-address=127.0.0.1:$new_port "${flags[@]}" >"$tmp/new.log" 2>&1 &
new_pid=$!
pids+=($new_pid)
"$tmp/exporter-old" --web.listen-address=127.0.0.1:$old_port "${flags[@]}" >"$tmp/old.log" 2>&1 &
old_pid=$!
pids+=($old_pid)
cat >"$tmp/prometheus.yml" <<EOF
global: {scrape_interval: ${INTERVAL}s, scrape_timeout: ${INTERVAL}s}
scrape_configs:
  - job_name: engines
    static_configs: [{targets: [$(IFS=,; echo "${promtargets[*]}")]}]
EOF
"$PROMETHEUS" --config.file="$tmp/prometheus.yml" --storage.tsdb.path="$tmp/prom-data" \
	--web.listen-address=127.0.0.1:$prom_port >"$tmp/prometheus.log" 2>&1 &
prom_pid=$!
pids+=($prom_pid)

for url in "127.0.0.1:$new_port/metrics" "127.0.0.1:$old_port/metrics" "127.0.0.1:$prom_port/-/ready"; do
	for _ in $(seq 100); do curl -sf -o /dev/null "http://$url" && break; sleep 0.2; done
done

# The exporters are scraped every INTERVAL seconds, as Prometheus scrapes the engines.
: >"$tmp/scrapes"
driver() {
	while :; do
		sleep "$INTERVAL" &
		curl -s -o /dev/null "http://127.0.0.1:$new_port/metrics" &
		curl -s -o /dev/null "http://127.0.0.1:$old_port/metrics" &
		wait
		echo x >>"$tmp/scrapes"
	done
}
driver &
pids+=($!)

ticks=$(getconf CLK_TCK)
cpu() { awk -v t="$ticks" '{print ($14 + $15) / t}' "/proc/$1/stat"; }
allocs() { curl -s "http://127.0.0.1:$1/metrics" | awk '$1 == "go_memstats_alloc_bytes_total" {printf "%.0f\n", $2}'; }
status() { awk -v f="$2:" '$1 == f {print $2 * 1024}' "/proc/$1/status"; }
# Pages Prometheus scraped: its own count of scrapes, over all targets.
prom_pages() {
	curl -s "http://127.0.0.1:$prom_port/metrics" | awk '$1 ~ /^prometheus_target_interval_length_seconds_count/ {s += $2} END {printf "%.0f\n", s}'
}

echo "warming up ${WARMUP}s, then measuring ${DURATION}s at one page per target every ${INTERVAL}s (pages changing: $CHANGING)"
sleep "$WARMUP"
t0=$(date +%s.%N)
c0_new=$(cpu $new_pid) c0_old=$(cpu $old_pid) c0_prom=$(cpu $prom_pid)
a0_new=$(allocs $new_port) a0_old=$(allocs $old_port) a0_prom=$(allocs $prom_port)
s0=$(wc -l <"$tmp/scrapes") p0=$(prom_pages)
sleep "$DURATION"
t1=$(date +%s.%N)
c1_new=$(cpu $new_pid) c1_old=$(cpu $old_pid) c1_prom=$(cpu $prom_pid)
a1_new=$(allocs $new_port) a1_old=$(allocs $old_port) a1_prom=$(allocs $prom_port)
s1=$(wc -l <"$tmp/scrapes") p1=$(prom_pages)

OLD_NAME=${OLD_NAME:-exporter (expfmt, before)} python3 - "$t0" "$t1" "$s0" "$s1" "$p0" "$p1" \
	"$c0_new" "$c1_new" "$a0_new" "$a1_new" "$(status $new_pid VmRSS)" "$(status $new_pid VmHWM)" \
	"$c0_old" "$c1_old" "$a0_old" "$a1_old" "$(status $old_pid VmRSS)" "$(status $old_pid VmHWM)" \
	"$c0_prom" "$c1_prom" "$a0_prom" "$a1_prom" "$(status $prom_pid VmRSS)" "$(status $prom_pid VmHWM)" <<'EOF'
import os, sys
a = [float(x) for x in sys.argv[1:]]
t0, t1, s0, s1, p0, p1 = a[:6]
minutes = (t1 - t0) / 60
rows = {}
for i, name in enumerate(["exporter (streaming)", os.environ["OLD_NAME"], "prometheus server"]):
    c0, c1, al0, al1, rss, hwm = a[6 + 6 * i: 12 + 6 * i]
    pages = (s1 - s0) * 8 if i < 2 else (p1 - p0)
    rows[name] = dict(cpu_min=(c1 - c0) / minutes, cpu_page=(c1 - c0) / pages * 1e3,
                      alloc_page=(al1 - al0) / pages / 1e3, rss=rss / 2**20, hwm=hwm / 2**20, pages=pages)
print(f"{'':28} {'CPU s/min':>10} {'CPU ms/page':>12} {'alloc KB/page':>14} {'VmRSS MiB':>10} {'VmHWM MiB':>10} {'pages':>8}")
for name, r in rows.items():
    print(f"{name:28} {r['cpu_min']:10.2f} {r['cpu_page']:12.3f} {r['alloc_page']:14.1f} {r['rss']:10.1f} {r['hwm']:10.1f} {r['pages']:8.0f}")
new, old, prom = rows.values()
print()
print(f"streaming / prometheus: CPU per page {new['cpu_page'] / prom['cpu_page']:.2f}x (target <= 1x), "
      f"bytes per page {new['alloc_page'] / prom['alloc_page']:.2f}x (target <= 2x), VmRSS {new['rss'] / prom['rss']:.2f}x")
print(f"before / prometheus:    CPU per page {old['cpu_page'] / prom['cpu_page']:.2f}x, "
      f"bytes per page {old['alloc_page'] / prom['alloc_page']:.2f}x, VmRSS {old['rss'] / prom['rss']:.2f}x")
print(f"before / streaming:     CPU per page {old['cpu_page'] / new['cpu_page']:.1f}x, "
      f"bytes per page {old['alloc_page'] / new['alloc_page']:.1f}x, VmHWM {old['hwm'] / new['hwm']:.1f}x")
EOF
