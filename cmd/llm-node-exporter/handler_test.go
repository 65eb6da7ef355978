package main

import (
	"compress/gzip"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/llm-node-exporter/llm-node-exporter/collector"
	"github.com/llm-node-exporter/llm-node-exporter/collector/engine"
)

func TestScrapeBudget(t *testing.T) {
	const limit, offset = 10 * time.Second, 500 * time.Millisecond
	for _, tc := range []struct {
		header string
		want   time.Duration
	}{
		{"", limit},                     // no header: the flag
		{"4", 3500 * time.Millisecond},  // Prometheus's timeout less the offset
		{"2.5", 2 * time.Second},        // fractions, as Prometheus sends them
		{"0.6", 300 * time.Millisecond}, // shorter than twice the offset: half of it
		{"30", limit},                   // never past the flag
		{"1e300", limit},                // nor past it by overflowing
		{"-1", limit},                   // nonsense: the flag
		{"NaN", limit},                  //
		{"ten", limit},                  //
		{"10.5", 10 * time.Second},      // exactly the flag's worth
	} {
		h := http.Header{}
		if tc.header != "" {
			h.Set(scrapeTimeoutHeader, tc.header)
		}
		if got := scrapeBudget(h, limit, offset); got != tc.want {
			t.Errorf("header %q: budget %s, want %s", tc.header, got, tc.want)
		}
	}
}

// hanging is a collector that waits until released, whatever its context.
type hanging struct{ release chan struct{} }

func (h hanging) Update(chan<- prometheus.Metric) error { <-h.release; return nil }

// TestHandlerUsesTheScrapeTimeoutHeader: a collector that never finishes is
// reported failed by the scrape's own deadline, taken from Prometheus's
// header, and the rest of the page is served.
func TestHandlerUsesTheScrapeTimeoutHeader(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	set := collector.NewSet(slog.New(slog.DiscardHandler), map[string]collector.Collector{"stuck": hanging{release}})
	static := prometheus.NewRegistry()
	h := newMetricsHandler(set, static, false, 40, time.Hour, 100*time.Millisecond, slog.New(slog.DiscardHandler))
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	req.Header.Set(scrapeTimeoutHeader, "0.5")
	rec := httptest.NewRecorder()
	done := make(chan struct{})
	go func() { h.ServeHTTP(rec, req); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Minute): // the flag's hour would be the bug
		t.Fatal("the scrape did not end at the header's deadline")
	}
	body := rec.Body.String()
	for _, want := range []string{`llm_exporter_collector_success{collector="stuck"} 0`, `llm_exporter_collector_timeouts_total{collector="stuck"} 1`, "go_goroutines"} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %s:\n%.2000s", want, body)
		}
	}
}

// TestHandlerInFlightLimit: with every slot held, a scrape waits for one a
// short while (a quarter of its budget), then is refused.
func TestHandlerInFlightLimit(t *testing.T) {
	release := make(chan struct{})
	var releaseOnce sync.Once
	free := func() { releaseOnce.Do(func() { close(release) }) }
	defer free()
	set := collector.NewSet(slog.New(slog.DiscardHandler), map[string]collector.Collector{"stuck": hanging{release}})
	h := newMetricsHandler(set, prometheus.NewRegistry(), true, 1, time.Hour, 0, slog.New(slog.DiscardHandler))
	holder := make(chan int, 1)
	go func() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
		holder <- rec.Code
	}()
	// The holder is in once the stuck collector has been started for it:
	// until then a second scrape could take the slot.
	var refused int
	for end := time.Now().Add(time.Minute); time.Now().Before(end) && refused == 0; {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		req.Header.Set(scrapeTimeoutHeader, "0.4") // waits at most a quarter of it for a slot
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		h.ServeHTTP(rec, req.WithContext(ctx))
		cancel()
		if rec.Code == http.StatusServiceUnavailable {
			refused++
		}
	}
	if refused == 0 {
		t.Fatal("a scrape past --web.max-requests was never refused")
	}
	free()
	if code := <-holder; code != http.StatusOK {
		t.Errorf("holder: %d", code)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Errorf("scrape once the slot is free: %d", rec.Code)
	}
}

