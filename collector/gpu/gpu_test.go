package gpu

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
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

// TestNotAvailableIsAbsentAndCounted: a call the GPU does not support, and a
// value NVML marks as not available (NVML_VALUE_NOT_AVAILABLE: all bits set in
// the field's type), each cost their own series, never a number, and are
// counted in llm_gpu_nvml_errors_total; the GPU's other series are served.
func TestNotAvailableIsAbsentAndCounted(t *testing.T) {
	s := mockNode()
	for i := range s.Devices {
		device(s, i).GetNvLinkStateFunc = func(int) (nvml.EnableState, nvml.Return) { return 0, nvml.ERROR_NOT_SUPPORTED }
		device(s, i).GetTotalEccErrorsFunc = func(nvml.MemoryErrorType, nvml.EccCounterType) (uint64, nvml.Return) {
			return 0, nvml.ERROR_NOT_SUPPORTED
		}
	}
	d := device(s, 3)
	d.GetComputeRunningProcessesFunc = func() ([]nvml.ProcessInfo, nvml.Return) {
		// As WDDM always reports, and a driver may for a process it cannot inspect.
		return []nvml.ProcessInfo{{Pid: 1003, UsedGpuMemory: 75000000000}, {Pid: 2003, UsedGpuMemory: math.MaxUint64}}, nvml.SUCCESS
	}
	d.GetTemperatureFunc = func(nvml.TemperatureSensors) (uint32, nvml.Return) { return math.MaxUint32, nvml.SUCCESS }
	d.GetPowerUsageFunc = func() (uint32, nvml.Return) { return math.MaxUint32, nvml.SUCCESS }
	d.GetCurrPcieLinkGenerationFunc = func() (int, nvml.Return) { return math.MaxUint32, nvml.SUCCESS }
	d.GetUtilizationRatesFunc = func() (nvml.Utilization, nvml.Return) {
		return nvml.Utilization{Gpu: 250, Memory: math.MaxUint32}, nvml.SUCCESS
	}
	d.GetTotalEnergyConsumptionFunc = func() (uint64, nvml.Return) { return math.MaxUint64, nvml.SUCCESS }
	d.GetFieldValuesFunc = func(values []nvml.FieldValue) nvml.Return {
		for j := range values {
			values[j].ValueType = uint32(nvml.VALUE_TYPE_UNSIGNED_INT)
			values[j].Value = [8]byte{0xff, 0xff, 0xff, 0xff}
		}
		return nvml.SUCCESS
	}
	device(s, 4).GetFieldValuesFunc = func(values []nvml.FieldValue) nvml.Return {
		for j := range values {
			values[j].NvmlReturn = uint32(nvml.ERROR_NOT_SUPPORTED)
		}
		return nvml.SUCCESS
	}
	c := NewWithInterface(s, Config{}, quiet)
	defer c.Close()
	mfs := families(t, c)
	if mfs["llm_gpu_nvlink_up"] != nil || mfs["llm_gpu_ecc_errors_total"] != nil {
		t.Error("unsupported functions produced series")
	}
	for _, tc := range []struct {
		family string
		labels []string
	}{
		{"llm_gpu_process_memory_used_bytes", nil},
		{"llm_gpu_temperature_celsius", []string{"sensor", "gpu"}},
		{"llm_gpu_temperature_celsius", []string{"sensor", "memory"}},
		{"llm_gpu_power_watts", nil},
		{"llm_gpu_pcie_link_generation", nil},
		{"llm_gpu_utilization_ratio", nil},
		{"llm_gpu_memory_copy_utilization_ratio", nil},
		{"llm_gpu_energy_joules_total", nil},
	} {
		if v, ok := valueOf(mfs[tc.family], append([]string{"gpu", "3"}, tc.labels...)...); ok {
			t.Errorf("%s%v{gpu=3} = %v from a value NVML marked not available", tc.family, tc.labels, v)
		}
		if v, ok := valueOf(mfs[tc.family], append([]string{"gpu", "2"}, tc.labels...)...); !ok || v <= 0 {
			t.Errorf("%s%v{gpu=2} = %v, %v: another GPU lost its value", tc.family, tc.labels, v, ok)
		}
	}
	if _, ok := valueOf(mfs["llm_gpu_temperature_celsius"], "gpu", "4", "sensor", "memory"); ok {
		t.Error("memory temperature served from a field NVML does not support")
	}
	if v, ok := valueOf(mfs["llm_gpu_pcie_link_width"], "gpu", "3"); !ok || v != 16 {
		t.Errorf("pcie_link_width{gpu=3} = %v, %v: a sibling value was lost", v, ok)
	}
	notSupported := nvml.ErrorString(nvml.ERROR_NOT_SUPPORTED)
	for _, tc := range []struct {
		gpu, call, ret string
		want           float64
	}{
		{"0", "nvmlDeviceGetNvLinkState", notSupported, 1},
		{"0", "nvmlDeviceGetTotalEccErrors", notSupported, 2},
		{"3", "nvmlDeviceGetComputeRunningProcesses", retNotAvailable, 1},
		{"3", "nvmlDeviceGetTemperature", retNotAvailable, 1},
		{"3", "nvmlDeviceGetPowerUsage", retNotAvailable, 1},
		{"3", "nvmlDeviceGetCurrPcieLinkGeneration", retNotAvailable, 1},
		{"3", "nvmlDeviceGetUtilizationRates", retOutOfRange, 1},
		{"3", "nvmlDeviceGetUtilizationRates", retNotAvailable, 1},
		{"3", "nvmlDeviceGetTotalEnergyConsumption", retNotAvailable, 1},
		{"3", "nvmlDeviceGetFieldValues", retNotAvailable, 1},
		{"4", "nvmlDeviceGetFieldValues", notSupported, 1},
	} {
		if v, _ := valueOf(mfs["llm_gpu_nvml_errors_total"], "gpu", tc.gpu, "call", tc.call, "return", tc.ret); v != tc.want {
			t.Errorf("nvml_errors_total{gpu=%s,call=%s,return=%s} = %v, want %v", tc.gpu, tc.call, tc.ret, v, tc.want)
		}
	}
	if v, _ := valueOf(mfs["llm_gpu_up"], "gpu", "3"); v != 1 {
		t.Error("values not available took the GPU down")
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
	c.now = func() time.Time { return time.Unix(1700000123, 500e6) }
	families(t, c) // initialises NVML and starts the watcher
	deadline := time.Now().Add(10 * time.Second)
	for {
		mfs := families(t, c)
		v79, _ := valueOf(mfs["llm_gpu_xid_errors_total"], "gpu", "1", "xid", "79")
		v48, _ := valueOf(mfs["llm_gpu_xid_errors_total"], "gpu", "4", "xid", "48")
		if v79 == 2 && v48 == 1 {
			if ts, ok := valueOf(mfs["llm_gpu_xid_last_seen_timestamp_seconds"], "gpu", "1", "xid", "79"); !ok || ts != 1700000123.5 {
				t.Errorf("last seen = %v, %v; want the collector's clock, 1700000123.5", ts, ok)
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
	waitGPM(t, c, 2)
	produced := map[string]bool{}
	for deadline := time.Now().Add(10 * time.Second); !produced["llm_gpu_xid_errors_total"]; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the XID event was not counted within 10 s")
		}
		for name := range families(t, c) {
			produced[name] = true
		}
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

// TestDevicesKeepTheProcessesOfAGPULostEarly: the compute processes of a GPU
// stay with it in the attribution listing when it is lost, however early:
// lost after the start-up listing but before a second one, or after NVML was
// re-initialised for another GPU. Its llm_gpu_up=0 then keeps role and
// dp_rank, which come from those processes.
func TestDevicesKeepTheProcessesOfAGPULostEarly(t *testing.T) {
	setup := func() (*Collector, map[int]bool) {
		s := mockNode()
		lost := map[int]bool{}
		handle := s.DeviceGetHandleByIndexFunc
		s.DeviceGetHandleByIndexFunc = func(i int) (nvml.Device, nvml.Return) {
			if lost[i] {
				return nil, nvml.ERROR_GPU_IS_LOST
			}
			return handle(i)
		}
		c := NewWithInterface(s, Config{}, quiet)
		t.Cleanup(c.Close)
		return c, lost
	}
	check := func(t *testing.T, c *Collector, want DeviceProcesses) {
		t.Helper()
		devs, err := c.Devices()
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range devs {
			if d.Index == want.Index {
				if d.UUID != want.UUID || fmt.Sprint(d.PIDs) != fmt.Sprint(want.PIDs) {
					t.Errorf("lost GPU %d listed as %+v, want %+v", want.Index, d, want)
				}
				return
			}
		}
		t.Errorf("lost GPU %d not listed: %+v", want.Index, devs)
	}

	t.Run("lost before the second listing", func(t *testing.T) {
		c, lost := setup()
		start, err := c.Devices() // the listing at start-up, before any scrape
		if err != nil {
			t.Fatal(err)
		}
		families(t, c)
		lost[6] = true
		families(t, c)
		check(t, c, start[6])
	})
	t.Run("lost after a re-initialisation", func(t *testing.T) {
		c, lost := setup()
		c.Devices()
		families(t, c)
		start, _ := c.Devices()
		lost[2] = true
		families(t, c) // GPU 2 lost: NVML shut down for a re-initialisation
		families(t, c) // re-initialised
		lost[6] = true
		families(t, c)
		check(t, c, start[6])
	})
	t.Run("lost before the first scrape", func(t *testing.T) {
		c, lost := setup()
		start, _ := c.Devices()
		lost[6] = true
		mfs := families(t, c)
		check(t, c, start[6])
		if v, ok := valueOf(mfs["llm_gpu_up"], "gpu", "6", "uuid", start[6].UUID); !ok || v != 0 {
			t.Errorf("up{gpu=6,uuid=%s} = %v, %v; want 0 with the uuid the listing read", start[6].UUID, v, ok)
		}
	})
}

// TestDeviceCountFailureBacksOff: DeviceGetCount failing after a good Init is
// a failed initialisation: NVML is retried with the same exponential backoff,
// not re-initialised (and the XID watcher and GPM sampler restarted) on every
// scrape.
func TestDeviceCountFailureBacksOff(t *testing.T) {
	s := mockNode()
	withGPM(s)
	var inits, eventSets atomic.Int32
	init := s.InitFunc
	s.InitFunc = func() nvml.Return { inits.Add(1); return init() }
	createSet := s.EventSetCreateFunc
	s.EventSetCreateFunc = func() (nvml.EventSet, nvml.Return) { eventSets.Add(1); return createSet() }
	var failing atomic.Bool
	count := s.DeviceGetCountFunc
	s.DeviceGetCountFunc = func() (int, nvml.Return) {
		if failing.Load() {
			return 0, nvml.ERROR_UNKNOWN
		}
		return count()
	}
	c := NewWithInterface(s, Config{XIDEvents: true, GPM: true, GPMInterval: time.Hour}, quiet)
	defer c.Close()
	now := time.Unix(1000, 0)
	c.now = func() time.Time { return now }
	ch := make(chan prometheus.Metric, 8192)
	drain := func() {
		for len(ch) > 0 {
			<-ch
		}
	}
	failing.Store(true)
	for i := 0; i < 10; i++ { // ten scrapes within the first second
		if err := c.Update(ch); err == nil {
			t.Fatal("Update succeeded while DeviceGetCount fails")
		}
		drain()
		now = now.Add(50 * time.Millisecond)
	}
	if n := inits.Load(); n != 1 {
		t.Errorf("NVML initialised %d times in 10 scrapes within the backoff, want 1", n)
	}
	if n := eventSets.Load(); n != 1 {
		t.Errorf("XID watcher started %d times, want 1", n)
	}
	if _, err := c.Devices(); err != nil && inits.Load() != 1 {
		t.Errorf("the attribution listing re-initialised NVML within the backoff")
	}
	// The backoff doubles: 1 s, then 2 s.
	now = now.Add(time.Second)
	c.Update(ch)
	drain()
	now = now.Add(1500 * time.Millisecond)
	c.Update(ch)
	drain()
	if n := inits.Load(); n != 2 {
		t.Errorf("NVML initialised %d times, want 2 (second attempt after 1 s, third not before 2 s more)", n)
	}
	// NVML answers again: the next attempt succeeds and the backoff resets.
	failing.Store(false)
	now = now.Add(time.Second)
	if err := c.Update(ch); err != nil {
		t.Fatalf("Update after recovery: %v", err)
	}
	drain()
	if n := inits.Load(); n != 3 {
		t.Errorf("NVML initialised %d times after recovery, want 3", n)
	}
	if c.backoff != 0 {
		t.Errorf("backoff %v after a good scrape, want reset", c.backoff)
	}
}

// TestDevicesKeepGPUsWhileNVMLBacksOff: while NVML cannot be initialised
// again (a lost GPU shut it down, then the driver stops answering), the
// attribution listing fails, so that the cache keeps the GPUs it last listed,
// instead of listing none; on a node where NVML never answered it lists none
// without error.
func TestDevicesKeepGPUsWhileNVMLBacksOff(t *testing.T) {
	s := mockNode()
	var lost, driverGone atomic.Bool
	s.InitFunc = func() nvml.Return {
		if driverGone.Load() {
			return nvml.ERROR_DRIVER_NOT_LOADED
		}
		return nvml.SUCCESS
	}
	handle := s.DeviceGetHandleByIndexFunc
	s.DeviceGetHandleByIndexFunc = func(i int) (nvml.Device, nvml.Return) {
		if i == 2 && lost.Load() {
			return nil, nvml.ERROR_GPU_IS_LOST
		}
		return handle(i)
	}
	c := NewWithInterface(s, Config{}, quiet)
	defer c.Close()
	families(t, c)
	lost.Store(true)
	families(t, c) // GPU 2 lost: NVML shut down for a re-initialisation
	driverGone.Store(true)
	if devs, err := c.Devices(); err == nil {
		t.Errorf("Devices() = %d GPUs and no error while NVML cannot be initialised: the cache would forget every GPU", len(devs))
	}
	cpuNode := NewWithInterface(&mock.Interface{InitFunc: func() nvml.Return { return nvml.ERROR_LIBRARY_NOT_FOUND }}, Config{}, quiet)
	if devs, err := cpuNode.Devices(); devs != nil || err != nil {
		t.Errorf("on a node without NVML: %v, %v; want nothing and no error", devs, err)
	}
}

// TestCloseIsFinal: after Close (SIGTERM), neither a late scrape nor the
// attribution refresh initialises NVML again.
func TestCloseIsFinal(t *testing.T) {
	s := mockNode()
	var inits, shutdowns atomic.Int32
	s.InitFunc = func() nvml.Return { inits.Add(1); return nvml.SUCCESS }
	s.ShutdownFunc = func() nvml.Return { shutdowns.Add(1); return nvml.SUCCESS }
	c := NewWithInterface(s, Config{}, quiet)
	families(t, c)
	c.Close()
	if err := c.Update(make(chan prometheus.Metric, 8192)); err == nil {
		t.Error("Update after Close succeeded")
	}
	if _, err := c.Devices(); err == nil {
		t.Error("Devices after Close succeeded")
	}
	if inits.Load() != 1 || shutdowns.Load() != 1 {
		t.Errorf("%d inits, %d shutdowns; want 1 and 1", inits.Load(), shutdowns.Load())
	}
}

// TestXIDOfAnUnknownGPU: an XID event whose GPU's UUID cannot be read is
// attributed through the handle registered for events (XID 79: the GPU fell
// off the bus), and when even that fails it is served with empty gpu and uuid,
// never attached to another GPU, such as one lost before its UUID was read.
func TestXIDOfAnUnknownGPU(t *testing.T) {
	s := mockNode()
	uuid5, _ := device(s, 5).GetUUID()
	// GPU 7 was lost before its UUID was ever read: its state has uuid "".
	handle := s.DeviceGetHandleByIndexFunc
	s.DeviceGetHandleByIndexFunc = func(i int) (nvml.Device, nvml.Return) {
		if i == 7 {
			return nil, nvml.ERROR_GPU_IS_LOST
		}
		return handle(i)
	}
	stranger := &mock.Device{GetUUIDFunc: func() (string, nvml.Return) { return "", nvml.ERROR_UNKNOWN }}
	events := make(chan nvml.EventData, 4)
	s.EventSetCreateFunc = func() (nvml.EventSet, nvml.Return) {
		return &mock.EventSet{
			WaitFunc: func(ms uint32) (nvml.EventData, nvml.Return) {
				select {
				case e := <-events:
					return e, nvml.SUCCESS
				case <-time.After(time.Duration(ms) * time.Millisecond):
					return nvml.EventData{}, nvml.ERROR_TIMEOUT
				}
			},
			FreeFunc: func() nvml.Return { return nvml.SUCCESS },
		}, nvml.SUCCESS
	}
	c := NewWithInterface(s, Config{XIDEvents: true}, quiet)
	defer c.Close()
	at := time.Unix(1700000000, 250e6)
	c.now = func() time.Time { return at }
	families(t, c) // starts the watcher, registering GPUs 0-6
	// GPU 5 falls off the bus: its UUID can no longer be read.
	device(s, 5).GetUUIDFunc = func() (string, nvml.Return) { return "", nvml.ERROR_GPU_IS_LOST }
	events <- nvml.EventData{Device: s.Devices[5], EventType: nvml.EventTypeXidCriticalError, EventData: 79}
	events <- nvml.EventData{Device: stranger, EventType: nvml.EventTypeXidCriticalError, EventData: 13}
	var mfs map[string]*dto.MetricFamily
	for deadline := time.Now().Add(10 * time.Second); ; {
		mfs = families(t, c)
		if mfs["llm_gpu_xid_errors_total"] != nil && len(mfs["llm_gpu_xid_errors_total"].GetMetric()) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("XID series: %v", mfs["llm_gpu_xid_errors_total"])
		}
		time.Sleep(10 * time.Millisecond)
	}
	if v, ok := valueOf(mfs["llm_gpu_xid_errors_total"], "gpu", "5", "uuid", uuid5, "xid", "79"); !ok || v != 1 {
		t.Errorf("XID 79 of the GPU that fell off the bus = %v, %v; want 1 on gpu 5 (%s): %v", v, ok, uuid5, mfs["llm_gpu_xid_errors_total"])
	}
	if v, ok := valueOf(mfs["llm_gpu_xid_errors_total"], "gpu", "", "uuid", "", "xid", "13"); !ok || v != 1 {
		t.Errorf("XID 13 of an unknown GPU = %v, %v; want 1 with empty gpu and uuid: %v", v, ok, mfs["llm_gpu_xid_errors_total"])
	}
	if ts, _ := valueOf(mfs["llm_gpu_xid_last_seen_timestamp_seconds"], "xid", "79"); ts != 1700000000.25 {
		t.Errorf("XID 79 last seen at %v, want the collector's clock 1700000000.25", ts)
	}
	if v, _ := valueOf(mfs["llm_gpu_nvml_errors_total"], "gpu", "", "call", "nvmlDeviceGetUUID"); v != 1 {
		t.Errorf("the failed UUID read of the unknown GPU counted %v times, want 1: %v", v, mfs["llm_gpu_nvml_errors_total"])
	}
}
