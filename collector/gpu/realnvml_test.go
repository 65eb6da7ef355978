package gpu

// The collector against a real libnvidia-ml.so.1, for a GPU machine
// (scripts/gpu-smoke.sh runs the test binary `make gpu-smoke-bundle` builds):
// the time of every NVML call the collector makes and of the whole Update, and
// the GPUs and processes the attribution listing sees. Skipped unless
// LLM_NVML_REAL=1; LLM_NVML_LIBRARY names the library (empty: the loader's
// search path, as the exporter's default). Run here against the fake NVML
// (collector/gpu/testdata/fakenvml) as a dry run.

import (
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/prometheus/client_golang/prometheus"
)

// callTimes records the duration of every call, by NVML method.
type callTimes struct {
	mu sync.Mutex
	d  map[string][]time.Duration
}

func newCallTimes() *callTimes { return &callTimes{d: map[string][]time.Duration{}} }

func (t *callTimes) since(method string, start time.Time) {
	d := time.Since(start)
	t.mu.Lock()
	t.d[method] = append(t.d[method], d)
	t.mu.Unlock()
}

func (t *callTimes) reset() {
	t.mu.Lock()
	clear(t.d)
	t.mu.Unlock()
}

// timedLib wraps an nvml.Interface, timing the calls the collector makes and
// handing out timed devices; TestTimedLibCoversEveryCall fails when the
// collector calls a method it does not time.
type timedLib struct {
	nvml.Interface
	t *callTimes
}

// timedDevice embeds the device, which go-nvml unwraps when it passes the
// handle to C (nvmlDeviceHandle follows embedded Device fields).
type timedDevice struct {
	nvml.Device
	t *callTimes
}

func unwrap(d nvml.Device) nvml.Device {
	if td, ok := d.(timedDevice); ok {
		return td.Device
	}
	return d
}

func (l timedLib) Init() nvml.Return {
	defer l.t.since("Init", time.Now())
	return l.Interface.Init()
}

func (l timedLib) Shutdown() nvml.Return {
	defer l.t.since("Shutdown", time.Now())
	return l.Interface.Shutdown()
}

func (l timedLib) SystemGetDriverVersion() (string, nvml.Return) {
	defer l.t.since("SystemGetDriverVersion", time.Now())
	return l.Interface.SystemGetDriverVersion()
}

func (l timedLib) SystemGetCudaDriverVersion() (int, nvml.Return) {
	defer l.t.since("SystemGetCudaDriverVersion", time.Now())
	return l.Interface.SystemGetCudaDriverVersion()
}

func (l timedLib) DeviceGetCount() (int, nvml.Return) {
	defer l.t.since("DeviceGetCount", time.Now())
	return l.Interface.DeviceGetCount()
}

func (l timedLib) DeviceGetHandleByIndex(i int) (nvml.Device, nvml.Return) {
	start := time.Now()
	d, ret := l.Interface.DeviceGetHandleByIndex(i)
	l.t.since("DeviceGetHandleByIndex", start)
	if d != nil {
		d = timedDevice{d, l.t}
	}
	return d, ret
}

func (l timedLib) EventSetCreate() (nvml.EventSet, nvml.Return) {
	defer l.t.since("EventSetCreate", time.Now())
	return l.Interface.EventSetCreate()
}

func (l timedLib) GpmQueryDeviceSupport(d nvml.Device) (nvml.GpmSupport, nvml.Return) {
	defer l.t.since("GpmQueryDeviceSupport", time.Now())
	return l.Interface.GpmQueryDeviceSupport(unwrap(d))
}

func (l timedLib) GpmSampleAlloc() (nvml.GpmSample, nvml.Return) {
	defer l.t.since("GpmSampleAlloc", time.Now())
	return l.Interface.GpmSampleAlloc()
}

func (l timedLib) GpmSampleFree(s nvml.GpmSample) nvml.Return {
	defer l.t.since("GpmSampleFree", time.Now())
	return l.Interface.GpmSampleFree(s)
}

func (l timedLib) GpmSampleGet(d nvml.Device, s nvml.GpmSample) nvml.Return {
	defer l.t.since("GpmSampleGet", time.Now())
	return l.Interface.GpmSampleGet(unwrap(d), s)
}

