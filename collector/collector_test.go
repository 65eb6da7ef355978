package collector

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
)

type funcCollector func(ch chan<- prometheus.Metric) error

func (f funcCollector) Update(ch chan<- prometheus.Metric) error { return f(ch) }

var okDesc = prometheus.NewDesc("llm_test_value", "A test value.", nil, nil)

func TestSetIsolatesFailures(t *testing.T) {
	set := NewSet(slog.New(slog.NewTextHandler(io.Discard, nil)), map[string]Collector{
		"ok": funcCollector(func(ch chan<- prometheus.Metric) error {
			ch <- prometheus.MustNewConstMetric(okDesc, prometheus.GaugeValue, 42)
			return nil
		}),
		"fails":  funcCollector(func(chan<- prometheus.Metric) error { return errors.New("boom") }),
		"panics": funcCollector(func(chan<- prometheus.Metric) error { panic("bug") }),
		"nodata": funcCollector(func(chan<- prometheus.Metric) error { return ErrNoData }),
	})
	expected := `
# HELP llm_exporter_collector_success Whether the collector's last scrape succeeded (1) or failed (0).
# TYPE llm_exporter_collector_success gauge
llm_exporter_collector_success{collector="fails"} 0
llm_exporter_collector_success{collector="nodata"} 1
llm_exporter_collector_success{collector="ok"} 1
llm_exporter_collector_success{collector="panics"} 0
# HELP llm_test_value A test value.
# TYPE llm_test_value gauge
llm_test_value 42
`
	if err := testutil.CollectAndCompare(set, strings.NewReader(expected), "llm_exporter_collector_success", "llm_test_value"); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(set, "llm_exporter_collector_duration_seconds"); n != 4 {
		t.Errorf("%d duration series, want one per collector", n)
	}
	if got := set.Names(); strings.Join(got, ",") != "fails,nodata,ok,panics" {
		t.Errorf("Names() = %v", got)
	}
}

func TestSamplesGrowAndWrite(t *testing.T) {
	desc := prometheus.NewDesc("llm_test_total", "A test counter.", []string{"device"}, nil)
	gdesc := prometheus.NewDesc("llm_test_gauge", "A test gauge.", []string{"device"}, nil)
	labels := prometheus.MakeLabelPairs(desc, []string{"mlx5_0"})
	s := NewSamples(1)
	ch := make(chan prometheus.Metric, 40)
	for i := 0; i < 20; i++ {
		s.Send(ch, desc, prometheus.CounterValue, float64(i), labels)
	}
	s.Send(ch, gdesc, prometheus.GaugeValue, 7, labels)
	close(ch)
	if s.Len() != 21 {
		t.Fatalf("Len() = %d, want 21", s.Len())
	}
	i := 0
	for m := range ch {
		var out dto.Metric
		if err := m.Write(&out); err != nil {
			t.Fatal(err)
		}
		if i < 20 {
			if m.Desc() != desc || out.GetCounter().GetValue() != float64(i) {
				t.Errorf("metric %d = %v", i, &out)
			}
		} else if out.GetGauge().GetValue() != 7 {
			t.Errorf("gauge = %v", &out)
		}
		if len(out.Label) != 1 || out.Label[0].GetValue() != "mlx5_0" {
			t.Errorf("labels = %v", out.Label)
		}
		i++
	}
}

