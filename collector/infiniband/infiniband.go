// Package infiniband collects mlx5 InfiniBand and RoCE port state and counters
// from /sys/class/infiniband as llm_infiniband_* metrics.
//
// Every value is read independently: an unreadable file, an EINVAL from a
// ConnectX-7 in switch mode, an "N/A (no PMA)" counter, a read that blocks in
// the kernel or a port that vanishes mid-scrape costs only that value or that
// port. Such failures are logged once and counted in
// llm_infiniband_read_errors_total{device,port,reason}.
//
// Each counter's source file (the 64-bit counters_ext/ one, or the legacy
// counters/ one) is chosen once per port and kept until the port reappears: a
// counter never switches between two files, which would read as two resets.
package infiniband

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"regexp"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/llm-node-exporter/llm-node-exporter/collector"
)

const subsystem = "infiniband"

// Reasons of llm_infiniband_read_errors_total.
const (
	reasonIOError      = "io_error"      // the read itself failed (EINVAL, EIO, EACCES, ...)
	reasonInvalid      = "invalid_value" // the file held something unparsable
	reasonNotAvailable = "not_available" // "N/A (no PMA)"
	reasonVanished     = "vanished"      // listed, then gone before it was read
	reasonTimeout      = "timeout"       // the read did not return within the scrape's read budget
	reasonStuck        = "stuck"         // not read: an earlier read of the file is still blocked
)

// DefaultReadTimeout is Config.ReadTimeout's default.
const DefaultReadTimeout = time.Second

// Attributor supplies the labels that tie a port to the workload using it
// (namespace, pod, container, dp_rank, gpu, ...). LabelNames is fixed for the
// collector's lifetime; values may change between scrapes, "" when unknown.
type Attributor interface {
	LabelNames() []string
	AppendPortLabels(dst []string, device, port string) []string
}

// Config selects devices and attaches attribution labels.
type Config struct {
	DeviceInclude *regexp.Regexp // nil: every device
	DeviceExclude *regexp.Regexp // nil: none
	Attributor    Attributor     // nil: only device, port, link_layer
	// ReadTimeout is the most a scrape waits, in total, for sysfs reads that
	// do not return; such reads are abandoned. 0: DefaultReadTimeout.
	ReadTimeout time.Duration
}

type sysReader interface {
	ReadFile(path, buf []byte) (int, error)
	ReadDir(path []byte, names *nameList) error
	Readlink(path, buf []byte) (int, error)
	Access(path []byte) error
}

// Collector is the infiniband collector. Update is serialised: its scratch
// buffers and per-port caches are reused from scrape to scrape.
type Collector struct {
	mu     sync.Mutex
	logger *slog.Logger
	cfg    Config
	guard  *readGuard
	reader sysReader // guard, over the real reader
	root   string    // <sysfs>/class/infiniband

	stateDesc, physStateDesc, rateDesc, infoDesc, errorsDesc *prometheus.Desc
	saturatedDesc, stuckDesc                                 *prometheus.Desc
	counterDescs                                             [numCounterMetrics]*prometheus.Desc

	generation uint64
	devices    map[string]*deviceState
	errors     map[errorKey]*errorCount
	logOnce    *collector.LogOnce

	// Scratch, reused by every scrape.
	path                          []byte
	buf                           []byte
	devNames, portNames, dirNames nameList
	extra                         []string
	pending                       []pendingError
	counters                      counterBatch
	lastSamples                   int
}

type pendingError struct {
	reason, path string
	err          error
}

type deviceState struct {
	name                                      string
	ignored                                   bool
	seen                                      uint64
	boardID, firmware, hcaType, guid, pciAddr string
	version                                   uint64 // bumped when an info value changes
	ports                                     map[string]*portState
}

