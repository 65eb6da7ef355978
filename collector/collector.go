// Package collector is the exporter's collector framework: a set of named
// collectors run concurrently at scrape time, each reporting its own success
// and duration, so that one failing or panicking source never costs the scrape
// of the others.
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
)

// Namespace prefixes every metric the exporter exposes, so its series never
// collide with node_exporter's or dcgm-exporter's on the same node.
const Namespace = "llm"

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

var (
	successDesc = prometheus.NewDesc(
		prometheus.BuildFQName(Namespace, "exporter", "collector_success"),
		"Whether the collector's last scrape succeeded (1) or failed (0).",
		[]string{"collector"}, nil)
	durationDesc = prometheus.NewDesc(
		prometheus.BuildFQName(Namespace, "exporter", "collector_duration_seconds"),
		"Duration of the collector's last scrape in seconds.",
		[]string{"collector"}, nil)
)

// Set runs its collectors concurrently on every Collect and adds the
// per-collector success and duration gauges. It is an unchecked
// prometheus.Collector: collectors may vary their series between scrapes.
type Set struct {
	names      []string
	collectors map[string]Collector
	logger     *slog.Logger

	mu      sync.Mutex
	lastErr map[string]string // per collector, to log a persistent failure once
}

// NewSet returns a Set of the given collectors keyed by name.
func NewSet(logger *slog.Logger, collectors map[string]Collector) *Set {
	names := make([]string, 0, len(collectors))
	for name := range collectors {
		names = append(names, name)
	}
	sort.Strings(names)
	return &Set{names: names, collectors: collectors, logger: logger, lastErr: map[string]string{}}
}

// Names lists the collectors of the set in order.
func (s *Set) Names() []string { return s.names }

// Describe sends nothing: the set is an unchecked collector.
func (s *Set) Describe(chan<- *prometheus.Desc) {}

// Collect runs every collector concurrently and waits for all of them.
func (s *Set) Collect(ch chan<- prometheus.Metric) {
	var wg sync.WaitGroup
	wg.Add(len(s.names))
	for _, name := range s.names {
		go func(name string) {
			defer wg.Done()
			s.run(name, s.collectors[name], ch)
		}(name)
	}
	wg.Wait()
}

func (s *Set) run(name string, c Collector, ch chan<- prometheus.Metric) {
	start := time.Now()
	err := safeUpdate(c, ch)
	duration := time.Since(start).Seconds()

	success := 1.0
	switch {
	case err == nil:
		s.logger.Debug("collector succeeded", "collector", name, "duration_seconds", duration)
	case errors.Is(err, ErrNoData):
		s.logger.Debug("collector returned no data", "collector", name, "duration_seconds", duration, "err", err)
	default:
		success = 0
	}
	s.logFailure(name, err, duration)
	ch <- prometheus.MustNewConstMetric(durationDesc, prometheus.GaugeValue, duration, name)
	ch <- prometheus.MustNewConstMetric(successDesc, prometheus.GaugeValue, success, name)
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
func safeUpdate(c Collector, ch chan<- prometheus.Metric) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("collector panicked: %v\n%s", r, debug.Stack())
		}
	}()
	if cc, ok := c.(ContextCollector); ok {
		return cc.UpdateContext(context.Background(), ch)
	}
	return c.Update(ch)
}