func TestSetLogsPersistentFailureOnce(t *testing.T) {
	var logs strings.Builder
	fail := true
	set := NewSet(slog.New(slog.NewTextHandler(&logs, nil)), map[string]Collector{
		"flaky": funcCollector(func(chan<- prometheus.Metric) error {
			if fail {
				return errors.New("no driver")
			}
			return nil
		}),
	})
	for i := 0; i < 3; i++ {
		testutil.CollectAndCount(set)
	}
	fail = false
	testutil.CollectAndCount(set)
	if n := strings.Count(logs.String(), "collector failed"); n != 1 {
		t.Errorf("persistent failure logged %d times, want once:\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), "collector recovered") {
		t.Errorf("recovery not logged:\n%s", logs.String())
	}
}

func TestLogOnce(t *testing.T) {
	var logs strings.Builder
	l := NewLogOnce(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	for i := 0; i < 3; i++ {
		l.Log("mlx5_0/symbol_error", "cannot read")
	}
	l.Log("mlx5_1/symbol_error", "cannot read")
	if w, d := strings.Count(logs.String(), "level=WARN"), strings.Count(logs.String(), "level=DEBUG"); w != 2 || d != 2 {
		t.Errorf("%d warnings and %d debug lines, want 2 and 2:\n%s", w, d, logs.String())
	}
}

// ctxFunc is a ContextCollector made of a function.
type ctxFunc func(ctx context.Context, ch chan<- prometheus.Metric) error

func (f ctxFunc) Update(ch chan<- prometheus.Metric) error { return f(context.Background(), ch) }
func (f ctxFunc) UpdateContext(ctx context.Context, ch chan<- prometheus.Metric) error {
	return f(ctx, ch)
}

func quietSet(collectors map[string]Collector) *Set {
	return NewSet(slog.New(slog.DiscardHandler), collectors)
}

// gather collects the set under ctx into families by name, failing the test
// if the collection does not return (a wedged scrape) within a bound far past
// any deadline the tests give.
func gather(t *testing.T, set *Set, ctx context.Context) map[string]*dto.MetricFamily {
	t.Helper()
	type result struct {
		mfs []*dto.MetricFamily
		err error
	}
	done := make(chan result, 1)
	go func() {
		mfs, err := set.Gatherer(ctx).Gather()
		done <- result{mfs, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			t.Fatalf("gather: %v", r.err)
		}
		out := map[string]*dto.MetricFamily{}
		for _, mf := range r.mfs {
			out[mf.GetName()] = mf
		}
		return out
	case <-time.After(time.Minute):
		t.Fatal("the scrape never returned")
		return nil
	}
}

// valueOf is the value of family name's series for collector c; -1 if absent.
func valueOf(mfs map[string]*dto.MetricFamily, name, c string) float64 {
	for _, m := range mfs[name].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "collector" && l.GetValue() == c {
				if m.Counter != nil {
					return m.Counter.GetValue()
				}
				return m.Gauge.GetValue()
			}
		}
	}
	return -1
}

func withTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// waitFor polls cond until it holds, failing after a bound far past what any
// state change here needs.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(time.Minute); time.Now().Before(end); time.Sleep(time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("%s: never happened", what)
}

func okCollector() Collector {
	return funcCollector(func(ch chan<- prometheus.Metric) error {
		ch <- prometheus.MustNewConstMetric(okDesc, prometheus.GaugeValue, 42)
		return nil
	})
}

// TestDeadlineServesTheOthers: a collector that honours cancellation and one
// stuck in a call that ignores it (a read blocked in the kernel) are both
// reported failed when the scrape's deadline passes, counted as timeouts,
// and the healthy collector's series are served.
func TestDeadlineServesTheOthers(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	set := quietSet(map[string]Collector{
		"ok":      okCollector(),
		"waits":   ctxFunc(func(ctx context.Context, _ chan<- prometheus.Metric) error { <-ctx.Done(); return ctx.Err() }),
		"ignores": funcCollector(func(chan<- prometheus.Metric) error { <-release; return nil }),
	})
	mfs := gather(t, set, withTimeout(t, 300*time.Millisecond))
	if mfs["llm_test_value"] == nil {
		t.Error("the healthy collector's series were not served")
	}
	for c, want := range map[string]float64{"ok": 1, "waits": 0, "ignores": 0} {
		if got := valueOf(mfs, "llm_exporter_collector_success", c); got != want {
			t.Errorf("success{collector=%q} = %v, want %v", c, got, want)
		}
	}
	for c, want := range map[string]float64{"ok": 0, "ignores": 1} {
		if got := valueOf(mfs, "llm_exporter_collector_timeouts_total", c); got != want {
			t.Errorf("timeouts_total{collector=%q} = %v, want %v", c, got, want)
		}
	}
	// A collector that stops on cancellation returns its error before the
	// deadline (its context ends a grace period earlier) or is a timeout.
	if got := valueOf(mfs, "llm_exporter_collector_timeouts_total", "waits"); got != 0 && got != 1 {
		t.Errorf("timeouts_total{collector=\"waits\"} = %v", got)
	}
}