type portState struct {
	name                string
	seen                uint64
	ino                 uint64 // of the port directory: a new one means the port reappeared
	plan                []plannedCounter
	planned             bool // plan holds the port's sources for good
	linkLayer, netdev   string
	extra               []string
	deviceVersion       uint64
	labels, infoLabels  []*dto.LabelPair
	labelValues         []string                            // device, port, link_layer, attribution
	saturatedLabels     [numCounterMetrics][]*dto.LabelPair // per saturated counter
	state, physState    float64
	rate                float64
	haveState, havePhys bool
	haveRate            bool
	values              [numCounterMetrics]float64
	have                [numCounterMetrics]bool
	saturated           [numCounterMetrics]bool
}

// plannedCounter is the file a port's counter is read from.
type plannedCounter struct {
	dir int // index into counterDirs
	src counterSource
}

type errorKey struct{ device, port, reason string }

type errorCount struct {
	count  float64
	labels []*dto.LabelPair
}

// New returns an infiniband collector reading <sysfs>/class/infiniband.
func New(paths collector.Paths, cfg Config, logger *slog.Logger) *Collector {
	return newWithReader(paths, cfg, logger, newOSReader())
}

func newWithReader(paths collector.Paths, cfg Config, logger *slog.Logger, r sysReader) *Collector {
	if cfg.ReadTimeout <= 0 {
		cfg.ReadTimeout = DefaultReadTimeout
	}
	guard := newReadGuard(r, cfg.ReadTimeout)
	labels := []string{"device", "port", "link_layer"}
	if cfg.Attributor != nil {
		labels = append(labels, cfg.Attributor.LabelNames()...)
	}
	infoLabels := append([]string{"netdev", "board_id", "firmware_version", "hca_type", "node_guid", "pci_address"}, labels...)
	desc := func(name, help string, labels []string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(collector.Namespace, subsystem, name), help, labels, nil)
	}
	c := &Collector{
		logger:        logger,
		cfg:           cfg,
		guard:         guard,
		reader:        guard,
		root:          paths.Sys("class", "infiniband"),
		stateDesc:     desc("state_id", "Logical state of the port (1 DOWN, 2 INIT, 3 ARMED, 4 ACTIVE, 5 ACTIVE_DEFER).", labels),
		physStateDesc: desc("physical_state_id", "Physical state of the port (1 Sleep, 2 Polling, 3 Disabled, 4 PortConfigurationTraining, 5 LinkUp, 6 LinkErrorRecovery, 7 PhyTest).", labels),
		rateDesc:      desc("rate_bytes_per_second", "Current signalling rate of the port in bytes per second.", labels),
		infoDesc:      desc("info", "Static facts about the port and its HCA; value is always 1.", infoLabels),
		errorsDesc:    desc("read_errors_total", "Sysfs values that could not be read, by reason (io_error, invalid_value, not_available, vanished, timeout, stuck).", []string{"device", "port", "reason"}),
		saturatedDesc: desc("counter_saturated", "Present, with value 1, while a PMA counter of fixed width sits at its maximum (2^32-1, 65535, 255, 15): it saturates rather than wraps, so its rate reads 0 while events go uncounted.", append(append([]string{}, labels...), "counter")),
		stuckDesc:     desc("stuck_reads", "Sysfs reads abandoned because they did not return in time and still blocked in the kernel; their files are not read again until they return.", nil),
		devices:       map[string]*deviceState{},
		errors:        map[errorKey]*errorCount{},
		logOnce:       collector.NewLogOnce(logger),
		buf:           make([]byte, 4096),
	}
	for i, m := range counterMetrics {
		c.counterDescs[i] = desc(m.name, m.help, labels)
	}
	return c
}

