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
	closed      bool // Close was called: NVML is never initialised again
	nextInit    time.Time
	backoff     time.Duration // between failed initialisations (Init, or DeviceGetCount after it)
	nextReinit  time.Time
	lostBackoff time.Duration   // between re-initialisations while a GPU stays lost
	missing     map[string]bool // NVML symbols absent from the installed driver
	driver      string
	cuda        string

	devices map[int]*deviceState
	xid     *xidWatcher
	xids    *xidCounts // outlive the watcher, which each initialisation restarts
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
	// lostSinceInit: the GPU was lost since NVML was last initialised, so the
	// GPM sampler stopped sampling it; when it answers again NVML is
	// re-initialised so that the sampler and the XID watcher take it back.
	lostSinceInit bool
}

// errorKey identifies a count of llm_gpu_nvml_errors_total; ret is NVML's
// error string, or retNotAvailable for a value NVML marked not available.
type errorKey struct{ gpu, call, ret string }

// retNotAvailable is the return label of a call that succeeded with a value
// NVML marks as not available (NVML_VALUE_NOT_AVAILABLE, all bits set).
const retNotAvailable = "Value Not Available"

// retOutOfRange is the return label of a value outside its possible range
// (a utilisation above 100 %).
const retOutOfRange = "Value Out Of Range"

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
		xids:    newXIDCounts(),
		errors:  map[errorKey]float64{},
		logOnce: collector.NewLogOnce(logger),
		d:       newDescs(extra),
	}
}

// Close stops the XID watcher and the GPM sampler and shuts NVML down, for
// good: a scrape or an attribution listing after Close fails rather than
// initialising NVML again. It waits for a scrape in progress.
func (c *Collector) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.shutdown()
	c.closed = true
}

var errClosed = errors.New("gpu collector closed")

// Update collects every GPU.
func (c *Collector) Update(ch chan<- prometheus.Metric) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	defer c.sendErrors(ch)
	count, err := c.deviceCount()
	if err != nil {
		return err
	}
	samples := collector.NewSamples(c.lastSamples)
	lost, recovered := false, false
	for i := 0; i < count; i++ {
		switch c.collectDevice(ch, samples, i) {
		case deviceLost:
			lost = true
		case deviceRecovered:
			recovered = true
		}
	}
	c.lastSamples = samples.Len()
	c.xids.collect(ch, c)
	switch {
	case lost:
		c.reinitForLostGPU()
	case recovered:
		// A GPU lost since the last initialisation answers again: the
		// next scrape re-initialises so GPM and XID events cover it again.
		c.lostBackoff = 0
		c.shutdown()
	default:
		c.lostBackoff = 0
	}
	return nil
}

// deviceCount initialises NVML if needed and asks for the number of GPUs. A
// DeviceGetCount that fails after a good Init is a failed initialisation:
// NVML is shut down and retried with the same backoff, not re-initialised
// (restarting the XID watcher and the GPM sampler) on every scrape.
func (c *Collector) deviceCount() (int, error) {
	if err := c.ensureInit(); err != nil {
		return 0, err
	}
	count, ret := c.lib.DeviceGetCount()
	if ret != nvml.SUCCESS {
		c.countError("", "nvmlDeviceGetCount", ret)
		c.shutdown()
		c.backOff(c.now())
		err := fmt.Errorf("nvmlDeviceGetCount: %s", nvml.ErrorString(ret))
		c.logOnce.Log("count:"+nvml.ErrorString(ret), "NVML lists no GPUs; re-initialising with backoff", "err", err, "retry_in", c.backoff)
		return 0, err
	}
	c.backoff = 0
	return count, nil
}

