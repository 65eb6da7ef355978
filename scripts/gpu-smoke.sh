#!/usr/bin/env bash
# The shipped exporter against a real NVIDIA GPU, in one run (docs/benchmarks.md, "GPU smoke run").
#
# Needs on the GPU machine: the NVIDIA driver (libnvidia-ml.so.1, nvidia-smi), python3 with PyTorch
# (CUDA), glibc >= 2.34; no Go. Needs the bundle `make gpu-smoke-bundle` cross-builds (cgo,
# linux/amd64, the same build as `make build`) in $GPU_SMOKE_BUNDLE (default .cache/gpu-smoke):
# the exporter binary, and gpu.test (`go test -c ./collector/gpu`) for per-call NVML timings.
#
# It starts the exporter on the real driver (no kubelet, --path.procfs=/proc), scrapes it, compares
# every llm_gpu_* value nvidia-smi can also report within stated tolerances (idle and under load),
# runs a ~20 s bf16 matmul loop with PyTorch (SM and tensor activity > 0.5, DRAM bandwidth low)
# and a ~20 s device-to-device copy loop (DRAM bandwidth up, tensor activity low), checks that the
# PyTorch process is listed with its PID by the collector's attribution listing and unattributed
# (engine and role empty), times the whole scrape and every NVML call the collector makes, and
# records llm_gpu_gpm_supported, the driver and CUDA versions and the exporter's RSS. Everything is
# written under $OUT (7 files); the exit status is non-zero when a check failed.
#
# Dry run without a GPU (CI, a laptop): GPU_SMOKE_DRY_RUN=1 with GPU_SMOKE_NVML_LIBRARY set to the
# fake libnvidia-ml.so.1 and the fake nvidia-smi of collector/gpu/testdata/fakenvml first on PATH;
# the PyTorch loads are replaced by idle processes and their checks reported, not enforced.
#   make gpu-smoke-dry-run
set -uo pipefail

