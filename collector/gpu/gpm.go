package gpu

import (
	"log/slog"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/llm-node-exporter/llm-node-exporter/collector"
)

// GPM (GPU Performance Monitoring, NVML R520+, Hopper and newer) gives the
// profiling figures DCGM calls DCGM_FI_PROF_*: SM active and occupancy,
// tensor and FP pipe activity, DRAM bandwidth, PCIe and NVLink bytes. They
// are computed by NVML between two samples taken at least 100 ms apart, so a
// background sampler takes one sample per GPU (or per MIG GPU instance) every
// interval and publishes the metrics between the last two; the scrape only
// reads what was published.
//
// Known traps this design avoids: every GPM call is made from the sampler's
// single goroutine (parallel GPM calls across GPUs have crashed inside cgo);
// metrics are asked for a few per nvmlGpmMetricsGet call, as DCGM does (many
// in one call gave bad values on H100); and go-nvml's metrics array is filled
// and read by index up to NumMetrics, bounded by its length, which changes
// between go-nvml versions.

// gpmMinInterval is NVML's minimum spacing of two samples.
const gpmMinInterval = 100 * time.Millisecond

// gpmMetricsPerCall is how many metrics one nvmlGpmMetricsGet call computes.
const gpmMetricsPerCall = 2

// gpmSymbols are the NVML functions every GPM GPU needs; nvmlGpmMigSampleGet
// is needed for GPUs in MIG mode only.
var gpmSymbols = []string{"nvmlGpmQueryDeviceSupport", "nvmlGpmSampleAlloc", "nvmlGpmSampleFree", "nvmlGpmSampleGet", "nvmlGpmMetricsGet"}

const gpmMigSymbol = "nvmlGpmMigSampleGet"

// Families of GPM series, indexes into descs.gpm.
const (
	gpmSMActive = iota
	gpmSMOccupancy
	gpmTensorActive
	gpmTensorHMMAActive
	gpmFP64Active
	gpmFP32Active
	gpmFP16Active
	gpmDRAMBandwidth
	gpmPCIeBytes
	gpmNVLinkBytes
	gpmNVLinkLinkBytes
	gpmFamilies
)

// gpmSeries is one GPM metric and the series it feeds.
type gpmSeries struct {
	id     nvml.GpmMetricId
	family int
	unit   int      // NVML's unit: percent or mib (MiB/s)
	labels []string // direction, link
}

// NVML's units, converted to ratios and bytes per second.
const (
	percent = iota
	mib
)

func (se gpmSeries) convert(v float64) float64 {
	if se.unit == percent {
		return v / 100 // v*0.01 would serve 57% as 0.5700000000000001
	}
	return v * (1 << 20)
}

// gpmNVLinkMaxLinks is the number of per-link GPM NVLink metrics (L0..L17).
const gpmNVLinkMaxLinks = 18

func gpmSeriesList(perLink bool) []gpmSeries {
	s := []gpmSeries{
		{nvml.GPM_METRIC_SM_UTIL, gpmSMActive, percent, nil},
		{nvml.GPM_METRIC_SM_OCCUPANCY, gpmSMOccupancy, percent, nil},
		{nvml.GPM_METRIC_ANY_TENSOR_UTIL, gpmTensorActive, percent, nil},
		{nvml.GPM_METRIC_HMMA_TENSOR_UTIL, gpmTensorHMMAActive, percent, nil},
		{nvml.GPM_METRIC_FP64_UTIL, gpmFP64Active, percent, nil},
		{nvml.GPM_METRIC_FP32_UTIL, gpmFP32Active, percent, nil},
		{nvml.GPM_METRIC_FP16_UTIL, gpmFP16Active, percent, nil},
		{nvml.GPM_METRIC_DRAM_BW_UTIL, gpmDRAMBandwidth, percent, nil},
		{nvml.GPM_METRIC_PCIE_TX_PER_SEC, gpmPCIeBytes, mib, []string{"tx"}},
		{nvml.GPM_METRIC_PCIE_RX_PER_SEC, gpmPCIeBytes, mib, []string{"rx"}},
		{nvml.GPM_METRIC_NVLINK_TOTAL_TX_PER_SEC, gpmNVLinkBytes, mib, []string{"tx"}},
		{nvml.GPM_METRIC_NVLINK_TOTAL_RX_PER_SEC, gpmNVLinkBytes, mib, []string{"rx"}},
	}
	if perLink {
		for link := 0; link < gpmNVLinkMaxLinks; link++ {
			id := strconv.Itoa(link)
			s = append(s,
				gpmSeries{nvml.GPM_METRIC_NVLINK_L0_TX_PER_SEC + nvml.GpmMetricId(2*link), gpmNVLinkLinkBytes, mib, []string{"tx", id}},
				gpmSeries{nvml.GPM_METRIC_NVLINK_L0_RX_PER_SEC + nvml.GpmMetricId(2*link), gpmNVLinkLinkBytes, mib, []string{"rx", id}})
		}
	}
	return s
}

