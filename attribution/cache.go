package attribution

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/llm-node-exporter/llm-node-exporter/discovery"
)

// Sources of attribution data, as counted in Health.Errors (exported as
// llm_exporter_attribution_refresh_errors_total{source}).
const (
	SourceGPU            = "gpu"            // the GPULister (NVML)
	SourceKubelet        = "kubelet"        // the pod-resources API
	SourceProcfs         = "procfs"         // /proc/<pid> of the GPUs' compute processes and of the targets' listeners
	SourceSysfs          = "sysfs"          // the PCIe tree, for HCA ↔ GPU pairing
	SourcePods           = "pods"           // this node's pods from the API server (the cgroup path)
	SourceResourceSlices = "resourceslices" // this node's ResourceSlices from the API server (DRA devices)
)

// Sources lists every source, for initialising error counters at zero.
var Sources = []string{SourceGPU, SourceKubelet, SourceProcfs, SourceSysfs, SourcePods, SourceResourceSlices}

// Reasons a process reading was missed, as counted in Health.Misses
// (llm_exporter_attribution_process_read_misses_total{reason}).
const (
	// MissTimeout: a read of the process's /proc files did not return in
	// time, or an earlier one is still blocked; the process is skipped.
	MissTimeout = "timeout"
	// MissPartial: a file vanished mid-read (the process or its parent
	// exiting) or a read of it timed out after others succeeded; the last
	// complete reading of the same process is kept.
	MissPartial = "partial"
)

// MissReasons lists every miss reason.
var MissReasons = []string{MissTimeout, MissPartial}

// DefaultRefreshInterval is Config.Interval's default.
const DefaultRefreshInterval = 15 * time.Second

// GPU is one GPU as NVML sees it; the gpu collector supplies it through a
// GPULister.
type GPU struct {
	Index    int
	UUID     string      // GPU-...
	PCIBusID string      // any spelling: NVML's "00000000:18:00.0" is fine
	PIDs     []int       // host PIDs of its compute processes
	MIGs     []MIGDevice // its MIG devices, as NVML lists them now (MIG mode on)
}

// MIGDevice is one MIG device of a GPU: created and destroyed at run time
// under DRA, so listed again at every refresh.
type MIGDevice struct {
	UUID        string // MIG-...
	GPUInstance int    // the GPU instance id (the gpu_instance label of GPM series), -1 when unknown
	PIDs        []int  // host PIDs of its compute processes
}

// GPULister lists the node's GPUs. The cache calls it from its refresh
// goroutine only, never on the scrape path.
type GPULister interface {
	ListGPUs(ctx context.Context) ([]GPU, error)
}

// GPUListerFunc adapts a function to GPULister.
type GPUListerFunc func(ctx context.Context) ([]GPU, error)

// ListGPUs calls f.
func (f GPUListerFunc) ListGPUs(ctx context.Context) ([]GPU, error) { return f(ctx) }

// AllocationLister lists the kubelet's device allocations;
// *PodResourcesClient is one.
type AllocationLister interface {
	List(ctx context.Context) (Allocations, error)
}

// PodLookup finds this node's pods by UID or name; *discovery.Pods is one.
type PodLookup interface {
	ByUID(uid string) (discovery.Pod, bool)
	ByName(namespace, name string) (discovery.Pod, bool)
	Status() discovery.Status
	WaitSynced(ctx context.Context, timeout time.Duration) bool
}

// DeviceLookup finds a DRA device by the triple pod-resources names;
// *discovery.ResourceSlices is one.
type DeviceLookup interface {
	Device(driver, pool, name string) (discovery.Device, bool)
	Status() discovery.Status
	WaitSynced(ctx context.Context, timeout time.Duration) bool
}

// Workload is the set of labels that ties a device to what uses it. Every
// field is "" when unknown.
type Workload struct {
	Namespace string
	Pod       string
	Container string
	Engine    string // sglang | vllm
	Role      string // prefill | decode | unified
	DPRank    string
	TPRank    string
}

// WorkloadLabelNames are the label names of a Workload, in AppendLabels order.
var WorkloadLabelNames = []string{"namespace", "pod", "container", "engine", "role", "dp_rank", "tp_rank"}