// backOff schedules the next initialisation attempt after a failed one, the
// delay doubling from 1 s up to MaxInitBackoff.
func (c *Collector) backOff(now time.Time) {
	c.backoff = min(max(2*c.backoff, time.Second), c.cfg.MaxInitBackoff)
	c.nextInit = now.Add(c.backoff)
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
	if c.closed {
		return errClosed
	}
	if c.initialized {
		return nil
	}
	now := c.now()
	if now.Before(c.nextInit) {
		return errors.New("NVML not initialised; waiting to retry")
	}
	ret := c.lib.Init()
	if ret != nvml.SUCCESS {
		c.backOff(now)
		err := fmt.Errorf("NVML init: %s", nvml.ErrorString(ret))
		if ret == nvml.ERROR_LIBRARY_NOT_FOUND {
			err = fmt.Errorf("NVML init: libnvidia-ml.so.1 not found (no NVIDIA driver on this node? set --collector.gpu.nvml-library or --no-collector.gpu): %w", errLibraryNotFound)
		}
		c.logOnce.Log("init:"+nvml.ErrorString(ret), "cannot initialise NVML; retrying with backoff", "err", err, "retry_in", c.backoff)
		return err
	}
	// The backoff is reset by the first DeviceGetCount that succeeds, so an
	// Init that succeeds before a DeviceGetCount that fails still backs off.
	c.initialized = true
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
		st.stale, st.lostSinceInit = true, false
	}
	if c.cfg.XIDEvents && !c.missing["nvmlEventSetCreate"] {
		c.xid = startXIDWatcher(c.lib, c.logger, c.xids, c.now, func(i int) string {
			if st := c.devices[i]; st != nil {
				return st.uuid
			}
			return ""
		})
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

// deviceResult is what collectDevice saw of a GPU.
type deviceResult int

const (
	deviceServed    deviceResult = iota // its series were sent
	deviceFailed                        // only up=0: a call failed, the GPU is not lost
	deviceLost                          // only up=0: ERROR_GPU_IS_LOST or GPU_NOT_FOUND
	deviceRecovered                     // served, after being lost since NVML was initialised
)

// collectDevice sends one GPU's series, or only its up=0 when it fails.
func (c *Collector) collectDevice(ch chan<- prometheus.Metric, samples *collector.Samples, index int) deviceResult {
	dev, ret := c.lib.DeviceGetHandleByIndex(index)
	st := c.devices[index]
	if ret != nvml.SUCCESS {
		return c.failDevice(ch, index, st, "nvmlDeviceGetHandleByIndex", ret)
	}
	if st == nil || st.stale {
		uuid, ret := dev.GetUUID()
		if ret != nvml.SUCCESS {
			return c.failDevice(ch, index, st, "nvmlDeviceGetUUID", ret)
		}
		st = c.identify(index, dev, uuid, st)
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
		st.lostSinceInit = true
		c.sendUp(ch, st, 0)
		return deviceLost
	}
	c.sendUp(ch, st, 1)
	for _, m := range b.pending {
		samples.Send(ch, m.desc, m.typ, m.value, m.labels)
	}
	if st.lostSinceInit {
		return deviceRecovered
	}
	return deviceServed
}

// identify (re-)reads the identity of the GPU at index, whose UUID is uuid,
// into a fresh state; prev is its state before (nil if none). The processes
// last listed stay when it is the same GPU, so that attribution keeps them
// if it is lost before the next listing.
func (c *Collector) identify(index int, dev nvml.Device, uuid string, prev *deviceState) *deviceState {
	st := &deviceState{uuid: uuid}
	if prev != nil && prev.uuid == uuid {
		st.pids, st.lostSinceInit = prev.pids, prev.lostSinceInit
	}
	var ret nvml.Return
	if st.name, ret = dev.GetName(); ret != nvml.SUCCESS {
		c.countError(strconv.Itoa(index), "nvmlDeviceGetName", ret)
	}
	if pci, ret := dev.GetPciInfo(); ret == nvml.SUCCESS {
		st.busID = busID(pci)
	} else {
		c.countError(strconv.Itoa(index), "nvmlDeviceGetPciInfo", ret)
	}
	c.devices[index] = st
	return st
}

// failDevice sends up=0 for a GPU whose handle or UUID could not be had,
// labelled with its last known identity.
func (c *Collector) failDevice(ch chan<- prometheus.Metric, index int, st *deviceState, call string, ret nvml.Return) deviceResult {
	c.countError(strconv.Itoa(index), call, ret)
	if st == nil {
		st = &deviceState{stale: true}
		c.devices[index] = st
	}
	st.labels = c.labelValues(index, st.uuid)
	c.sendUp(ch, st, 0)
	if isLost(ret) {
		st.lostSinceInit = true
		return deviceLost
	}
	return deviceFailed
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
	c.countReturn(gpu, call, nvml.ErrorString(ret))
}

// countReturn counts a call that gave no usable value: an NVML error, or a
// value marked not available (retNotAvailable, retOutOfRange).
func (c *Collector) countReturn(gpu, call, ret string) {
	c.errors[errorKey{gpu: gpu, call: call, ret: ret}]++
	c.logOnce.Log(gpu+call+ret, "NVML call gave no value; its series is absent", "gpu", gpu, "call", call, "return", ret)
}

func (c *Collector) sendErrors(ch chan<- prometheus.Metric) {
	c.drainGPMErrors()
	c.xids.drainErrors(c.errors)
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
