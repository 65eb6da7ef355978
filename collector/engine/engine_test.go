package engine

import (
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/llm-node-exporter/llm-node-exporter/collector"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// adapter exposes a Collector as a prometheus.Collector, as collector.Set does.
type adapter struct{ c collector.Collector }

func (a adapter) Describe(chan<- *prometheus.Desc) {}
func (a adapter) Collect(ch chan<- prometheus.Metric) {
	if err := a.c.Update(ch); err != nil {
		panic(err)
	}
}

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// textPage serves a page as prometheus_client does (text format 0.0.4).
func textPage(page []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		_, _ = w.Write(page)
	}
}

func serve(t testing.TB, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL + "/metrics"
}

func newCollector(t testing.TB, cfg Config) *Collector {
	t.Helper()
	c, err := New(cfg, quiet)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func gather(t testing.TB, c collector.Collector) []*dto.MetricFamily {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(adapter{c})
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	return mfs
}

// sample is one gathered series, flattened for assertions.
type sample struct {
	labels map[string]string
	value  float64 // counter / gauge; histogram: sample count
	sum    float64
	bucket map[float64]uint64
}

func samples(mfs []*dto.MetricFamily, name string) []sample {
	var out []sample
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.Metric {
			s := sample{labels: map[string]string{}}
			for _, l := range m.Label {
				s.labels[l.GetName()] = l.GetValue()
			}
			switch {
			case m.Counter != nil:
				s.value = m.Counter.GetValue()
			case m.Gauge != nil:
				s.value = m.Gauge.GetValue()
			case m.Untyped != nil:
				s.value = m.Untyped.GetValue()
			case m.Histogram != nil:
				s.value = float64(m.Histogram.GetSampleCount())
				s.sum = m.Histogram.GetSampleSum()
				s.bucket = map[float64]uint64{}
				for _, b := range m.Histogram.Bucket {
					s.bucket[b.GetUpperBound()] = b.GetCumulativeCount()
				}
			}
			out = append(out, s)
		}
	}
	return out
}

// find returns the samples whose labels include want.
func find(ss []sample, want map[string]string) []sample {
	var out []sample
next:
	for _, s := range ss {
		for k, v := range want {
			if s.labels[k] != v {
				continue next
			}
		}
		out = append(out, s)
	}
	return out
}

func one(t *testing.T, mfs []*dto.MetricFamily, name string, want map[string]string) sample {
	t.Helper()
	got := find(samples(mfs, name), want)
	if len(got) != 1 {
		t.Fatalf("%s%v: %d series, want 1; all: %v", name, want, len(got), samples(mfs, name))
	}
	return got[0]
}

func TestSGLangUnified(t *testing.T) {
	url := serve(t, textPage(fixture(t, "sglang-unified.txt")))
	tgt, err := ParseTarget(url + ",namespace=ns1,pod=chat-0,container=engine")
	if err != nil {
		t.Fatal(err)
	}
	c := newCollector(t, Config{Targets: []Target{tgt}})
	mfs := gather(t, c)
	base := map[string]string{"engine": "sglang", "model": "zai-org/GLM-4.6", "role": "unified", "namespace": "ns1", "pod": "chat-0", "container": "engine", "dp_rank": ""}

	if s := one(t, mfs, "llm_engine_up", map[string]string{"target": url, "engine": "sglang"}); s.value != 1 {
		t.Errorf("up = %v", s.value)
	}
	ttft := one(t, mfs, "llm_engine_time_to_first_token_seconds", base)
	if ttft.value != 100 || ttft.sum != 31.5 || ttft.bucket[0.4] != 100 || ttft.bucket[0.2] != 0 || len(ttft.bucket) != 18 {
		t.Errorf("ttft = %+v", ttft)
	}
	if ttft.labels["tp_rank"] != "" {
		t.Errorf("per-request series carries tp_rank %q", ttft.labels["tp_rank"])
	}
	st := one(t, mfs, "llm_engine_stage_latency_seconds", merge(base, "stage", "request_process"))
	if st.value != 100 || st.sum != 0.5 || len(st.bucket) != 30 {
		t.Errorf("stage = %+v", st)
	}
	for name, want := range map[string]float64{
		"llm_engine_prompt_tokens_total":        123456,
		"llm_engine_generation_tokens_total":    65432,
		"llm_engine_cached_prompt_tokens_total": 4096,
		"llm_engine_requests_aborted_total":     3,
		"llm_engine_requests_retracted_total":   7,
		"llm_engine_requests_running":           10,
		"llm_engine_requests_waiting":           2,
		"llm_engine_kv_cache_usage_ratio":       0.25,
		"llm_engine_prefix_cache_hit_ratio":     0.5,
		"llm_engine_spec_decode_accept_length":  2.75,
	} {
		if s := one(t, mfs, name, base); s.value != want {
			t.Errorf("%s = %v, want %v", name, s.value, want)
		}
	}
	if s := one(t, mfs, "llm_engine_requests_total", merge(base, "finished_reason", "")); s.value != 100 {
		t.Errorf("requests = %v", s.value)
	}
	// Scheduler gauges keep the rank they came from.
	if s := one(t, mfs, "llm_engine_requests_running", base); s.labels["tp_rank"] != "0" {
		t.Errorf("running tp_rank = %q", s.labels["tp_rank"])
	}
	if n := len(samples(mfs, "llm_engine_pd_queue_requests")); n != 0 {
		t.Errorf("unified server has %d P/D queue series", n)
	}
}

