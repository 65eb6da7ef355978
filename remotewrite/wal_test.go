package remotewrite

import (
	"context"
	"fmt"
	"maps"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// downable is a receiver that answers 503 while down.
func downable(t *testing.T) (*receiver, *atomic.Bool) {
	rc := newReceiver(t)
	down := &atomic.Bool{}
	rc.setFault(func(w http.ResponseWriter, r *http.Request, n int) bool {
		if _, dead := killedRuns.Load(r.Header.Get(runHeader)); dead || down.Load() {
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
			return true
		}
		return false
	})
	return rc, down
}

// tickRegistryOn is tickRegistry counting on n, so that a restarted pusher
// goes on with the numbers.
func tickRegistryOn(n *atomic.Int64) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "llm_test_tick", Help: "collection number"},
		func() float64 { return float64(n.Add(1)) }))
	return reg
}

// walRun is a pusher with a WAL whose senders run without Run, so that it
// can be killed: its senders stop and its files are left as a SIGKILL
// leaves them (no final collection, no flush, no staleness markers).
type walRun struct {
	p      *Pusher
	logs   *syncBuffer
	cancel context.CancelFunc
	wg     sync.WaitGroup
	id     string
}

// runHeader names a walRun's requests. A killed process's request can
// reach a receiver after the kill (sent, then handled late); a real one is
// answered, or lost with its connection, but never stored once the receiver
// is back up at a later time. The receivers of downable refuse the requests
// of a killed run whenever they arrive, so that a test which brings a
// receiver up after a kill sees only what the restart sends.
const runHeader = "X-Test-Run"

var (
	killedRuns sync.Map // run ids
	runIDs     atomic.Int64
)

func startWALRun(t *testing.T, g prometheus.Gatherer, cfg Config) *walRun {
	t.Helper()
	logger, logs := testLogger()
	id := fmt.Sprintf("wal-run-%d", runIDs.Add(1))
	eps := make([]Endpoint, len(cfg.Endpoints))
	for i, e := range cfg.Endpoints {
		e.Headers = maps.Clone(e.Headers)
		if e.Headers == nil {
			e.Headers = map[string]string{}
		}
		e.Headers[runHeader] = id
		eps[i] = e
	}
	cfg.Endpoints = eps
	p, err := New(g, cfg, prometheus.NewRegistry(), logger)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &walRun{p: p, logs: logs, cancel: cancel, id: id}
	for _, e := range p.endpoints {
		r.wg.Add(1)
		go func() { defer r.wg.Done(); e.run(ctx) }()
	}
	t.Cleanup(r.kill)
	return r
}

func (r *walRun) kill() {
	killedRuns.Store(r.id, true)
	r.cancel()
	r.wg.Wait()
	r.p.wal.close() // what the kernel does for a killed process: the lock goes
}

func (r *walRun) collect(c *fakeClock) {
	c.Advance(time.Second)
	r.p.Collect(c.Now(), false)
}

