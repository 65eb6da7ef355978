package engine

import (
	"bytes"
	"context"
	"fmt"
	"go/parser"
	"go/token"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// A series printed twice is served once with its first value, as Prometheus
// keeps the first sample, and counted; label order does not make it another.
func TestDuplicateSeriesKeepFirst(t *testing.T) {
	page := `# TYPE sglang:num_running_reqs gauge
sglang:num_running_reqs{model_name="m",engine_type="decode",tp_rank="0"} 4
sglang:num_running_reqs{tp_rank="0",engine_type="decode",model_name="m"} 7
# TYPE sglang:time_to_first_token_seconds histogram
sglang:time_to_first_token_seconds_bucket{model_name="m",le="1"} 3
sglang:time_to_first_token_seconds_bucket{model_name="m",le="1.0"} 9
sglang:time_to_first_token_seconds_count{model_name="m"} 5
sglang:time_to_first_token_seconds_count{model_name="m"} 6
sglang:time_to_first_token_seconds_sum{model_name="m"} 2
`
	url := serve(t, textPage([]byte(page)))
	mfs := gather(t, newCollector(t, Config{Targets: []Target{{URL: url}}}))
	if s := one(t, mfs, "llm_engine_requests_running", nil); s.value != 4 {
		t.Errorf("running = %v, want 4 (the first of 4 and 7)", s.value)
	}
	if s := one(t, mfs, "llm_engine_time_to_first_token_seconds", nil); s.value != 5 || s.bucket[1] != 3 {
		t.Errorf("ttft = %+v, want count 5 and le=1 3 (the first ones)", s)
	}
	if s := one(t, mfs, "llm_engine_series_dropped_total", map[string]string{"reason": dropDuplicate}); s.value != 3 {
		t.Errorf("dropped duplicates = %v, want 3", s.value)
	}
	mfs = gather(t, newCollector(t, Config{Targets: []Target{{URL: url}}}))
	if s := one(t, mfs, "llm_engine_series_dropped_total", map[string]string{"reason": dropDuplicate}); s.value != 3 {
		t.Errorf("a new collector's first scrape counts %v duplicates", s.value)
	}
}

// Histograms that differ only by a dropped label are added up on the bounds
// they all have (+Inf being the count): the result is cumulative, and the
// buckets left out are counted.
func TestHistogramMergeIsExact(t *testing.T) {
	page := `# TYPE sglang:time_to_first_token_seconds histogram
sglang:time_to_first_token_seconds_bucket{model_name="m",lora="a",le="0.1"} 10
sglang:time_to_first_token_seconds_bucket{model_name="m",lora="a",le="1"} 10
sglang:time_to_first_token_seconds_bucket{model_name="m",lora="a",le="+Inf"} 10
sglang:time_to_first_token_seconds_count{model_name="m",lora="a"} 10
sglang:time_to_first_token_seconds_sum{model_name="m",lora="a"} 0.5
sglang:time_to_first_token_seconds_bucket{model_name="m",lora="b",le="0.5"} 1
sglang:time_to_first_token_seconds_bucket{model_name="m",lora="b",le="1"} 1
sglang:time_to_first_token_seconds_bucket{model_name="m",lora="b",le="+Inf"} 1
sglang:time_to_first_token_seconds_count{model_name="m",lora="b"} 1
sglang:time_to_first_token_seconds_sum{model_name="m",lora="b"} 0.25
`
	url := serve(t, textPage([]byte(page)))
	c := newCollector(t, Config{Targets: []Target{{URL: url}}})
	mfs := gather(t, c)
	s := one(t, mfs, "llm_engine_time_to_first_token_seconds", nil)
	want := map[float64]uint64{1: 11} // and +Inf, the count
	if s.value != 11 || s.sum != 0.75 || len(s.bucket) != len(want) {
		t.Fatalf("merged = %+v, want count 11, sum 0.75, buckets %v", s, want)
	}
	for le, n := range want {
		if s.bucket[le] != n {
			t.Errorf("le=%v: %d, want %d", le, s.bucket[le], n)
		}
	}
	if d := one(t, mfs, "llm_engine_series_dropped_total", map[string]string{"reason": dropUnmerged}); d.value != 2 {
		t.Errorf("unmerged buckets = %v, want 2 (0.1 of one, 0.5 of the other)", d.value)
	}
}

// A histogram that is not cumulative, or has no _count, is not served (in
// the normalised families) and is counted; the rest of the page is.
func TestInvalidHistogramDropped(t *testing.T) {
	page := `# TYPE sglang:time_to_first_token_seconds histogram
sglang:time_to_first_token_seconds_bucket{model_name="m",le="0.1"} 5
sglang:time_to_first_token_seconds_bucket{model_name="m",le="1"} 3
sglang:time_to_first_token_seconds_count{model_name="m"} 5
sglang:time_to_first_token_seconds_sum{model_name="m"} 1
# TYPE sglang:e2e_request_latency_seconds histogram
sglang:e2e_request_latency_seconds_bucket{model_name="m",le="1"} 3
# TYPE sglang:num_running_reqs gauge
sglang:num_running_reqs{model_name="m"} 2
`
	mfs := gather(t, newCollector(t, Config{Targets: []Target{{URL: serve(t, textPage([]byte(page)))}}}))
	if n := len(samples(mfs, "llm_engine_time_to_first_token_seconds")) + len(samples(mfs, "llm_engine_e2e_request_latency_seconds")); n != 0 {
		t.Errorf("%d invalid histograms served", n)
	}
	if s := one(t, mfs, "llm_engine_series_dropped_total", map[string]string{"reason": dropInvalid}); s.value != 2 {
		t.Errorf("invalid histograms = %v, want 2", s.value)
	}
	if s := one(t, mfs, "llm_engine_requests_running", nil); s.value != 2 {
		t.Errorf("running = %v", s.value)
	}
}

// goRuntimePage is what a Go engine or gateway built with client_golang
// serves: its Go runtime and process collectors, as client_golang writes them.
func goRuntimePage(t *testing.T) []byte {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, mf := range mfs {
		if _, err := expfmt.MetricFamilyToText(&b, mf); err != nil {
			t.Fatal(err)
		}
	}
	return []byte(b.String())
}

// exporterRegistry gathers a collector the way the exporter's /metrics does:
// next to its own Go runtime and process metrics.
func exporterGather(t *testing.T, c *Collector) ([]*dto.MetricFamily, error) {
	t.Helper()
	self := prometheus.NewRegistry()
	self.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reg := prometheus.NewRegistry()
	reg.MustRegister(adapter{c})
	return prometheus.Gatherers{self, reg}.Gather()
}

// The process_* and python_* families of prometheus_client pages, and the
// go_* and process_* of Go ones, pass through without failing the
// exporter's own families of those names: the clashing ones as exported_<name>.
func TestPassthroughNamesClashingWithTheExporters(t *testing.T) {
	vllm := serve(t, textPage(fixture(t, "vllm-v1-dp2.txt")))
	gateway := serve(t, textPage(goRuntimePage(t)))
	c := newCollector(t, Config{Passthrough: true, Targets: []Target{
		{URL: vllm, Labels: JoinLabels{Namespace: "ns", Pod: "vllm-0"}},
		{URL: gateway, Labels: JoinLabels{Namespace: "ns", Pod: "gateway-0"}},
	}})
	mfs, err := exporterGather(t, c)
	if err != nil {
		t.Fatalf("the exposition fails: %v", err)
	}
	byName := map[string]*dto.MetricFamily{}
	for _, mf := range mfs {
		byName[mf.GetName()] = mf
	}
	for _, name := range []string{"process_cpu_seconds_total", "process_resident_memory_bytes", "go_goroutines"} {
		mf := byName[name]
		if mf == nil || len(mf.Metric) != 1 || len(mf.Metric[0].Label) != 0 {
			t.Errorf("the exporter's own %s: %v", name, mf)
		}
	}
	if s := one(t, mfs, "exported_process_cpu_seconds_total", map[string]string{"pod": "vllm-0"}); s.value != 1234.56 {
		t.Errorf("vLLM's process_cpu_seconds_total = %v", s.value)
	}
	one(t, mfs, "exported_process_cpu_seconds_total", map[string]string{"pod": "gateway-0"})
	one(t, mfs, "exported_go_goroutines", map[string]string{"pod": "gateway-0"})
	if s := one(t, mfs, "python_gc_objects_collected_total", map[string]string{"pod": "vllm-0", "generation": "1"}); s.value != 9213 {
		t.Errorf("python_gc_objects_collected_total = %v", s.value)
	}
	one(t, mfs, "python_info", map[string]string{"pod": "vllm-0", "version": "3.12.11"})
	// Six process_* families on the vLLM page, one series each.
	if s := one(t, mfs, "llm_engine_passthrough_renamed_series_total", map[string]string{"pod": "vllm-0", "reason": renameFamily}); s.value != 6 {
		t.Errorf("renamed vLLM series = %v, want 6", s.value)
	}
	if problems, err := testutil.CollectAndLint(adapter{c}); err != nil {
		t.Fatal(err)
	} else {
		for _, p := range problems {
			if strings.HasPrefix(p.Metric, "llm_") {
				t.Errorf("lint: %s: %s", p.Metric, p.Text)
			}
		}
	}
}

// A page label named like a target label is kept as exported_<name>, and
// exported_exported_<name> when the page has that one too (as Prometheus
// does); every such series is counted.
func TestPassthroughExportedLabels(t *testing.T) {
	page := "# TYPE vllm:num_requests_running gauge\n" +
		"vllm:num_requests_running{pod=\"theirs\",exported_pod=\"older\",model_name=\"m\"} 2\n" +
		"vllm:num_requests_running{pod=\"theirs\",model_name=\"n\"} 3\n" +
		"vllm:num_requests_running{namespace=\"\",model_name=\"o\"} 4\n"
	c := newCollector(t, Config{Passthrough: true, Targets: []Target{{URL: serve(t, textPage([]byte(page))), Labels: JoinLabels{Namespace: "ns", Pod: "vllm-0"}}}})
	mfs := gather(t, c)
	if s := one(t, mfs, "vllm:num_requests_running", map[string]string{"model_name": "m"}); s.value != 2 ||
		s.labels["pod"] != "vllm-0" || s.labels["exported_pod"] != "older" || s.labels["exported_exported_pod"] != "theirs" {
		t.Errorf("labels = %v", s.labels)
	}
	if s := one(t, mfs, "vllm:num_requests_running", map[string]string{"model_name": "n"}); s.labels["exported_pod"] != "theirs" || s.labels["pod"] != "vllm-0" {
		t.Errorf("labels = %v", s.labels)
	}
	// An empty page label is no label (for Prometheus too): nothing to rename.
	if s := one(t, mfs, "vllm:num_requests_running", map[string]string{"model_name": "o"}); s.labels["namespace"] != "ns" || len(s.labels) != 3 {
		t.Errorf("labels = %v", s.labels)
	}
	if s := one(t, mfs, "llm_engine_passthrough_renamed_series_total", map[string]string{"reason": renameLabel}); s.value != 2 {
		t.Errorf("renamed labels = %v, want 2", s.value)
	}
}

// Families of the same name and another type, or that are another's _count
// or _sum, from two targets: the first target's is served, the exposition
// does not fail.
func TestPassthroughConflictsAcrossTargets(t *testing.T) {
	a := "# TYPE x histogram\nx_bucket{le=\"1\"} 1\nx_count 1\nx_sum 1\n# TYPE y gauge\ny 1\n"
	b := "# TYPE x_count gauge\nx_count 5\n# TYPE y untyped\ny 2\n"
	c := newCollector(t, Config{Passthrough: true, Targets: []Target{
		{URL: serve(t, textPage([]byte(a))), Labels: JoinLabels{Pod: "a"}},
		{URL: serve(t, textPage([]byte(b))), Labels: JoinLabels{Pod: "b"}},
	}})
	mfs := gather(t, c)
	one(t, mfs, "x", map[string]string{"pod": "a"})
	one(t, mfs, "y", map[string]string{"pod": "a"})
	if n := len(samples(mfs, "x_count")) + len(find(samples(mfs, "y"), map[string]string{"pod": "b"})); n != 0 {
		t.Errorf("%d conflicting series served", n)
	}
}

// serveFunc serves a page built on each request.
func serveFunc(t *testing.T, page func() string) string {
	return serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprint(w, page())
	}))
}