func merge(m map[string]string, kv ...string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

// Every TP rank of the prefill server exports the same per-request series:
// they must be counted once, with tp_rank="".
func TestSGLangPrefillTPDuplicates(t *testing.T) {
	url := serve(t, textPage(fixture(t, "sglang-prefill-tp2.txt")))
	c := newCollector(t, Config{Targets: []Target{{URL: url, Labels: JoinLabels{Pod: "chat-prefill-0", Role: "decode"}}}})
	mfs := gather(t, c)
	stages := samples(mfs, "llm_engine_stage_latency_seconds")
	if len(stages) != 5 {
		t.Fatalf("%d stage series, want 5 (one per stage, TP duplicates dropped)", len(stages))
	}
	for i, stage := range []string{"prefill_bootstrap", "prefill_waiting", "prefill_forward", "chunked_prefill", "prefill_transfer_kv_cache"} {
		s := one(t, mfs, "llm_engine_stage_latency_seconds", map[string]string{"stage": stage})
		// The page's engine_type wins over the target's role.
		if s.labels["role"] != "prefill" || s.labels["tp_rank"] != "" || s.value != 100 || s.sum != 0.5*float64(i+1) {
			t.Errorf("stage %s: %+v", stage, s)
		}
	}
	if s := one(t, mfs, "llm_engine_queue_time_seconds", nil); s.value != 50 {
		t.Errorf("queue time count = %v, want 50 (not 100)", s.value)
	}
	if s := one(t, mfs, "llm_engine_requests_retracted_total", nil); s.value != 7 {
		t.Errorf("retracted = %v, want 7 (not 14)", s.value)
	}
	if s := one(t, mfs, "llm_engine_kv_transfer_failures_total", nil); s.value != 2 {
		t.Errorf("kv transfer failures = %v", s.value)
	}
	if s := one(t, mfs, "llm_engine_bootstrap_failures_total", nil); s.value != 1 {
		t.Errorf("bootstrap failures = %v", s.value)
	}
	q := samples(mfs, "llm_engine_pd_queue_requests")
	if len(q) != 2 {
		t.Fatalf("P/D queues: %v", q)
	}
	if s := one(t, mfs, "llm_engine_pd_queue_requests", map[string]string{"queue": "prefill_bootstrap"}); s.value != float64(len("prefill_bootstrap")) {
		t.Errorf("prefill_bootstrap = %v", s.value)
	}
	if s := one(t, mfs, "llm_engine_requests_running", nil); s.labels["tp_rank"] != "0" {
		t.Errorf("running comes from tp_rank %q, want the lowest", s.labels["tp_rank"])
	}
}

// DP attention: one series per dp_rank; the tokenizer's series have no dp_rank.
func TestSGLangDecodeDPAttention(t *testing.T) {
	url := serve(t, textPage(fixture(t, "sglang-decode-dp2.txt")))
	c := newCollector(t, Config{Targets: []Target{{URL: url, Labels: JoinLabels{Pod: "chat-decode-0"}}}})
	mfs := gather(t, c)
	for _, dp := range []string{"0", "1"} {
		want := map[string]string{"dp_rank": dp, "role": "decode"}
		if s := one(t, mfs, "llm_engine_requests_running", want); s.value != 10+float64(dp[0]-'0') || s.labels["tp_rank"] != dp {
			t.Errorf("running dp %s: %+v", dp, s)
		}
		if s := one(t, mfs, "llm_engine_kv_cache_usage_ratio", want); s.value != 0.25+0.25*float64(dp[0]-'0') {
			t.Errorf("kv usage dp %s: %v", dp, s.value)
		}
		for _, stage := range []string{"decode_prepare", "decode_bootstrap", "decode_transferred", "decode_waiting"} {
			if s := one(t, mfs, "llm_engine_stage_latency_seconds", merge(want, "stage", stage)); s.labels["tp_rank"] != "" {
				t.Errorf("stage %s dp %s: tp_rank %q", stage, dp, s.labels["tp_rank"])
			}
		}
		for _, q := range []string{"decode_prealloc", "decode_transfer"} {
			one(t, mfs, "llm_engine_pd_queue_requests", merge(want, "queue", q))
		}
	}
	if s := one(t, mfs, "llm_engine_time_to_first_token_seconds", map[string]string{"dp_rank": "", "role": "decode"}); s.value != 100 {
		t.Errorf("ttft = %+v", s)
	}
}

func TestSGLangOldNames(t *testing.T) {
	url := serve(t, textPage(fixture(t, "sglang-prefill-old.txt")))
	mfs := gather(t, newCollector(t, Config{Targets: []Target{{URL: url}}}))
	for _, q := range []string{"prefill_bootstrap", "prefill_inflight"} {
		one(t, mfs, "llm_engine_pd_queue_requests", map[string]string{"queue": q, "role": "prefill"})
	}
	if s := one(t, mfs, "llm_engine_requests_retracted_total", nil); s.value != 7 {
		t.Errorf("retracted from total_retracted_reqs = %v", s.value)
	}
}

func TestVLLMV1DataParallel(t *testing.T) {
	url := serve(t, textPage(fixture(t, "vllm-v1-dp2.txt")))
	mfs := gather(t, newCollector(t, Config{Targets: []Target{{URL: url, Labels: JoinLabels{Namespace: "ns", Pod: "llama-0", Role: "unified"}}}}))
	for _, dp := range []string{"0", "1"} {
		want := map[string]string{"engine": "vllm", "model": "meta-llama/Llama-3.1-8B-Instruct", "dp_rank": dp, "role": "unified", "pod": "llama-0"}
		// inter_token_latency_seconds and the deprecated time_per_output_token_seconds
		// are the same observations: counted once.
		if s := one(t, mfs, "llm_engine_inter_token_latency_seconds", want); s.value != 19900 || s.sum != 398 {
			t.Errorf("itl dp %s: %+v", dp, s)
		}
		if s := one(t, mfs, "llm_engine_kv_cache_usage_ratio", want); s.value != 0.5+0.125*float64(dp[0]-'0') {
			t.Errorf("kv dp %s: %v", dp, s.value)
		}
		for _, stage := range []string{"prefill", "decode"} {
			one(t, mfs, "llm_engine_stage_latency_seconds", merge(want, "stage", stage))
		}
		for reason, v := range map[string]float64{"stop": 90, "length": 8, "abort": 2} {
			if s := one(t, mfs, "llm_engine_requests_total", merge(want, "finished_reason", reason)); s.value != v {
				t.Errorf("requests %s: %v", reason, s.value)
			}
		}
		if s := one(t, mfs, "llm_engine_requests_aborted_total", want); s.value != 2 {
			t.Errorf("aborted: %v", s.value)
		}
		if s := one(t, mfs, "llm_engine_requests_retracted_total", want); s.value != 5 {
			t.Errorf("preemptions: %v", s.value)
		}
		if s := one(t, mfs, "llm_engine_cached_prompt_tokens_total", want); s.value != 2500 {
			t.Errorf("cached: %v", s.value)
		}
		one(t, mfs, "llm_engine_queue_time_seconds", want)
		one(t, mfs, "llm_engine_e2e_request_latency_seconds", want)
		one(t, mfs, "llm_engine_time_to_first_token_seconds", want)
	}
	if s := one(t, mfs, "llm_engine_prompt_tokens_total", map[string]string{"dp_rank": "1"}); s.value != 50001 {
		t.Errorf("prompt tokens dp 1: %v", s.value)
	}
}

func TestVLLMOldNames(t *testing.T) {
	url := serve(t, textPage(fixture(t, "vllm-v0-old.txt")))
	mfs := gather(t, newCollector(t, Config{Targets: []Target{{URL: url, Labels: JoinLabels{DPRank: "3"}}}}))
	want := map[string]string{"engine": "vllm", "dp_rank": "3"}
	if s := one(t, mfs, "llm_engine_kv_cache_usage_ratio", want); s.value != 0.375 {
		t.Errorf("gpu_cache_usage_perc: %v", s.value)
	}
	if s := one(t, mfs, "llm_engine_inter_token_latency_seconds", want); s.value != 19900 {
		t.Errorf("time_per_output_token: %+v", s)
	}
	if s := one(t, mfs, "llm_engine_prefix_cache_hit_ratio", want); s.value != 0.125 {
		t.Errorf("gpu_prefix_cache_hit_rate: %v", s.value)
	}
	if s := one(t, mfs, "llm_engine_generation_throughput_tokens_per_second", want); s.value != 830 {
		t.Errorf("throughput: %v", s.value)
	}
}

const openMetricsPage = `# HELP sglang:num_requests Number of requests processed.
# TYPE sglang:num_requests counter
sglang:num_requests_total{model_name="m",engine_type="decode"} 42.0
sglang:num_requests_created{model_name="m",engine_type="decode"} 1.7e+09
# HELP sglang:time_to_first_token_seconds Histogram of time to first token in seconds.
# TYPE sglang:time_to_first_token_seconds histogram
sglang:time_to_first_token_seconds_bucket{model_name="m",engine_type="decode",le="0.1"} 1.0
sglang:time_to_first_token_seconds_bucket{model_name="m",engine_type="decode",le="1.0"} 3.0
sglang:time_to_first_token_seconds_bucket{model_name="m",engine_type="decode",le="+Inf"} 4.0
sglang:time_to_first_token_seconds_count{model_name="m",engine_type="decode"} 4.0
sglang:time_to_first_token_seconds_sum{model_name="m",engine_type="decode"} 2.5
# HELP sglang:num_running_reqs The number of running requests.
# TYPE sglang:num_running_reqs gauge
sglang:num_running_reqs{model_name="m",engine_type="decode",tp_rank="0"} 6.0
# EOF
`

func TestOpenMetricsAndGzip(t *testing.T) {
	var gzipped atomic.Int32
	om := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.Contains(r.Header.Get("Accept"), "application/openmetrics-text") {
			t.Errorf("Accept %q does not offer OpenMetrics", r.Header.Get("Accept"))
		}
		w.Header().Set("Content-Type", "application/openmetrics-text; version=1.0.0; charset=utf-8")
		_, _ = io.WriteString(w, openMetricsPage)
	}))
	gz := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			t.Errorf("no gzip offered")
		}
		gzipped.Add(1)
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		w.Header().Set("Content-Encoding", "gzip")
		zw := gzip.NewWriter(w)
		_, _ = zw.Write(fixture(t, "sglang-unified.txt"))
		_ = zw.Close()
	}))
	mfs := gather(t, newCollector(t, Config{Targets: []Target{{URL: om, Labels: JoinLabels{Pod: "om"}}, {URL: gz, Labels: JoinLabels{Pod: "gz"}}}}))
	if s := one(t, mfs, "llm_engine_requests_total", map[string]string{"pod": "om"}); s.value != 42 {
		t.Errorf("OpenMetrics counter: %v", s.value)
	}
	if s := one(t, mfs, "llm_engine_time_to_first_token_seconds", map[string]string{"pod": "om"}); s.value != 4 || s.bucket[1] != 3 {
		t.Errorf("OpenMetrics histogram: %+v", s)
	}
	if s := one(t, mfs, "llm_engine_requests_running", map[string]string{"pod": "om"}); s.value != 6 {
		t.Errorf("OpenMetrics gauge: %v", s.value)
	}
	if s := one(t, mfs, "llm_engine_time_to_first_token_seconds", map[string]string{"pod": "gz"}); s.value != 100 {
		t.Errorf("gzip page: %+v", s)
	}
	if gzipped.Load() != 1 {
		t.Errorf("gzip server hit %d times", gzipped.Load())
	}
}