// TestPushGathererDeadline: push mode's gathers end at their deadline with a
// stuck collector, and on shutdown no later than the bound given.
func TestPushGathererDeadline(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	set := collector.NewSet(slog.New(slog.DiscardHandler), map[string]collector.Collector{"stuck": hanging{release}})
	g := &pushGatherer{set: set, static: prometheus.NewRegistry(), timeout: 200 * time.Millisecond}
	gatherWithin := func(what string) {
		t.Helper()
		done := make(chan error, 1)
		go func() { _, err := g.Gather(); done <- err }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("%s: %v", what, err)
			}
		case <-time.After(time.Minute):
			t.Fatalf("%s: the gather did not end at its deadline", what)
		}
	}
	gatherWithin("periodic gather")
	stopping, stop := context.WithCancel(context.Background())
	g.timeout, g.stopping, g.final = time.Hour, stopping, 200*time.Millisecond
	stop() // SIGTERM
	gatherWithin("final gather")
	if n, err := testutil.GatherAndCount(g, "llm_exporter_collector_timeouts_total"); err != nil || n != 1 {
		t.Errorf("timeouts series: %d, %v", n, err)
	}
}

// TestAuthLimiter: requests whose credentials never passed are checked at
// most n at once, the rest answered 429 and counted; credentials that passed
// once skip the bound, and a verified request frees its slot before it is
// served.
func TestAuthLimiter(t *testing.T) {
	reg := prometheus.NewRegistry()
	a := newAuthLimiter(2, reg)
	checking := make(chan struct{}, 10)
	release := make(chan struct{})
	// check stands in for the toolkit's bcrypt: it holds wrong passwords
	// until released and passes "good" on.
	inner := a.recordVerified(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) }))
	check := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, pass, ok := r.BasicAuth()
		switch {
		case !ok:
			w.WriteHeader(http.StatusUnauthorized) // no bcrypt for no credentials
			return
		case pass == "good":
			inner.ServeHTTP(w, r)
			return
		}
		checking <- struct{}{}
		<-release
		w.WriteHeader(http.StatusUnauthorized)
	})
	h := a.bound(check)
	do := func(pass string) int {
		req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		req.SetBasicAuth("prometheus", pass)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	if code := do("good"); code != http.StatusOK {
		t.Fatalf("first good request: %d", code)
	}
	var wg sync.WaitGroup
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); do("wrong") }()
	}
	<-checking
	<-checking // both slots held by checks in progress
	if code := do("wrong-again"); code != http.StatusTooManyRequests {
		t.Errorf("third unverified attempt: %d, want 429", code)
	}
	if code := do("good"); code != http.StatusOK {
		t.Errorf("verified credentials held back by the flood: %d", code)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusUnauthorized {
		t.Errorf("a request without credentials: %d, want the check's 401", rec.Code)
	}
	close(release)
	wg.Wait()
	if v := testutil.ToFloat64(a.throttled); v != 1 {
		t.Errorf("throttled_total = %v, want 1", v)
	}
}

// TestAbandonedScrapeIsNotEncoded: a scrape whose client hung up while it
// was gathered writes no page, so abandoned scrapes cost no encoding.
func TestAbandonedScrapeIsNotEncoded(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	set := collector.NewSet(slog.New(slog.DiscardHandler), map[string]collector.Collector{"stuck": hanging{release}})
	h := newMetricsHandler(set, prometheus.NewRegistry(), false, 40, time.Hour, 0, slog.New(slog.DiscardHandler))
	ctx, hangUp := context.WithCancel(context.Background())
	rec := httptest.NewRecorder()
	done := make(chan struct{})
	go func() {
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil).WithContext(ctx))
		close(done)
	}()
	hangUp()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatal("the abandoned scrape did not end")
	}
	if body := rec.Body.String(); body != "" {
		t.Errorf("abandoned scrape encoded a page:\n%.500s", body)
	}
}

// engineHandler is the /metrics handler of an engine collector scraping
// one real-shaped vLLM page.
func engineHandler(t *testing.T) http.Handler {
	t.Helper()
	page, err := os.ReadFile("testdata/engines/vllm-v1-dp2.txt")
	if err != nil {
		t.Fatal(err)
	}
	c, err := engine.New(engine.Config{Targets: []engine.Target{{URL: servePage(t, page),
		Labels: engine.JoinLabels{Namespace: "ns", Pod: "vllm-0"}}}}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	set := collector.NewSet(slog.New(slog.DiscardHandler), map[string]collector.Collector{"engine": c})
	return newMetricsHandler(set, prometheus.NewRegistry(), false, 40, time.Hour, 0, slog.New(slog.DiscardHandler))
}

// scrapeWith returns the families of one scrape with these request headers,
// decoded as the response's Content-Type and Content-Encoding say.
func scrapeWith(t *testing.T, h http.Handler, url string, header map[string]string) (map[string]*dto.MetricFamily, *http.Response) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, url, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	resp := rec.Result()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, rec.Body.String())
	}
	body := io.Reader(rec.Body)
	if resp.Header.Get("Content-Encoding") == "gzip" {
		gz, err := gzip.NewReader(body)
		if err != nil {
			t.Fatal(err)
		}
		body = gz
	}
	dec := expfmt.NewDecoder(body, expfmt.ResponseFormat(resp.Header))
	mfs := map[string]*dto.MetricFamily{}
	for {
		var mf dto.MetricFamily
		if err := dec.Decode(&mf); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("decoding %s: %v", resp.Header.Get("Content-Type"), err)
		}
		if mfs[mf.GetName()] != nil {
			t.Errorf("family %s twice on the page", mf.GetName())
		}
		mfs[mf.GetName()] = &mf
	}
	return mfs, resp
}