// TestOverlappingScrapesShareOneCollection: scrapes that arrive while a
// collector runs wait for that run instead of starting their own, and all of
// them are served its result.
func TestOverlappingScrapesShareOneCollection(t *testing.T) {
	var calls atomic.Int32
	release := make(chan struct{})
	set := quietSet(map[string]Collector{
		"slow": funcCollector(func(ch chan<- prometheus.Metric) error {
			calls.Add(1)
			<-release
			ch <- prometheus.MustNewConstMetric(okDesc, prometheus.GaugeValue, 42)
			return nil
		}),
	})
	const scrapes = 10
	results := make(chan map[string]*dto.MetricFamily, scrapes)
	for i := 0; i < scrapes; i++ {
		go func() { results <- gather(t, set, withTimeout(t, time.Minute)) }()
	}
	st := set.states["slow"]
	waitFor(t, "every scrape waiting", func() bool {
		st.mu.Lock()
		defer st.mu.Unlock()
		return st.cur != nil && st.cur.waiters == scrapes
	})
	close(release)
	for i := 0; i < scrapes; i++ {
		mfs := <-results
		if mfs["llm_test_value"] == nil || valueOf(mfs, "llm_exporter_collector_success", "slow") != 1 {
			t.Errorf("scrape %d not served the shared result", i)
		}
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("collector ran %d times for %d overlapping scrapes, want once", n, scrapes)
	}
}

// TestAbandonedScrapeCancelsItsWork: when the only scrape waiting for a
// collection goes away (its client hung up), the collector's context ends
// and the scrape returns at once.
func TestAbandonedScrapeCancelsItsWork(t *testing.T) {
	cancelled := make(chan struct{})
	started := make(chan struct{})
	set := quietSet(map[string]Collector{
		"engine": ctxFunc(func(ctx context.Context, _ chan<- prometheus.Metric) error {
			close(started)
			<-ctx.Done()
			close(cancelled)
			return ctx.Err()
		}),
	})
	ctx, hangUp := context.WithTimeout(context.Background(), time.Hour)
	defer hangUp()
	done := make(chan struct{})
	go func() { gather(t, set, ctx); close(done) }()
	<-started
	hangUp()
	<-done
	<-cancelled
	if got := set.states["engine"].timeouts; got != 0 {
		t.Errorf("a client hanging up counted as %v timeouts", got)
	}
}

