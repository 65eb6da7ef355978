package engine

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// A page over a limit fails as a whole with its reason; the other targets
// are served.
func TestLimits(t *testing.T) {
	many := func(n int) string {
		var b strings.Builder
		b.WriteString("# TYPE sglang:num_running_reqs gauge\n")
		for i := 0; i < n; i++ {
			fmt.Fprintf(&b, "sglang:num_running_reqs{model_name=\"m\",tp_rank=\"%d\"} 1\n", i)
		}
		return b.String()
	}
	good := serve(t, textPage([]byte("sglang:num_running_reqs{model_name=\"m\"} 6\n")))
	pages := map[string]string{
		reasonSampleLimit:           many(101),
		reasonLabelLimit + "/count": "sglang:num_running_reqs{a=\"1\",b=\"2\",c=\"3\",d=\"4\"} 1\n",
		reasonLabelLimit + "/name":  "sglang:num_running_reqs{" + strings.Repeat("n", 33) + "=\"1\"} 1\n",
		reasonLabelLimit + "/value": "sglang:num_running_reqs{model_name=\"" + strings.Repeat("v", 65) + "\"} 1\n",
		"fits":                      many(99) + "sglang:num_queue_reqs{a=\"1\",b=\"2\"," + strings.Repeat("n", 32) + "=\"" + strings.Repeat("v", 64) + "\"} 1\n",
	}
	tgts := []Target{{URL: good, Labels: JoinLabels{Pod: "good"}}}
	for name, page := range pages {
		tgts = append(tgts, Target{URL: serve(t, textPage([]byte(page))), Labels: JoinLabels{Pod: name}})
	}
	c := newCollector(t, Config{Targets: tgts, Limits: Limits{Samples: 100, Labels: 4, LabelNameLength: 32, LabelValueLength: 64}})
	mfs := gather(t, c)
	for name := range pages {
		reason, _, _ := strings.Cut(name, "/")
		up := one(t, mfs, "llm_engine_up", map[string]string{"pod": name})
		if name == "fits" {
			if up.value != 1 {
				t.Errorf("a page at the limits failed")
			}
			continue
		}
		if up.value != 0 {
			t.Errorf("%s: up", name)
		}
		if s := one(t, mfs, "llm_engine_scrape_errors_total", map[string]string{"pod": name, "reason": reason}); s.value != 1 {
			t.Errorf("%s: errors{reason=%s} = %v", name, reason, s.value)
		}
		if n := len(find(samples(mfs, "llm_engine_requests_running"), map[string]string{"pod": name})); n != 0 {
			t.Errorf("%s: %d series served from a page over a limit", name, n)
		}
	}
	if s := one(t, mfs, "llm_engine_requests_running", map[string]string{"pod": "good"}); s.value != 6 {
		t.Errorf("good target: %+v", s)
	}
}

// An OpenMetrics page costs in proportion to its size: 40 lines of 1.9 KB
// (expfmt's grammar allocated gigabytes for a page of lines a fifth as long)
// cost a few times the page in allocations, and twice the line length twice that.
func TestOpenMetricsCostIsLinear(t *testing.T) {
	page := func(line int) []byte {
		var b strings.Builder
		b.WriteString("# TYPE sglang:num_running_reqs gauge\n")
		for i := 0; i < 40; i++ {
			fmt.Fprintf(&b, "sglang:num_running_reqs{model_name=\"%s\",tp_rank=\"%d\"} 1\n", strings.Repeat("m", line), i)
		}
		b.WriteString("# EOF\n")
		return []byte(b.String())
	}
	cost := func(p []byte) uint64 {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		s := runPage(p, formatOpenMetrics, JoinLabels{}, Limits{}, nil)
		runtime.ReadMemStats(&after)
		if s.err != nil || len(s.out) != 1 || s.out[0].value != 1 {
			t.Fatalf("page not read: %v %+v", s.err, s.out)
		}
		return after.TotalAlloc - before.TotalAlloc
	}
	half, full := page(950), page(1900)
	c1, c2 := cost(half), cost(full)
	t.Logf("%d-byte page: %d bytes allocated; %d-byte page: %d", len(half), c1, len(full), c2)
	if c2 > 16*uint64(len(full)) {
		t.Errorf("%d bytes allocated for a %d-byte page", c2, len(full))
	}
	if c2 > 3*c1 {
		t.Errorf("twice the line length cost %.1f times the allocations", float64(c2)/float64(c1))
	}
}

// countdown is a context whose Err turns to Canceled after n looks: parsing
// must look at it as it goes.
type countdown struct {
	context.Context
	n atomic.Int32
}

func (c *countdown) Err() error {
	if c.n.Add(-1) < 0 {
		return context.Canceled
	}
	return nil
}

// Parsing stops soon after the scrape's context ends, on a page of either format.
func TestParseStopsWhenCancelled(t *testing.T) {
	var b strings.Builder
	b.WriteString("# TYPE sglang:num_running_reqs gauge\n")
	for i := 0; i < 100000; i++ {
		fmt.Fprintf(&b, "sglang:num_running_reqs{tp_rank=\"%d\"} 1\n", i)
	}
	text := b.String()
	for _, f := range []pageFormat{formatText, formatOpenMetrics} {
		page := text
		if f == formatOpenMetrics {
			page += "# EOF\n"
		}
		ps := newPageState()
		ctx := &countdown{Context: context.Background()}
		ctx.n.Store(3)
		err := ps.parse(ctx, []byte(page), f, Limits{})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("format %d: parse = %v, want canceled", f, err)
		}
		if ps.entries > 3*ctxCheckEvery {
			t.Errorf("format %d: %d lines parsed after the context ended at the third look", f, ps.entries)
		}
		if len(ps.raw) != 0 || len(ps.srcs) != 0 {
			t.Errorf("format %d: a cancelled page left %d entries", f, len(ps.raw)+len(ps.srcs))
		}
	}
}

// An Update whose context ends stops waiting at once and cancels the
// requests no other Update waits for.
func TestUpdateContextCancelsRequests(t *testing.T) {
	arrived := make(chan struct{}, 1)
	cancelled := make(chan struct{}, 1)
	hung := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-r.Context().Done()
		cancelled <- struct{}{}
	}))
	c := newCollector(t, Config{Timeout: time.Hour, Targets: []Target{{URL: hung}}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.UpdateContext(ctx, discard()) }()
	<-arrived
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("UpdateContext = %v, want canceled", err)
	}
	select {
	case <-cancelled:
	case <-time.After(30 * time.Second):
		t.Fatal("the engine's request was not cancelled")
	}
}

// discard is a channel that holds more than an Update sends here.
func discard() chan<- prometheus.Metric { return make(chan prometheus.Metric, 1<<16) }
