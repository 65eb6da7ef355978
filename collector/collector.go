// Package collector is the exporter's collector framework: a set of named
// collectors run concurrently at scrape time, each reporting its own success
// and duration, so that one failing, panicking or hanging source never costs
// the scrape of the others.
package collector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Namespace prefixes every metric the exporter exposes, so its series never
// collide with node_exporter's or dcgm-exporter's on the same node.
const Namespace = "llm"

// DefaultTimeout bounds a collection that comes without a deadline of its own
// (Collect, or a context without one): Prometheus's default scrape timeout.
const DefaultTimeout = 10 * time.Second

// maxGrace is the most of a scrape's time kept back between the moment the
// collectors' context ends and the scrape's deadline, so that a collector
// that stops on cancellation still has its partial result served.
const maxGrace = 500 * time.Millisecond

// Collector reads one source at scrape time and sends its metrics on ch.
// An error means the collector failed as a whole; partial failures (one
// unreadable file, one lost device) are the collector's to count and absorb.
type Collector interface {
	Update(ch chan<- prometheus.Metric) error
}

// ContextCollector is a Collector whose work can be cancelled: the scrape's
// context ends when the scrape's deadline passes or no one waits for the
// result any more, and a collector doing network or file I/O stops then.
type ContextCollector interface {
	Collector
	UpdateContext(ctx context.Context, ch chan<- prometheus.Metric) error
}

// ErrNoData is returned by a collector that found nothing to collect on this
// node (no such hardware): it is logged at debug level and reported as success.
var ErrNoData = errors.New("collector returned no data")

// errDeadline is how a collector that missed the scrape deadline is logged.
var errDeadline = errors.New("not finished by the scrape deadline; reported failed for this scrape")

var (
	successDesc = prometheus.NewDesc(
		prometheus.BuildFQName(Namespace, "exporter", "collector_success"),
		"Whether the collector's last scrape succeeded (1) or failed (0).",
		[]string{"collector"}, nil)
	durationDesc = prometheus.NewDesc(
		prometheus.BuildFQName(Namespace, "exporter", "collector_duration_seconds"),
		"Duration of the collector's last scrape in seconds.",
		[]string{"collector"}, nil)
	timeoutsDesc = prometheus.NewDesc(
		prometheus.BuildFQName(Namespace, "exporter", "collector_timeouts_total"),
		"Scrapes the collector had not finished by the scrape deadline: it was reported failed and its series left out of that scrape.",
		[]string{"collector"}, nil)
)

// Set runs its collectors concurrently on every scrape and adds the
// per-collector success, duration and timeout metrics. It is an unchecked
// prometheus.Collector: collectors may vary their series between scrapes.
//
// Scrapes that overlap share one collection per collector: a scrape that
// arrives while a collector is running waits for that run's result instead
// of starting another, so a slow source costs one collection however many
// scrapers there are. Each scrape waits for each collector only until its
// own deadline; the collection's context ends when the last scrape waiting
// for it is about to give up or has gone away.
type Set struct {
	names  []string
	states map[string]*state
	logger *slog.Logger

	mu      sync.Mutex
	lastErr map[string]string // per collector, to log a persistent failure once
}

// state is one collector's: its collection in progress, if any, and its
// timeout count. mu is never held across a collection.
type state struct {
	name string
	c    Collector

	mu       sync.Mutex
	cur      *flight
	timeouts float64

	// The last run's number of metrics and TextMetrics, to size the next
	// one's; only a run touches them, and runs never overlap.
	nMetrics, nText int
}

// flight is one run of a collector, shared by the scrapes waiting for it.
type flight struct {
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{} // closed when the collector has returned

	// Guarded by the state's mu.
	waiters int
	stopAt  time.Time   // when ctx ends: the latest waiter's deadline less its grace
	timer   *time.Timer // fires at stopAt

	// Written before done is closed, read-only after.
	metrics  []prometheus.Metric // but the TextMetrics
	text     []TextMetric
	err      error
	duration float64
}

func (f *flight) finished() bool {
	select {
	case <-f.done:
		return true
	default:
		return false
	}
}

// NewSet returns a Set of the given collectors keyed by name.
func NewSet(logger *slog.Logger, collectors map[string]Collector) *Set {
	s := &Set{states: make(map[string]*state, len(collectors)), logger: logger, lastErr: map[string]string{}}
	for name, c := range collectors {
		s.names = append(s.names, name)
		s.states[name] = &state{name: name, c: c}
	}
	sort.Strings(s.names)
	return s
}

// Names lists the collectors of the set in order.
func (s *Set) Names() []string { return s.names }

// Describe sends nothing: the set is an unchecked collector.
func (s *Set) Describe(chan<- *prometheus.Desc) {}

// Collect is CollectContext within DefaultTimeout.
func (s *Set) Collect(ch chan<- prometheus.Metric) {
	s.CollectContext(context.Background(), ch)
}

