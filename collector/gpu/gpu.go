// Package gpu collects NVIDIA GPU metrics through NVML (github.com/NVIDIA/go-nvml)
// as llm_gpu_* series labelled with the GPU index and UUID, plus the
// attribution labels (pod, dp_rank, ...) of an Attributor when one is set.
//
// Failure isolation: no libnvidia-ml (a CPU node) fails the collector, logged
// once and retried with backoff; a lost GPU (ERROR_GPU_IS_LOST, GPU_NOT_FOUND)
// reports up=0 for that GPU only and triggers an NVML re-initialisation; a
// function the installed driver lacks is looked up once and never called.
package gpu

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/llm-node-exporter/llm-node-exporter/collector"
)

const subsystem = "gpu"

// Attributor supplies the labels that tie a GPU to the workload using it.
// LabelNames is fixed for the collector's lifetime; values are "" when unknown.
type Attributor interface {
	LabelNames() []string
	AppendGPULabels(dst []string, uuid string) []string
}

// Config of the gpu collector.
type Config struct {
	// LibraryPath overrides where libnvidia-ml.so.1 is dlopened from.
	LibraryPath string
	// PCIeThroughput enables the PCIe TX/RX samples, which cost ~20 ms per
	// direction per GPU inside NVML and are therefore opt-in.
	PCIeThroughput bool
	// XIDEvents runs the XID event watcher.
	XIDEvents bool
	// GPM runs the GPM profiling sampler (SM/tensor/DRAM activity, PCIe and
	// NVLink bytes) every GPMInterval (at least 100 ms; 1 s when zero).
	GPM              bool
	GPMInterval      time.Duration
	GPMNVLinkPerLink bool
	Attributor       Attributor
	// MaxInitBackoff caps the delay between NVML initialisation attempts.
	MaxInitBackoff time.Duration
}

// Collector is the NVML collector. Update is serialised.
type Collector struct {
	mu     sync.Mutex
	logger *slog.Logger
	cfg    Config
	lib    nvml.Interface
	now    func() time.Time

	initialized bool
	nextInit    time.Time
	backoff     time.Duration // between failed initialisations
	nextReinit  time.Time
	lostBackoff time.Duration   // between re-initialisations while a GPU stays lost
	missing     map[string]bool // NVML symbols absent from the installed driver
	driver      string
	cuda        string

	devices map[int]*deviceState
	xid     *xidWatcher
	gpm     *gpmSampler
	// gpmNoDriver: GPM is on but the driver lacks the GPM functions.
	gpmNoDriver bool
	errors      map[errorKey]float64
	logOnce     *collector.LogOnce

	// Scratch reused by every scrape.
	pending     []pendingMetric
	scratch     []string
	lastSamples int

	d descs
}

// deviceState is a GPU's identity, kept across NVML re-initialisations so a
// GPU that is lost keeps its uuid (and its XID counters their gpu label).
type deviceState struct {
	uuid, name, busID string
	stale             bool     // re-read the identity when the GPU answers again
	pids              []int    // compute processes last seen, for attribution while it is lost
	labels            []string // gpu, uuid, attribution...
	pairBase          []string // the labels pairs was built for
	pairs             map[pairKey][]*dto.LabelPair
}

type errorKey struct{ gpu, call, ret string }

// New returns a gpu collector over the real NVML library.
func New(cfg Config, logger *slog.Logger) *Collector {
	var opts []nvml.LibraryOption
	if cfg.LibraryPath != "" {
		opts = append(opts, nvml.WithLibraryPath(cfg.LibraryPath))
	}
	return NewWithInterface(nvml.New(opts...), cfg, logger)
}

// NewWithInterface returns a gpu collector over any nvml.Interface, such as
// go-nvml's mocks in tests.
func NewWithInterface(lib nvml.Interface, cfg Config, logger *slog.Logger) *Collector {
	if cfg.MaxInitBackoff <= 0 {
		cfg.MaxInitBackoff = 5 * time.Minute
	}
	if cfg.GPMInterval == 0 {
		cfg.GPMInterval = time.Second
	}
	if cfg.GPM && cfg.GPMInterval < gpmMinInterval {
		logger.Warn("GPM interval below NVML's minimum; using the minimum", "interval", cfg.GPMInterval, "minimum", gpmMinInterval)
		cfg.GPMInterval = gpmMinInterval
	}
	var extra []string
	if cfg.Attributor != nil {
		extra = cfg.Attributor.LabelNames()
	}
	return &Collector{
		logger:  logger,
		cfg:     cfg,
		lib:     lib,
		now:     time.Now,
		devices: map[int]*deviceState{},
		errors:  map[errorKey]float64{},
		logOnce: collector.NewLogOnce(logger),
		d:       newDescs(extra),
	}
}