// AppendLabels appends the label values in WorkloadLabelNames order.
func (w Workload) AppendLabels(dst []string) []string {
	return append(dst, w.Namespace, w.Pod, w.Container, w.Engine, w.Role, w.DPRank, w.TPRank)
}

// Claim names the ResourceClaim through which a container holds a device
// (DRA); "" for device-plugin devices.
type Claim struct{ Namespace, Name string }

// Identity is what ties a device to its pod beyond the workload labels: the
// pod's UID and the claim (the opt-in pod_uid, claim_namespace, claim_name
// labels), and the container id the engine processes run in.
type Identity struct {
	PodUID      string
	ContainerID string
	Claim       Claim
}

// GPUInfo is a GPU's attribution in a snapshot.
type GPUInfo struct {
	Index    int
	UUID     string
	PCIBusID string // normalised (0000:18:00.0), "" when NVML's was not a PCI address
	Workload
	Identity
}

// MIGInfo is a MIG device's attribution in a snapshot.
type MIGInfo struct {
	GPU         int // the parent's index
	ParentUUID  string
	UUID        string
	GPUInstance int // -1 when unknown
	Workload
	Identity
}

// RDMAInfo is an RDMA device's attribution in a snapshot.
type RDMAInfo struct {
	Device     string // mlx5_0
	PCIAddress string
	GPU        string // paired GPU's index as a label value ("3"), "" when not paired
	GPUUUID    string
	Workload
	Identity
}

// Snapshot is an immutable view of the attribution at one refresh; lookups
// are safe from any number of goroutines.
type Snapshot struct {
	Time    time.Time // when the refresh that made it finished; zero for the empty snapshot
	gpus    []GPUInfo // by index
	migs    []MIGInfo // by parent index, then GPU instance
	rdma    []RDMAInfo
	targets map[string]discovery.Labels // engine target URL → labels from its listener
	byUUID  map[string]int
	byMIG   map[string]int
	byDev   map[string]int
}

var emptySnapshot = &Snapshot{byUUID: map[string]int{}, byMIG: map[string]int{}, byDev: map[string]int{}}

// GPU returns the attribution of a GPU by UUID.
func (s *Snapshot) GPU(uuid string) (GPUInfo, bool) {
	i, ok := s.byUUID[uuid]
	if !ok {
		return GPUInfo{}, false
	}
	return s.gpus[i], true
}

// MIG returns the attribution of a MIG device by UUID.
func (s *Snapshot) MIG(uuid string) (MIGInfo, bool) {
	i, ok := s.byMIG[uuid]
	if !ok {
		return MIGInfo{}, false
	}
	return s.migs[i], true
}

// RDMA returns the attribution of an RDMA device (mlx5_0) by name.
func (s *Snapshot) RDMA(device string) (RDMAInfo, bool) {
	i, ok := s.byDev[device]
	if !ok {
		return RDMAInfo{}, false
	}
	return s.rdma[i], true
}

// Target returns the labels learnt for an engine target from the process
// listening on its port.
func (s *Snapshot) Target(url string) (discovery.Labels, bool) {
	l, ok := s.targets[url]
	return l, ok
}

// GPUs returns every GPU, by index (a copy: for llm_rank_info).
func (s *Snapshot) GPUs() []GPUInfo { return append([]GPUInfo(nil), s.gpus...) }

// MIGs returns every MIG device (a copy: for llm_mig_rank_info).
func (s *Snapshot) MIGs() []MIGInfo { return append([]MIGInfo(nil), s.migs...) }

// RDMADevices returns every RDMA device, by name (a copy).
func (s *Snapshot) RDMADevices() []RDMAInfo { return append([]RDMAInfo(nil), s.rdma...) }