// CollectContext runs every collector concurrently (or joins the run already
// in progress) and sends each one's metrics, success and duration as soon as
// it has finished. It returns by ctx's deadline (DefaultTimeout from now if
// it has none) or as soon as ctx is cancelled: a collector that has not
// finished by then is reported failed, and counted as a timeout when the
// deadline passed.
func (s *Set) CollectContext(ctx context.Context, ch chan<- prometheus.Metric) {
	s.collect(ctx, ch, nil)
}

func (s *Set) collect(ctx context.Context, ch chan<- prometheus.Metric, text *TextGatherer) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultTimeout)
		defer cancel()
	}
	deadline, _ := ctx.Deadline()
	stopAt := deadline.Add(-grace(time.Until(deadline)))
	var wg sync.WaitGroup
	wg.Add(len(s.names))
	for _, name := range s.names {
		go func(st *state) {
			defer wg.Done()
			s.serve(ctx, st, stopAt, ch, text)
		}(s.states[name])
	}
	wg.Wait()
	for _, name := range s.names {
		st := s.states[name]
		st.mu.Lock()
		n := st.timeouts
		st.mu.Unlock()
		ch <- prometheus.MustNewConstMetric(timeoutsDesc, prometheus.CounterValue, n, name)
	}
}

// grace is the part of a scrape's remaining time d kept back for collectors
// to return what they have once their context ends: a tenth, at most maxGrace.
func grace(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return min(d/10, maxGrace)
}

// Gatherer returns a Gatherer of the set whose every Gather collects under
// ctx: one scrape's view of the set, for a handler to merge with the rest.
func (s *Set) Gatherer(ctx context.Context) prometheus.Gatherer {
	reg := prometheus.NewRegistry()
	reg.MustRegister(boundSet{s, ctx, nil})
	return reg
}

// TextGatherer returns a Gatherer of the set like Gatherer, except that the
// metrics that can write themselves as text (TextMetric) are not gathered:
// they are kept for Text, which a scrape in the text format writes itself.
func (s *Set) TextGatherer(ctx context.Context) *TextGatherer {
	t := &TextGatherer{reg: prometheus.NewRegistry()}
	t.reg.MustRegister(boundSet{s, ctx, t})
	return t
}

// TextGatherer is one scrape's view of the set for the text format.
type TextGatherer struct {
	reg  *prometheus.Registry
	mu   sync.Mutex
	text [][]TextMetric
}

// Gather gathers the set's metrics but its TextMetrics.
func (t *TextGatherer) Gather() ([]*dto.MetricFamily, error) { return t.reg.Gather() }

// Text is the TextMetrics of the last Gather, by family.
func (t *TextGatherer) Text() *TextPage {
	t.mu.Lock()
	defer t.mu.Unlock()
	return NewTextPage(t.text...)
}

func (t *TextGatherer) add(ms []TextMetric) {
	t.mu.Lock()
	t.text = append(t.text, ms)
	t.mu.Unlock()
}

// boundSet is the set as a prometheus.Collector collecting under one context;
// with text set, the TextMetrics go there rather than on the channel.
type boundSet struct {
	s    *Set
	ctx  context.Context
	text *TextGatherer
}

func (b boundSet) Describe(chan<- *prometheus.Desc) {}
func (b boundSet) Collect(ch chan<- prometheus.Metric) {
	b.s.collect(b.ctx, ch, b.text)
}

// serve waits for st's result within ctx and sends it, or reports st failed.
func (s *Set) serve(ctx context.Context, st *state, stopAt time.Time, ch chan<- prometheus.Metric, text *TextGatherer) {
	start := time.Now()
	f := s.join(ctx, st, stopAt)
	if f != nil {
		select {
		case <-f.done:
		case <-ctx.Done():
		}
		st.leave(f)
	}
	if f == nil || !f.finished() {
		// Not finished within this scrape: failed for it, without its series.
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			st.mu.Lock()
			st.timeouts++
			st.mu.Unlock()
			s.logFailure(st.name, errDeadline, time.Since(start).Seconds())
		}
		s.report(ch, st.name, 0, time.Since(start).Seconds())
		return
	}
	for _, m := range f.metrics {
		ch <- m
	}
	if text != nil {
		if len(f.text) > 0 {
			text.add(f.text)
		}
	} else {
		for _, m := range f.text {
			ch <- m
		}
	}
	success := 1.0
	if f.err != nil && !errors.Is(f.err, ErrNoData) {
		success = 0
	}
	s.report(ch, st.name, success, f.duration)
}

func (s *Set) report(ch chan<- prometheus.Metric, name string, success, duration float64) {
	ch <- prometheus.MustNewConstMetric(durationDesc, prometheus.GaugeValue, duration, name)
	ch <- prometheus.MustNewConstMetric(successDesc, prometheus.GaugeValue, success, name)
}