// Bad targets: each costs only its own series and counts its reason.
func TestBadTargets(t *testing.T) {
	good := serve(t, textPage(fixture(t, "sglang-unified.txt")))
	release := make(chan struct{})
	defer close(release)
	slow := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	status := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "boom", http.StatusInternalServerError)
	}))
	garbage := serve(t, textPage([]byte("sglang:num_running_reqs{model_name=\"m\" 3\n<html>not metrics</html>\n")))
	// A page cut in the middle of a line (an engine killed mid-write).
	page := fixture(t, "sglang-unified.txt")
	truncated := serve(t, textPage(page[:strings.Index(string(page), `le="0.4"`)+5]))
	// A page whose Content-Length promises more than it sends.
	cut := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		page := fixture(t, "sglang-unified.txt")
		w.Header().Set("Content-Length", fmt.Sprint(len(page)))
		_, _ = w.Write(page[:len(page)/2])
		if hj, ok := w.(http.Hijacker); ok {
			conn, _, _ := hj.Hijack()
			_ = conn.Close()
		}
	}))
	huge := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		streamHugePage(w, 100<<20)
	}))
	dead := "http://127.0.0.1:1/metrics"
	all := []string{good, slow, status, garbage, truncated, cut, huge, dead}
	var tgts []Target
	for i, u := range all {
		tgts = append(tgts, Target{URL: u, Labels: JoinLabels{Pod: fmt.Sprintf("p%d", i)}})
	}
	c := newCollector(t, Config{Targets: tgts, Timeout: 2 * time.Second, BodyLimit: 1 << 20})
	start := time.Now()
	mfs := gather(t, c)
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("scrape took %s: targets are not scraped concurrently within their timeout", d)
	}
	wantReason := map[string]string{slow: reasonTimeout, status: reasonHTTPStatus, garbage: reasonParse, truncated: reasonParse, cut: reasonParse, huge: reasonTooLarge, dead: reasonConnect}
	for _, u := range all {
		up := one(t, mfs, "llm_engine_up", map[string]string{"target": u})
		wantUp := 0.0
		if u == good {
			wantUp = 1
		}
		if up.value != wantUp {
			t.Errorf("%s: up %v, want %v", u, up.value, wantUp)
		}
		errs := find(samples(mfs, "llm_engine_scrape_errors_total"), map[string]string{"target": u})
		if len(errs) != len(reasons) {
			t.Errorf("%s: %d error series, want one per reason", u, len(errs))
		}
		for _, e := range errs {
			want := 0.0
			if e.labels["reason"] == wantReason[u] {
				want = 1
			}
			if e.value != want {
				t.Errorf("%s: errors{reason=%s} = %v, want %v", u, e.labels["reason"], e.value, want)
			}
		}
		one(t, mfs, "llm_engine_scrape_duration_seconds", map[string]string{"target": u})
	}
	// The good target is complete.
	if s := one(t, mfs, "llm_engine_time_to_first_token_seconds", map[string]string{"pod": "p0"}); s.value != 100 {
		t.Errorf("good target: %+v", s)
	}
	// A failed page contributes nothing, not even what parsed before the error.
	for _, pod := range []string{"p1", "p2", "p3", "p4", "p5", "p6", "p7"} {
		if n := len(find(samples(mfs, "llm_engine_prompt_tokens_total"), map[string]string{"pod": pod})); n != 0 {
			t.Errorf("failed target %s: %d prompt token series", pod, n)
		}
	}
}

