package gpu

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock/server"
	"github.com/prometheus/client_golang/prometheus"
)

// gpmMock serves GPM on a mock node. A sample records the GPU, GPU instance
// and a sequence number; nvmlGpmMetricsGet checks that its two samples are of
// the same target and in order, and answers a value that depends on the
// metric and the GPU: percentages base+gpu, MiB/s 100*(base+gpu).
type gpmMock struct {
	mu        sync.Mutex
	seq       int
	allocs    int
	frees     int
	gets      map[int]int // GpmSampleGet calls per GPU
	maxPerGet int
	badArray  string // first misuse of the metrics array seen

	inflight atomic.Int32
	overlaps atomic.Int32
	nvmlUp   atomic.Bool
	stale    atomic.Int32 // GPM calls while NVML was shut down

	// hooks, for the test to break things
	sampleErr  func(gpu int, n int) nvml.Return // n: the GPU's nth sample
	metricsErr func(gpu int) nvml.Return
}

type gpmTestSample struct {
	*mock.GpmSample // nil funcs: the collector must use the Interface calls
	gpu, gi, seq    int
	freed           bool
}

var gpmBase = map[nvml.GpmMetricId]float64{
	nvml.GPM_METRIC_SM_UTIL: 50, nvml.GPM_METRIC_SM_OCCUPANCY: 30, nvml.GPM_METRIC_ANY_TENSOR_UTIL: 40,
	nvml.GPM_METRIC_HMMA_TENSOR_UTIL: 35, nvml.GPM_METRIC_FP64_UTIL: 1, nvml.GPM_METRIC_FP32_UTIL: 10,
	nvml.GPM_METRIC_FP16_UTIL: 5, nvml.GPM_METRIC_DRAM_BW_UTIL: 60,
	nvml.GPM_METRIC_PCIE_TX_PER_SEC: 1, nvml.GPM_METRIC_PCIE_RX_PER_SEC: 2,
	nvml.GPM_METRIC_NVLINK_TOTAL_TX_PER_SEC: 30, nvml.GPM_METRIC_NVLINK_TOTAL_RX_PER_SEC: 20,
}

func (m *gpmMock) enter() func() {
	if m.inflight.Add(1) > 1 {
		m.overlaps.Add(1)
	}
	if !m.nvmlUp.Load() {
		m.stale.Add(1)
	}
	return func() { m.inflight.Add(-1) }
}

func gpmValue(id nvml.GpmMetricId, gpu int) (float64, bool) {
	if b, ok := gpmBase[id]; ok {
		if id >= nvml.GPM_METRIC_PCIE_TX_PER_SEC {
			return 100 * (b + float64(gpu)), true
		}
		return b + float64(gpu), true
	}
	if id >= nvml.GPM_METRIC_NVLINK_L0_RX_PER_SEC && id <= nvml.GPM_METRIC_NVLINK_L17_TX_PER_SEC {
		return float64(id), true // per link: the metric id, in MiB/s
	}
	return 0, false
}