// Config configures a Cache.
type Config struct {
	Sysfs    string        // sysfs root, e.g. /sys or /host/sys
	Procfs   string        // the host's procfs root, e.g. /proc (needs hostPID) or /host/proc
	Interval time.Duration // refresh interval; 0 means DefaultRefreshInterval
	// ProcReadTimeout bounds each read of a /proc file (0:
	// DefaultProcReadTimeout).
	ProcReadTimeout time.Duration
	Logger          *slog.Logger // nil: discard
	// Pods, when set, names the pod of a cgroup's pod UID: the path that
	// attributes a GPU no device list names. nil: that path only joins by
	// container id what the device lists already name.
	Pods PodLookup
	// Slices, when set, resolves the devices of DRA claims through the
	// ResourceSlices of Drivers.
	Slices  DeviceLookup
	Drivers []DRADriver
	// Targets are engine target URLs to label from the process listening
	// on their port (static targets without pod labels).
	Targets []string
	// Labels selects the opt-in labels.
	Labels LabelOptions
}

// LabelOptions are the opt-in labels of GPU, port and rank series.
type LabelOptions struct {
	PodUID bool // pod_uid, for joins with kubelet / cAdvisor series
	Claim  bool // claim_namespace, claim_name: the DRA ResourceClaim holding the device
}

// Health is the cache's own state, for the exporter's self-metrics.
type Health struct {
	// LastSuccess is when the last refresh in which every source succeeded
	// finished (zero before the first); llm_exporter_attribution_cache_age_seconds is
	// the time since.
	LastSuccess time.Time
	// LastRefresh is when the last refresh finished, successful or not.
	LastRefresh time.Time
	// Refreshes counts finished refreshes.
	Refreshes uint64
	// Errors counts refreshes in which a source failed, by source (every
	// name of Sources is present). A refresh counts at most one error per
	// source.
	Errors map[string]uint64
	// Misses counts process readings missed, by reason (every name of
	// MissReasons is present): one per process per refresh.
	Misses map[string]uint64
	// Disagreements counts devices, per refresh, whose device list (device
	// plugin or DRA) and compute processes' cgroups name different pods:
	// such a device gets no pod labels.
	Disagreements uint64
}

// Cache holds the attribution of GPUs, MIG devices, RDMA devices and engine
// targets, refreshed in the background by Run (or by Refresh), read by the
// collectors at scrape time through Snapshot and the adapters without
// blocking.
//
// A source that fails keeps its last good data in use (a kubelet that is
// down leaves the pods as they were at its last answer) and counts an error.
type Cache struct {
	cfg     Config
	gpus    GPULister
	kubelet AllocationLister
	logger  *slog.Logger
	now     func() time.Time

	snap atomic.Pointer[Snapshot]

	refreshMu sync.Mutex // one refresh at a time; guards the last-good state below
	procs     *ProcReader
	lastGPUs  []GPU
	lastAlloc Allocations
	lastPair  []RDMADevice
	lastProcs map[int]Process
	listeners *listenerIndex
	failing   map[string]bool // sources that failed at the last refresh, for logging transitions

	healthMu sync.Mutex
	health   Health
}

// New makes a cache. gpus may be nil (no GPUs: RDMA devices are listed,
// unpaired); kubelet may be nil (no pod-resources: namespace/pod/container
// only from what processes reveal). Nothing is read until Refresh or Run.
func New(cfg Config, gpus GPULister, kubelet AllocationLister) *Cache {
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultRefreshInterval
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	c := &Cache{cfg: cfg, gpus: gpus, kubelet: kubelet, logger: logger, now: time.Now, lastProcs: map[int]Process{},
		listeners: newListenerIndex(), failing: map[string]bool{}}
	c.health.Errors = make(map[string]uint64, len(Sources))
	for _, s := range Sources {
		c.health.Errors[s] = 0
	}
	c.health.Misses = make(map[string]uint64, len(MissReasons))
	for _, r := range MissReasons {
		c.health.Misses[r] = 0
	}
	c.snap.Store(emptySnapshot)
	return c
}

// SetGPULister sets (or replaces) the GPU source, for wiring where the gpu
// collector is made after the cache because it takes c.GPUAttributor().
func (c *Cache) SetGPULister(gpus GPULister) {
	c.refreshMu.Lock()
	c.gpus = gpus
	c.refreshMu.Unlock()
}

// Snapshot returns the current snapshot (empty before the first refresh).
func (c *Cache) Snapshot() *Snapshot { return c.snap.Load() }