func (l timedLib) GpmMigSampleGet(d nvml.Device, gi int, s nvml.GpmSample) nvml.Return {
	defer l.t.since("GpmMigSampleGet", time.Now())
	return l.Interface.GpmMigSampleGet(unwrap(d), gi, s)
}

func (l timedLib) GpmMetricsGet(g *nvml.GpmMetricsGetType) nvml.Return {
	defer l.t.since("GpmMetricsGet", time.Now())
	return l.Interface.GpmMetricsGet(g)
}

func (d timedDevice) GetUUID() (string, nvml.Return) {
	defer d.t.since("DeviceGetUUID", time.Now())
	return d.Device.GetUUID()
}

func (d timedDevice) GetName() (string, nvml.Return) {
	defer d.t.since("DeviceGetName", time.Now())
	return d.Device.GetName()
}

func (d timedDevice) GetPciInfo() (nvml.PciInfo, nvml.Return) {
	defer d.t.since("DeviceGetPciInfo", time.Now())
	return d.Device.GetPciInfo()
}

func (d timedDevice) GetMigMode() (int, int, nvml.Return) {
	defer d.t.since("DeviceGetMigMode", time.Now())
	return d.Device.GetMigMode()
}

func (d timedDevice) GetUtilizationRates() (nvml.Utilization, nvml.Return) {
	defer d.t.since("DeviceGetUtilizationRates", time.Now())
	return d.Device.GetUtilizationRates()
}

func (d timedDevice) GetMemoryInfo() (nvml.Memory, nvml.Return) {
	defer d.t.since("DeviceGetMemoryInfo", time.Now())
	return d.Device.GetMemoryInfo()
}

func (d timedDevice) GetMemoryInfo_v2() (nvml.Memory_v2, nvml.Return) {
	defer d.t.since("DeviceGetMemoryInfo_v2", time.Now())
	return d.Device.GetMemoryInfo_v2()
}

func (d timedDevice) GetComputeRunningProcesses() ([]nvml.ProcessInfo, nvml.Return) {
	defer d.t.since("DeviceGetComputeRunningProcesses", time.Now())
	return d.Device.GetComputeRunningProcesses()
}

func (d timedDevice) GetPowerUsage() (uint32, nvml.Return) {
	defer d.t.since("DeviceGetPowerUsage", time.Now())
	return d.Device.GetPowerUsage()
}

func (d timedDevice) GetEnforcedPowerLimit() (uint32, nvml.Return) {
	defer d.t.since("DeviceGetEnforcedPowerLimit", time.Now())
	return d.Device.GetEnforcedPowerLimit()
}

func (d timedDevice) GetTotalEnergyConsumption() (uint64, nvml.Return) {
	defer d.t.since("DeviceGetTotalEnergyConsumption", time.Now())
	return d.Device.GetTotalEnergyConsumption()
}

func (d timedDevice) GetTemperature(s nvml.TemperatureSensors) (uint32, nvml.Return) {
	defer d.t.since("DeviceGetTemperature", time.Now())
	return d.Device.GetTemperature(s)
}

func (d timedDevice) GetFieldValues(v []nvml.FieldValue) nvml.Return {
	defer d.t.since("DeviceGetFieldValues", time.Now())
	return d.Device.GetFieldValues(v)
}

func (d timedDevice) GetClockInfo(c nvml.ClockType) (uint32, nvml.Return) {
	defer d.t.since("DeviceGetClockInfo", time.Now())
	return d.Device.GetClockInfo(c)
}

func (d timedDevice) GetCurrentClocksEventReasons() (uint64, nvml.Return) {
	defer d.t.since("DeviceGetCurrentClocksEventReasons", time.Now())
	return d.Device.GetCurrentClocksEventReasons()
}

func (d timedDevice) GetTotalEccErrors(e nvml.MemoryErrorType, c nvml.EccCounterType) (uint64, nvml.Return) {
	defer d.t.since("DeviceGetTotalEccErrors", time.Now())
	return d.Device.GetTotalEccErrors(e, c)
}

func (d timedDevice) GetRemappedRows() (int, int, bool, bool, nvml.Return) {
	defer d.t.since("DeviceGetRemappedRows", time.Now())
	return d.Device.GetRemappedRows()
}