func withGPM(s *server.Server) *gpmMock {
	m := &gpmMock{gets: map[int]int{}}
	m.nvmlUp.Store(false)
	init, shutdown := s.InitFunc, s.ShutdownFunc
	s.InitFunc = func() nvml.Return { r := init(); m.nvmlUp.Store(true); return r }
	s.ShutdownFunc = func() nvml.Return { m.nvmlUp.Store(false); return shutdown() }
	s.GpmQueryDeviceSupportFunc = func(nvml.Device) (nvml.GpmSupport, nvml.Return) {
		defer m.enter()()
		return nvml.GpmSupport{Version: nvml.GPM_SUPPORT_VERSION, IsSupportedDevice: 1}, nvml.SUCCESS
	}
	s.GpmSampleAllocFunc = func() (nvml.GpmSample, nvml.Return) {
		defer m.enter()()
		m.mu.Lock()
		defer m.mu.Unlock()
		m.allocs++
		return &gpmTestSample{gpu: -1}, nvml.SUCCESS
	}
	s.GpmSampleFreeFunc = func(sample nvml.GpmSample) nvml.Return {
		defer m.enter()()
		m.mu.Lock()
		defer m.mu.Unlock()
		m.frees++
		sample.(*gpmTestSample).freed = true
		return nvml.SUCCESS
	}
	get := func(dev nvml.Device, gi int, sample nvml.GpmSample) nvml.Return {
		defer m.enter()()
		time.Sleep(50 * time.Microsecond) // widen the window for overlaps
		gpu := dev.(*server.Device).Index
		m.mu.Lock()
		m.gets[gpu]++
		n := m.gets[gpu]
		m.seq++
		seq := m.seq
		hook := m.sampleErr
		m.mu.Unlock()
		if hook != nil {
			if r := hook(gpu, n); r != nvml.SUCCESS {
				return r
			}
		}
		ts := sample.(*gpmTestSample)
		ts.gpu, ts.gi, ts.seq = gpu, gi, seq
		return nvml.SUCCESS
	}
	s.GpmSampleGetFunc = func(dev nvml.Device, sample nvml.GpmSample) nvml.Return { return get(dev, -1, sample) }
	s.GpmMigSampleGetFunc = func(dev nvml.Device, gi int, sample nvml.GpmSample) nvml.Return { return get(dev, gi, sample) }
	s.GpmMetricsGetFunc = func(g *nvml.GpmMetricsGetType) nvml.Return {
		defer m.enter()()
		s1, s2 := g.Sample1.(*gpmTestSample), g.Sample2.(*gpmTestSample)
		m.mu.Lock()
		hook := m.metricsErr
		if int(g.NumMetrics) > m.maxPerGet {
			m.maxPerGet = int(g.NumMetrics)
		}
		bad := ""
		switch {
		case g.Version != nvml.GPM_METRICS_GET_VERSION:
			bad = fmt.Sprintf("version %d", g.Version)
		case g.NumMetrics == 0 || int(g.NumMetrics) > len(g.Metrics):
			bad = fmt.Sprintf("NumMetrics %d", g.NumMetrics)
		case s1.freed || s2.freed || s1.gpu < 0 || s1.gpu != s2.gpu || s1.gi != s2.gi || s1.seq >= s2.seq:
			bad = fmt.Sprintf("samples %+v, %+v", *s1, *s2)
		}
		for k := int(g.NumMetrics); k < len(g.Metrics) && bad == ""; k++ {
			if g.Metrics[k].MetricId != 0 {
				bad = fmt.Sprintf("metric %d set beyond NumMetrics %d", k, g.NumMetrics)
			}
		}
		if bad != "" && m.badArray == "" {
			m.badArray = bad
		}
		m.mu.Unlock()
		if bad != "" {
			return nvml.ERROR_INVALID_ARGUMENT
		}
		if hook != nil {
			if r := hook(s1.gpu); r != nvml.SUCCESS {
				return r
			}
		}
		for k := 0; k < int(g.NumMetrics); k++ {
			v, ok := gpmValue(nvml.GpmMetricId(g.Metrics[k].MetricId), s1.gpu)
			if !ok {
				g.Metrics[k].NvmlReturn = uint32(nvml.ERROR_NOT_SUPPORTED)
				continue
			}
			g.Metrics[k].Value = v + float64(s1.gi+1)*1000*boolValue(s1.gi >= 0)
		}
		return nvml.SUCCESS
	}
	return m
}

// gpmTicks is the current sampler's completed rounds (0 when none runs).
func gpmTicks(c *Collector) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gpm == nil {
		return 0
	}
	return c.gpm.ticks.Load()
}