// streamHugePage writes n bytes of valid exposition without holding them.
func streamHugePage(w io.Writer, n int) {
	line := []byte("sglang:num_running_reqs{model_name=\"m\",engine_type=\"unified\",tp_rank=\"000000000000\"} 1.0\n")
	for written := 0; written < n; written += len(line) {
		if _, err := w.Write(line); err != nil {
			return
		}
	}
}

// A target that changes its label sets between scrapes: the series follow, nothing fails.
func TestLabelSetsChange(t *testing.T) {
	var mu sync.Mutex
	page := fixture(t, "sglang-unified.txt")
	url := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		textPage(page)(w, r)
	}))
	c := newCollector(t, Config{Targets: []Target{{URL: url}}})
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(adapter{c})
	if n := testutil.CollectAndCount(adapter{c}, "llm_engine_requests_running"); n != 1 {
		t.Fatalf("first scrape: %d running series", n)
	}
	mu.Lock()
	// Restart with DP attention and a new model name: other label sets, and a dp_rank label.
	page = []byte(strings.ReplaceAll(string(fixture(t, "sglang-decode-dp2.txt")), "zai-org/GLM-4.6", "zai-org/GLM-5"))
	mu.Unlock()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := samples(mfs, "llm_engine_requests_running")
	if len(got) != 2 || len(find(got, map[string]string{"model": "zai-org/GLM-5", "role": "decode"})) != 2 {
		t.Errorf("after the change: %v", got)
	}
}

