package gpu

import (
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/prometheus/client_golang/prometheus"
)

// xidWatcher waits on an NVML event set for XID critical errors in its own
// goroutine and counts them per GPU and XID code, so an XID is a counter that
// rate() and increase() understand, with a last-seen timestamp beside it
// (never dcgm-exporter's "last XID" gauge that cannot tell two events apart).
type xidWatcher struct {
	counts *xidCounts
	now    func() time.Time
	// registered are the GPUs whose events the set receives, with the UUID
	// read when they were registered: an event's device is matched to them
	// when its UUID cannot be read any more (XID 79: the GPU fell off the bus).
	registered []registeredGPU
	done       chan struct{}
	stopped    chan struct{}
	once       sync.Once
}

type registeredGPU struct {
	dev  nvml.Device
	uuid string
}

// xidCounts outlives NVML re-initialisations so the counters stay monotonic.
type xidCounts struct {
	mu     sync.Mutex
	m      map[xidKey]*xidCount
	errors map[errorKey]float64 // drained into the collector's at each scrape
}

// xidKey identifies a counter: the GPU by UUID ("" when it could not be
// known: such events are served with empty gpu and uuid, never attached to a
// GPU) and the XID code.
type xidKey struct {
	uuid string
	xid  uint64
}

type xidCount struct{ count, lastSeen float64 }

func newXIDCounts() *xidCounts {
	return &xidCounts{m: map[xidKey]*xidCount{}, errors: map[errorKey]float64{}}
}

// waitTimeout bounds each event wait so stop() returns promptly.
const waitTimeout = 500 // milliseconds

// startXIDWatcher registers every GPU for XID events and starts the watcher.
// known gives the UUID the collector last read for an index, for a GPU whose
// UUID cannot be read at registration.
func startXIDWatcher(lib nvml.Interface, logger *slog.Logger, counts *xidCounts, now func() time.Time, known func(int) string) *xidWatcher {
	w := &xidWatcher{counts: counts, now: now, done: make(chan struct{}), stopped: make(chan struct{})}
	set, ret := lib.EventSetCreate()
	if ret != nvml.SUCCESS {
		logger.Warn("cannot create NVML event set; XID errors will not be counted", "err", nvml.ErrorString(ret))
		close(w.stopped)
		return w
	}
	if n, ret := lib.DeviceGetCount(); ret == nvml.SUCCESS {
		for i := 0; i < n; i++ {
			dev, ret := lib.DeviceGetHandleByIndex(i)
			if ret != nvml.SUCCESS {
				continue
			}
			if ret := dev.RegisterEvents(nvml.EventTypeXidCriticalError, set); ret == nvml.SUCCESS {
				uuid, ret := dev.GetUUID()
				if ret != nvml.SUCCESS {
					uuid = known(i)
				}
				w.registered = append(w.registered, registeredGPU{dev, uuid})
			} else {
				logger.Info("GPU does not report XID events", "gpu", i, "err", nvml.ErrorString(ret))
			}
		}
	}
	if len(w.registered) == 0 {
		set.Free()
		close(w.stopped)
		return w
	}
	go w.run(set, logger)
	return w
}

func (w *xidWatcher) run(set nvml.EventSet, logger *slog.Logger) {
	defer close(w.stopped)
	defer set.Free()
	defer func() {
		// A watcher bug must never take the exporter down with it.
		if r := recover(); r != nil {
			logger.Error("XID watcher stopped", "panic", r)
		}
	}()
	for {
		select {
		case <-w.done:
			return
		default:
		}
		data, ret := set.Wait(waitTimeout)
		switch ret {
		case nvml.SUCCESS:
			if data.EventType&nvml.EventTypeXidCriticalError == 0 || data.Device == nil {
				continue
			}
			uuid := w.uuidOf(data.Device)
			w.counts.record(uuid, data.EventData, w.now())
			logger.Warn("GPU XID error", "uuid", uuid, "xid", data.EventData)
		case nvml.ERROR_TIMEOUT:
		default:
			logger.Debug("NVML event wait failed", "err", nvml.ErrorString(ret))
			select {
			case <-w.done:
				return
			case <-time.After(time.Second): // don't spin on a persistent error
			}
		}
	}
}

// uuidOf names the GPU of an event: its UUID, or when that cannot be read,
// the UUID read when the same handle was registered; "" when neither, and the
// failed read is counted.
func (w *xidWatcher) uuidOf(dev nvml.Device) string {
	uuid, ret := dev.GetUUID()
	if ret == nvml.SUCCESS {
		return uuid
	}
	for _, r := range w.registered {
		if sameHandle(r.dev, dev) && r.uuid != "" {
			return r.uuid
		}
	}
	w.counts.countError("nvmlDeviceGetUUID", ret)
	return ""
}

// sameHandle compares two device handles; false (not a panic) for handle
// types that cannot be compared.
func sameHandle(a, b nvml.Device) (same bool) {
	defer func() {
		if recover() != nil {
			same = false
		}
	}()
	return a == b
}

func (x *xidCounts) record(uuid string, xid uint64, at time.Time) {
	x.mu.Lock()
	defer x.mu.Unlock()
	k := xidKey{uuid, xid}
	c := x.m[k]
	if c == nil {
		c = &xidCount{}
		x.m[k] = c
	}
	c.count++
	c.lastSeen = float64(at.Unix()) + float64(at.Nanosecond())/1e9
}

// countError counts a failed call of the watcher, against no GPU.
func (x *xidCounts) countError(call string, ret nvml.Return) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.errors[errorKey{call: call, ret: nvml.ErrorString(ret)}]++
}

func (x *xidCounts) drainErrors(into map[errorKey]float64) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for k, v := range x.errors {
		into[k] += v
		delete(x.errors, k)
	}
}

func (w *xidWatcher) stop() {
	w.once.Do(func() { close(w.done) })
	<-w.stopped
}

// collect sends the XID counters, labelled like the GPU they happened on; an
// XID of an unknown GPU has empty gpu and uuid labels.
func (x *xidCounts) collect(ch chan<- prometheus.Metric, c *Collector) {
	index := map[string]int{}
	for i, st := range c.devices {
		if st.uuid != "" {
			index[st.uuid] = i
		}
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	for k, v := range x.m {
		var labels []string
		if i, ok := index[k.uuid]; ok {
			labels = c.labelValues(i, k.uuid)
		} else {
			labels = c.labelValues(-1, k.uuid)
			labels[0] = ""
		}
		xid := strconv.FormatUint(k.xid, 10)
		ch <- prometheus.MustNewConstMetric(c.d.xidErrors, prometheus.CounterValue, v.count, append(labels, xid)...)
		ch <- prometheus.MustNewConstMetric(c.d.xidLastSeen, prometheus.GaugeValue, v.lastSeen, append(labels, xid)...)
	}
}