// Why a GPU has no GPM series (the reason label of llm_gpu_gpm_supported).
const (
	gpmReasonGPU       = "gpu_not_supported"     // the GPU has no GPM (before Hopper)
	gpmReasonDriver    = "driver_lacks_gpm"      // the driver predates GPM (R520)
	gpmReasonMIGDriver = "driver_lacks_gpm_mig"  // MIG mode on, no nvmlGpmMigSampleGet
	gpmReasonQuery     = "support_query_failed"  // nvmlGpmQueryDeviceSupport failed
	gpmReasonAlloc     = "sample_alloc_failed"   // nvmlGpmSampleAlloc failed
	gpmReasonMIGList   = "mig_instances_unknown" // MIG mode on, GPU instances not listed
)

// gpmSampler owns every GPM call. It is started by ensureInit and stopped by
// shutdown, so it never outlives the NVML handles it uses.
type gpmSampler struct {
	lib      nvml.Interface
	logger   *slog.Logger
	interval time.Duration
	series   []gpmSeries
	calls    [][]int // indexes into series, gpmMetricsPerCall at most per call
	gpus     []*gpmGPU
	migGet   bool // nvmlGpmMigSampleGet is in the driver
	get      nvml.GpmMetricsGetType

	mu      sync.Mutex // guards the published fields below and errors
	errors  map[errorKey]float64
	logOnce *collector.LogOnce

	ticks     atomic.Int64 // completed sampling rounds, for tests
	announced bool         // the first computed round was logged
	done      chan struct{}
	stopped   chan struct{}
	once      sync.Once
}

// gpmGPU is one GPU the sampler watches.
type gpmGPU struct {
	index   int
	uuid    string
	dev     nvml.Device
	mig     bool
	targets []*gpmTarget
	// published (under gpmSampler.mu); known is false until support was queried.
	known     bool
	supported bool
	reason    string
}

// gpmTarget is a GPU, or one MIG GPU instance, sampled on its own.
type gpmTarget struct {
	gi       int    // GPU instance id; -1 for the whole GPU
	giLabel  string // "" for the whole GPU
	prev     nvml.GpmSample
	cur      nvml.GpmSample
	havePrev bool
	lost     bool
	values   []float64 // scratch, one per series, NaN when not available
	// published (under gpmSampler.mu): nil when there is nothing to serve.
	published []float64
}

// startGPM lists the GPUs (and their MIG GPU instances) and starts the
// sampler goroutine, which makes every GPM call from then on. Called with
// c.mu held, right after NVML initialisation.
func (c *Collector) startGPM() {
	for _, sym := range gpmSymbols {
		if c.missing[sym] {
			c.gpmNoDriver = true
			return
		}
	}
	c.gpmNoDriver = false
	s := &gpmSampler{
		lib:      c.lib,
		logger:   c.logger,
		interval: c.cfg.GPMInterval,
		series:   gpmSeriesList(c.cfg.GPMNVLinkPerLink),
		migGet:   !c.missing[gpmMigSymbol],
		errors:   map[errorKey]float64{},
		logOnce:  collector.NewLogOnce(c.logger),
		done:     make(chan struct{}),
		stopped:  make(chan struct{}),
	}
	per := min(gpmMetricsPerCall, len(s.get.Metrics))
	for i := 0; i < len(s.series); i += per {
		var call []int
		for j := i; j < min(i+per, len(s.series)); j++ {
			call = append(call, j)
		}
		s.calls = append(s.calls, call)
	}
	if n, ret := c.lib.DeviceGetCount(); ret == nvml.SUCCESS {
		for i := 0; i < n; i++ {
			dev, ret := c.lib.DeviceGetHandleByIndex(i)
			if ret != nvml.SUCCESS {
				continue // Update reports it
			}
			uuid, ret := dev.GetUUID()
			if ret != nvml.SUCCESS {
				continue
			}
			g := &gpmGPU{index: i, uuid: uuid, dev: dev}
			if cur, _, ret := dev.GetMigMode(); ret == nvml.SUCCESS && cur == nvml.DEVICE_MIG_ENABLE {
				g.mig = true
			}
			s.gpus = append(s.gpus, g)
		}
	}
	c.gpm = s
	go s.run()
}