// join returns the run of st's collector this scrape waits for: the one in
// progress if it is still wanted, else a new one. A run whose context has
// ended but whose collector has not returned yet (a read stuck in the kernel,
// a collector that ignores cancellation) is waited out first, so a collector
// never runs twice at once and stuck runs never pile up. It returns nil when
// ctx ends first.
func (s *Set) join(ctx context.Context, st *state, stopAt time.Time) *flight {
	for {
		st.mu.Lock()
		f := st.cur
		switch {
		case f == nil || f.finished():
			f = s.launch(st, stopAt)
			st.cur = f
			st.mu.Unlock()
			return f
		case f.ctx.Err() == nil:
			f.waiters++
			if stopAt.After(f.stopAt) {
				f.stopAt = stopAt
				f.timer.Reset(time.Until(stopAt))
			}
			st.mu.Unlock()
			return f
		}
		st.mu.Unlock()
		select {
		case <-f.done:
		case <-ctx.Done():
			return nil
		}
	}
}

// leave drops a waiter of f; the run is cancelled when no one waits for it.
func (st *state) leave(f *flight) {
	st.mu.Lock()
	f.waiters--
	if f.waiters == 0 {
		f.cancel()
	}
	st.mu.Unlock()
}

// launch starts a run of st's collector for one waiter; st.mu is held.
func (s *Set) launch(st *state, stopAt time.Time) *flight {
	ctx, cancel := context.WithCancel(context.Background())
	f := &flight{ctx: ctx, cancel: cancel, done: make(chan struct{}), waiters: 1, stopAt: stopAt}
	f.timer = time.AfterFunc(time.Until(stopAt), cancel)
	go s.fly(st, f)
	return f
}

// fly runs the collector once, keeping its metrics for every waiter.
func (s *Set) fly(st *state, f *flight) {
	defer close(f.done)
	defer f.cancel()
	defer f.timer.Stop()
	ch := make(chan prometheus.Metric, 64)
	kept := make(chan struct{})
	f.metrics = make([]prometheus.Metric, 0, st.nMetrics)
	if st.nText > 0 {
		f.text = make([]TextMetric, 0, st.nText)
	}
	go func() {
		for m := range ch {
			if tm, ok := m.(TextMetric); ok {
				f.text = append(f.text, tm)
			} else {
				f.metrics = append(f.metrics, m)
			}
		}
		close(kept)
	}()
	start := time.Now()
	err := safeUpdate(f.ctx, st.c, ch)
	close(ch)
	<-kept
	st.nMetrics, st.nText = len(f.metrics), len(f.text)
	f.err = err
	f.duration = time.Since(start).Seconds()

	st.mu.Lock()
	abandoned := f.waiters == 0
	if st.cur == f {
		st.cur = nil // its metrics live only as long as its waiters need them
	}
	st.mu.Unlock()
	switch {
	case abandoned:
		// No scrape is waiting: its end (often the cancellation) is no news.
		s.logger.Debug("abandoned collection returned", "collector", st.name, "duration_seconds", f.duration, "err", err)
	case err == nil:
		s.logger.Debug("collector succeeded", "collector", st.name, "duration_seconds", f.duration)
		s.logFailure(st.name, nil, f.duration)
	case errors.Is(err, ErrNoData):
		s.logger.Debug("collector returned no data", "collector", st.name, "duration_seconds", f.duration, "err", err)
		s.logFailure(st.name, err, f.duration)
	default:
		s.logFailure(st.name, err, f.duration)
	}
}

// logFailure logs a failure at error level when it starts or changes, at
// debug level while it persists, and a recovery at info level, so a node
// without some hardware does not log the same error on every scrape.
func (s *Set) logFailure(name string, err error, duration float64) {
	msg := ""
	if err != nil && !errors.Is(err, ErrNoData) {
		msg = err.Error()
	}
	s.mu.Lock()
	last := s.lastErr[name]
	s.lastErr[name] = msg
	s.mu.Unlock()
	switch {
	case msg != "" && msg != last:
		s.logger.Error("collector failed", "collector", name, "duration_seconds", duration, "err", err)
	case msg != "":
		s.logger.Debug("collector still failing", "collector", name, "err", err)
	case last != "":
		s.logger.Info("collector recovered", "collector", name)
	}
}

// safeUpdate turns a panic inside a collector into that collector's error,
// so a bug in one source cannot take down the scrape or the process.
func safeUpdate(ctx context.Context, c Collector, ch chan<- prometheus.Metric) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("collector panicked: %v\n%s", r, debug.Stack())
		}
	}()
	if cc, ok := c.(ContextCollector); ok {
		return cc.UpdateContext(ctx, ch)
	}
	return c.Update(ch)
}