func (d timedDevice) GetPcieReplayCounter() (int, nvml.Return) {
	defer d.t.since("DeviceGetPcieReplayCounter", time.Now())
	return d.Device.GetPcieReplayCounter()
}

func (d timedDevice) GetCurrPcieLinkGeneration() (int, nvml.Return) {
	defer d.t.since("DeviceGetCurrPcieLinkGeneration", time.Now())
	return d.Device.GetCurrPcieLinkGeneration()
}

func (d timedDevice) GetCurrPcieLinkWidth() (int, nvml.Return) {
	defer d.t.since("DeviceGetCurrPcieLinkWidth", time.Now())
	return d.Device.GetCurrPcieLinkWidth()
}

func (d timedDevice) GetPcieThroughput(c nvml.PcieUtilCounter) (uint32, nvml.Return) {
	defer d.t.since("DeviceGetPcieThroughput", time.Now())
	return d.Device.GetPcieThroughput(c)
}

func (d timedDevice) GetNvLinkState(link int) (nvml.EnableState, nvml.Return) {
	defer d.t.since("DeviceGetNvLinkState", time.Now())
	return d.Device.GetNvLinkState(link)
}

func (d timedDevice) GetNvLinkErrorCounter(link int, c nvml.NvLinkErrorCounter) (uint64, nvml.Return) {
	defer d.t.since("DeviceGetNvLinkErrorCounter", time.Now())
	return d.Device.GetNvLinkErrorCounter(link, c)
}

func (d timedDevice) RegisterEvents(types uint64, set nvml.EventSet) nvml.Return {
	defer d.t.since("DeviceRegisterEvents", time.Now())
	return d.Device.RegisterEvents(types, set)
}

func (d timedDevice) GetGpuInstanceProfileInfo(p int) (nvml.GpuInstanceProfileInfo, nvml.Return) {
	defer d.t.since("DeviceGetGpuInstanceProfileInfo", time.Now())
	return d.Device.GetGpuInstanceProfileInfo(p)
}

func (d timedDevice) GetGpuInstances(info *nvml.GpuInstanceProfileInfo) ([]nvml.GpuInstance, nvml.Return) {
	defer d.t.since("DeviceGetGpuInstances", time.Now())
	return d.Device.GetGpuInstances(info)
}

// untimed are mock methods the collector calls that are not NVML calls worth
// timing: the symbol lookup, and the blocking event wait of the XID watcher.
var untimed = map[string]bool{"Extensions": true, "LookupSymbol": true, "Wait": true, "Free": true}

// calledMethods lists the methods of a go-nvml mock that were called, from
// moq's <Method>Calls() recorders.
func calledMethods(mock any) []string {
	var out []string
	v := reflect.ValueOf(mock)
	for i := 0; i < v.NumMethod(); i++ {
		name := v.Type().Method(i).Name
		m := v.Method(i)
		if !strings.HasSuffix(name, "Calls") || m.Type().NumIn() != 0 || m.Type().NumOut() != 1 || m.Type().Out(0).Kind() != reflect.Slice {
			continue
		}
		if m.Call(nil)[0].Len() > 0 {
			out = append(out, strings.TrimSuffix(name, "Calls"))
		}
	}
	return out
}

// TestTimedLibCoversEveryCall: every NVML method the collector calls, with
// every feature on, goes through timedLib, so the real-driver timings list
// all of them.
func TestTimedLibCoversEveryCall(t *testing.T) {
	s := mockNode()
	withGPM(s)
	// GPM's mock hooks look at the device: they receive the unwrapped one.
	times := newCallTimes()
	c := NewWithInterface(timedLib{s, times}, Config{PCIeThroughput: true, XIDEvents: true, GPM: true, GPMInterval: gpmMinInterval, GPMNVLinkPerLink: true}, quiet)
	families(t, c)
	waitGPM(t, c, 2)
	families(t, c)
	c.Devices()
	c.Close()
	timed := map[string]bool{}
	for m := range times.d {
		timed[strings.TrimPrefix(m, "Device")] = true
		timed[m] = true
	}
	called := calledMethods(s)
	for i := range s.Devices {
		called = append(called, calledMethods(device(s, i))...)
	}
	slices.Sort(called)
	for _, m := range slices.Compact(called) {
		if !timed[m] && !untimed[m] {
			t.Errorf("the collector calls %s, which timedLib does not time: add it", m)
		}
	}
	if len(times.d) < 20 {
		t.Errorf("only %d methods timed: %v", len(times.d), times.d)
	}
}