// Update reads every port of every RDMA device.
func (c *Collector) Update(ch chan<- prometheus.Metric) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.generation++
	c.guard.startScrape()
	samples := collector.NewSamples(c.lastSamples)

	c.path = append(c.path[:0], c.root...)
	rootLen := len(c.path)
	if err := c.reader.ReadDir(c.cstr(rootLen), &c.devNames); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			c.logOnce.Log(c.root, "no RDMA devices on this node", "path", c.root)
			return collector.ErrNoData
		}
		return fmt.Errorf("listing RDMA devices: %w", err)
	}
	for i := 0; i < c.devNames.len(); i++ {
		c.updateDevice(ch, samples, rootLen, c.devNames.at(i))
	}
	for name, ds := range c.devices {
		if ds.seen != c.generation {
			delete(c.devices, name)
		}
	}
	c.sendErrors(ch, samples)
	samples.Send(ch, c.stuckDesc, prometheus.GaugeValue, float64(c.guard.stuckReads()), nil)
	c.lastSamples = samples.Len()
	return nil
}

func (c *Collector) updateDevice(ch chan<- prometheus.Metric, samples *collector.Samples, rootLen int, name []byte) {
	ds := c.devices[string(name)]
	if ds == nil {
		ds = &deviceState{name: string(name), ports: map[string]*portState{}}
		ds.ignored = (c.cfg.DeviceInclude != nil && !c.cfg.DeviceInclude.MatchString(ds.name)) ||
			(c.cfg.DeviceExclude != nil && c.cfg.DeviceExclude.MatchString(ds.name))
		c.devices[ds.name] = ds
	}
	ds.seen = c.generation
	if ds.ignored {
		return
	}
	devLen := c.join(rootLen, name)

	changed := c.readAttr(ds, nil, devLen, "board_id", &ds.boardID)
	changed = c.readAttr(ds, nil, devLen, "fw_ver", &ds.firmware) || changed
	changed = c.readAttr(ds, nil, devLen, "hca_type", &ds.hcaType) || changed
	changed = c.readAttr(ds, nil, devLen, "node_guid", &ds.guid) || changed
	changed = c.readPCIAddress(ds, devLen) || changed
	if changed {
		ds.version++
	}

	portsLen := c.joinString(devLen, "ports")
	if err := c.reader.ReadDir(c.cstr(portsLen), &c.portNames); err != nil {
		if errors.Is(err, fs.ErrNotExist) && c.reader.Access(c.cstr(devLen)) != nil {
			c.countError(ds, nil, reasonVanished, c.root+"/"+ds.name, err)
			return
		}
		c.countError(ds, nil, classify(err), string(c.path[:portsLen]), err)
		return
	}
	for i := 0; i < c.portNames.len(); i++ {
		c.updatePort(ch, samples, ds, portsLen, c.portNames.at(i), c.portNames.ino(i))
	}
	for name, ps := range ds.ports {
		if ps.seen != c.generation {
			delete(ds.ports, name)
		}
	}
}

func (c *Collector) updatePort(ch chan<- prometheus.Metric, samples *collector.Samples, ds *deviceState, portsLen int, name []byte, ino uint64) {
	ps := ds.ports[string(name)]
	if ps == nil || ps.ino != ino {
		// New, or removed and added again since the last scrape: its
		// counters are new counters, whose sources are chosen afresh.
		ps = &portState{name: string(name), ino: ino}
		ds.ports[ps.name] = ps
	}
	ps.seen = c.generation
	portLen := c.join(portsLen, name)

	ps.state, ps.haveState = c.readNumber(ds, ps, portLen, "state", parseStateID)
	ps.physState, ps.havePhys = c.readNumber(ds, ps, portLen, "phys_state", parseStateID)
	ps.rate, ps.haveRate = c.readNumber(ds, ps, portLen, "rate", parseRate)
	labelsChanged := c.readAttr(ds, ps, portLen, "link_layer", &ps.linkLayer)
	labelsChanged = c.readNetdev(ds, ps, portLen) || labelsChanged

	if !ps.planned {
		ps.planned = c.planCounters(ds, ps, portLen)
	}
	clear(ps.have[:])
	clear(ps.saturated[:])
	c.counters = counterBatch{c: c, ds: ds, ps: ps, portLen: portLen}
	c.guard.readAll(&c.counters, len(ps.plan), len(c.buf))
	c.counters = counterBatch{}

	// A port that disappeared while we read it (device reset, VF removed)
	// yields nothing rather than a half-read set of series, and counts as one
	// vanished port rather than as every file that was missing.
	if c.reader.Access(c.cstr(portLen)) != nil {
		c.pending = c.pending[:0]
		c.countError(ds, ps, reasonVanished, string(c.path[:portLen]), fs.ErrNotExist)
		delete(ds.ports, ps.name)
		return
	}
	for _, p := range c.pending {
		c.countError(ds, ps, p.reason, p.path, p.err)
	}
	c.pending = c.pending[:0]
	c.refreshLabels(ds, ps, labelsChanged)
	c.sendPort(ch, samples, ps)
}