// seriesOf lists a family's series by labels, with the value or count.
func seriesOf(mf *dto.MetricFamily) map[string]float64 {
	out := map[string]float64{}
	for _, m := range mf.Metric {
		var b strings.Builder
		for _, l := range m.Label {
			b.WriteString(l.GetName() + "=" + l.GetValue() + ",")
		}
		v := m.GetGauge().GetValue() + m.GetCounter().GetValue() + m.GetUntyped().GetValue() + float64(m.GetHistogram().GetSampleCount())
		out[b.String()] = v
	}
	return out
}

// TestHandlerServesEngineSeriesInEveryFormat: text (identity and gzip) and
// protobuf scrapes get the same engine families, series and values; only
// the text format is written by the engine's series themselves.
func TestHandlerServesEngineSeriesInEveryFormat(t *testing.T) {
	h := engineHandler(t)
	const protobuf = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited"
	text, resp := scrapeWith(t, h, "/metrics", nil)
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("text Content-Type %q", ct)
	}
	if resp.Header.Get("Content-Encoding") != "" {
		t.Errorf("not asked for, compressed: %q", resp.Header.Get("Content-Encoding"))
	}
	gz, resp := scrapeWith(t, h, "/metrics", map[string]string{"Accept-Encoding": "gzip"})
	if resp.Header.Get("Content-Encoding") != "gzip" {
		t.Error("gzip asked for, not served")
	}
	if _, resp := scrapeWith(t, h, "/metrics", map[string]string{"Accept-Encoding": "gzip;q=0, identity"}); resp.Header.Get("Content-Encoding") != "" {
		t.Error("gzip refused (q=0), served")
	}
	pb, resp := scrapeWith(t, h, "/metrics", map[string]string{"Accept": protobuf, "Accept-Encoding": "gzip"})
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/vnd.google.protobuf") {
		t.Errorf("protobuf Content-Type %q", ct)
	}
	engines := 0
	for name, want := range pb {
		if !strings.HasPrefix(name, "llm_engine_") {
			continue
		}
		engines++
		for format, page := range map[string]map[string]*dto.MetricFamily{"text": text, "gzip text": gz} {
			got := page[name]
			if got == nil {
				t.Errorf("%s: no %s", format, name)
				continue
			}
			if got.GetHelp() != want.GetHelp() || got.GetType() != want.GetType() {
				t.Errorf("%s: %s help/type %q %s, protobuf %q %s", format, name, got.GetHelp(), got.GetType(), want.GetHelp(), want.GetType())
			}
			gs, ws := seriesOf(got), seriesOf(want)
			if len(gs) != len(ws) {
				t.Errorf("%s: %s has %d series, protobuf %d", format, name, len(gs), len(ws))
			}
			for k, v := range ws {
				if g, ok := gs[k]; !ok || (g != v && name != "llm_engine_scrape_duration_seconds") {
					t.Errorf("%s: %s{%s} = %v (%t), protobuf %v", format, name, k, g, ok, v)
				}
			}
		}
	}
	if engines < 10 {
		t.Fatalf("protobuf scrape: only %d llm_engine_* families", engines)
	}
	for _, name := range []string{"llm_exporter_collector_success", "go_goroutines", "promhttp_metric_handler_errors_total"} {
		if text[name] == nil || pb[name] == nil {
			t.Errorf("%s missing (text %t, protobuf %t)", name, text[name] != nil, pb[name] != nil)
		}
	}
	// name[] filters the text path's families as promhttp filters the rest.
	only, _ := scrapeWith(t, h, "/metrics?name[]=llm_engine_up&name[]=go_goroutines", nil)
	if len(only) != 2 || only["llm_engine_up"] == nil || only["go_goroutines"] == nil {
		t.Errorf("name[] filter: %d families", len(only))
	}
}