func TestLint(t *testing.T) {
	var tgts []Target
	// Every family: the coverage pages yield them all.
	for i, f := range append([]string{"sglang-unified.txt", "sglang-decode-dp2.txt", "vllm-v1-dp2.txt", "vllm-v0-old.txt"}, coveragePages...) {
		tgts = append(tgts, Target{URL: serve(t, textPage(fixture(t, f))), Labels: JoinLabels{Pod: fmt.Sprint("pod", i)}})
	}
	tgts = append(tgts, Target{URL: "http://127.0.0.1:1/metrics"})
	c := newCollector(t, Config{Targets: tgts, Timeout: time.Second})
	problems, err := testutil.CollectAndLint(adapter{c})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

// Two targets that would yield the same series (same pod, no telling labels)
// must not fail the exposition.
func TestDuplicateTargetsDoNotFailTheScrape(t *testing.T) {
	page := fixture(t, "sglang-unified.txt")
	a, b := serve(t, textPage(page)), serve(t, textPage(page))
	mfs := gather(t, newCollector(t, Config{Targets: []Target{{URL: a}, {URL: b}}}))
	if n := len(samples(mfs, "llm_engine_time_to_first_token_seconds")); n != 1 {
		t.Errorf("%d ttft series, want 1", n)
	}
	if n := len(samples(mfs, "llm_engine_up")); n != 2 {
		t.Errorf("%d up series, want 2", n)
	}
}

func TestPassthrough(t *testing.T) {
	prefill := serve(t, textPage(fixture(t, "sglang-prefill-tp2.txt")))
	om := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/openmetrics-text; version=1.0.0; charset=utf-8")
		_, _ = io.WriteString(w, openMetricsPage)
	}))
	withPod := serve(t, textPage([]byte("# TYPE vllm:num_requests_running gauge\nvllm:num_requests_running{pod=\"theirs\",model_name=\"m\"} 2\n")))
	cfg := Config{Passthrough: true, Targets: []Target{
		{URL: prefill, Labels: JoinLabels{Namespace: "ns", Pod: "prefill-0", Container: "sglang"}},
		{URL: om, Labels: JoinLabels{Namespace: "ns", Pod: "decode-0", Container: "sglang"}},
		{URL: withPod, Labels: JoinLabels{Namespace: "ns", Pod: "vllm-0"}},
	}}
	c := newCollector(t, cfg)
	mfs := gather(t, c)
	st := find(samples(mfs, "sglang:per_stage_req_latency_seconds"), map[string]string{"pod": "prefill-0", "namespace": "ns", "container": "sglang"})
	if len(st) != 10 { // 5 stages x 2 TP ranks, as the engine printed them
		t.Errorf("passthrough stage series: %d", len(st))
	}
	if s := one(t, mfs, "sglang:num_requests_total", map[string]string{"pod": "decode-0"}); s.value != 42 {
		t.Errorf("OpenMetrics counter passthrough: %+v", s)
	}
	if s := one(t, mfs, "vllm:num_requests_running", map[string]string{"pod": "vllm-0", "exported_pod": "theirs"}); s.value != 2 {
		t.Errorf("page's own pod label: %+v", s)
	}
	// Normalised families are still there.
	one(t, mfs, "llm_engine_requests_total", map[string]string{"pod": "decode-0"})
	problems, err := testutil.CollectAndLint(adapter{c})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		// Engine names are the engine's business; only our own families must be lint-clean.
		if strings.HasPrefix(p.Metric, "llm_") {
			t.Errorf("lint: %s: %s", p.Metric, p.Text)
		}
	}
}