// stopGPM stops the sampler, waits for its goroutine (which frees its samples)
// and keeps its error counts. Called with c.mu held, before NVML shuts down.
func (c *Collector) stopGPM() {
	if c.gpm == nil {
		return
	}
	c.gpm.stop()
	c.drainGPMErrors()
	c.gpm = nil
}

func (s *gpmSampler) stop() {
	s.once.Do(func() { close(s.done) })
	<-s.stopped
}

// drainGPMErrors moves the sampler's error counts into the collector's.
func (c *Collector) drainGPMErrors() {
	if c.gpm == nil {
		return
	}
	c.gpm.mu.Lock()
	defer c.gpm.mu.Unlock()
	for k, v := range c.gpm.errors {
		c.errors[k] += v
		delete(c.gpm.errors, k)
	}
}

func (s *gpmSampler) run() {
	defer close(s.stopped)
	defer s.free()
	defer func() {
		// A sampler bug must never take the exporter down with it.
		if r := recover(); r != nil {
			s.logger.Error("GPM sampler stopped", "panic", r)
		}
	}()
	s.setup()
	t := time.NewTicker(s.interval)
	defer t.Stop()
	for {
		s.tick()
		select {
		case <-s.done:
			return
		case <-t.C:
		}
	}
}

// setup queries GPM support and allocates two samples per target.
func (s *gpmSampler) setup() {
	for _, g := range s.gpus {
		select {
		case <-s.done:
			return
		default:
		}
		supported, reason := s.setupGPU(g)
		s.mu.Lock()
		g.known, g.supported, g.reason = true, supported, reason
		s.mu.Unlock()
	}
}

func (s *gpmSampler) setupGPU(g *gpmGPU) (bool, string) {
	support, ret := s.lib.GpmQueryDeviceSupport(g.dev)
	switch {
	case ret == nvml.ERROR_NOT_SUPPORTED:
		return false, gpmReasonGPU
	case ret != nvml.SUCCESS:
		s.countError(g, "nvmlGpmQueryDeviceSupport", ret)
		return false, gpmReasonQuery
	case support.IsSupportedDevice == 0:
		return false, gpmReasonGPU
	}
	if g.mig {
		if !s.migGet {
			return false, gpmReasonMIGDriver
		}
		ids, ok := gpuInstanceIDs(g.dev)
		if !ok {
			return false, gpmReasonMIGList
		}
		for _, id := range ids {
			g.targets = append(g.targets, &gpmTarget{gi: id, giLabel: strconv.Itoa(id)})
		}
	} else {
		g.targets = []*gpmTarget{{gi: -1}}
	}
	for _, t := range g.targets {
		t.values = make([]float64, len(s.series))
		for _, p := range []*nvml.GpmSample{&t.prev, &t.cur} {
			sample, ret := s.lib.GpmSampleAlloc()
			if ret != nvml.SUCCESS {
				s.countError(g, "nvmlGpmSampleAlloc", ret)
				return false, gpmReasonAlloc
			}
			*p = sample
		}
	}
	return true, ""
}

// gpuInstanceIDs lists a MIG GPU's GPU instances, profile by profile.
func gpuInstanceIDs(dev nvml.Device) ([]int, bool) {
	var ids []int
	listed := false
	for p := 0; p < nvml.GPU_INSTANCE_PROFILE_COUNT; p++ {
		info, ret := dev.GetGpuInstanceProfileInfo(p)
		if ret != nvml.SUCCESS {
			continue
		}
		gis, ret := dev.GetGpuInstances(&info)
		if ret != nvml.SUCCESS {
			continue
		}
		listed = true
		for _, gi := range gis {
			if gii, ret := gi.GetInfo(); ret == nvml.SUCCESS {
				ids = append(ids, int(gii.Id))
			}
		}
	}
	return ids, listed
}

// free returns every sample to NVML. It runs in the sampler goroutine, before
// stop() returns and so before NVML shuts down.
func (s *gpmSampler) free() {
	for _, g := range s.gpus {
		for _, t := range g.targets {
			for _, p := range []*nvml.GpmSample{&t.prev, &t.cur} {
				if *p != nil {
					s.lib.GpmSampleFree(*p)
					*p = nil
				}
			}
		}
	}
}

// tick takes one sample of every supported target, GPU after GPU, and
// publishes the metrics since the target's previous sample.
func (s *gpmSampler) tick() {
	computed := 0
	for _, g := range s.gpus {
		select {
		case <-s.done:
			return
		default:
		}
		if !g.supported {
			continue
		}
		for _, t := range g.targets {
			if t.lost {
				if t.published != nil {
					s.mu.Lock()
					t.published = nil
					s.mu.Unlock()
				}
				continue
			}
			ok := s.sample(g, t)
			s.mu.Lock()
			if ok {
				computed++
				t.published = append(t.published[:0], t.values...)
			} else {
				t.published = nil
			}
			s.mu.Unlock()
		}
	}
	if computed > 0 && !s.announced {
		s.announced = true
		s.logger.Info("GPM metrics computed", "targets", computed, "interval", s.interval)
	}
	s.ticks.Add(1)
}