// waitGPM waits until the current sampler has completed n rounds.
func waitGPM(t testing.TB, c *Collector, n int64) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); gpmTicks(c) < n; {
		if time.Now().After(deadline) {
			t.Fatalf("GPM sampler did %d rounds in 10 s, want %d", gpmTicks(c), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

var gpmRatioFamilies = map[string]nvml.GpmMetricId{
	"llm_gpu_sm_active_ratio":                  nvml.GPM_METRIC_SM_UTIL,
	"llm_gpu_sm_occupancy_ratio":               nvml.GPM_METRIC_SM_OCCUPANCY,
	"llm_gpu_tensor_active_ratio":              nvml.GPM_METRIC_ANY_TENSOR_UTIL,
	"llm_gpu_tensor_hmma_active_ratio":         nvml.GPM_METRIC_HMMA_TENSOR_UTIL,
	"llm_gpu_fp64_active_ratio":                nvml.GPM_METRIC_FP64_UTIL,
	"llm_gpu_fp32_active_ratio":                nvml.GPM_METRIC_FP32_UTIL,
	"llm_gpu_fp16_active_ratio":                nvml.GPM_METRIC_FP16_UTIL,
	"llm_gpu_dram_bandwidth_utilization_ratio": nvml.GPM_METRIC_DRAM_BW_UTIL,
}

func gpmConfig() Config { return Config{GPM: true, GPMInterval: gpmMinInterval} }

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

func TestGPMMetrics(t *testing.T) {
	s := mockNode()
	m := withGPM(s)
	c := NewWithInterface(s, Config{GPM: true, GPMInterval: gpmMinInterval, Attributor: fakeAttributor{}}, quiet)
	defer c.Close()
	families(t, c) // initialises NVML, starts the sampler
	waitGPM(t, c, 2)
	mfs := families(t, c)
	for gpu := 0; gpu < 8; gpu++ {
		g := fmt.Sprint(gpu)
		for name, id := range gpmRatioFamilies {
			want := (gpmBase[id] + float64(gpu)) / 100
			if v, ok := valueOf(mfs[name], "gpu", g); !ok || !near(v, want) {
				t.Errorf("%s{gpu=%d} = %v, %v; want %v", name, gpu, v, ok, want)
			}
		}
		for _, tc := range []struct {
			name, dir string
			id        nvml.GpmMetricId
		}{
			{"llm_gpu_pcie_bytes_per_second", "tx", nvml.GPM_METRIC_PCIE_TX_PER_SEC},
			{"llm_gpu_pcie_bytes_per_second", "rx", nvml.GPM_METRIC_PCIE_RX_PER_SEC},
			{"llm_gpu_nvlink_bytes_per_second", "tx", nvml.GPM_METRIC_NVLINK_TOTAL_TX_PER_SEC},
			{"llm_gpu_nvlink_bytes_per_second", "rx", nvml.GPM_METRIC_NVLINK_TOTAL_RX_PER_SEC},
		} {
			want := 100 * (gpmBase[tc.id] + float64(gpu)) * (1 << 20)
			if v, ok := valueOf(mfs[tc.name], "gpu", g, "direction", tc.dir); !ok || !near(v, want) {
				t.Errorf("%s{gpu=%d,direction=%s} = %v, %v; want %v", tc.name, gpu, tc.dir, v, ok, want)
			}
		}
		if v, ok := valueOf(mfs["llm_gpu_gpm_supported"], "gpu", g, "reason", ""); !ok || v != 1 {
			t.Errorf("gpm_supported{gpu=%d} = %v, %v; want 1", gpu, v, ok)
		}
	}
	for name := range gpmRatioFamilies {
		if n := len(mfs[name].GetMetric()); n != 8 {
			t.Errorf("%s: %d series, want 8", name, n)
		}
		for _, s := range mfs[name].GetMetric() {
			if labelOf(s, "pod") != "sglang-prefill-0" || labelOf(s, "uuid") == "" || labelOf(s, "gpu_instance") != "" {
				t.Errorf("%s: labels %v", name, s.Label)
			}
		}
	}
	if mfs["llm_gpu_nvlink_link_bytes_per_second"] != nil {
		t.Error("per-link NVLink bytes are opt-in but were served")
	}
	if mfs["llm_gpu_nvml_errors_total"] != nil {
		t.Errorf("errors on a healthy node: %v", mfs["llm_gpu_nvml_errors_total"])
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.badArray != "" {
		t.Errorf("metrics array misused: %s", m.badArray)
	}
	if m.maxPerGet > gpmMetricsPerCall || m.maxPerGet == 0 {
		t.Errorf("up to %d metrics per nvmlGpmMetricsGet, want 1..%d", m.maxPerGet, gpmMetricsPerCall)
	}
}

// TestGPMMetricsArrayByIndex: each call fills metrics[0:NumMetrics] with the
// ids it wants and reads each value back from the same index, whatever the
// array's length (a mock answering out of order is caught by the id check).
func TestGPMMetricsArrayByIndex(t *testing.T) {
	s := mockNode()
	withGPM(s)
	var calls atomic.Int32
	s.GpmMetricsGetFunc = func(g *nvml.GpmMetricsGetType) nvml.Return {
		calls.Add(1)
		if g.NumMetrics == 0 || int(g.NumMetrics) > len(g.Metrics) {
			return nvml.ERROR_INVALID_ARGUMENT
		}
		for k := 0; k < int(g.NumMetrics); k++ {
			g.Metrics[k].Value = float64(g.Metrics[k].MetricId) // percent: id/100
		}
		// A driver that wrote past NumMetrics must not be read.
		if int(g.NumMetrics) < len(g.Metrics) {
			g.Metrics[g.NumMetrics] = nvml.GpmMetric{MetricId: uint32(nvml.GPM_METRIC_SM_UTIL), Value: 99}
		}
		return nvml.SUCCESS
	}
	c := NewWithInterface(s, gpmConfig(), quiet)
	defer c.Close()
	families(t, c)
	waitGPM(t, c, 2)
	mfs := families(t, c)
	for name, id := range gpmRatioFamilies {
		if v, _ := valueOf(mfs[name], "gpu", "3"); !near(v, float64(id)/100) {
			t.Errorf("%s = %v, want %v (metric %d read from its own index)", name, v, float64(id)/100, id)
		}
	}
	if calls.Load() == 0 {
		t.Fatal("nvmlGpmMetricsGet never called")
	}
}

func TestGPMPerLinkNVLink(t *testing.T) {
	s := mockNode()
	withGPM(s)
	c := NewWithInterface(s, Config{GPM: true, GPMInterval: gpmMinInterval, GPMNVLinkPerLink: true}, quiet)
	defer c.Close()
	families(t, c)
	waitGPM(t, c, 2)
	mfs := families(t, c)
	if n := len(mfs["llm_gpu_nvlink_link_bytes_per_second"].GetMetric()); n != 8*18*2 {
		t.Errorf("%d per-link series, want 8 x 18 x 2", n)
	}
	want := float64(nvml.GPM_METRIC_NVLINK_L0_TX_PER_SEC+2*17) * (1 << 20)
	if v, _ := valueOf(mfs["llm_gpu_nvlink_link_bytes_per_second"], "gpu", "5", "link", "17", "direction", "tx"); v != want {
		t.Errorf("link 17 tx = %v, want %v", v, want)
	}
}

// TestGPMUnsupported: a GPU without GPM has no profiling series, not zeros,
// and the support gauge says why; it is never sampled.
func TestGPMUnsupported(t *testing.T) {
	s := mockNode()
	m := withGPM(s)
	query := s.GpmQueryDeviceSupportFunc
	s.GpmQueryDeviceSupportFunc = func(dev nvml.Device) (nvml.GpmSupport, nvml.Return) {
		switch dev.(*server.Device).Index {
		case 6:
			return nvml.GpmSupport{Version: 1, IsSupportedDevice: 0}, nvml.SUCCESS
		case 7:
			return nvml.GpmSupport{}, nvml.ERROR_NOT_SUPPORTED
		}
		return query(dev)
	}
	c := NewWithInterface(s, gpmConfig(), quiet)
	defer c.Close()
	families(t, c)
	waitGPM(t, c, 3)
	mfs := families(t, c)
	for _, gpu := range []string{"6", "7"} {
		if v, ok := valueOf(mfs["llm_gpu_gpm_supported"], "gpu", gpu, "reason", gpmReasonGPU); !ok || v != 0 {
			t.Errorf("gpm_supported{gpu=%s,reason=%s} = %v, %v; want 0", gpu, gpmReasonGPU, v, ok)
		}
		for name := range gpmRatioFamilies {
			if _, ok := valueOf(mfs[name], "gpu", gpu); ok {
				t.Errorf("%s served for GPU %s without GPM", name, gpu)
			}
		}
	}
	if n := len(mfs["llm_gpu_sm_active_ratio"].GetMetric()); n != 6 {
		t.Errorf("%d GPUs with SM activity, want 6", n)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.gets[6] != 0 || m.gets[7] != 0 {
		t.Errorf("unsupported GPUs sampled: %v", m.gets)
	}
	if mfs["llm_gpu_nvml_errors_total"] != nil {
		t.Errorf("an unsupported GPU is not an error: %v", mfs["llm_gpu_nvml_errors_total"])
	}
}

// TestGPMDriverWithoutGPM: a driver older than R520 lacks the GPM functions;
// they are never called (nil mock funcs would panic) and the support gauge
// says so.
func TestGPMDriverWithoutGPM(t *testing.T) {
	s := mockNode()
	s.LookupSymbolFunc = func(sym string) error {
		if sym == "nvmlGpmSampleGet" {
			return errors.New("undefined symbol " + sym)
		}
		return nil
	}
	c := NewWithInterface(s, gpmConfig(), quiet)
	defer c.Close()
	families(t, c)
	mfs := families(t, c)
	if c.gpm != nil {
		t.Error("a GPM sampler runs without the GPM functions")
	}
	if n := len(mfs["llm_gpu_gpm_supported"].GetMetric()); n != 8 {
		t.Errorf("%d support gauges, want 8", n)
	}
	if v, ok := valueOf(mfs["llm_gpu_gpm_supported"], "gpu", "0", "reason", gpmReasonDriver); !ok || v != 0 {
		t.Errorf("gpm_supported{reason=%s} = %v, %v", gpmReasonDriver, v, ok)
	}
	if mfs["llm_gpu_sm_active_ratio"] != nil {
		t.Error("GPM series without the GPM functions")
	}
}

func TestGPMOff(t *testing.T) {
	s := mockNode() // GPM funcs nil: calling one panics
	c := NewWithInterface(s, Config{}, quiet)
	defer c.Close()
	mfs := families(t, c)
	if mfs["llm_gpu_gpm_supported"] != nil || c.gpm != nil {
		t.Error("GPM sampled with --no-collector.gpu.gpm")
	}
}

// TestGPMErrorIsolated: one GPU's failing nvmlGpmMetricsGet is counted and
// costs only that GPU's GPM series.
func TestGPMErrorIsolated(t *testing.T) {
	s := mockNode()
	m := withGPM(s)
	m.metricsErr = func(gpu int) nvml.Return {
		if gpu == 2 {
			return nvml.ERROR_UNKNOWN
		}
		return nvml.SUCCESS
	}
	c := NewWithInterface(s, gpmConfig(), quiet)
	defer c.Close()
	families(t, c)
	waitGPM(t, c, 3)
	mfs := families(t, c)
	for name := range gpmRatioFamilies {
		if _, ok := valueOf(mfs[name], "gpu", "2"); ok {
			t.Errorf("%s served for the failing GPU", name)
		}
		if n := len(mfs[name].GetMetric()); n != 7 {
			t.Errorf("%s: %d series, want the 7 healthy GPUs", name, n)
		}
	}
	if v, _ := valueOf(mfs["llm_gpu_nvml_errors_total"], "gpu", "2", "call", "nvmlGpmMetricsGet", "return", nvml.ErrorString(nvml.ERROR_UNKNOWN)); v < 1 {
		t.Errorf("GPM errors not counted: %v", mfs["llm_gpu_nvml_errors_total"])
	}
	if v, _ := valueOf(mfs["llm_gpu_up"], "gpu", "2"); v != 1 {
		t.Error("a GPM error took the GPU down")
	}
	if v, _ := valueOf(mfs["llm_gpu_gpm_supported"], "gpu", "2"); v != 1 {
		t.Error("a GPM error is not unsupported")
	}
	// The error clears: the series come back at the next interval.
	m.mu.Lock()
	m.metricsErr = nil
	m.mu.Unlock()
	waitGPM(t, c, gpmTicks(c)+2)
	if _, ok := valueOf(families(t, c)["llm_gpu_sm_active_ratio"], "gpu", "2"); !ok {
		t.Error("GPU 2's GPM series did not come back once its errors stopped")
	}
}

// TestGPMLostGPU: a GPU lost mid-sample stops its own GPM series and is no
// longer sampled; the others keep theirs.
func TestGPMLostGPU(t *testing.T) {
	s := mockNode()
	m := withGPM(s)
	var lost atomic.Bool
	m.sampleErr = func(gpu, n int) nvml.Return {
		if gpu == 4 && lost.Load() {
			return nvml.ERROR_GPU_IS_LOST
		}
		return nvml.SUCCESS
	}
	c := NewWithInterface(s, gpmConfig(), quiet)
	defer c.Close()
	families(t, c)
	waitGPM(t, c, 2)
	if _, ok := valueOf(families(t, c)["llm_gpu_sm_active_ratio"], "gpu", "4"); !ok {
		t.Fatal("GPU 4 has no GPM series before it is lost")
	}
	lost.Store(true)
	waitGPM(t, c, gpmTicks(c)+2)
	m.mu.Lock()
	gets := m.gets[4]
	m.mu.Unlock()
	waitGPM(t, c, gpmTicks(c)+2)
	mfs := families(t, c)
	if _, ok := valueOf(mfs["llm_gpu_sm_active_ratio"], "gpu", "4"); ok {
		t.Error("the lost GPU still serves GPM series")
	}
	if n := len(mfs["llm_gpu_sm_active_ratio"].GetMetric()); n != 7 {
		t.Errorf("%d GPUs with SM activity, want 7", n)
	}
	if v, _ := valueOf(mfs["llm_gpu_nvml_errors_total"], "gpu", "4", "call", "nvmlGpmSampleGet", "return", nvml.ErrorString(nvml.ERROR_GPU_IS_LOST)); v != 1 {
		t.Errorf("lost GPU counted %v times, want once (then no longer sampled): %v", v, mfs["llm_gpu_nvml_errors_total"])
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.gets[4] != gets {
		t.Errorf("the lost GPU was still sampled (%d then %d calls)", gets, m.gets[4])
	}
}

// TestGPMMIG: a GPU in MIG mode is sampled per GPU instance.
func TestGPMMIG(t *testing.T) {
	s := mockNode()
	withGPM(s)
	d := device(s, 1)
	d.GetMigModeFunc = func() (int, int, nvml.Return) { return nvml.DEVICE_MIG_ENABLE, nvml.DEVICE_MIG_ENABLE, nvml.SUCCESS }
	d.GetGpuInstanceProfileInfoFunc = func(p int) (nvml.GpuInstanceProfileInfo, nvml.Return) {
		if p == nvml.GPU_INSTANCE_PROFILE_3_SLICE {
			return nvml.GpuInstanceProfileInfo{Id: uint32(p)}, nvml.SUCCESS
		}
		return nvml.GpuInstanceProfileInfo{}, nvml.ERROR_NOT_SUPPORTED
	}
	d.GetGpuInstancesFunc = func(*nvml.GpuInstanceProfileInfo) ([]nvml.GpuInstance, nvml.Return) {
		gi := func(id uint32) nvml.GpuInstance {
			return &mock.GpuInstance{GetInfoFunc: func() (nvml.GpuInstanceInfo, nvml.Return) {
				return nvml.GpuInstanceInfo{Id: id}, nvml.SUCCESS
			}}
		}
		return []nvml.GpuInstance{gi(1), gi(2)}, nvml.SUCCESS
	}
	c := NewWithInterface(s, gpmConfig(), quiet)
	defer c.Close()
	families(t, c)
	waitGPM(t, c, 2)
	mfs := families(t, c)
	for _, gi := range []int{1, 2} {
		want := (gpmBase[nvml.GPM_METRIC_SM_UTIL] + 1 + float64(gi+1)*1000) / 100
		if v, ok := valueOf(mfs["llm_gpu_sm_active_ratio"], "gpu", "1", "gpu_instance", fmt.Sprint(gi)); !ok || !near(v, want) {
			t.Errorf("sm_active{gpu=1,gpu_instance=%d} = %v, %v; want %v (through nvmlGpmMigSampleGet)", gi, v, ok, want)
		}
	}
	n := 0
	for _, s := range mfs["llm_gpu_sm_active_ratio"].GetMetric() {
		if labelOf(s, "gpu") == "1" {
			n++
		}
	}
	if n != 2 {
		t.Errorf("GPU 1 has %d SM activity series, want one per GPU instance", n)
	}
}

// TestGPMSerialisedAndRestarted: GPM calls never overlap, never happen while
// NVML is shut down (stale handles), across re-initialisations racing with
// scrapes; every sample is freed and nothing runs after Close.
func TestGPMSerialisedAndRestarted(t *testing.T) {
	s := mockNode()
	m := withGPM(s)
	c := NewWithInterface(s, gpmConfig(), quiet)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() { // concurrent scrapes
		defer wg.Done()
		ch := make(chan prometheus.Metric, 8192)
		for {
			select {
			case <-stop:
				return
			default:
			}
			c.Update(ch)
			for len(ch) > 0 {
				<-ch
			}
		}
	}()
	var samplers []*gpmSampler
	for i := 0; i < 5; i++ {
		families(t, c)
		waitGPM(t, c, 2)
		c.mu.Lock()
		samplers = append(samplers, c.gpm)
		c.shutdown() // what a lost GPU does; the next scrape re-initialises
		c.mu.Unlock()
	}
	close(stop)
	wg.Wait()
	c.mu.Lock()
	if c.gpm != nil {
		samplers = append(samplers, c.gpm)
	}
	c.mu.Unlock()
	c.Close()
	for i, sp := range samplers {
		select {
		case <-sp.stopped: // stopped before shutdown / Close returned
		default:
			t.Errorf("GPM sampler %d still runs after Close", i)
		}
	}
	if c.gpm != nil {
		t.Error("a GPM sampler is left after Close")
	}
	m.mu.Lock()
	allocs, frees := m.allocs, m.frees
	defer m.mu.Unlock()
	if o := m.overlaps.Load(); o != 0 {
		t.Errorf("%d overlapping GPM calls", o)
	}
	if n := m.stale.Load(); n != 0 {
		t.Errorf("%d GPM calls while NVML was shut down", n)
	}
	if allocs == 0 || allocs != frees {
		t.Errorf("%d samples allocated, %d freed", allocs, frees)
	}
	if m.badArray != "" {
		t.Errorf("metrics array misused: %s", m.badArray)
	}
}

func TestGPMIntervalMinimum(t *testing.T) {
	c := NewWithInterface(mockNode(), Config{GPM: true, GPMInterval: time.Millisecond}, quiet)
	if c.cfg.GPMInterval != gpmMinInterval {
		t.Errorf("interval %v, want NVML's minimum %v", c.cfg.GPMInterval, gpmMinInterval)
	}
	if c := NewWithInterface(mockNode(), Config{GPM: true}, quiet); c.cfg.GPMInterval != time.Second {
		t.Errorf("default interval %v, want 1s", c.cfg.GPMInterval)
	}
}

// BenchmarkGPMTick8GPUs: one sampler round over 8 mock H100s (a sample and
// the metrics since the last per GPU, 6 nvmlGpmMetricsGet calls each). The
// mock's own cost (moq's call recording, a 50 µs sleep per sample) is
// excluded: the sleep is removed here.
func BenchmarkGPMTick8GPUs(b *testing.B) {
	s := mockNode()
	withGPM(s)
	seq := 0
	s.GpmSampleGetFunc = func(dev nvml.Device, sample nvml.GpmSample) nvml.Return {
		seq++
		ts := sample.(*gpmTestSample)
		ts.gpu, ts.gi, ts.seq = dev.(*server.Device).Index, -1, seq
		return nvml.SUCCESS
	}
	c := NewWithInterface(s, Config{GPM: true, GPMInterval: time.Hour}, quiet)
	defer c.Close()
	families(b, c)
	waitGPM(b, c, 1)
	c.mu.Lock()
	sp := c.gpm
	c.mu.Unlock()
	// The goroutine waits an hour for its next tick: tick here alone.
	b.ReportAllocs()
	for b.Loop() {
		sp.tick()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/8, "ns/gpu")
}

// BenchmarkUpdate8GPUsGPM: the scrape with the GPM sampler on (its series
// read from the latest round), to compare with BenchmarkUpdate8GPUs.
func BenchmarkUpdate8GPUsGPM(b *testing.B) {
	s := mockNode()
	withGPM(s)
	c := NewWithInterface(s, Config{GPM: true, GPMInterval: time.Hour}, quiet)
	defer c.Close()
	families(b, c)
	waitGPM(b, c, 1)
	c.mu.Lock()
	c.gpm.tick()
	c.mu.Unlock()
	ch := make(chan prometheus.Metric, 4096)
	b.ReportAllocs()
	for b.Loop() {
		c.Update(ch)
		for len(ch) > 0 {
			<-ch
		}
	}
}

// TestGPMAfterAGPUComesBack: a GPU lost while NVML was initialised is dropped
// by the GPM sampler (and the XID watcher); when it answers again NVML is
// re-initialised, so its GPM series come back instead of staying absent until
// the exporter restarts.
func TestGPMAfterAGPUComesBack(t *testing.T) {
	s := mockNode()
	withGPM(s)
	var lost atomic.Bool
	handle := s.DeviceGetHandleByIndexFunc
	s.DeviceGetHandleByIndexFunc = func(i int) (nvml.Device, nvml.Return) {
		if i == 4 && lost.Load() {
			return nil, nvml.ERROR_GPU_IS_LOST
		}
		return handle(i)
	}
	c := NewWithInterface(s, gpmConfig(), quiet)
	defer c.Close()
	families(t, c)
	lost.Store(true)
	families(t, c) // lost: NVML shut down
	families(t, c) // re-initialised without GPU 4
	waitGPM(t, c, 2)
	if _, ok := valueOf(families(t, c)["llm_gpu_sm_active_ratio"], "gpu", "4"); ok {
		t.Fatal("the lost GPU serves GPM series")
	}
	lost.Store(false)
	if v, _ := valueOf(families(t, c)["llm_gpu_up"], "gpu", "4"); v != 1 {
		t.Fatal("GPU 4 not back")
	}
	families(t, c) // re-initialised with GPU 4
	waitGPM(t, c, 2)
	if _, ok := valueOf(families(t, c)["llm_gpu_sm_active_ratio"], "gpu", "4"); !ok {
		t.Error("GPU 4 answers again but its GPM series stay absent")
	}
}

// TestGPMMetricNotAvailable: a GPM metric the GPU does not support, or whose
// value is not a number, is absent and counted; the other metrics are served.
func TestGPMMetricNotAvailable(t *testing.T) {
	s := mockNode()
	withGPM(s)
	get := s.GpmMetricsGetFunc
	s.GpmMetricsGetFunc = func(g *nvml.GpmMetricsGetType) nvml.Return {
		ret := get(g)
		for k := 0; k < int(g.NumMetrics); k++ {
			switch nvml.GpmMetricId(g.Metrics[k].MetricId) {
			case nvml.GPM_METRIC_DRAM_BW_UTIL:
				g.Metrics[k].NvmlReturn = uint32(nvml.ERROR_NOT_SUPPORTED)
			case nvml.GPM_METRIC_FP64_UTIL:
				g.Metrics[k].Value = math.NaN()
			}
		}
		return ret
	}
	c := NewWithInterface(s, gpmConfig(), quiet)
	defer c.Close()
	families(t, c)
	waitGPM(t, c, 2)
	mfs := families(t, c)
	for _, name := range []string{"llm_gpu_dram_bandwidth_utilization_ratio", "llm_gpu_fp64_active_ratio"} {
		if mfs[name] != nil {
			t.Errorf("%s served from a metric NVML could not give: %v", name, mfs[name])
		}
	}
	if n := len(mfs["llm_gpu_sm_active_ratio"].GetMetric()); n != 8 {
		t.Errorf("%d SM activity series, want 8", n)
	}
	for ret, name := range map[string]string{nvml.ErrorString(nvml.ERROR_NOT_SUPPORTED): "not supported", retNotAvailable: "NaN"} {
		if v, _ := valueOf(mfs["llm_gpu_nvml_errors_total"], "gpu", "3", "call", "nvmlGpmMetricsGet", "return", ret); v < 1 {
			t.Errorf("%s GPM metric not counted: %v", name, mfs["llm_gpu_nvml_errors_total"])
		}
	}
}