func TestPassthroughOff(t *testing.T) {
	url := serve(t, textPage(fixture(t, "sglang-unified.txt")))
	mfs := gather(t, newCollector(t, Config{Targets: []Target{{URL: url}}}))
	for _, mf := range mfs {
		if !strings.HasPrefix(mf.GetName(), "llm_engine_") {
			t.Errorf("unexpected family %s without --engine.passthrough", mf.GetName())
		}
	}
}

func TestNoTargets(t *testing.T) {
	mfs := gather(t, newCollector(t, Config{}))
	if len(mfs) != 0 {
		t.Errorf("families without targets: %v", mfs)
	}
}

func TestReasonsAreDocumentedInHelp(t *testing.T) {
	c := newCollector(t, Config{})
	for _, r := range reasons {
		if !strings.Contains(c.errorsDesc.String(), r) {
			t.Errorf("reason %s missing from the help text", r)
		}
	}
	for _, r := range dropReasons {
		if !strings.Contains(c.droppedDesc.String(), r) {
			t.Errorf("reason %s missing from the help text", r)
		}
	}
	for _, r := range renameReasons {
		if !strings.Contains(c.renamedDesc.String(), r) {
			t.Errorf("reason %s missing from the help text", r)
		}
	}
}

func TestScrapeErrorUnwrap(t *testing.T) {
	base := errors.New("x")
	err := error(&scrapeError{reasonParse, base})
	if !errors.Is(err, base) || err.Error() != "parse_error: x" {
		t.Errorf("scrapeError: %v", err)
	}
}