// planCounters chooses the file of each of the port's counters from the
// listings of its counter directories: counters_ext/ first, so its 64-bit
// values win. A directory that cannot be listed (other than absent) makes the
// plan provisional, to be made again at the next scrape, and withholds every
// counter it could feed, so that none is served from a second source first and
// switches later. It reports whether the plan is final.
func (c *Collector) planCounters(ds *deviceState, ps *portState, portLen int) bool {
	ps.plan = ps.plan[:0]
	var taken [numCounterMetrics]bool
	final := true
	for di, d := range counterDirs {
		dirLen := c.joinString(portLen, d.dir)
		if err := c.reader.ReadDir(c.cstr(dirLen), &c.dirNames); err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				c.portError(ds, ps, classify(err), dirLen, err)
				final = false
				for _, src := range d.sources {
					taken[src.metric] = true
				}
			}
			continue // counters_ext/ and hw_counters/ are absent on many HCAs
		}
		for i := 0; i < c.dirNames.len(); i++ {
			src, ok := d.sources[string(c.dirNames.at(i))]
			if !ok || taken[src.metric] {
				continue
			}
			taken[src.metric] = true
			ps.plan = append(ps.plan, plannedCounter{dir: di, src: src})
		}
	}
	return final
}

func (c *Collector) sendPort(ch chan<- prometheus.Metric, samples *collector.Samples, ps *portState) {
	if ps.haveState {
		samples.Send(ch, c.stateDesc, prometheus.GaugeValue, ps.state, ps.labels)
	}
	if ps.havePhys {
		samples.Send(ch, c.physStateDesc, prometheus.GaugeValue, ps.physState, ps.labels)
	}
	if ps.haveRate {
		samples.Send(ch, c.rateDesc, prometheus.GaugeValue, ps.rate, ps.labels)
	}
	samples.Send(ch, c.infoDesc, prometheus.GaugeValue, 1, ps.infoLabels)
	for i := range ps.values {
		if ps.have[i] {
			samples.Send(ch, c.counterDescs[i], prometheus.CounterValue, ps.values[i], ps.labels)
		}
	}
	// Only the saturated counters: a series per fixed-width counter and port
	// would add a third to the collector's series for a rare state.
	for m, sat := range ps.saturated {
		if !sat {
			continue
		}
		if ps.saturatedLabels[m] == nil {
			ps.saturatedLabels[m] = prometheus.MakeLabelPairs(c.saturatedDesc, append(append([]string(nil), ps.labelValues...), counterMetrics[m].name))
		}
		samples.Send(ch, c.saturatedDesc, prometheus.GaugeValue, 1, ps.saturatedLabels[m])
	}
}