func realNVML(tb testing.TB) (*Collector, *callTimes) {
	tb.Helper()
	if os.Getenv("LLM_NVML_REAL") != "1" {
		tb.Skip("LLM_NVML_REAL=1 runs the collector against the real libnvidia-ml.so.1 (scripts/gpu-smoke.sh)")
	}
	var opts []nvml.LibraryOption
	if p := os.Getenv("LLM_NVML_LIBRARY"); p != "" {
		opts = append(opts, nvml.WithLibraryPath(p))
	}
	times := newCallTimes()
	cfg := Config{XIDEvents: true, GPM: true, GPMInterval: time.Second, PCIeThroughput: os.Getenv("LLM_NVML_PCIE") == "1"}
	c := NewWithInterface(timedLib{nvml.New(opts...), times}, cfg, quiet)
	tb.Cleanup(c.Close)
	return c, times
}

// BenchmarkRealNVMLUpdate times the collector's Update on the real driver
// (ns/op), then every NVML call it made during the benchmark, the GPM
// sampler's included, into LLM_NVML_TIMINGS_OUT (markdown) when set.
func BenchmarkRealNVMLUpdate(b *testing.B) {
	c, times := realNVML(b)
	ch := make(chan prometheus.Metric, 1<<16)
	drain := func() {
		for len(ch) > 0 {
			<-ch
		}
	}
	if err := c.Update(ch); err != nil {
		b.Fatal(err)
	}
	drain()
	waitGPM(b, c, 3) // the sampler's calls are timed too
	times.reset()
	rounds := gpmTicks(c)
	var series int
	for b.Loop() {
		if err := c.Update(ch); err != nil {
			b.Fatal(err)
		}
		series = len(ch)
		drain()
	}
	rounds = gpmTicks(c) - rounds
	b.ReportMetric(float64(series), "series")
	if out := os.Getenv("LLM_NVML_TIMINGS_OUT"); out != "" {
		text := fmt.Sprintf("%d Updates (%d series each) in %s; %d GPM sampler rounds meanwhile (the Gpm* rows: per round, not per Update).\n\n%s",
			b.N, series, b.Elapsed().Round(time.Millisecond), rounds, times.table(b.N))
		if err := os.WriteFile(out, []byte(text), 0o644); err != nil {
			b.Fatal(err)
		}
	}
}

// table renders the timings: per method the calls per Update, and the
// median, p99 and maximum duration.
func (t *callTimes) table(updates int) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var methods []string
	for m := range t.d {
		methods = append(methods, m)
	}
	sort.Strings(methods)
	var sb strings.Builder
	fmt.Fprintf(&sb, "| NVML method | calls | per Update | median µs | p99 µs | max µs | total ms |\n|---|---|---|---|---|---|---|\n")
	for _, m := range methods {
		d := slices.Clone(t.d[m])
		slices.Sort(d)
		var total time.Duration
		for _, x := range d {
			total += x
		}
		us := func(x time.Duration) float64 { return float64(x.Nanoseconds()) / 1e3 }
		fmt.Fprintf(&sb, "| %s | %d | %.1f | %.1f | %.1f | %.1f | %.2f |\n", m, len(d), float64(len(d))/float64(max(updates, 1)),
			us(d[len(d)/2]), us(d[min(len(d)-1, len(d)*99/100)]), us(d[len(d)-1]), float64(total.Microseconds())/1e3)
	}
	return sb.String()
}

// TestRealNVMLDevices writes what the attribution listing sees on the real
// driver (every GPU and its compute processes' PIDs) as JSON to
// LLM_NVML_DEVICES_OUT, for the smoke script to find its PyTorch process.
func TestRealNVMLDevices(t *testing.T) {
	c, _ := realNVML(t)
	devs, err := c.Devices()
	if err != nil {
		t.Fatal(err)
	}
	if len(devs) == 0 {
		t.Fatal("no GPU listed")
	}
	b, _ := json.MarshalIndent(devs, "", "  ")
	t.Logf("%s", b)
	if out := os.Getenv("LLM_NVML_DEVICES_OUT"); out != "" {
		if err := os.WriteFile(out, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