// The same URL twice (a flag and the file, with other labels) is scraped once:
// the first wins, and the exposition does not fail on duplicate self-metrics.
func TestSameURLTwice(t *testing.T) {
	url := serve(t, textPage(fixture(t, "sglang-unified.txt")))
	path := filepath.Join(t.TempDir(), "t.json")
	if err := os.WriteFile(path, []byte(`[{"targets": ["`+url+`"], "labels": {"pod": "from-file", "model": "x"}}]`), 0o644); err != nil {
		t.Fatal(err)
	}
	c := newCollector(t, Config{TargetsFile: path, Targets: []Target{{URL: url, Labels: JoinLabels{Pod: "from-flag"}}, {URL: url, Labels: JoinLabels{Pod: "from-flag", DPRank: "1"}}}})
	mfs := gather(t, c)
	if s := one(t, mfs, "llm_engine_up", nil); s.labels["pod"] != "from-flag" {
		t.Errorf("up: %v", s.labels)
	}
	if s := one(t, mfs, "llm_engine_requests_running", nil); s.labels["dp_rank"] != "" {
		t.Errorf("running: %v", s.labels)
	}
}

// CoveragePages are the pages (under testdata/) that, served together, yield
// every normalised family: the binary's end-to-end test serves them to check
// docs/metrics-engine.md against what it exposes.
var coveragePages = []string{
	"sglang-prefill-tp2.txt",
	"real/sglang-0.5.9-pd-kvgauges-prefill.txt",
	"real/sglang-main-kvtimeouts-pd-prefill.txt",
	"real/sglang-0.5.18-lora.txt",
	"real/vllm-main-20260519-nixl-pd-dp2-decode.txt",
	"real/vllm-main-20260519-lora-mfu-spec-offload.txt",
}

func TestCoveragePagesYieldEveryFamily(t *testing.T) {
	var tgts []Target
	for i, p := range coveragePages {
		tgts = append(tgts, Target{URL: serve(t, textPage(fixture(t, p))), Labels: JoinLabels{Pod: fmt.Sprint("pod-", i)}})
	}
	mfs := gather(t, newCollector(t, Config{Targets: tgts}))
	for _, f := range families {
		if len(samples(mfs, "llm_engine_"+f.name)) == 0 {
			t.Errorf("llm_engine_%s: no series", f.name)
		}
	}
}