// Health returns a copy of the cache's health.
func (c *Cache) Health() Health {
	c.healthMu.Lock()
	defer c.healthMu.Unlock()
	h := c.health
	h.Errors = make(map[string]uint64, len(c.health.Errors))
	for k, v := range c.health.Errors {
		h.Errors[k] = v
	}
	h.Misses = make(map[string]uint64, len(c.health.Misses))
	for k, v := range c.health.Misses {
		h.Misses[k] = v
	}
	return h
}

// Run refreshes now and then every interval until ctx is done. It is meant
// to run in its own goroutine: nothing waits for the first refresh, the
// collectors serve unattributed series until it is done.
func (c *Cache) Run(ctx context.Context) {
	t := time.NewTicker(c.cfg.Interval)
	defer t.Stop()
	// The API server's first lists may come after the first refresh (it
	// does not wait for them): refresh again as soon as each comes.
	synced := make(chan struct{}, 2)
	waitFor := func(w interface {
		WaitSynced(context.Context, time.Duration) bool
		Status() discovery.Status
	}) {
		if w == nil || w.Status().Synced {
			return
		}
		go func() {
			if w.WaitSynced(ctx, time.Hour) {
				synced <- struct{}{}
			}
		}()
	}
	if c.cfg.Pods != nil {
		waitFor(c.cfg.Pods)
	}
	if c.cfg.Slices != nil {
		waitFor(c.cfg.Slices)
	}
	start := time.Now()
	c.Refresh(ctx)
	c.logger.Info("attribution: first refresh done", "took", time.Since(start).Round(time.Millisecond),
		"gpus", len(c.Snapshot().GPUs()), "failing_sources", c.failingSources())
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-synced:
		}
		c.Refresh(ctx)
	}
}

// failingSources lists the sources that failed at the last refresh.
func (c *Cache) failingSources() []string {
	c.refreshMu.Lock()
	defer c.refreshMu.Unlock()
	out := []string{}
	for _, s := range Sources {
		if c.failing[s] {
			out = append(out, s)
		}
	}
	return out
}

// refresh is the state of one Refresh.
type refresh struct {
	ctx    context.Context
	c      *Cache
	failed map[string]bool
	misses map[string]uint64
}

func (r *refresh) fail(source string, err error, msg string, args ...any) {
	if r.ctx.Err() != nil {
		return // shutting down: not the source's fault
	}
	level := slog.LevelDebug
	if !r.c.failing[source] && !r.failed[source] {
		level = slog.LevelWarn // log a source's first failure loudly, repeats quietly
	}
	r.failed[source] = true
	r.c.logger.Log(r.ctx, level, msg, append(args, "source", source, "err", err)...)
}

