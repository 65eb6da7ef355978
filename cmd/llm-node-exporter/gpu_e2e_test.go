package main

// End-to-end tests of the GPU path of the shipped binary without a GPU: a fake
// libnvidia-ml.so.1 (collector/gpu/testdata/fakenvml) serving an 8 x H100 node
// is compiled here and dlopened by go-nvml inside the exporter, exactly as the
// real library would be.

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	podresources "k8s.io/kubelet/pkg/apis/podresources/v1"
)

const (
	fakeNVMLSource = "../../collector/gpu/testdata/fakenvml/fakenvml.c"
	gpuGoldenPath  = "testdata/gpu-fixture.metrics"
)

// The fake node's GPUs, each at its HCA's PCIe bus + 1 in the sysfs fixture.
var fakeGPUBusIDs = []string{
	"00000000:19:00.0", "00000000:3B:00.0", "00000000:4C:00.0", "00000000:5D:00.0",
	"00000000:9B:00.0", "00000000:BB:00.0", "00000000:CC:00.0", "00000000:DD:00.0",
}

func fakeUUID(gpu int) string { return fmt.Sprintf("GPU-00000000-0000-0000-0000-00000000000%d", gpu) }

var (
	fakeNVMLOnce sync.Once
	fakeNVMLPath string
	fakeNVMLErr  error
)

// fakeNVML compiles the fake NVML library once per test binary, into the
// directory TestMain removes, and returns its path. It skips the test only
// where there is no C compiler.
func fakeNVML(t testing.TB) string {
	t.Helper()
	cc, err := exec.LookPath("cc")
	if err != nil {
		t.Skip("no C compiler (cc) on PATH to build the fake libnvidia-ml.so.1")
	}
	fakeNVMLOnce.Do(func() {
		out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/NVIDIA/go-nvml").Output()
		if err != nil {
			fakeNVMLErr = fmt.Errorf("locating go-nvml's nvml.h: %v", err)
			return
		}
		include := filepath.Join(strings.TrimSpace(string(out)), "pkg", "nvml")
		dir := filepath.Join(filepath.Dir(binary), "fakenvml")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			fakeNVMLErr = err
			return
		}
		lib := filepath.Join(dir, "libnvidia-ml.so.1")
		// The same define go-nvml's cgo code is compiled with: every versioned
		// symbol is spelt out.
		build := exec.Command(cc, "-shared", "-fPIC", "-O2", "-Wall", "-Wno-deprecated-declarations",
			"-DNVML_NO_UNVERSIONED_FUNC_DEFS=1", "-I"+include, "-o", lib, fakeNVMLSource)
		if out, err := build.CombinedOutput(); err != nil {
			fakeNVMLErr = fmt.Errorf("%v: %v\n%s", build.Args, err, out)
			return
		}
		fakeNVMLPath = lib
	})
	if fakeNVMLErr != nil {
		t.Fatalf("building the fake NVML: %v", fakeNVMLErr)
	}
	return fakeNVMLPath
}

// startGPU runs the exporter on the fixture sysfs and the fake 8-GPU node.
// The fake reads FAKENVML_* from the environment the exporter inherits: set
// them with t.Setenv before calling.
func startGPU(t testing.TB, args ...string) *exporter {
	t.Helper()
	return start(t, append([]string{"--path.sysfs=" + fixtureSysfs, "--collector.gpu.nvml-library=" + fakeNVML(t)}, args...)...)
}

var xidTimestampLine = regexp.MustCompile(`(?m)^(llm_gpu_xid_last_seen_timestamp_seconds\{[^}]*\}) .*$`)

// normalizeGPU is normalize plus the XID last-seen times.
func normalizeGPU(text string) string {
	return xidTimestampLine.ReplaceAllString(normalize(text), "$1 <timestamp>")
}

// scrapeUntil scrapes until cond holds on the parsed page (within patience).
func (e *exporter) scrapeUntil(t testing.TB, what string, cond func(map[string]*dto.MetricFamily) bool) string {
	t.Helper()
	var text string
	eventually(t, what, func() bool {
		text = e.scrape(t)
		return cond(parse(t, text))
	})
	return text
}