// Close stops the XID watcher and shuts NVML down.
func (c *Collector) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.shutdown()
}

// Update collects every GPU.
func (c *Collector) Update(ch chan<- prometheus.Metric) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	defer c.sendErrors(ch)
	if err := c.ensureInit(); err != nil {
		return err
	}
	count, ret := c.lib.DeviceGetCount()
	if ret != nvml.SUCCESS {
		c.countError("", "nvmlDeviceGetCount", ret)
		c.shutdown() // the next scrape re-initialises, with backoff if that fails
		return fmt.Errorf("nvmlDeviceGetCount: %s", nvml.ErrorString(ret))
	}
	samples := collector.NewSamples(c.lastSamples)
	lost := false
	for i := 0; i < count; i++ {
		if !c.collectDevice(ch, samples, i) {
			lost = true
		}
	}
	c.lastSamples = samples.Len()
	if c.xid != nil {
		c.xid.collect(ch, c)
	}
	if lost {
		c.reinitForLostGPU()
	} else {
		c.lostBackoff = 0
	}
	return nil
}

// reinitForLostGPU shuts NVML down so the next scrape re-initialises at once:
// a GPU that fell off the bus needs fresh handles once it is back. While it
// stays lost this happens with exponential backoff, not on every scrape
// (each re-init also restarts the XID watcher).
func (c *Collector) reinitForLostGPU() {
	now := c.now()
	if now.Before(c.nextReinit) {
		return
	}
	c.lostBackoff = min(max(2*c.lostBackoff, 30*time.Second), c.cfg.MaxInitBackoff)
	c.nextReinit = now.Add(c.lostBackoff)
	c.shutdown()
}

// ensureInit initialises NVML, retrying with exponential backoff so a node
// without the driver costs one failed dlopen per backoff period, not per scrape.
func (c *Collector) ensureInit() error {
	if c.initialized {
		return nil
	}
	now := c.now()
	if now.Before(c.nextInit) {
		return errors.New("NVML not initialised; waiting to retry")
	}
	ret := c.lib.Init()
	if ret != nvml.SUCCESS {
		c.backoff = min(max(2*c.backoff, time.Second), c.cfg.MaxInitBackoff)
		c.nextInit = now.Add(c.backoff)
		err := fmt.Errorf("NVML init: %s", nvml.ErrorString(ret))
		if ret == nvml.ERROR_LIBRARY_NOT_FOUND {
			err = fmt.Errorf("NVML init: libnvidia-ml.so.1 not found (no NVIDIA driver on this node? set --collector.gpu.nvml-library or --no-collector.gpu): %w", errLibraryNotFound)
		}
		c.logOnce.Log("init:"+nvml.ErrorString(ret), "cannot initialise NVML; retrying with backoff", "err", err, "retry_in", c.backoff)
		return err
	}
	c.initialized, c.backoff = true, 0
	c.missing = map[string]bool{}
	for _, sym := range optionalSymbols {
		if err := c.lib.Extensions().LookupSymbol(sym); err != nil {
			c.missing[sym] = true
			c.logger.Info("NVML function not in the installed driver; its metrics are skipped", "function", sym)
		}
	}
	c.driver, _ = c.lib.SystemGetDriverVersion()
	if v, ret := c.lib.SystemGetCudaDriverVersion(); ret == nvml.SUCCESS {
		c.cuda = fmt.Sprintf("%d.%d", v/1000, v%1000/10)
	}
	for _, st := range c.devices {
		st.stale = true
	}
	if c.cfg.XIDEvents && !c.missing["nvmlEventSetCreate"] {
		c.xid = startXIDWatcher(c.lib, c.logger, c.xid)
	}
	if c.cfg.GPM {
		c.startGPM()
	}
	c.logger.Info("NVML initialised", "driver", c.driver, "cuda", c.cuda)
	return nil
}

var errLibraryNotFound = errors.New("NVML library not found")

func (c *Collector) shutdown() {
	if c.xid != nil {
		c.xid.stop()
	}
	c.stopGPM() // before Shutdown: its samples are freed with NVML still up
	if c.initialized {
		c.lib.Shutdown()
		c.initialized = false
	}
}

