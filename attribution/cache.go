package attribution

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Sources of attribution data, as counted in Health.Errors (the lead exports
// them as llm_exporter_attribution_refresh_errors_total{source}).
const (
	SourceGPU     = "gpu"     // the GPULister (NVML)
	SourceKubelet = "kubelet" // the pod-resources API
	SourceProcfs  = "procfs"  // /proc/<pid> of the GPUs' compute processes
	SourceSysfs   = "sysfs"   // the PCIe tree, for HCA ↔ GPU pairing
)

// Sources lists every source, for initialising error counters at zero.
var Sources = []string{SourceGPU, SourceKubelet, SourceProcfs, SourceSysfs}

// DefaultRefreshInterval is Config.Interval's default.
const DefaultRefreshInterval = 15 * time.Second

// GPU is one GPU as NVML sees it; the gpu collector supplies it through a
// GPULister.
type GPU struct {
	Index    int
	UUID     string   // GPU-...
	PCIBusID string   // any spelling: NVML's "00000000:18:00.0" is fine
	PIDs     []int    // host PIDs of its compute processes
	MIGUUIDs []string // MIG devices on it, when in MIG mode (optional)
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

// GPUInfo is a GPU's attribution in a snapshot.
type GPUInfo struct {
	Index    int
	UUID     string
	PCIBusID string // normalised (0000:18:00.0), "" when NVML's was not a PCI address
	Workload
	PodUID      string // from the engine processes' cgroup, when they agree
	ContainerID string
}

// RDMAInfo is an RDMA device's attribution in a snapshot.
type RDMAInfo struct {
	Device     string // mlx5_0
	PCIAddress string
	GPU        string // paired GPU's index as a label value ("3"), "" when not paired
	GPUUUID    string
	Workload
}

// Snapshot is an immutable view of the attribution at one refresh; lookups
// are safe from any number of goroutines.
type Snapshot struct {
	Time   time.Time // when the refresh that made it finished; zero for the empty snapshot
	gpus   []GPUInfo // by index
	rdma   []RDMAInfo
	byUUID map[string]int
	byDev  map[string]int
}

var emptySnapshot = &Snapshot{byUUID: map[string]int{}, byDev: map[string]int{}}

// GPU returns the attribution of a GPU by UUID.
func (s *Snapshot) GPU(uuid string) (GPUInfo, bool) {
	i, ok := s.byUUID[uuid]
	if !ok {
		return GPUInfo{}, false
	}
	return s.gpus[i], true
}

// RDMA returns the attribution of an RDMA device (mlx5_0) by name.
func (s *Snapshot) RDMA(device string) (RDMAInfo, bool) {
	i, ok := s.byDev[device]
	if !ok {
		return RDMAInfo{}, false
	}
	return s.rdma[i], true
}

// GPUs returns every GPU, by index (a copy: for llm_rank_info).
func (s *Snapshot) GPUs() []GPUInfo { return append([]GPUInfo(nil), s.gpus...) }

// RDMADevices returns every RDMA device, by name (a copy).
func (s *Snapshot) RDMADevices() []RDMAInfo { return append([]RDMAInfo(nil), s.rdma...) }

// Config configures a Cache.
type Config struct {
	Sysfs    string        // sysfs root, e.g. /sys or /host/sys
	Procfs   string        // the host's procfs root, e.g. /proc (needs hostPID) or /host/proc
	Interval time.Duration // refresh interval; 0 means DefaultRefreshInterval
	Logger   *slog.Logger  // nil: discard
}

// Health is the cache's own state, for the exporter's self-metrics.
type Health struct {
	// LastSuccess is when the last refresh in which every source succeeded
	// finished (zero before the first); llm_exporter_attribution_cache_age_seconds is
	// the time since.
	LastSuccess time.Time
	// LastRefresh is when the last refresh finished, successful or not.
	LastRefresh time.Time
	// Errors counts refreshes in which a source failed, by source (every
	// name of Sources is present). A refresh counts at most one error per
	// source.
	Errors map[string]uint64
}

// Cache holds the attribution of GPUs and RDMA devices, refreshed in the
// background by Run (or by Refresh), read by the collectors at scrape time
// through Snapshot, GPUAttributor and PortAttributor without blocking.
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
	failing   map[string]bool // sources that failed at the last refresh, for logging transitions

	healthMu sync.Mutex
	health   Health
}

// New makes a cache. gpus may be nil (no GPUs: RDMA devices are listed,
// unpaired); kubelet may be nil (no pod-resources: namespace/pod/container
// only from what processes reveal, i.e. ""). Nothing is read until Refresh
// or Run.
func New(cfg Config, gpus GPULister, kubelet AllocationLister) *Cache {
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultRefreshInterval
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	c := &Cache{cfg: cfg, gpus: gpus, kubelet: kubelet, logger: logger, now: time.Now, lastProcs: map[int]Process{}, failing: map[string]bool{}}
	c.health.Errors = make(map[string]uint64, len(Sources))
	for _, s := range Sources {
		c.health.Errors[s] = 0
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
	return h
}

// Run refreshes now and then every interval until ctx is done.
func (c *Cache) Run(ctx context.Context) {
	t := time.NewTicker(c.cfg.Interval)
	defer t.Stop()
	for {
		c.Refresh(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Refresh reads every source once and publishes a new snapshot. Sources
// that fail are counted and replaced by their last good data. It never
// blocks longer than the slowest source's own timeout (the kubelet's).
func (c *Cache) Refresh(ctx context.Context) {
	c.refreshMu.Lock()
	defer c.refreshMu.Unlock()
	failed := map[string]bool{}
	fail := func(source string, err error, msg string, args ...any) {
		if ctx.Err() != nil {
			return // shutting down: not the source's fault
		}
		level := slog.LevelDebug
		if !c.failing[source] && !failed[source] {
			level = slog.LevelWarn // log a source's first failure loudly, repeats quietly
		}
		failed[source] = true
		c.logger.Log(ctx, level, msg, append(args, "source", source, "err", err)...)
	}

	if c.gpus != nil {
		gpus, err := c.gpus.ListGPUs(ctx)
		if err != nil {
			fail(SourceGPU, err, "attribution: listing GPUs failed, keeping the last list")
		} else {
			c.lastGPUs = gpus
		}
	}
	if c.kubelet != nil {
		alloc, err := c.kubelet.List(ctx)
		if err != nil {
			fail(SourceKubelet, err, "attribution: kubelet pod-resources failed, keeping the last allocations")
		} else {
			c.lastAlloc = alloc
		}
	}

	// Processes.
	if c.procs == nil && c.cfg.Procfs != "" {
		pr, err := NewProcReader(c.cfg.Procfs)
		if err != nil {
			fail(SourceProcfs, err, "attribution: procfs not available")
		} else {
			c.procs = pr
		}
	}
	procs := make(map[int]Process)
	if c.procs != nil {
		for _, g := range c.lastGPUs {
			for _, pid := range g.PIDs {
				if _, done := procs[pid]; done {
					continue
				}
				p, err := c.procs.Inspect(pid)
				if err != nil {
					// A process read before that is gone now has exited since
					// NVML listed it: not an error. Its last reading stays
					// while NVML still lists it.
					last, had := c.lastProcs[pid]
					if !had || !errors.Is(err, fs.ErrNotExist) {
						fail(SourceProcfs, err, "attribution: reading a process failed", "pid", pid)
					}
					if had {
						procs[pid] = last
					}
					continue
				}
				procs[pid] = p
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
			fail(SourceSysfs, err, "attribution: reading the PCIe topology failed, keeping the last pairing")
		} else {
			c.lastPair = pair
		}
	}

	snap := c.build(procs)
	snap.Time = c.now()
	c.snap.Store(snap)

	for _, src := range Sources {
		if c.failing[src] && !failed[src] {
			c.logger.Info("attribution: source recovered", "source", src)
		}
	}
	c.failing = failed

	c.healthMu.Lock()
	c.health.LastRefresh = snap.Time
	if len(failed) == 0 && ctx.Err() == nil {
		c.health.LastSuccess = snap.Time
	}
	for s := range failed {
		c.health.Errors[s]++
	}
	c.healthMu.Unlock()
}

// build joins the last good data of every source into a snapshot.
func (c *Cache) build(procs map[int]Process) *Snapshot {
	s := &Snapshot{byUUID: map[string]int{}, byDev: map[string]int{}}
	gpus := append([]GPU(nil), c.lastGPUs...)
	sort.SliceStable(gpus, func(i, j int) bool { return gpus[i].Index < gpus[j].Index })

	// Containers learnt from GPUs whose kubelet allocation and engine
	// processes both name exactly one container: the container id then
	// identifies that container on GPUs the kubelet did not allocate.
	byContainerID := map[string]Container{}
	type pending struct {
		info GPUInfo
		ctr  []Container
	}
	work := make([]pending, 0, len(gpus))
	for _, g := range gpus {
		info := GPUInfo{Index: g.Index, UUID: g.UUID}
		info.PCIBusID, _ = NormalisePCIAddress(g.PCIBusID)
		ctrs := c.lastAlloc.GPUs[g.UUID]
		for _, mig := range g.MIGUUIDs {
			ctrs = mergeContainers(ctrs, c.lastAlloc.GPUs[mig])
		}
		if len(ctrs) == 1 {
			info.Namespace, info.Pod, info.Container = ctrs[0].Namespace, ctrs[0].Pod, ctrs[0].Container
		}
		ps := make([]Process, 0, len(g.PIDs))
		for _, pid := range g.PIDs {
			ps = append(ps, procs[pid])
		}
		mergeProcesses(&info, ps)
		if len(ctrs) == 1 && info.ContainerID != "" {
			byContainerID[info.ContainerID] = ctrs[0]
		}
		work = append(work, pending{info, ctrs})
	}
	for _, w := range work {
		if len(w.ctr) == 0 && w.info.ContainerID != "" {
			if ctr, ok := byContainerID[w.info.ContainerID]; ok {
				w.info.Namespace, w.info.Pod, w.info.Container = ctr.Namespace, ctr.Pod, ctr.Container
			}
		}
		s.byUUID[w.info.UUID] = len(s.gpus)
		s.gpus = append(s.gpus, w.info)
	}

	byBus := map[string]int{}
	for i, g := range s.gpus {
		if g.PCIBusID != "" {
			byBus[g.PCIBusID] = i
		}
	}
	// RDMA devices allocated to containers by PCI address (SR-IOV VFs).
	direct := map[string][]Container{}
	if len(c.lastAlloc.PCI) > 0 && c.cfg.Sysfs != "" {
		addrs := make([]string, 0, len(c.lastAlloc.PCI))
		for a := range c.lastAlloc.PCI {
			addrs = append(addrs, a)
		}
		sort.Strings(addrs)
		for _, a := range addrs {
			for _, dev := range RDMADevicesForPCI(c.cfg.Sysfs, a) {
				direct[dev] = mergeContainers(direct[dev], c.lastAlloc.PCI[a])
			}
		}
	}
	for _, d := range c.lastPair {
		r := RDMAInfo{Device: d.Name, PCIAddress: d.PCIAddress}
		var gpu *GPUInfo
		if i, ok := byBus[d.GPUBusID]; ok && d.GPUBusID != "" {
			gpu = &s.gpus[i]
			r.GPU, r.GPUUUID = strconv.Itoa(gpu.Index), gpu.UUID
		}
		switch ctrs, allocated := direct[d.Name]; {
		case allocated && len(ctrs) == 1:
			r.Namespace, r.Pod, r.Container = ctrs[0].Namespace, ctrs[0].Pod, ctrs[0].Container
			if gpu != nil && gpu.Namespace == r.Namespace && gpu.Pod == r.Pod && gpu.Container == r.Container {
				r.Workload = gpu.Workload
			}
		case allocated:
			// Held by several containers: no workload labels.
		case gpu != nil:
			r.Workload = gpu.Workload
		}
		s.byDev[r.Device] = len(s.rdma)
		s.rdma = append(s.rdma, r)
	}
	return s
}

// mergeProcesses sets the engine fields of info from the GPU's compute
// processes. Processes that /proc says nothing about are ignored. When the
// remaining ones live in more than one container, the GPU is shared by
// different workloads and nothing is set; otherwise each field is set when
// every process that knows it agrees, and "" on any disagreement.
func mergeProcesses(info *GPUInfo, ps []Process) {
	var known []Process
	for _, p := range ps {
		if p.Engine != "" || p.PodUID != "" {
			known = append(known, p)
		}
	}
	if len(known) == 0 {
		return
	}
	for _, p := range known[1:] {
		if p.PodUID != known[0].PodUID || p.ContainerID != known[0].ContainerID {
			return
		}
	}
	info.PodUID, info.ContainerID = known[0].PodUID, known[0].ContainerID
	agree := func(get func(Process) string) string {
		v := ""
		for _, p := range known {
			switch x := get(p); {
			case x == "":
			case v == "":
				v = x
			case v != x:
				return ""
			}
		}
		return v
	}
	info.Engine = agree(func(p Process) string { return p.Engine })
	info.Role = agree(func(p Process) string { return p.Role })
	info.DPRank = agree(func(p Process) string { return p.DPRank })
	info.TPRank = agree(func(p Process) string { return p.TPRank })
}

func mergeContainers(a, b []Container) []Container {
	out := append([]Container(nil), a...)
	for _, x := range b {
		dup := false
		for _, y := range out {
			if x == y {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, x)
		}
	}
	sort.Slice(out, func(i, j int) bool { return lessContainer(out[i], out[j]) })
	return out
}
