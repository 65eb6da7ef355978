package gpu

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"os"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock/dgxh100"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock/server"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

type adapter struct{ c *Collector }

func (a adapter) Describe(chan<- *prometheus.Desc)    {}
func (a adapter) Collect(ch chan<- prometheus.Metric) { a.c.Update(ch) }

// mockNode is go-nvml's DGX H100 (8 × H100 SXM5 80GB) with deterministic
// readings; GPU 2 is power- and thermally throttled, GPU 5 has a pending row
// remap, 18 NVLinks per GPU.
func mockNode() *server.Server {
	s := dgxh100.New()
	for i, d := range s.Devices {
		dev := d.(*server.Device)
		dev.GetUtilizationRatesFunc = func() (nvml.Utilization, nvml.Return) {
			return nvml.Utilization{Gpu: uint32(90 + i), Memory: uint32(40 + i)}, nvml.SUCCESS
		}
		dev.GetMemoryInfo_v2Func = func() (nvml.Memory_v2, nvml.Return) {
			return nvml.Memory_v2{Total: 85520809984, Reserved: 566755328, Used: 76000000000 + uint64(i)<<20, Free: 8954054656}, nvml.SUCCESS
		}
		dev.GetComputeRunningProcessesFunc = func() ([]nvml.ProcessInfo, nvml.Return) {
			return []nvml.ProcessInfo{{Pid: uint32(1000 + i), UsedGpuMemory: 75000000000}, {Pid: uint32(2000 + i), UsedGpuMemory: 500000000}}, nvml.SUCCESS
		}
		dev.GetPowerUsageFunc = func() (uint32, nvml.Return) { return uint32(600000 + 1000*i), nvml.SUCCESS }
		dev.GetEnforcedPowerLimitFunc = func() (uint32, nvml.Return) { return 700000, nvml.SUCCESS }
		dev.GetTotalEnergyConsumptionFunc = func() (uint64, nvml.Return) { return uint64(123456789000 + i), nvml.SUCCESS }
		dev.GetTemperatureFunc = func(nvml.TemperatureSensors) (uint32, nvml.Return) { return uint32(60 + i), nvml.SUCCESS }
		dev.GetFieldValuesFunc = func(values []nvml.FieldValue) nvml.Return {
			for j := range values {
				values[j].ValueType = uint32(nvml.VALUE_TYPE_UNSIGNED_INT)
				values[j].Value = [8]byte{byte(70 + i)}
			}
			return nvml.SUCCESS
		}
		dev.GetClockInfoFunc = func(t nvml.ClockType) (uint32, nvml.Return) {
			if t == nvml.CLOCK_SM {
				return 1980, nvml.SUCCESS
			}
			return 2619, nvml.SUCCESS
		}
		dev.GetCurrentClocksEventReasonsFunc = func() (uint64, nvml.Return) {
			if i == 2 {
				return nvml.ClocksEventReasonSwPowerCap | 0x40, nvml.SUCCESS
			}
			return 0, nvml.SUCCESS
		}
		dev.GetTotalEccErrorsFunc = func(t nvml.MemoryErrorType, _ nvml.EccCounterType) (uint64, nvml.Return) {
			if t == nvml.MEMORY_ERROR_TYPE_CORRECTED {
				return uint64(i), nvml.SUCCESS
			}
			return 0, nvml.SUCCESS
		}
		dev.GetRemappedRowsFunc = func() (int, int, bool, bool, nvml.Return) {
			return i % 3, 0, i == 5, false, nvml.SUCCESS
		}
		dev.GetPcieReplayCounterFunc = func() (int, nvml.Return) { return i, nvml.SUCCESS }
		dev.GetCurrPcieLinkGenerationFunc = func() (int, nvml.Return) { return 5, nvml.SUCCESS }
		dev.GetCurrPcieLinkWidthFunc = func() (int, nvml.Return) { return 16, nvml.SUCCESS }
		dev.GetPcieThroughputFunc = func(c nvml.PcieUtilCounter) (uint32, nvml.Return) {
			return uint32(1000 * (int(c) + 1)), nvml.SUCCESS
		}
		dev.GetNvLinkStateFunc = func(link int) (nvml.EnableState, nvml.Return) {
			if link >= 18 {
				return 0, nvml.ERROR_INVALID_ARGUMENT
			}
			return nvml.FEATURE_ENABLED, nvml.SUCCESS
		}
		dev.GetNvLinkErrorCounterFunc = func(link int, _ nvml.NvLinkErrorCounter) (uint64, nvml.Return) {
			return uint64(link), nvml.SUCCESS
		}
		dev.RegisterEventsFunc = func(uint64, nvml.EventSet) nvml.Return { return nvml.SUCCESS }
	}
	s.EventSetCreateFunc = func() (nvml.EventSet, nvml.Return) {
		return &mock.EventSet{
			WaitFunc: func(uint32) (nvml.EventData, nvml.Return) {
				time.Sleep(time.Millisecond)
				return nvml.EventData{}, nvml.ERROR_TIMEOUT
			},
			FreeFunc: func() nvml.Return { return nvml.SUCCESS },
		}, nvml.SUCCESS
	}
	return s
}