// TestStuckCollectorNeverPilesUp: a collector stuck past every deadline (and
// deaf to cancellation) is not started again by later scrapes: they report it
// failed, and it runs anew only once the stuck call has returned.
func TestStuckCollectorNeverPilesUp(t *testing.T) {
	var calls atomic.Int32
	release := make(chan struct{})
	var once sync.Once
	set := quietSet(map[string]Collector{
		"ok": okCollector(),
		"stuck": funcCollector(func(ch chan<- prometheus.Metric) error {
			if calls.Add(1) == 1 {
				<-release
			}
			return nil
		}),
	})
	t.Cleanup(func() { once.Do(func() { close(release) }) })
	for i := 0; i < 5; i++ {
		mfs := gather(t, set, withTimeout(t, 50*time.Millisecond))
		if valueOf(mfs, "llm_exporter_collector_success", "stuck") != 0 || mfs["llm_test_value"] == nil {
			t.Fatalf("scrape %d: stuck collector not reported failed, or the others not served", i)
		}
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("stuck collector started %d times, want once", n)
	}
	if got := valueOf(gather(t, set, withTimeout(t, 50*time.Millisecond)), "llm_exporter_collector_timeouts_total", "stuck"); got != 6 {
		t.Errorf("timeouts_total = %v after 6 scrapes missed it, want 6", got)
	}
	once.Do(func() { close(release) })
	mfs := gather(t, set, withTimeout(t, time.Minute))
	if got := valueOf(mfs, "llm_exporter_collector_success", "stuck"); got != 1 {
		t.Errorf("success once unstuck = %v, want 1", got)
	}
	if n := calls.Load(); n != 2 {
		t.Errorf("collector ran %d times, want 2 (the stuck run, then one fresh)", n)
	}
}

// TestLaterDeadlineKeepsTheCollection: a scrape with a long deadline that
// joins a collection started by a short one keeps it running after the short
// one has given up, and is served its result.
func TestLaterDeadlineKeepsTheCollection(t *testing.T) {
	release := make(chan struct{})
	set := quietSet(map[string]Collector{
		"engine": ctxFunc(func(ctx context.Context, ch chan<- prometheus.Metric) error {
			select {
			case <-release:
			case <-ctx.Done():
				return ctx.Err()
			}
			ch <- prometheus.MustNewConstMetric(okDesc, prometheus.GaugeValue, 42)
			return nil
		}),
	})
	st := set.states["engine"]
	short := make(chan map[string]*dto.MetricFamily, 1)
	go func() { short <- gather(t, set, withTimeout(t, 200*time.Millisecond)) }()
	waitFor(t, "the short scrape's collection", func() bool {
		st.mu.Lock()
		defer st.mu.Unlock()
		return st.cur != nil
	})
	long := make(chan map[string]*dto.MetricFamily, 1)
	go func() { long <- gather(t, set, withTimeout(t, time.Minute)) }()
	waitFor(t, "the long scrape joining", func() bool {
		st.mu.Lock()
		defer st.mu.Unlock()
		return st.cur != nil && st.cur.waiters == 2
	})
	if got := valueOf(<-short, "llm_exporter_collector_success", "engine"); got != 0 {
		t.Errorf("short scrape: success = %v, want 0", got)
	}
	close(release)
	mfs := <-long
	if valueOf(mfs, "llm_exporter_collector_success", "engine") != 1 || mfs["llm_test_value"] == nil {
		t.Error("the long scrape was not served the collection it joined")
	}
}

// TestSharedSamplesWrittenConcurrently: overlapping scrapes write the same
// Samples metrics at once (run under -race).
func TestSharedSamplesWrittenConcurrently(t *testing.T) {
	desc := prometheus.NewDesc("llm_test_total", "A test counter.", []string{"device"}, nil)
	release := make(chan struct{})
	set := quietSet(map[string]Collector{
		"ib": funcCollector(func(ch chan<- prometheus.Metric) error {
			<-release
			s := NewSamples(4)
			for i, dev := range []string{"mlx5_0", "mlx5_1", "mlx5_2", "mlx5_3"} {
				s.Send(ch, desc, prometheus.CounterValue, float64(i), prometheus.MakeLabelPairs(desc, []string{dev}))
			}
			return nil
		}),
	})
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if mfs := gather(t, set, withTimeout(t, time.Minute)); mfs["llm_test_total"] == nil {
				t.Error("samples not served")
			}
		}()
	}
	st := set.states["ib"]
	waitFor(t, "every scrape waiting", func() bool {
		st.mu.Lock()
		defer st.mu.Unlock()
		return st.cur != nil && st.cur.waiters == 4
	})
	close(release)
	wg.Wait()
}