func walBytesOnDisk(t *testing.T, dir string) int64 {
	t.Helper()
	var n int64
	entries, err := os.ReadDir(filepath.Join(dir, "segments"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		info, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		n += info.Size()
	}
	return n
}

// Killed while one receiver is down: after the restart every collection
// reaches it, in order, each once; the receiver that was up gets nothing
// twice; the series gone meanwhile gets its staleness marker.
func TestWALReplaysAfterKill(t *testing.T) {
	dir := t.TempDir()
	clock := newFakeClock()
	up, _ := downable(t)
	later, laterDown := downable(t)
	laterDown.Store(true)
	ticks := &atomic.Int64{}
	reg := tickRegistryOn(ticks)
	gone := prometheus.NewGauge(prometheus.GaugeOpts{Name: "llm_test_gone", Help: "h"})
	gone.Set(7)
	reg.MustRegister(gone)
	cfg := Config{Interval: time.Second, clock: clock, WALDir: dir,
		Endpoints: []Endpoint{endpointAt(up.srv.URL + "/api/v1/write"), endpointAt(later.srv.URL + "/api/v1/write")}}

	r := startWALRun(t, reg, cfg)
	for range 5 {
		r.collect(clock)
	}
	waitFor(t, time.Minute, "the first receiver has all", func() bool { return counterValue(t, r.p.endpoints[0].m.sent) == 10 })
	advanceUntil(t, clock, 10*time.Millisecond, "the second receiver retried", func() bool { return later.n.Load() >= 3 })
	r.kill()

	// The restart: the gone series is not collected any more.
	laterDown.Store(false)
	cfg.Endpoints = []Endpoint{endpointAt(up.srv.URL + "/api/v1/write"), endpointAt(later.srv.URL + "/api/v1/write")}
	run := startPusher(t, tickRegistryOn(ticks), cfg)
	if got := counterValue(t, run.p.endpoints[1].m.replayed); got != 10 {
		t.Errorf("replayed %v samples for the receiver that was down, want 10 (5 collections of 2 series)", got)
	}
	if got := counterValue(t, run.p.endpoints[0].m.replayed); got != 0 {
		t.Errorf("replayed %v samples for the receiver that had them all", got)
	}
	waitFor(t, time.Minute, "the restart's first collection everywhere", func() bool {
		_, a := up.get("llm_test_tick")
		_, b := later.get("llm_test_tick")
		return len(a) == 6 && len(b) == 6
	})
	if err := run.stop(t); err != nil {
		t.Fatal(err)
	}
	for name, rc := range map[string]*receiver{"up": up, "later": later} {
		_, ps := rc.get("llm_test_tick")
		checkTicks(t, ps, 1, 7) // strictly increasing: nothing sent twice
		_, ps = rc.get("llm_test_gone")
		if len(ps) != 6 || !IsStaleNaN(ps[5].v) {
			t.Errorf("%s: gone series %v, want 5 values and a staleness marker at the first collection after the restart", name, ps)
			continue
		}
		if _, tick := rc.get("llm_test_tick"); ps[5].ts != tick[5].ts {
			t.Errorf("%s: staleness marker at %d, the restart's first collection at %d", name, ps[5].ts, tick[5].ts)
		}
	}
	if !strings.Contains(run.logs.String(), "remote write WAL opened") {
		t.Errorf("the replay is not logged:\n%s", run.logs)
	}
}

// Without a WAL the same kill loses what was queued: the baseline the WAL
// exists for.
func TestNoWALKillLosesTheBuffer(t *testing.T) {
	clock := newFakeClock()
	rc, down := downable(t)
	down.Store(true)
	ticks := &atomic.Int64{}
	p, err := New(tickRegistryOn(ticks), Config{Interval: time.Second, clock: clock,
		Endpoints: []Endpoint{endpointAt(rc.srv.URL + "/api/v1/write")}}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		p.Collect(clock.Now(), false)
	}
	down.Store(false)
	p2, err := New(tickRegistryOn(ticks), Config{Interval: time.Second, clock: clock,
		Endpoints: []Endpoint{endpointAt(rc.srv.URL + "/api/v1/write")}}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := p2.endpoints[0].length(); n != 0 {
		t.Errorf("a new pusher without a WAL holds %d samples", n)
	}
}

// The WAL never holds more than its bound on disk; beyond it the oldest
// collections are dropped (counted as wal_full) from the buffer too, and
// after a kill the newest arrive, in order.
func TestWALBoundedInBytes(t *testing.T) {
	dir := t.TempDir()
	clock := newFakeClock()
	rc, down := downable(t)
	down.Store(true)
	ticks := &atomic.Int64{}
	reg := tickRegistryOn(ticks)
	reg.MustRegister(realisticNode(20)) // about 12 KB of labels
	const bound = 64 << 10
	cfg := Config{Interval: time.Second, clock: clock, WALDir: dir, WALMaxBytes: bound,
		Endpoints: []Endpoint{endpointAt(rc.srv.URL + "/api/v1/write")}}
	r := startWALRun(t, reg, cfg)
	for range 20 {
		r.collect(clock)
		if n := walBytesOnDisk(t, dir); n > bound {
			t.Fatalf("WAL of %d bytes on disk, over its %d", n, bound)
		} else if got := counterValue(t, r.p.m.walBytes); got != float64(n) {
			t.Errorf("wal_bytes = %v, %d on disk", got, n)
		}
	}
	e := r.p.endpoints[0]
	// The units of the request in flight are counted once the sender gives
	// it up, at its next failure.
	queued := e.length()
	walFull := e.m.dropped.WithLabelValues("wal_full")
	advanceUntil(t, clock, 10*time.Millisecond, "the drops counted", func() bool { return float64(queued)+counterValue(t, walFull) >= 20*21 })
	dropped := counterValue(t, walFull)
	if dropped == 0 {
		t.Fatal("nothing dropped as wal_full after 20 collections of ~12 KB in a 64 KiB WAL")
	}
	if float64(queued)+dropped != 20*21 {
		t.Errorf("%d queued + %v dropped, want the 420 collected", queued, dropped)
	}
	r.kill()

	down.Store(false)
	run := startPusher(t, tickRegistryOn(ticks), Config{Interval: time.Second, clock: clock, WALDir: dir, WALMaxBytes: bound,
		Endpoints: []Endpoint{endpointAt(rc.srv.URL + "/api/v1/write")}})
	if got := counterValue(t, run.ep().replayed); got != float64(queued) {
		t.Errorf("replayed %v samples, %d were queued at the kill", got, queued)
	}
	waitFor(t, time.Minute, "the restart's collection", func() bool {
		_, ps := rc.get("llm_test_tick")
		return len(ps) > 0 && ps[len(ps)-1].v == 21
	})
	if err := run.stop(t); err != nil {
		t.Fatal(err)
	}
	_, ps := rc.get("llm_test_tick")
	// The restart's collection, written to the full WAL, may push its
	// oldest collection out before it is sent: then it is counted.
	from := 21 - queued/21
	if got := counterValue(t, run.ep().dropped.WithLabelValues("wal_full")); got > 0 {
		from++
		if got != 21 {
			t.Errorf("dropped{wal_full} = %v after the restart, want 0 or one collection (21)", got)
		}
	}
	checkTicks(t, ps, from, 21+1)
}

// A record torn by a crash ends its segment's replay: counted, logged, the
// records before it sent, and the segment cut back so that it is counted
// once.
func TestWALTornRecord(t *testing.T) {
	dir := t.TempDir()
	clock := newFakeClock()
	rc, down := downable(t)
	down.Store(true)
	ticks := &atomic.Int64{}
	cfg := Config{Interval: time.Second, clock: clock, WALDir: dir,
		Endpoints: []Endpoint{endpointAt(rc.srv.URL + "/api/v1/write")}}
	r := startWALRun(t, tickRegistryOn(ticks), cfg)
	for range 3 {
		r.collect(clock)
	}
	r.kill()
	segs, _ := filepath.Glob(filepath.Join(dir, "segments", "*"))
	if len(segs) != 1 {
		t.Fatalf("segments %v, want one", segs)
	}
	info, _ := os.Stat(segs[0])
	if err := os.Truncate(segs[0], info.Size()-3); err != nil {
		t.Fatal(err)
	}

	down.Store(false)
	run := startPusher(t, tickRegistryOn(ticks), cfg)
	if got := counterValue(t, run.p.m.walErrors.WithLabelValues("replay")); got != 1 {
		t.Errorf("wal_errors_total{op=replay} = %v, want 1", got)
	}
	waitFor(t, time.Minute, "the replay and a collection", func() bool { _, ps := rc.get("llm_test_tick"); return len(ps) == 3 })
	if err := run.stop(t); err != nil {
		t.Fatal(err)
	}
	_, ps := rc.get("llm_test_tick")
	var vals []float64
	for _, p := range ps {
		if !IsStaleNaN(p.v) {
			vals = append(vals, p.v)
		}
	}
	if !slices.Equal(vals, []float64{1, 2, 4, 5}) {
		t.Errorf("ticks %v, want 1 2 (before the torn record), then 4 5 after the restart", vals)
	}
	if !strings.Contains(run.logs.String(), "torn or corrupt record") {
		t.Errorf("the torn record is not logged:\n%s", run.logs)
	}
}

// SIGTERM with the receiver down: what the flush could not send stays in
// the WAL (not dropped) and goes out after the next start, the shutdown's
// staleness marker included, in order.
func TestWALKeepsWhatTheFlushLeft(t *testing.T) {
	dir := t.TempDir()
	clock := newFakeClock()
	rc, down := downable(t)
	down.Store(true)
	ticks := &atomic.Int64{}
	cfg := Config{Interval: time.Hour, FlushTimeout: time.Second, clock: clock, WALDir: dir,
		Endpoints: []Endpoint{endpointAt(rc.srv.URL + "/api/v1/write")}}
	run := startPusher(t, tickRegistryOn(ticks), cfg)
	advanceUntil(t, clock, 10*time.Millisecond, "a retry", func() bool { return rc.n.Load() >= 2 })
	if err := run.stopAdvancing(t, 10*time.Millisecond); err != nil {
		t.Errorf("Run = %v, want nil with the rest kept in the WAL", err)
	}
	if got := counterValue(t, run.ep().dropped.WithLabelValues("shutdown")); got != 0 {
		t.Errorf("dropped{shutdown} = %v with a WAL", got)
	}
	if !strings.Contains(run.logs.String(), "kept in the WAL for the next start") {
		t.Errorf("not logged:\n%s", run.logs)
	}

	down.Store(false)
	again := startPusher(t, tickRegistryOn(ticks), cfg)
	waitFor(t, time.Minute, "the kept samples and a new collection", func() bool { _, ps := rc.get("llm_test_tick"); return len(ps) == 4 })
	if err := again.stop(t); err != nil {
		t.Fatal(err)
	}
	_, ps := rc.get("llm_test_tick")
	if len(ps) != 6 || ps[0].v != 1 || ps[1].v != 2 || !IsStaleNaN(ps[2].v) || ps[3].v != 3 || ps[4].v != 4 || !IsStaleNaN(ps[5].v) {
		t.Errorf("tick series %v: want 1 2 stale (first run), 3 4 stale (second)", ps)
	}
	for i := 1; i < len(ps); i++ {
		if ps[i].ts <= ps[i-1].ts {
			t.Errorf("sample %d at %d, not after %d", i, ps[i].ts, ps[i-1].ts)
		}
	}
}

// One WAL, one process: a second one is refused with a clear error.
func TestWALLocked(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{Interval: time.Second, clock: newFakeClock(), WALDir: dir, Endpoints: []Endpoint{endpointAt("http://127.0.0.1:1/api/v1/write")}}
	r := startWALRun(t, prometheus.NewRegistry(), cfg)
	if _, err := New(prometheus.NewRegistry(), cfg, nil, nil); err == nil || !strings.Contains(err.Error(), "in use by another process") {
		t.Errorf("second pusher on the WAL: %v", err)
	}
	r.kill()
	p, err := New(prometheus.NewRegistry(), cfg, nil, nil)
	if err != nil {
		t.Fatalf("after the first one ended: %v", err)
	}
	p.wal.close()
	cfg.WALMaxBytes = 1000
	if _, err := New(prometheus.NewRegistry(), cfg, nil, nil); err == nil {
		t.Error("a 1000-byte WAL accepted")
	}
}

// A segment as written reads back the same; random bytes never panic.
func FuzzWALSegment(f *testing.F) {
	dir := f.TempDir()
	clock := newFakeClock()
	reg := prometheus.NewRegistry()
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "llm_test_g", Help: "h"}, []string{"a", "b"})
	g.WithLabelValues("x", "").Set(math.Inf(1))
	g.WithLabelValues("y", "z").Set(-0.5)
	reg.MustRegister(g)
	p, err := New(reg, Config{Interval: time.Second, clock: clock, WALDir: dir,
		Endpoints: []Endpoint{endpointAt("http://127.0.0.1:1/api/v1/write")}}, nil, nil)
	if err != nil {
		f.Fatal(err)
	}
	p.Collect(clock.Now(), false)
	g.DeleteLabelValues("y", "z")
	p.Collect(clock.Now(), true)
	p.wal.close()
	segs, _ := filepath.Glob(filepath.Join(dir, "segments", "*"))
	seg, err := os.ReadFile(segs[0])
	if err != nil {
		f.Fatal(err)
	}
	r := &replayer{byKey: map[string]*series{}, st: &walState{nextSeq: 1}}
	if good, err := r.segment(seg, &walSegment{}); err != nil || good != len(seg) {
		f.Fatalf("written segment reads back %d of %d bytes: %v", good, len(seg), err)
	}
	if n := len(r.st.records); n != 3 || !r.st.records[2].final || !IsStaleNaN(r.st.records[1].samples[1].v) {
		f.Fatalf("records %+v: want 2 collections and the final markers", r.st.records)
	}
	f.Add(seg)
	f.Add(seg[:len(seg)-1])
	f.Add([]byte(walMagic))
	f.Fuzz(func(t *testing.T, b []byte) {
		r := &replayer{byKey: map[string]*series{}, st: &walState{nextSeq: 1}}
		good, _ := r.segment(b, &walSegment{})
		if good < 0 || good > len(b) {
			t.Fatalf("good offset %d of %d", good, len(b))
		}
	})
}