// Refresh reads every source once and publishes a new snapshot. Sources
// that fail are counted and replaced by their last good data. It never
// blocks longer than the slowest source's own timeout: the kubelet's call,
// and each /proc read's deadline.
func (c *Cache) Refresh(ctx context.Context) {
	c.refreshMu.Lock()
	defer c.refreshMu.Unlock()
	r := &refresh{ctx: ctx, c: c, failed: map[string]bool{}, misses: map[string]uint64{}}

	if c.gpus != nil {
		gpus, err := c.gpus.ListGPUs(ctx)
		if err != nil {
			r.fail(SourceGPU, err, "attribution: listing GPUs failed, keeping the last list")
		} else {
			c.lastGPUs = gpus
		}
	}
	if c.kubelet != nil {
		alloc, err := c.kubelet.List(ctx)
		if err != nil {
			r.fail(SourceKubelet, err, "attribution: kubelet pod-resources failed, keeping the last allocations")
		} else {
			c.lastAlloc = alloc
		}
	}
	if c.cfg.Pods != nil {
		if err := watchErr(c.cfg.Pods.Status()); err != nil {
			r.fail(SourcePods, err, "attribution: this node's pods are not up to date, keeping the last ones")
		}
	}
	if c.cfg.Slices != nil && len(c.lastAlloc.DRA) > 0 {
		if err := watchErr(c.cfg.Slices.Status()); err != nil {
			r.fail(SourceResourceSlices, err, "attribution: this node's ResourceSlices are not up to date, keeping the last ones")
		}
	}

	// Processes: the GPUs' and MIG devices' compute processes, and the
	// processes listening on the targets' ports.
	if c.procs == nil && c.cfg.Procfs != "" {
		pr, err := NewProcReader(c.cfg.Procfs, c.cfg.ProcReadTimeout)
		if err != nil {
			r.fail(SourceProcfs, err, "attribution: procfs not available")
		} else {
			c.procs = pr
		}
	}
	procs := make(map[int]Process)
	var targetPIDs map[string]int
	if c.procs != nil {
		for _, g := range c.lastGPUs {
			for _, pid := range g.PIDs {
				c.inspect(r, pid, procs)
			}
			for _, m := range g.MIGs {
				for _, pid := range m.PIDs {
					c.inspect(r, pid, procs)
				}
			}
		}
		if len(c.cfg.Targets) > 0 {
			var err error
			targetPIDs, err = c.listeners.resolve(c.cfg.Procfs, c.cfg.Targets)
			if err != nil {
				r.fail(SourceProcfs, err, "attribution: reading the listening sockets failed")
			}
			for _, pid := range targetPIDs {
				c.inspect(r, pid, procs)
			}
		}
	}
	c.lastProcs = procs

	// PCIe pairing.
	busIDs := make([]string, 0, len(c.lastGPUs))
	for _, g := range c.lastGPUs {
		busIDs = append(busIDs, g.PCIBusID)
	}
	if c.cfg.Sysfs != "" {
		pair, err := PairRDMADevices(c.cfg.Sysfs, busIDs)
		if err != nil {
			r.fail(SourceSysfs, err, "attribution: reading the PCIe topology failed, keeping the last pairing")
		} else {
			c.lastPair = pair
		}
	}

	b := c.newBuilder(procs)
	snap := b.build(targetPIDs)
	snap.Time = c.now()
	c.snap.Store(snap)

	for _, src := range Sources {
		if c.failing[src] && !r.failed[src] {
			c.logger.Info("attribution: source recovered", "source", src)
		}
	}
	c.failing = r.failed

	c.healthMu.Lock()
	c.health.LastRefresh = snap.Time
	c.health.Refreshes++
	if len(r.failed) == 0 && ctx.Err() == nil {
		c.health.LastSuccess = snap.Time
	}
	for s := range r.failed {
		c.health.Errors[s]++
	}
	for k, n := range r.misses {
		c.health.Misses[k] += n
	}
	c.health.Disagreements += uint64(b.disagreements)
	c.healthMu.Unlock()
}

// watchErr says why a list+watch is not up to date, or nil.
func watchErr(st discovery.Status) error {
	switch {
	case !st.Synced && st.LastErr != nil:
		return fmt.Errorf("not listed yet: %w", st.LastErr)
	case !st.Synced:
		return nil // the first list is on its way: not a failure yet
	case st.Failing:
		return st.LastErr
	}
	return nil
}

// inspect reads one process into procs (once per refresh). A process that
// cannot be read keeps its last reading while it is listed: one that
// exited since NVML listed it is not counted; one whose reads do not return
// in time is skipped and counted; an incomplete reading (a file vanished
// mid-read) of a process still there keeps the last complete reading of that
// same process (same start time), and is counted.
func (c *Cache) inspect(r *refresh, pid int, procs map[int]Process) {
	if _, done := procs[pid]; done {
		return
	}
	last, had := c.lastProcs[pid]
	p, err := c.procs.Inspect(pid)
	switch {
	case err != nil && errors.Is(err, ErrReadStuck):
		r.misses[MissTimeout]++
		r.fail(SourceProcfs, err, "attribution: a process's /proc files do not answer; skipping it", "pid", pid)
		if had {
			procs[pid] = last
		}
	case err != nil:
		if !had || !errors.Is(err, fs.ErrNotExist) {
			r.fail(SourceProcfs, err, "attribution: reading a process failed", "pid", pid)
		}
		if had {
			procs[pid] = last
		}
	case p.Incomplete:
		r.misses[MissPartial]++
		c.logger.Debug("attribution: incomplete reading of a process", "pid", pid, "err", p.Missed)
		if had && last.StartTime == p.StartTime && !last.Incomplete {
			procs[pid] = last
		} else {
			procs[pid] = p
		}
	default:
		procs[pid] = p
	}
}
