package main

// End-to-end tests of the GPU path of the shipped binary without a GPU: a fake
// libnvidia-ml.so.1 (collector/gpu/testdata/fakenvml) serving an 8 x H100 node
// is compiled here and dlopened by go-nvml inside the exporter, exactly as the
// real library would be.

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
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
func fakeNVML(t *testing.T) string {
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
func startGPU(t *testing.T, args ...string) *exporter {
	t.Helper()
	return start(t, append([]string{"--path.sysfs=" + fixtureSysfs, "--collector.gpu.nvml-library=" + fakeNVML(t)}, args...)...)
}

var xidTimestampLine = regexp.MustCompile(`(?m)^(llm_gpu_xid_last_seen_timestamp_seconds\{[^}]*\}) .*$`)

// normalizeGPU is normalize plus the XID last-seen times.
func normalizeGPU(text string) string {
	return xidTimestampLine.ReplaceAllString(normalize(text), "$1 <timestamp>")
}

// scrapeUntil scrapes until cond holds on the parsed page (at most ~5 s).
func (e *exporter) scrapeUntil(t *testing.T, what string, cond func(map[string]*dto.MetricFamily) bool) string {
	t.Helper()
	for i := 0; i < 50; i++ {
		text := e.scrape(t)
		if cond(parse(t, text)) {
			return text
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s: not seen within 50 scrapes; log:\n%s", what, e.log)
	return ""
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
// counter is served) with the reviewed golden file. Regenerate with
// `go test ./cmd/llm-node-exporter -run TestGPUEndToEndGolden -update`.
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
		t.Fatalf("%v (regenerate with -update)", err)
	}
	if got != string(want) {
		t.Errorf("/metrics differs from %s (review, then regenerate with `go test ./cmd/llm-node-exporter -run TestGPUEndToEndGolden -update`):\n%s",
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
	// The lost GPU shut NVML down for a re-initialisation after a 1 s backoff.
	time.Sleep(1200 * time.Millisecond)
	check(2)
	// The log arrives through a pipe, shortly after the response.
	for i := 0; i < 100 && strings.Count(e.log.String(), "NVML initialised") < 2; i++ {
		time.Sleep(20 * time.Millisecond)
	}
	if n := strings.Count(e.log.String(), "NVML initialised"); n != 2 {
		t.Errorf("NVML initialised %d times over two scrapes 1.2 s apart, want 2:\n%s", n, e.log)
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
	time.Sleep(1200 * time.Millisecond)
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
	time.Sleep(1200 * time.Millisecond)
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
	time.Sleep(200 * time.Millisecond)
	if v := gpuValue(parse(t, e.scrape(t)), "llm_gpu_xid_errors_total", 3, "xid", "79"); v != 1 {
		t.Errorf("XID counter %v on a later scrape, want still 1", v)
	}
	e.waitLog(t, "GPU XID error")
}

// TestGPUScrapeFigures measures (does not assert) the exporter's memory and
// scrape time on the fake 8-GPU node plus the fixture's InfiniBand ports,
// with the shipped defaults.
func TestGPUScrapeFigures(t *testing.T) {
	e := startGPU(t)
	pid, err := exporterPID(e)
	if err != nil {
		t.Skipf("cannot find the exporter's process: %v", err)
	}
	for range 10 {
		e.scrape(t)
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	rss := regexp.MustCompile(`(?m)^VmRSS:\s*(.*)$`).FindSubmatch(status)
	if rss == nil {
		t.Fatalf("no VmRSS in /proc/%d/status", pid)
	}
	const n = 20
	var total time.Duration
	var size int
	for range n {
		t0 := time.Now()
		resp, err := http.Get(e.url + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, err := readAll(resp)
		if err != nil {
			t.Fatal(err)
		}
		total += time.Since(t0)
		size = len(body)
	}
	mfs := parse(t, e.scrape(t))
	t.Logf("8 fake H100 + fixture IB, defaults: VmRSS after 10 scrapes %s; mean /metrics over %d scrapes %v (%d bytes, %d series); gpu collector %.2f ms, infiniband %.2f ms in the last",
		rss[1], n, total/n, size, seriesCount(mfs),
		1e3*value(mfs, "llm_exporter_collector_duration_seconds", "collector", "gpu"),
		1e3*value(mfs, "llm_exporter_collector_duration_seconds", "collector", "infiniband"))
}

func readAll(resp *http.Response) ([]byte, error) {
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}

func seriesCount(mfs map[string]*dto.MetricFamily) int {
	n := 0
	for _, mf := range mfs {
		n += len(mf.Metric)
	}
	return n
}

// exporterPID finds the started exporter by its unique listen address.
func exporterPID(e *exporter) (int, error) {
	want := "--web.listen-address=" + strings.TrimPrefix(e.url, "http://")
	dirs, err := filepath.Glob("/proc/[0-9]*")
	if err != nil {
		return 0, err
	}
	for _, d := range dirs {
		cmdline, err := os.ReadFile(filepath.Join(d, "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(string(cmdline), "\x00")
		if args[0] != binary {
			continue
		}
		for _, a := range args[1:] {
			if a == want {
				return strconv.Atoi(filepath.Base(d))
			}
		}
	}
	return 0, fmt.Errorf("no process %s %s", binary, want)
}
