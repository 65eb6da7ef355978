package engine

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// collectCtx runs one UpdateContext and returns what it sent.
func collectCtx(ctx context.Context, c *Collector) ([]*dto.MetricFamily, error) {
	reg := prometheus.NewPedanticRegistry()
	var err error
	reg.MustRegister(ctxAdapter{c, ctx, &err})
	mfs, gerr := reg.Gather()
	if gerr != nil {
		return nil, gerr
	}
	return mfs, err
}

type ctxAdapter struct {
	c   *Collector
	ctx context.Context
	err *error
}

func (a ctxAdapter) Describe(chan<- *prometheus.Desc) {}
func (a ctxAdapter) Collect(ch chan<- prometheus.Metric) {
	*a.err = a.c.UpdateContext(a.ctx, ch)
}

// pollUntil polls cond until it holds or the deadline passes.
func pollUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 30s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Two Updates at once share the scrape of a target in flight: it is fetched once.
func TestConcurrentUpdatesShareOneScrape(t *testing.T) {
	page := fixture(t, "sglang-unified.txt")
	var hits atomic.Int32
	release := make(chan struct{})
	url := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		<-release
		textPage(page)(w, r)
	}))
	c := newCollector(t, Config{Timeout: time.Hour, Targets: []Target{{URL: url}}})
	type res struct {
		mfs []*dto.MetricFamily
		err error
	}
	out := make(chan res, 2)
	for i := 0; i < 2; i++ {
		go func() {
			mfs, err := collectCtx(context.Background(), c)
			out <- res{mfs, err}
		}()
	}
	pollUntil(t, "both Updates waiting on one scrape", func() bool {
		st := c.liveStates()[0]
		st.mu.Lock()
		defer st.mu.Unlock()
		return st.inflight != nil && st.inflight.waiters == 2
	})
	close(release)
	for i := 0; i < 2; i++ {
		r := <-out
		if r.err != nil {
			t.Fatal(r.err)
		}
		if s := one(t, r.mfs, "llm_engine_up", nil); s.value != 1 {
			t.Errorf("Update %d: up = %v", i, s.value)
		}
		if s := one(t, r.mfs, "llm_engine_time_to_first_token_seconds", nil); s.value != 100 {
			t.Errorf("Update %d: ttft = %+v", i, s)
		}
	}
	if n := hits.Load(); n != 1 {
		t.Errorf("the target was fetched %d times for two concurrent Updates", n)
	}
}

// A hung target holds no lock: while one Update waits for it, another whose
// deadline comes first returns by then with the other targets served and
// the hung one as a timeout; once no one waits, its request is cancelled.
func TestHungTargetHoldsNoLock(t *testing.T) {
	good := serve(t, textPage(fixture(t, "sglang-unified.txt")))
	arrived := make(chan struct{}, 4)
	cancelled := make(chan struct{}, 4)
	hung := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-r.Context().Done()
		cancelled <- struct{}{}
	}))
	c := newCollector(t, Config{Timeout: time.Hour, Targets: []Target{{URL: good, Labels: JoinLabels{Pod: "good"}}, {URL: hung, Labels: JoinLabels{Pod: "hung"}}}})
	first, stopFirst := context.WithCancel(context.Background())
	firstDone := make(chan error, 1)
	go func() {
		_, err := collectCtx(first, c)
		firstDone <- err
	}()
	<-arrived
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	done := make(chan struct{})
	var mfs []*dto.MetricFamily
	var err error
	go func() {
		mfs, err = collectCtx(ctx, c)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("an Update with a 5s deadline did not return while another waited for a hung target")
	}
	if err != nil {
		t.Fatal(err)
	}
	if s := one(t, mfs, "llm_engine_up", map[string]string{"pod": "good"}); s.value != 1 {
		t.Error("the good target was not served")
	}
	if s := one(t, mfs, "llm_engine_scrape_errors_total", map[string]string{"pod": "hung", "reason": reasonTimeout}); s.value != 1 {
		t.Errorf("hung target timeouts = %v, want 1", s.value)
	}
	select {
	case <-cancelled:
		t.Fatal("the hung target's request was cancelled while the first Update still waited for it")
	default:
	}
	stopFirst()
	<-firstDone
	select {
	case <-cancelled:
	case <-time.After(30 * time.Second):
		t.Fatal("the hung target's request was not cancelled once no one waited for it")
	}
}