// sample takes t's next sample and computes the metrics since the previous
// one into t.values; false when there is nothing to publish.
func (s *gpmSampler) sample(g *gpmGPU, t *gpmTarget) bool {
	var ret nvml.Return
	call := "nvmlGpmSampleGet"
	if t.gi < 0 {
		ret = s.lib.GpmSampleGet(g.dev, t.cur)
	} else {
		call = gpmMigSymbol
		ret = s.lib.GpmMigSampleGet(g.dev, t.gi, t.cur)
	}
	if ret != nvml.SUCCESS {
		s.countError(g, call, ret)
		if isLost(ret) {
			// The GPU fell off the bus: stop sampling it; the scrape sees it
			// lost too and re-initialises NVML, which restarts the sampler.
			for _, t := range g.targets {
				t.lost = true
			}
		}
		return false // keep prev: the next good sample pairs with it
	}
	if !t.havePrev {
		t.prev, t.cur, t.havePrev = t.cur, t.prev, true
		return false
	}
	got := s.compute(g, t)
	t.prev, t.cur = t.cur, t.prev
	return got
}

// compute fills t.values from t.prev and t.cur, a few metrics per call.
func (s *gpmSampler) compute(g *gpmGPU, t *gpmTarget) bool {
	got := false
	for i := range t.values {
		t.values[i] = math.NaN()
	}
	for _, call := range s.calls {
		get := &s.get
		get.Version = nvml.GPM_METRICS_GET_VERSION // go-nvml sets it too, mocks do not
		get.NumMetrics = uint32(len(call))
		get.Sample1, get.Sample2 = t.prev, t.cur
		for k := range get.Metrics {
			get.Metrics[k] = nvml.GpmMetric{}
		}
		for k, si := range call {
			get.Metrics[k].MetricId = uint32(s.series[si].id)
		}
		ret := s.lib.GpmMetricsGet(get)
		get.Sample1, get.Sample2 = nil, nil
		if ret != nvml.SUCCESS {
			s.countError(g, "nvmlGpmMetricsGet", ret)
			if isLost(ret) {
				for _, t := range g.targets {
					t.lost = true
				}
				return false
			}
			continue
		}
		for k, si := range call {
			m := get.Metrics[k]
			if m.MetricId != uint32(s.series[si].id) {
				continue
			}
			if r := nvml.Return(m.NvmlReturn); r != nvml.SUCCESS {
				s.countError(g, "nvmlGpmMetricsGet", r) // a metric this GPU lacks included
				continue
			}
			if math.IsNaN(m.Value) || math.IsInf(m.Value, 0) {
				s.countReturn(g, "nvmlGpmMetricsGet", retNotAvailable)
				continue
			}
			t.values[si] = s.series[si].convert(m.Value)
			got = true
		}
	}
	return got
}

func (s *gpmSampler) countError(g *gpmGPU, call string, ret nvml.Return) {
	s.countReturn(g, call, nvml.ErrorString(ret))
}

func (s *gpmSampler) countReturn(g *gpmGPU, call, ret string) {
	gpu := strconv.Itoa(g.index)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.errors[errorKey{gpu: gpu, call: call, ret: ret}]++
	s.logOnce.Log(gpu+call+ret, "NVML GPM call gave no value", "gpu", gpu, "call", call, "return", ret)
}

// addGPM adds a GPU's GPM support gauge and latest GPM metrics to its batch.
func (c *Collector) addGPM(b *batch, index int, st *deviceState) {
	if !c.cfg.GPM {
		return
	}
	with := b.with
	if c.gpmNoDriver {
		b.add(c.d.gpmSupported, prometheus.GaugeValue, 0, with(gpmReasonDriver))
		return
	}
	s := c.gpm
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, g := range s.gpus {
		if g.index != index || g.uuid != st.uuid || !g.known {
			continue
		}
		b.add(c.d.gpmSupported, prometheus.GaugeValue, boolValue(g.supported), with(g.reason))
		for _, t := range g.targets {
			for si, v := range t.published {
				if math.IsNaN(v) {
					continue
				}
				se := s.series[si]
				b.add(c.d.gpm[se.family], prometheus.GaugeValue, v, append(with(t.giLabel), se.labels...))
			}
		}
	}
}