// gpuValue is the value of name's series for GPU gpu whose other labels match
// kv (name, value pairs); -1 when absent.
func gpuValue(mfs map[string]*dto.MetricFamily, name string, gpu int, kv ...string) float64 {
	mf := mfs[name]
	if mf == nil {
		return -1
	}
next:
	for _, m := range mf.Metric {
		if label(m, "gpu") != strconv.Itoa(gpu) {
			continue
		}
		for i := 0; i+1 < len(kv); i += 2 {
			if label(m, kv[i]) != kv[i+1] {
				continue next
			}
		}
		if m.Gauge != nil {
			return m.Gauge.GetValue()
		}
		return m.Counter.GetValue()
	}
	return -1
}

// TestGPUEndToEndGolden compares the whole /metrics page of the fixture node
// with the fake 8 x H100 (one past XID 48 on GPU 6, PCIe throughput and
// per-link GPM NVLink bytes on, so every llm_gpu_* family but the error
// counter is served) with the reviewed golden file. Regenerate on purpose
// with `make golden`, and review the diff.
func TestGPUEndToEndGolden(t *testing.T) {
	t.Setenv("FAKENVML_XID", "6:48")
	// The whole attributed node: SGLang P/D engines in /proc and the kubelet's
	// pod-resources (attribution_e2e_test.go), so the golden holds every GPU,
	// GPM and HCA series with its pod, role, dp_rank and tp_rank.
	socket := startFakeKubelet(t, []*podresources.PodResources{
		gpuPod("llm", "sglang-prefill-0", "sglang", 0, 1, 2, 3),
		gpuPod("llm", "sglang-decode-0", "sglang", 4, 5, 6, 7),
	})
	e := startGPU(t, "--collector.gpu.pcie-throughput", "--collector.gpu.gpm-nvlink-per-link",
		"--collector.gpu.gpm-interval=100ms", "--web.disable-exporter-metrics",
		"--path.procfs="+engineProc(t), "--attribution.kubelet-socket="+socket)
	// The first scrape initialises NVML, which starts the XID watcher and the
	// GPM sampler; the golden is the second scrape, once the watcher has
	// logged the XID and the sampler its first computed metrics, so that the
	// counters of the sysfs fixture's bad files read 2.
	e.scrape(t)
	e.waitLog(t, "GPU XID error")
	e.waitLog(t, "GPM metrics computed")
	raw := e.scrape(t)
	got := normalizeGPU(raw)

	mfs := parse(t, raw)
	for gpu, bus := range fakeGPUBusIDs {
		if v := gpuValue(mfs, "llm_gpu_up", gpu, "uuid", fakeUUID(gpu)); v != 1 {
			t.Errorf("llm_gpu_up{gpu=%d} = %v, want 1", gpu, v)
		}
		if v := gpuValue(mfs, "llm_gpu_info", gpu, "pci_bus_id", bus, "name", "NVIDIA H100 80GB HBM3",
			"driver_version", "550.54.15", "cuda_version", "12.4", "mig_mode", "disabled"); v != 1 {
			t.Errorf("llm_gpu_info{gpu=%d,pci_bus_id=%s} = %v, want 1", gpu, bus, v)
		}
		if v := gpuValue(mfs, "llm_gpu_power_watts", gpu); v != float64(600+gpu) {
			t.Errorf("llm_gpu_power_watts{gpu=%d} = %v, want %d", gpu, v, 600+gpu)
		}
	}
	if n := len(mfs["llm_gpu_up"].GetMetric()); n != 8 {
		t.Errorf("%d GPUs, want 8", n)
	}
	if n := len(mfs["llm_gpu_nvlink_up"].GetMetric()); n != 8*18 {
		t.Errorf("%d NVLinks, want 8 x 18", n)
	}
	if v := gpuValue(mfs, "llm_gpu_nvlink_up", 1, "link", "17"); v != 0 {
		t.Errorf("GPU 1 link 17 up = %v, want 0 (down in the fake)", v)
	}
	if v := gpuValue(mfs, "llm_gpu_clock_event_reason_active", 2, "reason", "sw_power_cap"); v != 1 {
		t.Errorf("GPU 2 sw_power_cap = %v, want 1", v)
	}
	for _, c := range []string{"gpu", "infiniband"} {
		if v := value(mfs, "llm_exporter_collector_success", "collector", c); v != 1 {
			t.Errorf("%s collector success = %v, want 1", c, v)
		}
	}
	// Every documented GPU family is served, but the NVML error counter on a
	// healthy node (TestGPULostEndToEnd covers it).
	doc, err := os.ReadFile(metricsDoc)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile("(?m)^\\| `(llm_gpu_[a-z0-9_]+)`").FindAllStringSubmatch(string(doc), -1) {
		if mfs[m[1]] == nil && m[1] != "llm_gpu_nvml_errors_total" {
			t.Errorf("%s is documented but not served by the fake 8-GPU node", m[1])
		}
	}
	if mfs["llm_gpu_nvml_errors_total"] != nil {
		t.Errorf("NVML errors on the healthy fake node: %v", mfs["llm_gpu_nvml_errors_total"])
	}

	if *update {
		if err := os.WriteFile(gpuGoldenPath, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(gpuGoldenPath)
	if err != nil {
		t.Fatalf("%v (run `make golden`)", err)
	}
	if got != string(want) {
		t.Errorf("/metrics differs from %s (review, then `make golden`):\n%s",
			gpuGoldenPath, lineDiff(string(want), got))
	}
}

// TestGPULostEndToEnd: GPU 5 answers NVML_ERROR_GPU_IS_LOST; it alone reports
// up=0, the other seven and the InfiniBand ports are served, and the exporter
// survives the NVML re-initialisation the lost GPU triggers.
func TestGPULostEndToEnd(t *testing.T) {
	t.Setenv("FAKENVML_LOST_GPU", "5")
	e := startGPU(t)
	check := func(scrape int) {
		t.Helper()
		mfs := parse(t, e.scrape(t))
		if n := len(mfs["llm_gpu_up"].GetMetric()); n != 8 {
			t.Errorf("scrape %d: %d llm_gpu_up series, want 8", scrape, n)
		}
		for gpu := range 8 {
			want, uuid := 1.0, fakeUUID(gpu)
			if gpu == 5 {
				want, uuid = 0, "" // lost before its UUID could be read
			}
			if v := gpuValue(mfs, "llm_gpu_up", gpu, "uuid", uuid); v != want {
				t.Errorf("scrape %d: llm_gpu_up{gpu=%d,uuid=%q} = %v, want %v", scrape, gpu, uuid, v, want)
			}
		}
		if v := gpuValue(mfs, "llm_gpu_power_watts", 5); v != -1 {
			t.Errorf("scrape %d: the lost GPU still reports power %v", scrape, v)
		}
		if v := gpuValue(mfs, "llm_gpu_power_watts", 4); v != 604 {
			t.Errorf("scrape %d: GPU 4 power = %v, want 604", scrape, v)
		}
		if v := gpuValue(mfs, "llm_gpu_nvml_errors_total", 5, "call", "nvmlDeviceGetHandleByIndex", "return", "GPU is lost"); v != float64(scrape) {
			t.Errorf("scrape %d: lost-GPU errors counted %v, want %d", scrape, v, scrape)
		}
		for _, c := range []string{"gpu", "infiniband"} {
			if v := value(mfs, "llm_exporter_collector_success", "collector", c); v != 1 {
				t.Errorf("scrape %d: %s collector success = %v, want 1", scrape, c, v)
			}
		}
		if n := len(mfs["llm_infiniband_state_id"].GetMetric()); n != 10 {
			t.Errorf("scrape %d: %d InfiniBand ports, want 10", scrape, n)
		}
	}
	check(1)
	// The lost GPU shut NVML down: the next scrape re-initialises it at once,
	// the one after does not (30 s backoff while the GPU stays lost).
	check(2)
	check(3)
	if n := strings.Count(e.waitLogCount(t, "NVML initialised", 2), "NVML initialised"); n != 2 {
		t.Errorf("NVML initialised %d times over three scrapes, want 2 (start-up, after the loss):\n%s", n, e.log)
	}
}

// TestGPULostAndRecoveredEndToEnd: GPU 3 reports XID 79 and falls off the bus
// while the exporter runs, then comes back: it alone goes to up=0, the XID
// stays counted, and after the re-initialisation all eight are up again.
func TestGPULostAndRecoveredEndToEnd(t *testing.T) {
	lostFile := filepath.Join(t.TempDir(), "gpu3-lost")
	t.Setenv("FAKENVML_XID", "3:79")
	t.Setenv("FAKENVML_LOST_GPU", "3")
	t.Setenv("FAKENVML_LOST_FILE", lostFile)
	e := startGPU(t)
	e.scrape(t)
	e.waitLog(t, "GPU XID error")
	// up reports each GPU's up value by index (-1: absent) and the uuid label
	// of GPU 3's series.
	up := func(mfs map[string]*dto.MetricFamily) (values []float64, uuid3 string) {
		values = make([]float64, 8)
		for gpu := range values {
			values[gpu] = gpuValue(mfs, "llm_gpu_up", gpu)
		}
		for _, m := range mfs["llm_gpu_up"].GetMetric() {
			if label(m, "gpu") == "3" {
				uuid3 = label(m, "uuid")
			}
		}
		return values, uuid3
	}
	healthy := []float64{1, 1, 1, 1, 1, 1, 1, 1}
	lost := []float64{1, 1, 1, 0, 1, 1, 1, 1}
	xid := func(mfs map[string]*dto.MetricFamily) float64 {
		return gpuValue(mfs, "llm_gpu_xid_errors_total", 3, "xid", "79", "uuid", fakeUUID(3))
	}

	mfs := parse(t, e.scrape(t))
	if v, _ := up(mfs); fmt.Sprint(v) != fmt.Sprint(healthy) {
		t.Errorf("before the loss: up = %v, want %v", v, healthy)
	}
	if v := xid(mfs); v != 1 {
		t.Errorf("before the loss: XID 79 on GPU 3 = %v, want 1", v)
	}

	if err := os.WriteFile(lostFile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	mfs = parse(t, e.scrape(t))
	if v, uuid := up(mfs); fmt.Sprint(v) != fmt.Sprint(lost) || uuid != fakeUUID(3) {
		t.Errorf("GPU 3 lost: up = %v (GPU 3's uuid %q), want %v (%q)", v, uuid, lost, fakeUUID(3))
	}
	if v := gpuValue(mfs, "llm_gpu_power_watts", 3); v != -1 {
		t.Errorf("the lost GPU still reports power %v", v)
	}
	// The loss shut NVML down; the next scrape initialises it again with
	// GPU 3 still lost (its handle cannot be had any more).
	mfs = parse(t, e.scrape(t))
	v, uuid := up(mfs)
	if fmt.Sprint(v) != fmt.Sprint(lost) {
		t.Errorf("GPU 3 lost, NVML re-initialised: up = %v, want %v", v, lost)
	}
	if n := gpuValue(mfs, "llm_gpu_nvml_errors_total", 3, "call", "nvmlDeviceGetHandleByIndex", "return", "GPU is lost"); n != 2 {
		t.Errorf("lost handle errors over two scrapes = %v, want 2", n)
	}
	t.Run("series keep their labels across the re-initialisation", func(t *testing.T) {
		if uuid != fakeUUID(3) {
			t.Errorf("llm_gpu_up{gpu=3} has uuid %q, want %q as before the re-initialisation", uuid, fakeUUID(3))
		}
		if v := xid(mfs); v != 1 {
			t.Errorf("XID 79 on GPU 3 = %v, want 1; series: %v", v, mfs["llm_gpu_xid_errors_total"])
		}
	})

	if err := os.Remove(lostFile); err != nil {
		t.Fatal(err)
	}
	mfs = parse(t, e.scrape(t))
	if v, uuid := up(mfs); fmt.Sprint(v) != fmt.Sprint(healthy) || uuid != fakeUUID(3) {
		t.Errorf("GPU 3 back: up = %v (GPU 3's uuid %q), want %v (%q)", v, uuid, healthy, fakeUUID(3))
	}
	if v := gpuValue(mfs, "llm_gpu_power_watts", 3); v != 603 {
		t.Errorf("GPU 3 back: power = %v, want 603", v)
	}
	if v := xid(mfs); v != 1 {
		t.Errorf("GPU 3 back: XID 79 = %v, want still 1 (counts outlive re-initialisations)", v)
	}
	// Its GPM series come back too: NVML is re-initialised for the GPU that
	// answers again, and the sampler takes it back.
	e.scrapeUntil(t, "GPM series of GPU 3 after it came back", func(mfs map[string]*dto.MetricFamily) bool {
		return gpuValue(mfs, "llm_gpu_sm_active_ratio", 3) > 0
	})
}

// TestXIDEndToEnd: an XID event delivered by the driver is counted once, on
// the GPU it happened on, with the time it was seen.
func TestXIDEndToEnd(t *testing.T) {
	t.Setenv("FAKENVML_XID", "3:79")
	before := float64(time.Now().Unix())
	e := startGPU(t)
	mfs := parse(t, e.scrapeUntil(t, "XID 79 on GPU 3", func(mfs map[string]*dto.MetricFamily) bool {
		return mfs["llm_gpu_xid_errors_total"] != nil
	}))
	if v := gpuValue(mfs, "llm_gpu_xid_errors_total", 3, "xid", "79", "uuid", fakeUUID(3)); v != 1 {
		t.Errorf("llm_gpu_xid_errors_total{gpu=3,xid=79} = %v, want 1; got %v", v, mfs["llm_gpu_xid_errors_total"])
	}
	if n := len(mfs["llm_gpu_xid_errors_total"].GetMetric()); n != 1 {
		t.Errorf("%d XID series, want 1", n)
	}
	if ts := gpuValue(mfs, "llm_gpu_xid_last_seen_timestamp_seconds", 3, "xid", "79"); ts < before || ts > float64(time.Now().Unix()+1) {
		t.Errorf("XID last seen at %v, want within the test (%v..now)", ts, before)
	}
	if v := gpuValue(parse(t, e.scrape(t)), "llm_gpu_xid_errors_total", 3, "xid", "79"); v != 1 {
		t.Errorf("XID counter %v on a later scrape, want still 1", v)
	}
	e.waitLog(t, "GPU XID error")
}

// BenchmarkGPUScrape measures the exporter's scrape of the fake 8-GPU node
// plus the fixture's InfiniBand ports with the shipped defaults: time per
// /metrics (ns/op, through HTTP and the text encoding), its size and series,
// the gpu and infiniband collectors' own durations in the last scrape, and the
// process's RSS afterwards. `go test ./cmd/llm-node-exporter -run '^$' -bench GPUScrape`.
func BenchmarkGPUScrape(b *testing.B) {
	e := startGPU(b)
	for range 10 { // warm: NVML initialised, caches filled
		e.scrape(b)
	}
	var body string
	for b.Loop() {
		body = e.scrape(b)
	}
	mfs := parse(b, body)
	b.ReportMetric(float64(len(body)), "bytes/scrape")
	b.ReportMetric(float64(seriesCount(mfs)), "series")
	b.ReportMetric(1e3*value(mfs, "llm_exporter_collector_duration_seconds", "collector", "gpu"), "gpu-ms")
	b.ReportMetric(1e3*value(mfs, "llm_exporter_collector_duration_seconds", "collector", "infiniband"), "infiniband-ms")
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", e.pid))
	if err != nil {
		b.Fatal(err)
	}
	rss := regexp.MustCompile(`(?m)^VmRSS:\s*(\d+) kB$`).FindSubmatch(status)
	if rss == nil {
		b.Fatalf("no VmRSS in /proc/%d/status", e.pid)
	}
	kb, _ := strconv.Atoi(string(rss[1]))
	b.ReportMetric(float64(kb)/1024, "rss-MiB")
}

func seriesCount(mfs map[string]*dto.MetricFamily) int {
	n := 0
	for _, mf := range mfs {
		n += len(mf.Metric)
	}
	return n
}

// TestGPULostEarlyKeepsItsWorkloadEndToEnd: a GPU lost soon after start-up,
// before a second attribution refresh, keeps the pod, role and dp_rank of its
// engine on llm_gpu_up 0 after the refreshes that follow the loss (they used to
// list it without its processes, so LLMGPULost lost role and dp_rank).
func TestGPULostEarlyKeepsItsWorkloadEndToEnd(t *testing.T) {
	lostFile := filepath.Join(t.TempDir(), "gpu6-lost")
	t.Setenv("FAKENVML_LOST_GPU", "6")
	t.Setenv("FAKENVML_LOST_FILE", lostFile)
	socket := startFakeKubelet(t, []*podresources.PodResources{
		gpuPod("llm", "sglang-prefill-0", "sglang", 0, 1, 2, 3),
		gpuPod("llm", "sglang-decode-0", "sglang", 4, 5, 6, 7),
	})
	// The first refresh runs before the exporter listens; the next one 3 s
	// later, after the loss below.
	e := startGPU(t, "--path.procfs="+engineProc(t), "--attribution.kubelet-socket="+socket,
		"--attribution.refresh-interval=3s")
	e.scrape(t)
	if err := os.WriteFile(lostFile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	lostAt := float64(time.Now().UnixNano()) / 1e9
	// Two refreshes finished after the loss: the second began after it.
	var first float64
	mfs := parse(t, e.scrapeUntil(t, "two attribution refreshes after the loss", func(mfs map[string]*dto.MetricFamily) bool {
		last := value(mfs, "llm_exporter_attribution_last_success_timestamp_seconds", "", "")
		if first == 0 && last > lostAt {
			first = last
		}
		return first > 0 && last > first
	}))
	for _, m := range mfs["llm_gpu_up"].GetMetric() {
		if label(m, "gpu") != "6" {
			continue
		}
		if m.Gauge.GetValue() != 0 || label(m, "uuid") != fakeUUID(6) || label(m, "pod") != "sglang-decode-0" ||
			label(m, "role") != "decode" || label(m, "dp_rank") != "2" {
			t.Errorf("llm_gpu_up of the lost GPU 6 = %v %v; want 0 with uuid, pod sglang-decode-0, role decode, dp_rank 2", m.Gauge.GetValue(), m.Label)
		}
		return
	}
	t.Errorf("no llm_gpu_up for GPU 6: %v", mfs["llm_gpu_up"])
}

// TestProcessMemoryNotAvailableEndToEnd: a process memory NVML marks as not
// available (NVML_VALUE_NOT_AVAILABLE) makes llm_gpu_process_memory_used_bytes
// absent for that GPU, counted, never 1.8e19 bytes.
func TestProcessMemoryNotAvailableEndToEnd(t *testing.T) {
	t.Setenv("FAKENVML_NA_GPU", "2")
	mfs := parse(t, startGPU(t).scrape(t))
	if v := gpuValue(mfs, "llm_gpu_process_memory_used_bytes", 2); v != -1 {
		t.Errorf("process memory of GPU 2 = %v, want absent", v)
	}
	if v := gpuValue(mfs, "llm_gpu_process_memory_used_bytes", 3); v != float64(73<<30) {
		t.Errorf("process memory of GPU 3 = %v, want 73 GiB", v)
	}
	if v := gpuValue(mfs, "llm_gpu_nvml_errors_total", 2, "call", "nvmlDeviceGetComputeRunningProcesses", "return", "Value Not Available"); v != 1 {
		t.Errorf("not-available process memory counted %v times, want 1: %v", v, mfs["llm_gpu_nvml_errors_total"])
	}
	if v := gpuValue(mfs, "llm_gpu_up", 2); v != 1 {
		t.Errorf("GPU 2 up = %v, want 1", v)
	}
}

// TestSIGTERMShutsNVMLDown: on SIGTERM the exporter shuts NVML down before it
// exits (every reference it took released).
func TestSIGTERMShutsNVMLDown(t *testing.T) {
	shutdowns := filepath.Join(t.TempDir(), "shutdowns")
	t.Setenv("FAKENVML_SHUTDOWN_LOG", shutdowns)
	e := startGPU(t)
	e.scrape(t)
	if err := syscall.Kill(e.pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-e.exited:
	case <-time.After(patience):
		t.Fatalf("exporter still running %s after SIGTERM:\n%s", patience, e.log)
	}
	b, _ := os.ReadFile(shutdowns)
	lines := strings.Fields(strings.ReplaceAll(string(b), "shutdown", ""))
	if len(lines) == 0 || lines[len(lines)-1] != "0" {
		t.Errorf("NVML shutdowns logged by the fake: %q; want the last to leave 0 references", b)
	}
}