// refreshLabels rebuilds the port's label pairs only when a value changed,
// so a steady-state scrape allocates none.
func (c *Collector) refreshLabels(ds *deviceState, ps *portState, changed bool) {
	if c.cfg.Attributor != nil {
		c.extra = c.cfg.Attributor.AppendPortLabels(c.extra[:0], ds.name, ps.name)
		if !equalStrings(c.extra, ps.extra) {
			ps.extra = append(ps.extra[:0:0], c.extra...)
			changed = true
		}
	}
	if !changed && ps.labels != nil && ps.deviceVersion == ds.version {
		return
	}
	ps.deviceVersion = ds.version
	values := append([]string{ds.name, ps.name, ps.linkLayer}, ps.extra...)
	ps.labels = prometheus.MakeLabelPairs(c.stateDesc, values)
	info := append([]string{ps.netdev, ds.boardID, ds.firmware, ds.hcaType, ds.guid, ds.pciAddr}, values...)
	ps.infoLabels = prometheus.MakeLabelPairs(c.infoDesc, info)
	ps.labelValues = values
	clear(ps.saturatedLabels[:]) // built when first needed
}

func (c *Collector) sendErrors(ch chan<- prometheus.Metric, samples *collector.Samples) {
	for _, e := range c.errors {
		samples.Send(ch, c.errorsDesc, prometheus.CounterValue, e.count, e.labels)
	}
}

// counterBatch reads a port's planned counter files in one batch of the
// read guard.
type counterBatch struct {
	c       *Collector
	ds      *deviceState
	ps      *portState
	portLen int
}

func (b *counterBatch) path(i int) []byte {
	pc := b.ps.plan[i]
	n := b.c.joinString(b.c.joinString(b.portLen, counterDirs[pc.dir].dir), pc.src.file)
	return b.c.cstr(n)
}

func (b *counterBatch) result(i int, content []byte, err error) {
	pc := b.ps.plan[i]
	if err == nil {
		var raw uint64
		if raw, err = parseUint(content); err == nil {
			m := pc.src.metric
			b.ps.values[m], b.ps.have[m] = float64(raw)*pc.src.scale, true
			b.ps.saturated[m] = pc.src.saturated(raw)
			return
		}
	}
	b.path(i) // c.path is the failing file's path again, for the error
	b.c.portError(b.ds, b.ps, classify(err), len(b.c.path)-1, err)
}

// readNumber reads and parses one numeric file at c.path[:n] (+"/"+file).
// Failures are counted against the port and reported as !ok.
func (c *Collector) readNumber(ds *deviceState, ps *portState, n int, file string, parse func([]byte) (float64, error)) (float64, bool) {
	if file != "" {
		n = c.joinString(n, file)
	}
	content, err := c.read(n)
	if err == nil {
		var v float64
		if v, err = parse(content); err == nil {
			return v, true
		}
	}
	c.portError(ds, ps, classify(err), n, err)
	return 0, false
}

// portError defers a port's read failure until the port is known to still
// exist; device-level failures are counted at once.
func (c *Collector) portError(ds *deviceState, ps *portState, reason string, n int, err error) {
	if ps == nil {
		c.countError(ds, nil, reason, string(c.path[:n]), err)
		return
	}
	c.pending = append(c.pending, pendingError{reason: reason, path: string(c.path[:n]), err: err})
}

// readAttr reads a string attribute into *dst and reports whether it changed.
// A missing attribute is simply empty: not every driver exposes every file.
func (c *Collector) readAttr(ds *deviceState, ps *portState, n int, file string, dst *string) bool {
	n = c.joinString(n, file)
	content, err := c.read(n)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			c.portError(ds, ps, classify(err), n, err)
		}
		content = nil
	}
	content = trimSpace(content)
	if string(content) == *dst {
		return false
	}
	*dst = string(content)
	return true
}

// readPCIAddress resolves the device symlink: .../0000:1a:00.0 → "0000:1a:00.0".
func (c *Collector) readPCIAddress(ds *deviceState, devLen int) bool {
	n := c.joinString(devLen, "device")
	m, err := c.reader.Readlink(c.cstr(n), c.buf)
	var addr []byte
	if err == nil {
		addr = c.buf[:m]
		for i := len(addr) - 1; i >= 0; i-- {
			if addr[i] == '/' {
				addr = addr[i+1:]
				break
			}
		}
	}
	if string(addr) == ds.pciAddr {
		return false
	}
	ds.pciAddr = string(addr)
	return true
}