bundle=${GPU_SMOKE_BUNDLE:-.cache/gpu-smoke}
out=${OUT:?set OUT to the directory the results go to}
load_seconds=${GPU_SMOKE_LOAD_SECONDS:-20}
addr=${GPU_SMOKE_ADDR:-127.0.0.1:19836}
nvml_library=${GPU_SMOKE_NVML_LIBRARY:-}
dry_run=${GPU_SMOKE_DRY_RUN:-0}
mkdir -p "$out"
work=$(mktemp -d)
exporter_pid=
cleanup() {
  [ -n "$exporter_pid" ] && kill "$exporter_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

for f in llm-node-exporter gpu.test; do
  [ -x "$bundle/$f" ] || { echo "gpu-smoke: $bundle/$f missing: run 'make gpu-smoke-bundle' first" >&2; exit 2; }
done
command -v nvidia-smi >/dev/null || { echo "gpu-smoke: nvidia-smi not on PATH" >&2; exit 2; }
command -v python3 >/dev/null || { echo "gpu-smoke: python3 not on PATH" >&2; exit 2; }

library_flag=()
[ -n "$nvml_library" ] && library_flag=(--collector.gpu.nvml-library="$nvml_library")

"$bundle/llm-node-exporter" --web.listen-address="$addr" --path.procfs=/proc --path.sysfs=/sys \
  --no-attribution.kubelet --collector.gpu.gpm-interval=1s "${library_flag[@]}" >"$out/exporter.log" 2>&1 &
exporter_pid=$!

# Everything else is Python: HTTP, parsing the exposition, nvidia-smi's CSV, PyTorch loads.
cat >"$work/smoke.py" <<'PY'
import json, os, re, signal, statistics, subprocess, sys, time, urllib.request

OUT, ADDR, BUNDLE = os.environ["OUT"], os.environ["ADDR"], os.environ["BUNDLE"]
DRY = os.environ.get("DRY") == "1"
LOAD_S = float(os.environ["LOAD_SECONDS"])
EXPORTER_PID = int(os.environ["EXPORTER_PID"])
results = {"checks": [], "comparisons": {}, "loads": {}, "dry_run": DRY}
summary = []

def check(name, ok, detail, enforced=True):
    """Records a check; one not enforced (a PyTorch load in a dry run) is reported only."""
    results["checks"].append({"check": name, "ok": bool(ok), "detail": detail, "enforced": enforced})
    print(("PASS " if ok else "FAIL " if enforced else "(not enforced) ") + name + ": " + detail, flush=True)

def scrape():
    t0 = time.monotonic()
    with urllib.request.urlopen("http://%s/metrics" % ADDR, timeout=60) as r:
        body = r.read().decode()
    return body, time.monotonic() - t0

LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')

def parse(text):
    series = []
    for line in text.splitlines():
        if line.startswith("#") or not line:
            continue
        m = LINE.match(line)
        if m:
            series.append((m.group(1), dict(LABEL.findall(m.group(2) or "")), float(m.group(3))))
    return series

def value(series, name, **labels):
    for n, l, v in series:
        if n == name and all(l.get(k) == str(x) for k, x in labels.items()):
            return v
    return None

def labels_of(series, name, **labels):
    for n, l, v in series:
        if n == name and all(l.get(k) == str(x) for k, x in labels.items()):
            return l
    return None

# --- wait for the exporter ---
deadline = time.monotonic() + 60
while True:
    try:
        scrape()
        break
    except Exception as e:
        if time.monotonic() > deadline:
            check("exporter serves /metrics", False, str(e))
            sys.exit(1)
        time.sleep(0.2)

# --- nvidia-smi ---
# field, exporter family, labels, factor (exporter value * factor = nvidia-smi unit), tolerance
# (absolute, and relative to nvidia-smi's value; the larger applies).
MiB = 1 << 20
FIELDS = [
    ("utilization.gpu", "llm_gpu_utilization_ratio", {}, 100, 15, 0),
    ("utilization.memory", "llm_gpu_memory_copy_utilization_ratio", {}, 100, 15, 0),
    ("memory.total", "llm_gpu_memory_total_bytes", {}, 1 / MiB, 1, 0),
    ("memory.reserved", "llm_gpu_memory_reserved_bytes", {}, 1 / MiB, 1, 0),
    ("memory.used", "llm_gpu_memory_used_bytes", {}, 1 / MiB, 64, 0.01),
    ("power.draw", "llm_gpu_power_watts", {}, 1, 25, 0.15),
    ("enforced.power.limit", "llm_gpu_power_limit_watts", {}, 1, 1, 0),
    ("temperature.gpu", "llm_gpu_temperature_celsius", {"sensor": "gpu"}, 1, 3, 0),
    ("temperature.memory", "llm_gpu_temperature_celsius", {"sensor": "memory"}, 1, 3, 0),
    ("clocks.sm", "llm_gpu_sm_clock_hertz", {}, 1e-6, 150, 0.10),
    ("clocks.mem", "llm_gpu_memory_clock_hertz", {}, 1e-6, 10, 0),
    ("ecc.errors.corrected.aggregate.total", "llm_gpu_ecc_errors_total", {"type": "corrected"}, 1, 0, 0),
    ("ecc.errors.uncorrected.aggregate.total", "llm_gpu_ecc_errors_total", {"type": "uncorrected"}, 1, 0, 0),
    ("remapped_rows.correctable", "llm_gpu_remapped_rows", {"cause": "correctable"}, 1, 0, 0),
    ("remapped_rows.uncorrectable", "llm_gpu_remapped_rows", {"cause": "uncorrectable"}, 1, 0, 0),
    ("remapped_rows.pending", "llm_gpu_remapped_rows_pending", {}, 1, 0, 0),
    ("remapped_rows.failure", "llm_gpu_remapped_rows_failure", {}, 1, 0, 0),
    ("pcie.link.gen.current", "llm_gpu_pcie_link_generation", {}, 1, 0, 0),
    ("pcie.link.width.current", "llm_gpu_pcie_link_width", {}, 1, 0, 0),
]
IDENTITY = ["index", "uuid", "name", "pci.bus_id", "driver_version"]
REASONS = {"gpu_idle": 0x1, "applications_clocks_setting": 0x2, "sw_power_cap": 0x4, "hw_slowdown": 0x8,
           "sync_boost": 0x10, "sw_thermal_slowdown": 0x20, "hw_thermal_slowdown": 0x40,
           "hw_power_brake_slowdown": 0x80, "display_clock_setting": 0x100}
REASON_FIELDS = ["clocks_event_reasons.active", "clocks_throttle_reasons.active"]  # R535+, older

def smi(fields):
    p = subprocess.run(["nvidia-smi", "--query-gpu=" + ",".join(fields), "--format=csv,noheader,nounits"],
                       capture_output=True, text=True)
    if p.returncode != 0:
        return None, (p.stderr or p.stdout).strip()
    return [[c.strip() for c in line.split(", ")] for line in p.stdout.strip().splitlines()], None

def smi_query():
    """One row per GPU: field -> text; a field nvidia-smi does not know is dropped."""
    wanted = IDENTITY + [f[0] for f in FIELDS]
    rows, err = smi(wanted + [REASON_FIELDS[0]])
    if rows is None:  # some field unknown to this nvidia-smi: ask one by one
        known = [f for f in wanted + REASON_FIELDS if smi([f])[0] is not None]
        rows, err = smi(known)
        wanted = known
    else:
        wanted = wanted + [REASON_FIELDS[0]]
    if rows is None:
        raise RuntimeError("nvidia-smi: " + err)
    return [dict(zip(wanted, r)) for r in rows]

def number(text):
    t = text.strip()
    if t in ("Yes", "No"):
        return 1.0 if t == "Yes" else 0.0
    if t.startswith("[") or t in ("N/A", ""):
        return None
    return float(int(t, 16)) if t.startswith("0x") else float(t)

def compare(phase):
    """Scrape, nvidia-smi, scrape: nvidia-smi's value must lie within tolerance of the span of
    the two scrapes' values (the readings are not taken at the same instant)."""
    s1 = parse(scrape()[0])
    rows = smi_query()
    s2 = parse(scrape()[0])
    table = []
    for row in rows:
        gpu = row["index"]
        for field in ("uuid", "name", "pci.bus_id", "driver_version"):
            if field not in row:
                continue
            label = {"uuid": "uuid", "name": "name", "pci.bus_id": "pci_bus_id", "driver_version": "driver_version"}[field]
            info = labels_of(s2, "llm_gpu_info", gpu=gpu) or {}
            ours = info.get(label) if label != "uuid" else (labels_of(s2, "llm_gpu_up", gpu=gpu) or {}).get("uuid")
            table.append((gpu, field, row[field], ours, "exact", ours == row[field]))
        for field, family, labels, factor, tol_abs, tol_rel in FIELDS:
            if field not in row:
                continue
            theirs = number(row[field])
            vals = [v for v in (value(s, family, gpu=gpu, **labels) for s in (s1, s2)) if v is not None]
            tol = max(tol_abs, tol_rel * abs(theirs)) if theirs is not None else 0
            if theirs is None:
                # nvidia-smi cannot report it: the exporter must not serve a number either.
                table.append((gpu, field, row[field], "absent" if not vals else vals, "absent", not vals))
                continue
            if not vals:
                table.append((gpu, field, row[field], "absent", "±%g" % tol, False))
                continue
            lo, hi = min(vals) * factor, max(vals) * factor
            ok = lo - tol - 1e-9 <= theirs <= hi + tol + 1e-9
            shown = "%.6g" % lo if lo == hi else "%.6g..%.6g" % (lo, hi)
            table.append((gpu, field, row[field], shown, "±%g" % tol, ok))
        rf = next((f for f in REASON_FIELDS if f in row), None)
        if rf:
            mask = number(row[rf])
            for reason, bit in REASONS.items():
                vals = [value(s, "llm_gpu_clock_event_reason_active", gpu=gpu, reason=reason) for s in (s1, s2)]
                want = 1.0 if mask is not None and int(mask) & bit else 0.0
                # gpu_idle and the power cap follow the load from one instant to the next.
                ok = want in vals or (reason in ("gpu_idle", "sw_power_cap") and None not in vals)
                table.append((gpu, "%s & %s" % (rf, reason), row[rf], vals, "exact", ok))
    results["comparisons"][phase] = [dict(zip(("gpu", "field", "nvidia_smi", "exporter", "tolerance", "ok"), r)) for r in table]
    bad = [r for r in table if not r[5]]
    check("nvidia-smi agrees with the exporter (%s)" % phase, not bad,
          "%d of %d values within tolerance%s" % (len(table) - len(bad), len(table),
                                                  "; off: " + "; ".join("%s %s smi=%s ours=%s" % (r[0], r[1], r[2], r[3]) for r in bad) if bad else ""))
    summary.append("### nvidia-smi against the exporter, %s\n\n| gpu | field | nvidia-smi | exporter | tolerance | ok |\n|---|---|---|---|---|---|\n" % phase
                   + "".join("| %s | %s | %s | %s | %s | %s |\n" % r for r in table))
    return s2

def save(name, text):
    with open(os.path.join(OUT, name), "w") as f:
        f.write(text)

# --- idle ---
time.sleep(3)  # GPM needs two samples (1 s apart) before it serves anything
idle_text = scrape()[0]
save("metrics-idle.prom", idle_text)
idle = parse(idle_text)
gpus = sorted({l["gpu"] for n, l, v in idle if n == "llm_gpu_up"}, key=int)
check("every GPU up", gpus and all(value(idle, "llm_gpu_up", gpu=g) == 1 for g in gpus), "GPUs %s" % gpus)
info = labels_of(idle, "llm_gpu_info") or {}
results["driver_version"], results["cuda_version"], results["gpu_name"] = info.get("driver_version"), info.get("cuda_version"), info.get("name")
results["gpm_supported"] = {l["gpu"]: (v, l.get("reason", "")) for n, l, v in idle if n == "llm_gpu_gpm_supported"}
results["nvml_errors"] = [{"labels": l, "value": v} for n, l, v in idle if n == "llm_gpu_nvml_errors_total"]
compare("idle")

# --- loads ---
MATMUL = r'''
import os, sys, time, torch
print(os.getpid(), flush=True)
a = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
b = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
c = a @ b
torch.cuda.synchronize()
print("running", flush=True)
end = time.time() + float(sys.argv[1])
while time.time() < end:
    for _ in range(20):
        c = a @ b
    torch.cuda.synchronize()
'''
COPY = r'''
import os, sys, time, torch
print(os.getpid(), flush=True)
a = torch.empty(1 << 30, device="cuda", dtype=torch.uint8)
b = torch.empty_like(a)
b.copy_(a)
torch.cuda.synchronize()
print("running", flush=True)
end = time.time() + float(sys.argv[1])
while time.time() < end:
    for _ in range(20):
        b.copy_(a)
    torch.cuda.synchronize()
'''
IDLE = r'''
import os, sys, time
print(os.getpid(), flush=True)
print("running", flush=True)
time.sleep(float(sys.argv[1]))
'''

def devices_listing():
    """The collector's attribution listing (Collector.Devices) on the real driver."""
    path = os.path.join(OUT, ".devices.json")
    env = dict(os.environ, LLM_NVML_REAL="1", LLM_NVML_DEVICES_OUT=path)
    p = subprocess.run([os.path.join(BUNDLE, "gpu.test"), "-test.run", "^TestRealNVMLDevices$", "-test.v"],
                       capture_output=True, text=True, env=env, timeout=120)
    try:
        with open(path) as f:
            devs = json.load(f)
        os.remove(path)
        return devs, p.stdout[-2000:]
    except Exception as e:
        return [], "%s\n%s%s" % (e, p.stdout[-2000:], p.stderr[-2000:])

GPM = {"sm": "llm_gpu_sm_active_ratio", "tensor": "llm_gpu_tensor_active_ratio", "dram": "llm_gpu_dram_bandwidth_utilization_ratio"}

def load(name, code, expect):
    if DRY:
        code = IDLE
    p = subprocess.Popen([sys.executable, "-c", code, str(LOAD_S)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    pid = int(p.stdout.readline().strip() or 0)
    running = p.stdout.readline().strip() == "running"  # CUDA context and the first kernel done
    end = time.monotonic() + LOAD_S - 3  # leave time for the comparison under load
    time.sleep(2.5)  # two GPM intervals of load
    devs, log = devices_listing()
    gpu = next((str(d["Index"]) for d in devs if pid in (d.get("PIDs") or [])), None)
    samples, text = {k: [] for k in GPM}, ""
    while time.monotonic() < end:
        text = scrape()[0]
        s = parse(text)
        for k, fam in GPM.items():
            v = value(s, fam, gpu=gpu if gpu is not None else gpus[0], gpu_instance="")
            if v is not None:
                samples[k].append(v)
        time.sleep(2)
    s = parse(text)
    under_load = compare(name) if not DRY else s
    save("metrics-%s.prom" % name, text)
    err = p.communicate(timeout=LOAD_S + 60)[1]
    if not running:
        check("%s: PyTorch started" % name, False, err[-500:], not DRY)
    med = {k: statistics.median(v) if v else None for k, v in samples.items()}
    results["loads"][name] = {"pid": pid, "gpu": gpu, "listing": devs, "samples": samples, "median": med,
                              "process_memory_bytes": value(s, "llm_gpu_process_memory_used_bytes", gpu=gpu),
                              "rank_info": labels_of(s, "llm_rank_info", gpu=gpu), "stderr": err[-1000:]}
    check("%s: the PyTorch process (PID %d) is listed by the collector's attribution listing" % (name, pid),
          gpu is not None, "GPU %s; listing %s%s" % (gpu, json.dumps(devs), "" if gpu else "; " + log), not DRY)
    ri = labels_of(s, "llm_rank_info", gpu=gpu) or {}
    check("%s: it is unattributed (engine and role empty)" % name, gpu is not None and ri.get("engine") == "" and ri.get("role") == "",
          "llm_rank_info %s" % ri, not DRY)
    check("%s: llm_gpu_process_memory_used_bytes counts it" % name,
          (value(s, "llm_gpu_process_memory_used_bytes", gpu=gpu) or 0) > 0,
          "%s bytes" % value(s, "llm_gpu_process_memory_used_bytes", gpu=gpu), not DRY)
    for k, (op, threshold) in expect.items():
        v = med[k]
        ok = v is not None and (v > threshold if op == ">" else v < threshold)
        check("%s: median %s %s %s" % (name, GPM[k], op, threshold), ok, "median %s over %d scrapes %s" % (v, len(samples[k]), samples[k]), not DRY)
    if p.returncode != 0 and not DRY:
        check("%s: PyTorch ran" % name, False, err[-500:])

load("matmul", MATMUL, {"tensor": (">", 0.5), "sm": (">", 0.5), "dram": ("<", 0.5)})
load("copy", COPY, {"dram": (">", 0.5), "tensor": ("<", 0.1)})

# --- whole scrape, RSS ---
times, gpu_durations = [], []
for _ in range(20):
    text, dt = scrape()
    times.append(dt)
    v = value(parse(text), "llm_exporter_collector_duration_seconds", collector="gpu")
    if v is not None:
        gpu_durations.append(v)
times.sort()
results["scrape_seconds"] = {"median": statistics.median(times), "p90": times[int(len(times) * 0.9) - 1], "max": times[-1],
                             "gpu_collector_median": statistics.median(gpu_durations) if gpu_durations else None,
                             "bytes": len(text), "series": len(parse(text))}
with open("/proc/%d/status" % EXPORTER_PID) as f:
    status = f.read()
results["rss_kib"] = {k: int(re.search(r"^%s:\s+(\d+) kB" % k, status, re.M).group(1)) for k in ("VmRSS", "VmHWM")}

# --- SIGTERM ---
os.kill(EXPORTER_PID, signal.SIGTERM)
deadline = time.monotonic() + 15
while time.monotonic() < deadline and os.path.exists("/proc/%d" % EXPORTER_PID) and \
        not open("/proc/%d/stat" % EXPORTER_PID).read().split(") ")[1].startswith("Z"):
    time.sleep(0.1)
gone = not os.path.exists("/proc/%d" % EXPORTER_PID) or open("/proc/%d/stat" % EXPORTER_PID).read().split(") ")[1].startswith("Z")
check("SIGTERM ends the exporter within 15 s", gone, "")

# --- every NVML call, timed, with the exporter stopped (one GPM client at a time) ---
bench = []
for label, extra, benchtime in (("defaults", {}, "5s"), ("with --collector.gpu.pcie-throughput", {"LLM_NVML_PCIE": "1"}, "10x")):
    md = os.path.join(OUT, ".timings.md")
    env = dict(os.environ, LLM_NVML_REAL="1", LLM_NVML_TIMINGS_OUT=md, **extra)
    p = subprocess.run([os.path.join(BUNDLE, "gpu.test"), "-test.run", "^$", "-test.bench", "^BenchmarkRealNVMLUpdate$",
                        "-test.benchtime", benchtime], capture_output=True, text=True, env=env, timeout=300)
    table = open(md).read() if os.path.exists(md) else "(no timings: %s)" % (p.stderr[-1000:] or p.stdout[-1000:])
    if os.path.exists(md):
        os.remove(md)
    line = next((l for l in p.stdout.splitlines() if l.startswith("BenchmarkRealNVMLUpdate")), p.stdout[-500:])
    bench.append("## Collector Update on the real driver, %s\n\n```\n%s\n```\n\n%s\n" % (label, line, table))
    check("NVML call timings (%s)" % label, p.returncode == 0, line)
save("nvml-calls.md", "\n".join(bench))

# --- summary ---
ok = all(c["ok"] for c in results["checks"] if c["enforced"])
head = ["# GPU smoke run%s\n" % (" (dry run: fake NVML and nvidia-smi, no PyTorch)" if DRY else ""),
        "GPU %s, driver %s, CUDA %s; GPM supported: %s; exporter RSS %s KiB (peak %s KiB); whole /metrics median %.1f ms, "
        "p90 %.1f ms (%d series, %d bytes), gpu collector median %s ms.\n" % (
            results["gpu_name"], results["driver_version"], results["cuda_version"], results["gpm_supported"],
            results["rss_kib"]["VmRSS"], results["rss_kib"]["VmHWM"], 1e3 * results["scrape_seconds"]["median"],
            1e3 * results["scrape_seconds"]["p90"], results["scrape_seconds"]["series"], results["scrape_seconds"]["bytes"],
            "%.2f" % (1e3 * results["scrape_seconds"]["gpu_collector_median"]) if results["scrape_seconds"]["gpu_collector_median"] else "-"),
        "## Checks\n\n| | check | detail |\n|---|---|---|\n" +
        "".join("| %s | %s | %s |\n" % ("PASS" if c["ok"] else "**FAIL**" if c["enforced"] else "not enforced", c["check"], c["detail"].replace("|", "/")[:400]) for c in results["checks"])]
save("summary.md", "\n".join(head + summary))
save("results.json", json.dumps(results, indent=1, default=str))
sys.exit(0 if ok else 1)
PY

env OUT="$out" ADDR="$addr" BUNDLE="$(cd "$bundle" && pwd)" DRY="$dry_run" LOAD_SECONDS="$load_seconds" \
  EXPORTER_PID="$exporter_pid" ${nvml_library:+LLM_NVML_LIBRARY="$nvml_library"} python3 "$work/smoke.py"
status=$?
wait "$exporter_pid" 2>/dev/null
exporter_pid=
echo "gpu-smoke: results in $out ($(ls "$out" | tr '\n' ' '))"
exit $status