// The collector reads pages with textparse only: expfmt stays the oracle of
// the tests.
func TestNoExpfmtOutsideTests(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		parsed, err := parser.ParseFile(fset, f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range parsed.Imports {
			if strings.Contains(imp.Path.Value, "prometheus/common/expfmt") {
				t.Errorf("%s imports expfmt", f)
			}
		}
	}
}

// A page seen before costs no label parsing: reading it again allocates a
// handful of objects, whatever its number of series (1,840 here).
func TestSteadyPageAllocatesNoLabels(t *testing.T) {
	page := fixture(t, "bench-sglang-decode-dp8.txt")
	s := runPage(page, formatText, JoinLabels{Pod: "p"}, Limits{}, nil)
	if s.err != nil {
		t.Fatal(s.err)
	}
	buf := make([]byte, len(page), len(page)+1)
	allocs := testing.AllocsPerRun(5, func() {
		copy(buf, page)
		if err := s.ps.parse(context.Background(), buf, formatText, Limits{}); err != nil {
			t.Fatal(err)
		}
		s.n.normalise(s.ps, &JoinLabels{Pod: "p"})
	})
	t.Logf("%v allocations to read a steady page again", allocs)
	if allocs > 16 {
		t.Errorf("reading a steady page of %d lines allocated %v objects", bytes.Count(page, []byte("\n")), allocs)
	}
}