// readNetdev finds the port's network interface: the RoCE GID table's first
// entry names it; failing that, the one net/ device whose dev_port matches.
func (c *Collector) readNetdev(ds *deviceState, ps *portState, portLen int) bool {
	var netdev []byte
	if content, err := c.read(c.joinString(portLen, "gid_attrs/ndevs/0")); err == nil {
		netdev = trimSpace(content)
	}
	if len(netdev) == 0 {
		netdev = c.netdevByDevPort(portLen, ps.name)
	}
	if string(netdev) == ps.netdev {
		return false
	}
	ps.netdev = string(netdev)
	return true
}

// netdevByDevPort scans <device>/device/net/*/dev_port for the interface of
// this port (dev_port counts from 0, ports from 1), as IPoIB interfaces have
// no GID-table netdev. The result aliases c.buf.
func (c *Collector) netdevByDevPort(portLen int, port string) []byte {
	// c.path[:portLen] is <root>/<dev>/ports/<port>; the device dir ends before "/ports/".
	devLen := portLen - len(port) - len("/ports/")
	// The scan reuses the shared path buffer: put the port's path back after.
	defer func() { c.path = append(append(c.path[:devLen], "/ports/"...), port...) }()
	netLen := c.joinString(devLen, "device/net")
	if c.reader.ReadDir(c.cstr(netLen), &c.dirNames) != nil {
		return nil
	}
	want, err := parseUint([]byte(port))
	if err != nil || want == 0 {
		return nil
	}
	for i := 0; i < c.dirNames.len(); i++ {
		name := c.dirNames.at(i)
		n := c.join(netLen, name)
		content, err := c.read(c.joinString(n, "dev_port"))
		if err != nil {
			continue
		}
		if v, err := parseUint(content); err == nil && v == want-1 {
			return append(c.buf[:0], name...)
		}
	}
	return nil
}

// read returns the raw contents of the file at c.path[:n]; the slice
// aliases the scratch buffer and is valid until the next read.
func (c *Collector) read(n int) ([]byte, error) {
	m, err := c.reader.ReadFile(c.cstr(n), c.buf)
	if err != nil {
		return nil, err
	}
	return c.buf[:m], nil
}

// cstr returns c.path[:n] NUL-terminated for the syscalls.
func (c *Collector) cstr(n int) []byte {
	c.path = append(c.path[:n], 0)
	return c.path
}

// join sets the path to c.path[:n] + "/" + name and returns its length.
func (c *Collector) join(n int, name []byte) int {
	c.path = append(append(c.path[:n], '/'), name...)
	return len(c.path)
}

func (c *Collector) joinString(n int, name string) int {
	c.path = append(append(c.path[:n], '/'), name...)
	return len(c.path)
}

func (c *Collector) countError(ds *deviceState, ps *portState, reason, path string, err error) {
	key := errorKey{device: ds.name, reason: reason}
	if ps != nil {
		key.port = ps.name
	}
	e := c.errors[key]
	if e == nil {
		e = &errorCount{labels: prometheus.MakeLabelPairs(c.errorsDesc, []string{key.device, key.port, key.reason})}
		c.errors[key] = e
	}
	e.count++
	c.logOnce.Log(path+"\x00"+reason, "cannot read InfiniBand sysfs value; skipping it", "path", path, "reason", reason, "err", err)
}

func classify(err error) string {
	switch {
	case errors.Is(err, errNotAvailable):
		return reasonNotAvailable
	case errors.Is(err, errInvalid):
		return reasonInvalid
	case errors.Is(err, errReadTimeout):
		return reasonTimeout
	case errors.Is(err, errReadStuck):
		return reasonStuck
	case errors.Is(err, fs.ErrNotExist):
		return reasonVanished
	default:
		return reasonIOError
	}
}

func parseStateID(b []byte) (float64, error) {
	v, err := parseState(b)
	return float64(v), err
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