func device(s *server.Server, i int) *server.Device { return s.Devices[i].(*server.Device) }

func families(t testing.TB, c *Collector) map[string]*dto.MetricFamily {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(adapter{c})
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*dto.MetricFamily{}
	for _, mf := range mfs {
		out[mf.GetName()] = mf
	}
	return out
}

func labelOf(m *dto.Metric, name string) string {
	for _, l := range m.Label {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

func valueOf(mf *dto.MetricFamily, labels ...string) (float64, bool) {
	for _, m := range mf.GetMetric() {
		match := true
		for i := 0; i+1 < len(labels); i += 2 {
			if labelOf(m, labels[i]) != labels[i+1] {
				match = false
			}
		}
		if match {
			if m.Counter != nil {
				return m.Counter.GetValue(), true
			}
			return m.Gauge.GetValue(), true
		}
	}
	return 0, false
}

func TestEightGPUs(t *testing.T) {
	s := mockNode()
	c := NewWithInterface(s, Config{}, quiet)
	defer c.Close()
	uuid0, _ := device(s, 0).GetUUID()
	expected := `
# HELP llm_gpu_power_watts Current power draw in watts.
# TYPE llm_gpu_power_watts gauge
llm_gpu_power_watts{gpu="0",uuid="` + uuid0 + `"} 600
`
	if err := testutil.CollectAndCompare(adapterFor(c, "0"), strings.NewReader(expected), "llm_gpu_power_watts"); err != nil {
		t.Fatal(err)
	}
	mfs := families(t, c)
	for _, tc := range []struct {
		family string
		labels []string
		want   float64
	}{
		{"llm_gpu_up", []string{"gpu", "3"}, 1},
		{"llm_gpu_utilization_ratio", []string{"gpu", "1"}, 0.91},
		{"llm_gpu_memory_copy_utilization_ratio", []string{"gpu", "1"}, 0.41},
		{"llm_gpu_memory_total_bytes", []string{"gpu", "0"}, 85520809984},
		{"llm_gpu_memory_reserved_bytes", []string{"gpu", "0"}, 566755328},
		{"llm_gpu_memory_used_bytes", []string{"gpu", "1"}, 76000000000 + 1<<20},
		{"llm_gpu_process_memory_used_bytes", []string{"gpu", "4"}, 75500000000},
		{"llm_gpu_power_limit_watts", []string{"gpu", "4"}, 700},
		{"llm_gpu_energy_joules_total", []string{"gpu", "0"}, 123456789},
		{"llm_gpu_temperature_celsius", []string{"gpu", "7", "sensor", "gpu"}, 67},
		{"llm_gpu_temperature_celsius", []string{"gpu", "7", "sensor", "memory"}, 77},
		{"llm_gpu_sm_clock_hertz", []string{"gpu", "0"}, 1.98e9},
		{"llm_gpu_memory_clock_hertz", []string{"gpu", "0"}, 2.619e9},
		{"llm_gpu_clock_event_reason_active", []string{"gpu", "2", "reason", "sw_power_cap"}, 1},
		{"llm_gpu_clock_event_reason_active", []string{"gpu", "2", "reason", "hw_thermal_slowdown"}, 1},
		{"llm_gpu_clock_event_reason_active", []string{"gpu", "2", "reason", "gpu_idle"}, 0},
		{"llm_gpu_clock_event_reason_active", []string{"gpu", "3", "reason", "sw_power_cap"}, 0},
		{"llm_gpu_ecc_errors_total", []string{"gpu", "6", "type", "corrected"}, 6},
		{"llm_gpu_ecc_errors_total", []string{"gpu", "6", "type", "uncorrected"}, 0},
		{"llm_gpu_remapped_rows", []string{"gpu", "5", "cause", "correctable"}, 2},
		{"llm_gpu_remapped_rows_pending", []string{"gpu", "5"}, 1},
		{"llm_gpu_remapped_rows_pending", []string{"gpu", "4"}, 0},
		{"llm_gpu_remapped_rows_failure", []string{"gpu", "5"}, 0},
		{"llm_gpu_pcie_replay_errors_total", []string{"gpu", "3"}, 3},
		{"llm_gpu_pcie_link_generation", []string{"gpu", "3"}, 5},
		{"llm_gpu_pcie_link_width", []string{"gpu", "3"}, 16},
		{"llm_gpu_nvlink_up", []string{"gpu", "0", "link", "17"}, 1},
		{"llm_gpu_nvlink_errors_total", []string{"gpu", "0", "link", "9", "counter", "crc_flit"}, 9},
		{"llm_gpu_info", []string{"gpu", "0", "driver_version", "550.54.15", "cuda_version", "12.4", "mig_mode", "disabled", "name", "NVIDIA H100 80GB HBM3"}, 1},
	} {
		got, ok := valueOf(mfs[tc.family], tc.labels...)
		if !ok || got != tc.want {
			t.Errorf("%s%v = %v (found %v), want %v", tc.family, tc.labels, got, ok, tc.want)
		}
	}
	for _, name := range []string{"llm_gpu_up", "llm_gpu_power_watts", "llm_gpu_info"} {
		if n := len(mfs[name].GetMetric()); n != 8 {
			t.Errorf("%s: %d series, want 8", name, n)
		}
	}
	if n := len(mfs["llm_gpu_nvlink_up"].GetMetric()); n != 8*18 {
		t.Errorf("nvlink_up: %d series, want 144", n)
	}
	if mfs["llm_gpu_pcie_throughput_bytes_per_second"] != nil {
		t.Error("PCIe throughput is opt-in but was collected")
	}
	if mfs["llm_gpu_nvml_errors_total"] != nil {
		t.Errorf("errors on a healthy node: %v", mfs["llm_gpu_nvml_errors_total"])
	}
}

// adapterFor narrows a collector's output to one GPU for CollectAndCompare.
func adapterFor(c *Collector, gpu string) prometheus.Collector {
	return filtered{c, gpu}
}

type filtered struct {
	c   *Collector
	gpu string
}

func (f filtered) Describe(chan<- *prometheus.Desc) {}
func (f filtered) Collect(ch chan<- prometheus.Metric) {
	all := make(chan prometheus.Metric, 4096)
	f.c.Update(all)
	close(all)
	for m := range all {
		var out dto.Metric
		m.Write(&out)
		if labelOf(&out, "gpu") == f.gpu {
			ch <- m
		}
	}
}

func TestLint(t *testing.T) {
	s := mockNode()
	withGPM(s)
	c := NewWithInterface(s, Config{PCIeThroughput: true, GPM: true, GPMInterval: gpmMinInterval, GPMNVLinkPerLink: true}, quiet)
	defer c.Close()
	families(t, c)
	waitGPM(t, c, 2)
	problems, err := testutil.CollectAndLint(adapter{c})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
}

func TestPCIeThroughputOptIn(t *testing.T) {
	c := NewWithInterface(mockNode(), Config{PCIeThroughput: true}, quiet)
	defer c.Close()
	mfs := families(t, c)
	if v, _ := valueOf(mfs["llm_gpu_pcie_throughput_bytes_per_second"], "gpu", "0", "direction", "rx"); v != 2000*1024 {
		t.Errorf("rx = %v", v)
	}
}

func TestLostGPUCostsOnlyThatGPU(t *testing.T) {
	s := mockNode()
	device(s, 3).GetPowerUsageFunc = func() (uint32, nvml.Return) { return 0, nvml.ERROR_GPU_IS_LOST }
	handle := s.DeviceGetHandleByIndexFunc
	s.DeviceGetHandleByIndexFunc = func(i int) (nvml.Device, nvml.Return) {
		if i == 6 {
			return nil, nvml.ERROR_GPU_IS_LOST
		}
		return handle(i)
	}
	var shutdowns atomic.Int32
	s.ShutdownFunc = func() nvml.Return { shutdowns.Add(1); return nvml.SUCCESS }
	c := NewWithInterface(s, Config{}, quiet)
	mfs := families(t, c)
	for gpu, want := range map[string]float64{"0": 1, "3": 0, "6": 0, "7": 1} {
		if v, ok := valueOf(mfs["llm_gpu_up"], "gpu", gpu); !ok || v != want {
			t.Errorf("up{gpu=%s} = %v, %v; want %v", gpu, v, ok, want)
		}
	}
	for _, m := range mfs["llm_gpu_utilization_ratio"].GetMetric() {
		if g := labelOf(m, "gpu"); g == "3" || g == "6" {
			t.Errorf("lost GPU %s still reports utilisation", g)
		}
	}
	if n := len(mfs["llm_gpu_utilization_ratio"].GetMetric()); n != 6 {
		t.Errorf("%d GPUs report utilisation, want the 6 healthy ones", n)
	}
	if v, _ := valueOf(mfs["llm_gpu_nvml_errors_total"], "gpu", "3", "call", "nvmlDeviceGetPowerUsage"); v != 1 {
		t.Errorf("lost-GPU error not counted: %v", mfs["llm_gpu_nvml_errors_total"])
	}
	if shutdowns.Load() != 1 {
		t.Errorf("NVML shut down %d times after a lost GPU, want 1 (re-init with backoff)", shutdowns.Load())
	}
}

func TestNoLibraryBacksOffAndLogsOnce(t *testing.T) {
	var inits atomic.Int32
	lib := &mock.Interface{InitFunc: func() nvml.Return { inits.Add(1); return nvml.ERROR_LIBRARY_NOT_FOUND }}
	logs := &bytes.Buffer{}
	c := NewWithInterface(lib, Config{}, slog.New(slog.NewTextHandler(logs, nil)))
	now := time.Unix(1000, 0)
	c.now = func() time.Time { return now }
	ch := make(chan prometheus.Metric, 100)
	for i := 0; i < 5; i++ {
		if err := c.Update(ch); err == nil {
			t.Fatal("Update succeeded without NVML")
		}
		now = now.Add(100 * time.Millisecond)
	}
	if inits.Load() != 1 {
		t.Errorf("Init called %d times within the first backoff, want 1", inits.Load())
	}
	now = now.Add(time.Hour)
	err := c.Update(ch)
	if inits.Load() != 2 || !errors.Is(err, errLibraryNotFound) {
		t.Errorf("after the backoff: %d inits, err %v", inits.Load(), err)
	}
	if n := strings.Count(logs.String(), "level=WARN"); n != 1 {
		t.Errorf("%d warnings for a missing library, want 1:\n%s", n, logs)
	}
}

// TestRealLibraryMissing goes through go-nvml's real dlopen path with a
// library that does not exist, as on a CPU node: an error, never a panic.
func TestRealLibraryMissing(t *testing.T) {
	c := New(Config{LibraryPath: "/nonexistent/libnvidia-ml.so.1"}, quiet)
	err := c.Update(make(chan prometheus.Metric, 10))
	if !errors.Is(err, errLibraryNotFound) {
		t.Fatalf("Update = %v, want library-not-found", err)
	}
}

func TestMissingSymbolsAreNeverCalled(t *testing.T) {
	s := mockNode()
	missing := map[string]bool{"nvmlDeviceGetRemappedRows": true, "nvmlDeviceGetMemoryInfo_v2": true, "nvmlEventSetCreate": true}
	s.LookupSymbolFunc = func(sym string) error {
		if missing[sym] {
			return errors.New("undefined symbol " + sym)
		}
		return nil
	}
	for i := range s.Devices {
		// nil funcs panic when called: the collector must not call them.
		device(s, i).GetRemappedRowsFunc = nil
		device(s, i).GetMemoryInfo_v2Func = nil
	}
	s.EventSetCreateFunc = nil
	c := NewWithInterface(s, Config{XIDEvents: true}, quiet)
	defer c.Close()
	mfs := families(t, c)
	if mfs["llm_gpu_remapped_rows"] != nil || mfs["llm_gpu_memory_reserved_bytes"] != nil {
		t.Error("series from functions the driver lacks")
	}
	if v, _ := valueOf(mfs["llm_gpu_memory_total_bytes"], "gpu", "0"); v == 0 {
		t.Error("memory falls back to nvmlDeviceGetMemoryInfo v1")
	}
}

func TestNotSupportedIsSilent(t *testing.T) {
	s := mockNode()
	for i := range s.Devices {
		device(s, i).GetNvLinkStateFunc = func(int) (nvml.EnableState, nvml.Return) { return 0, nvml.ERROR_NOT_SUPPORTED }
		device(s, i).GetTotalEccErrorsFunc = func(nvml.MemoryErrorType, nvml.EccCounterType) (uint64, nvml.Return) {
			return 0, nvml.ERROR_NOT_SUPPORTED
		}
	}
	c := NewWithInterface(s, Config{}, quiet)
	defer c.Close()
	mfs := families(t, c)
	if mfs["llm_gpu_nvlink_up"] != nil || mfs["llm_gpu_ecc_errors_total"] != nil || mfs["llm_gpu_nvml_errors_total"] != nil {
		t.Error("unsupported functions produced series or errors")
	}
}

func TestXIDCounter(t *testing.T) {
	s := mockNode()
	var mu sync.Mutex
	queue := []nvml.EventData{
		{Device: s.Devices[1], EventType: nvml.EventTypeXidCriticalError, EventData: 79},
		{Device: s.Devices[1], EventType: nvml.EventTypeXidCriticalError, EventData: 79},
		{Device: s.Devices[4], EventType: nvml.EventTypeXidCriticalError, EventData: 48},
	}
	s.EventSetCreateFunc = func() (nvml.EventSet, nvml.Return) {
		return &mock.EventSet{
			WaitFunc: func(uint32) (nvml.EventData, nvml.Return) {
				mu.Lock()
				defer mu.Unlock()
				if len(queue) == 0 {
					time.Sleep(time.Millisecond)
					return nvml.EventData{}, nvml.ERROR_TIMEOUT
				}
				e := queue[0]
				queue = queue[1:]
				return e, nvml.SUCCESS
			},
			FreeFunc: func() nvml.Return { return nvml.SUCCESS },
		}, nvml.SUCCESS
	}
	c := NewWithInterface(s, Config{XIDEvents: true}, quiet)
	defer c.Close()
	families(t, c) // initialises NVML and starts the watcher
	deadline := time.Now().Add(5 * time.Second)
	for {
		mfs := families(t, c)
		v79, _ := valueOf(mfs["llm_gpu_xid_errors_total"], "gpu", "1", "xid", "79")
		v48, _ := valueOf(mfs["llm_gpu_xid_errors_total"], "gpu", "4", "xid", "48")
		if v79 == 2 && v48 == 1 {
			if ts, ok := valueOf(mfs["llm_gpu_xid_last_seen_timestamp_seconds"], "gpu", "1", "xid", "79"); !ok || ts < float64(time.Now().Add(-time.Minute).Unix()) {
				t.Errorf("last seen = %v", ts)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("xid counters = %v, %v; want 2, 1", v79, v48)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

type fakeAttributor struct{}

func (fakeAttributor) LabelNames() []string { return []string{"pod", "dp_rank"} }
func (fakeAttributor) AppendGPULabels(dst []string, uuid string) []string {
	return append(dst, "sglang-prefill-0", uuid[len(uuid)-1:])
}

func TestAttributionLabels(t *testing.T) {
	c := NewWithInterface(mockNode(), Config{Attributor: fakeAttributor{}}, quiet)
	defer c.Close()
	for _, m := range families(t, c)["llm_gpu_power_watts"].GetMetric() {
		if labelOf(m, "pod") != "sglang-prefill-0" || labelOf(m, "dp_rank") == "" {
			t.Errorf("attribution labels missing: %v", m.Label)
		}
	}
}

// TestMetricsDocumented: the GPU section of docs/metrics.md lists exactly the
// llm_gpu_* families the collector produces with every feature on.
func TestMetricsDocumented(t *testing.T) {
	s := mockNode()
	s.EventSetCreateFunc = func() (nvml.EventSet, nvml.Return) {
		sent := false
		return &mock.EventSet{
			WaitFunc: func(uint32) (nvml.EventData, nvml.Return) {
				if !sent {
					sent = true
					return nvml.EventData{Device: s.Devices[0], EventType: nvml.EventTypeXidCriticalError, EventData: 13}, nvml.SUCCESS
				}
				time.Sleep(time.Millisecond)
				return nvml.EventData{}, nvml.ERROR_TIMEOUT
			},
			FreeFunc: func() nvml.Return { return nvml.SUCCESS },
		}, nvml.SUCCESS
	}
	device(s, 7).GetTemperatureFunc = func(nvml.TemperatureSensors) (uint32, nvml.Return) { return 0, nvml.ERROR_UNKNOWN }
	withGPM(s)
	c := NewWithInterface(s, Config{PCIeThroughput: true, XIDEvents: true, GPM: true, GPMInterval: gpmMinInterval, GPMNVLinkPerLink: true}, quiet)
	defer c.Close()
	families(t, c)
	time.Sleep(50 * time.Millisecond)
	waitGPM(t, c, 2)
	produced := map[string]bool{}
	for name := range families(t, c) {
		produced[name] = true
	}
	doc, err := os.ReadFile("../../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `(llm_gpu_[a-z0-9_]+)`").FindAllStringSubmatch(string(doc), -1) {
		documented[m[1]] = true
	}
	var diff []string
	for n := range produced {
		if !documented[n] {
			diff = append(diff, "undocumented: "+n)
		}
	}
	for n := range documented {
		if !produced[n] {
			diff = append(diff, "documented, not produced: "+n)
		}
	}
	sort.Strings(diff)
	for _, d := range diff {
		t.Error(d)
	}
}

func BenchmarkUpdate8GPUs(b *testing.B) {
	c := NewWithInterface(mockNode(), Config{}, quiet)
	defer c.Close()
	ch := make(chan prometheus.Metric, 4096)
	b.ReportAllocs()
	for b.Loop() {
		c.Update(ch)
		for len(ch) > 0 {
			<-ch
		}
	}
}

func TestDevicesForAttribution(t *testing.T) {
	c := NewWithInterface(mockNode(), Config{}, quiet)
	defer c.Close()
	noDriver := NewWithInterface(&mock.Interface{InitFunc: func() nvml.Return { return nvml.ERROR_LIBRARY_NOT_FOUND }}, Config{}, quiet)
	if devs, err := noDriver.Devices(); devs != nil || err != nil {
		t.Fatalf("without NVML: %v, %v; want nothing and no error", devs, err)
	}
	devs, err := c.Devices() // initialises NVML itself
	if err != nil || len(devs) != 8 {
		t.Fatalf("Devices() = %d, %v", len(devs), err)
	}
	if devs[3].Index != 3 || devs[3].UUID == "" || len(devs[3].PIDs) != 2 || devs[3].PIDs[0] != 1003 {
		t.Errorf("device 3 = %+v", devs[3])
	}
}

// TestLostGPUKeepsItsLabelsAndBacksOff: a GPU that stays lost keeps its uuid
// across the NVML re-initialisation (so its series and XID counters do not
// change labels), NVML is re-initialised at once on the next scrape but not
// again on every scrape while the GPU stays lost.
func TestLostGPUKeepsItsLabelsAndBacksOff(t *testing.T) {
	s := mockNode()
	uuid3, _ := device(s, 3).GetUUID()
	lost := false
	handle := s.DeviceGetHandleByIndexFunc
	s.DeviceGetHandleByIndexFunc = func(i int) (nvml.Device, nvml.Return) {
		if i == 3 && lost {
			return nil, nvml.ERROR_GPU_IS_LOST
		}
		return handle(i)
	}
	var inits atomic.Int32
	s.InitFunc = func() nvml.Return { inits.Add(1); return nvml.SUCCESS }
	c := NewWithInterface(s, Config{}, quiet)
	now := time.Unix(1000, 0)
	c.now = func() time.Time { return now }
	families(t, c)
	lost = true
	for i := 0; i < 5; i++ {
		mfs := families(t, c)
		if v, ok := valueOf(mfs["llm_gpu_up"], "gpu", "3", "uuid", uuid3); !ok || v != 0 {
			t.Fatalf("scrape %d: up{gpu=3,uuid=%s} = %v, %v", i, uuid3, v, ok)
		}
		if n := len(mfs["llm_gpu_power_watts"].GetMetric()); n != 7 {
			t.Fatalf("scrape %d: %d GPUs served (a scrape right after re-init must not be empty)", i, n)
		}
		now = now.Add(time.Second)
	}
	if got := inits.Load(); got != 2 {
		t.Errorf("NVML initialised %d times over 6 scrapes with a GPU lost, want 2 (backoff)", got)
	}
	lost = false
	if v, _ := valueOf(families(t, c)["llm_gpu_up"], "gpu", "3", "uuid", uuid3); v != 1 {
		t.Error("GPU did not come back")
	}
}

// TestDevicesKeepALostGPU: a GPU lost after it was read stays in the list
// given to attribution, with its last identity and processes, so its
// llm_gpu_up=0 keeps the pod and rank labels.
func TestDevicesKeepALostGPU(t *testing.T) {
	s := mockNode()
	lost := false
	handle := s.DeviceGetHandleByIndexFunc
	s.DeviceGetHandleByIndexFunc = func(i int) (nvml.Device, nvml.Return) {
		if i == 2 && lost {
			return nil, nvml.ERROR_GPU_IS_LOST
		}
		return handle(i)
	}
	c := NewWithInterface(s, Config{}, quiet)
	defer c.Close()
	families(t, c) // the collector reads every GPU's identity
	before, err := c.Devices()
	if err != nil || len(before) != 8 {
		t.Fatalf("Devices() = %d, %v", len(before), err)
	}
	lost = true
	after, err := c.Devices()
	if err != nil || len(after) != 8 {
		t.Fatalf("with GPU 2 lost: Devices() = %d, %v; want all 8", len(after), err)
	}
	if after[2].UUID != before[2].UUID || len(after[2].PIDs) != 2 || after[2].PIDs[0] != before[2].PIDs[0] {
		t.Errorf("lost GPU 2 = %+v, want its last identity and PIDs %+v", after[2], before[2])
	}
}

type switchingAttributor struct{ pod *string }

func (a switchingAttributor) LabelNames() []string { return []string{"pod"} }
func (a switchingAttributor) AppendGPULabels(dst []string, _ string) []string {
	return append(dst, *a.pod)
}

// TestLabelPairsFollowAttribution: the per-GPU label pairs are cached across
// scrapes, and rebuilt when the GPU's attribution changes (a pod rescheduled).
func TestLabelPairsFollowAttribution(t *testing.T) {
	pod := "prefill-0"
	c := NewWithInterface(mockNode(), Config{Attributor: switchingAttributor{&pod}}, quiet)
	defer c.Close()
	for _, want := range []string{"prefill-0", "prefill-0", "decode-1"} {
		pod = want
		mfs := families(t, c)
		for _, family := range []string{"llm_gpu_power_watts", "llm_gpu_nvlink_errors_total", "llm_gpu_temperature_celsius"} {
			for _, m := range mfs[family].GetMetric() {
				if got := labelOf(m, "pod"); got != want {
					t.Fatalf("%s: pod %q, want %q", family, got, want)
				}
			}
		}
	}
}
