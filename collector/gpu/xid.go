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
	counts  *xidCounts
	done    chan struct{}
	stopped chan struct{}
	once    sync.Once
}

// xidCounts outlives NVML re-initialisations so the counters stay monotonic.
type xidCounts struct {
	mu sync.Mutex
	m  map[xidKey]*xidCount
}

type xidKey struct {
	uuid string
	xid  uint64
}

type xidCount struct{ count, lastSeen float64 }

// waitTimeout bounds each event wait so stop() returns promptly.
const waitTimeout = 500 // milliseconds

func startXIDWatcher(lib nvml.Interface, logger *slog.Logger, prev *xidWatcher) *xidWatcher {
	w := &xidWatcher{counts: &xidCounts{m: map[xidKey]*xidCount{}}, done: make(chan struct{}), stopped: make(chan struct{})}
	if prev != nil {
		w.counts = prev.counts
	}
	set, ret := lib.EventSetCreate()
	if ret != nvml.SUCCESS {
		logger.Warn("cannot create NVML event set; XID errors will not be counted", "err", nvml.ErrorString(ret))
		close(w.stopped)
		return w
	}
	registered := 0
	if n, ret := lib.DeviceGetCount(); ret == nvml.SUCCESS {
		for i := 0; i < n; i++ {
			dev, ret := lib.DeviceGetHandleByIndex(i)
			if ret != nvml.SUCCESS {
				continue
			}
			if ret := dev.RegisterEvents(nvml.EventTypeXidCriticalError, set); ret == nvml.SUCCESS {
				registered++
			} else {
				logger.Info("GPU does not report XID events", "gpu", i, "err", nvml.ErrorString(ret))
			}
		}
	}
	if registered == 0 {
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
			uuid, _ := data.Device.GetUUID()
			w.counts.record(uuid, data.EventData, time.Now())
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
	c.lastSeen = float64(at.UnixNano()) / 1e9
}

func (w *xidWatcher) stop() {
	w.once.Do(func() { close(w.done) })
	<-w.stopped
}

// collect sends the XID counters, labelled like the GPU they happened on.
func (w *xidWatcher) collect(ch chan<- prometheus.Metric, c *Collector) {
	index := map[string]int{}
	for i, st := range c.devices {
		index[st.uuid] = i
	}
	w.counts.mu.Lock()
	defer w.counts.mu.Unlock()
	for k, v := range w.counts.m {
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