// optionalSymbols are NVML functions newer than the oldest supported driver:
// calling a symbol the loaded library lacks would crash the process.
var optionalSymbols = []string{
	"nvmlDeviceGetCurrentClocksEventReasons",
	"nvmlDeviceGetRemappedRows",
	"nvmlDeviceGetMemoryInfo_v2",
	"nvmlDeviceGetTotalEnergyConsumption",
	"nvmlDeviceGetFieldValues",
	"nvmlDeviceGetNvLinkState",
	"nvmlDeviceGetNvLinkErrorCounter",
	"nvmlDeviceGetPcieReplayCounter",
	"nvmlEventSetCreate",
	"nvmlGpmQueryDeviceSupport", // GPM: R520+
	"nvmlGpmSampleAlloc",
	"nvmlGpmSampleFree",
	"nvmlGpmSampleGet",
	"nvmlGpmMetricsGet",
	"nvmlGpmMigSampleGet",
}

// collectDevice sends one GPU's series; it reports false when the GPU is lost,
// in which case only its up=0 is sent.
func (c *Collector) collectDevice(ch chan<- prometheus.Metric, samples *collector.Samples, index int) bool {
	dev, ret := c.lib.DeviceGetHandleByIndex(index)
	st := c.devices[index]
	if ret != nvml.SUCCESS {
		return c.deviceFailed(ch, index, st, "nvmlDeviceGetHandleByIndex", ret)
	}
	if st == nil || st.stale {
		uuid, ret := dev.GetUUID()
		if ret != nvml.SUCCESS {
			return c.deviceFailed(ch, index, st, "nvmlDeviceGetUUID", ret)
		}
		st = &deviceState{uuid: uuid}
		st.name, _ = dev.GetName()
		if pci, ret := dev.GetPciInfo(); ret == nvml.SUCCESS {
			st.busID = busID(pci)
		}
		c.devices[index] = st
	}
	st.labels = c.labelValues(index, st.uuid)
	if st.pairs == nil || !slices.Equal(st.labels, st.pairBase) {
		st.pairBase, st.pairs = st.labels, map[pairKey][]*dto.LabelPair{}
	}

	b := &batch{c: c, st: st, gpu: strconv.Itoa(index), pending: c.pending[:0], scratch: c.scratch[:0]}
	c.readDevice(b, dev, st)
	c.addGPM(b, index, st)
	c.pending, c.scratch = b.pending[:0], b.scratch[:0]
	if b.lost {
		c.sendUp(ch, st, 0)
		return false
	}
	c.sendUp(ch, st, 1)
	for _, m := range b.pending {
		samples.Send(ch, m.desc, m.typ, m.value, m.labels)
	}
	return true
}

func (c *Collector) deviceFailed(ch chan<- prometheus.Metric, index int, st *deviceState, call string, ret nvml.Return) bool {
	c.countError(strconv.Itoa(index), call, ret)
	if st == nil {
		st = &deviceState{stale: true}
		c.devices[index] = st
	}
	st.labels = c.labelValues(index, st.uuid)
	c.sendUp(ch, st, 0)
	return !isLost(ret)
}

func (c *Collector) sendUp(ch chan<- prometheus.Metric, st *deviceState, v float64) {
	ch <- prometheus.MustNewConstMetric(c.d.up, prometheus.GaugeValue, v, st.labels...)
}

func (c *Collector) labelValues(index int, uuid string) []string {
	values := []string{strconv.Itoa(index), uuid}
	if c.cfg.Attributor != nil {
		values = c.cfg.Attributor.AppendGPULabels(values, uuid)
	}
	return values
}

func isLost(ret nvml.Return) bool {
	return ret == nvml.ERROR_GPU_IS_LOST || ret == nvml.ERROR_GPU_NOT_FOUND
}

func (c *Collector) countError(gpu, call string, ret nvml.Return) {
	c.errors[errorKey{gpu: gpu, call: call, ret: nvml.ErrorString(ret)}]++
	c.logOnce.Log(gpu+call+nvml.ErrorString(ret), "NVML call failed", "gpu", gpu, "call", call, "err", nvml.ErrorString(ret))
}

func (c *Collector) sendErrors(ch chan<- prometheus.Metric) {
	c.drainGPMErrors()
	for k, v := range c.errors {
		ch <- prometheus.MustNewConstMetric(c.d.errors, prometheus.CounterValue, v, k.gpu, k.call, k.ret)
	}
}

// busID is NVML's bus id string, or one formatted from the numeric fields
// when the string is empty (as in some mocks and older drivers).
func busID(pci nvml.PciInfo) string {
	b := make([]byte, 0, len(pci.BusId))
	for _, c := range pci.BusId {
		if c == 0 {
			break
		}
		b = append(b, byte(c))
	}
	if len(b) == 0 && (pci.Bus != 0 || pci.Domain != 0) {
		return fmt.Sprintf("%08x:%02x:%02x.0", pci.Domain, pci.Bus, pci.Device)
	}
	return string(b)
}
