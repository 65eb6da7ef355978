package engine

import (
	"regexp"
	"strings"
	"testing"
)

// oneSeries normalises a page and returns its one series of family.
func oneSeries(t *testing.T, page, family string, want map[string]string) outSeries {
	t.Helper()
	s := runPage([]byte(page), formatText, JoinLabels{}, Limits{}, nil)
	if s.err != nil {
		t.Fatal(s.err)
	}
	got := matching(s.out, family, want)
	if len(got) != 1 {
		t.Fatalf("llm_engine_%s%v: %d series: %s", family, want, len(got), dumpOut(s.out))
	}
	return got[0]
}

// SGLang's millisecond histograms become seconds: bounds (each exactly the
// decimal a user would write), the sum, and cumulative counts unchanged.
func TestMillisecondsHistogramInSeconds(t *testing.T) {
	page := `# TYPE sglang:kv_transfer_latency_ms histogram
sglang:kv_transfer_latency_ms_sum{engine_type="prefill",model_name="m",tp_rank="0"} 1234.5
sglang:kv_transfer_latency_ms_bucket{engine_type="prefill",le="1.0",model_name="m",tp_rank="0"} 1.0
sglang:kv_transfer_latency_ms_bucket{engine_type="prefill",le="5.0",model_name="m",tp_rank="0"} 3.0
sglang:kv_transfer_latency_ms_bucket{engine_type="prefill",le="25.0",model_name="m",tp_rank="0"} 7.0
sglang:kv_transfer_latency_ms_bucket{engine_type="prefill",le="250.0",model_name="m",tp_rank="0"} 9.0
sglang:kv_transfer_latency_ms_bucket{engine_type="prefill",le="+Inf",model_name="m",tp_rank="0"} 10.0
sglang:kv_transfer_latency_ms_count{engine_type="prefill",model_name="m",tp_rank="0"} 10.0
`
	o := oneSeries(t, page, "kv_transfer_seconds", lbl("connector", "sglang", "role", "prefill"))
	wantBounds := []float64{0.001, 0.005, 0.025, 0.25}
	wantCounts := []uint64{1, 3, 7, 9}
	if len(o.bounds) != len(wantBounds) {
		t.Fatalf("bounds %v, want %v", o.bounds, wantBounds)
	}
	for i := range wantBounds {
		if o.bounds[i] != wantBounds[i] || o.counts[i] != wantCounts[i] {
			t.Errorf("bucket %d: le=%v (%d), want le=%v (%d)", i, o.bounds[i], o.counts[i], wantBounds[i], wantCounts[i])
		}
	}
	if o.count != 10 || o.sum != 1.2345 {
		t.Errorf("count %d sum %v, want 10 and 1.2345", o.count, o.sum)
	}
}

// MiB and GiB per second are bytes and bytes per second, bounds included.
func TestBinaryUnitsInBytes(t *testing.T) {
	page := `# TYPE sglang:kv_transfer_total_mb histogram
sglang:kv_transfer_total_mb_sum{model_name="m"} 1.5
sglang:kv_transfer_total_mb_bucket{le="1.0",model_name="m"} 1.0
sglang:kv_transfer_total_mb_bucket{le="+Inf",model_name="m"} 2.0
sglang:kv_transfer_total_mb_count{model_name="m"} 2.0
# TYPE sglang:kv_transfer_speed_gb_s histogram
sglang:kv_transfer_speed_gb_s_sum{model_name="m"} 0.75
sglang:kv_transfer_speed_gb_s_bucket{le="0.5",model_name="m"} 1.0
sglang:kv_transfer_speed_gb_s_bucket{le="+Inf",model_name="m"} 2.0
sglang:kv_transfer_speed_gb_s_count{model_name="m"} 2.0
`
	b := oneSeries(t, page, "kv_transfer_bytes", lbl("connector", "sglang"))
	if len(b.bounds) != 1 || b.bounds[0] != 1048576 || b.counts[0] != 1 || b.sum != 1572864 || b.count != 2 {
		t.Errorf("bytes: bounds %v counts %v sum %v count %d, want [1048576] [1] 1572864 2", b.bounds, b.counts, b.sum, b.count)
	}
	s := oneSeries(t, page, "kv_transfer_speed_bytes_per_second", lbl("connector", "sglang"))
	if len(s.bounds) != 1 || s.bounds[0] != 536870912 || s.sum != 805306368 {
		t.Errorf("speed: bounds %v sum %v, want [536870912] 805306368", s.bounds, s.sum)
	}
}

// The same SGLang names as gauges (0.5.9) feed the last-transfer gauges, in
// base units, and no histogram.
func TestKVTransferGaugesAndHistogramsShareNames(t *testing.T) {
	gauges := `# TYPE sglang:kv_transfer_latency_ms gauge
sglang:kv_transfer_latency_ms{model_name="m",tp_rank="0"} 250.0
# TYPE sglang:kv_transfer_total_mb gauge
sglang:kv_transfer_total_mb{model_name="m",tp_rank="0"} 2.5
`
	s := runPage([]byte(gauges), formatText, JoinLabels{}, Limits{}, nil)
	if s.err != nil {
		t.Fatal(s.err)
	}
	got := map[string]float64{}
	for _, o := range s.out {
		got[o.fam.name] = o.value
	}
	if len(got) != 2 || got["kv_transfer_last_seconds"] != 0.25 || got["kv_transfer_last_bytes"] != 2621440 {
		t.Errorf("got %v, want kv_transfer_last_seconds 0.25 and kv_transfer_last_bytes 2621440 only", got)
	}
}

// A conversion can make bounds equal or infinite: they are left out, so that
// the bounds stay finite and increasing and the buckets cumulative.
func TestConversionKeepsBucketsValid(t *testing.T) {
	page := `# TYPE sglang:kv_transfer_speed_gb_s histogram
sglang:kv_transfer_speed_gb_s_bucket{le="1e-320",model_name="m"} 1.0
sglang:kv_transfer_speed_gb_s_bucket{le="1.0",model_name="m"} 2.0
sglang:kv_transfer_speed_gb_s_bucket{le="1e300",model_name="m"} 3.0
sglang:kv_transfer_speed_gb_s_bucket{le="+Inf",model_name="m"} 4.0
sglang:kv_transfer_speed_gb_s_count{model_name="m"} 4.0
sglang:kv_transfer_speed_gb_s_sum{model_name="m"} 4.0
# TYPE sglang:kv_transfer_alloc_ms histogram
sglang:kv_transfer_alloc_ms_bucket{le="5e-324",model_name="m"} 1.0
sglang:kv_transfer_alloc_ms_bucket{le="1e-323",model_name="m"} 2.0
sglang:kv_transfer_alloc_ms_bucket{le="1000",model_name="m"} 3.0
sglang:kv_transfer_alloc_ms_bucket{le="+Inf",model_name="m"} 3.0
sglang:kv_transfer_alloc_ms_count{model_name="m"} 3.0
sglang:kv_transfer_alloc_ms_sum{model_name="m"} 3.0
`
	s := runPage([]byte(page), formatText, JoinLabels{Namespace: "ns", Pod: "pod", Container: "c"}, Limits{}, nil)
	if s.err != nil {
		t.Fatal(s.err)
	}
	checkInvariants(t, s.out)
	speed := matching(s.out, "kv_transfer_speed_bytes_per_second", nil)
	// 1e300 GiB/s overflows: left out. 1e-320 GiB/s is 1e-320 × 2^30, finite.
	if len(speed) != 1 || len(speed[0].bounds) != 2 || speed[0].bounds[1] != gb || speed[0].counts[1] != 2 {
		t.Errorf("speed: %s", dumpOut(speed))
	}
	alloc := matching(s.out, "kv_transfer_alloc_seconds", nil)
	// 5e-324 and 1e-323 ms are both 0 s: the first is kept.
	if len(alloc) != 1 || len(alloc[0].bounds) != 2 || alloc[0].bounds[0] != 0 || alloc[0].counts[0] != 1 || alloc[0].bounds[1] != 1 || alloc[0].counts[1] != 3 {
		t.Errorf("alloc: %s", dumpOut(alloc))
	}
	if s.n.unmergedBuckets != 2 {
		t.Errorf("%d buckets counted as left out, want 2 (one of each)", s.n.unmergedBuckets)
	}
}

// Two ranks' series added up (a label the schema drops) in seconds.
func TestConversionOfMergedHistograms(t *testing.T) {
	page := `# TYPE sglang:kv_transfer_bootstrap_ms histogram
sglang:kv_transfer_bootstrap_ms_bucket{customer="a",le="2.0",model_name="m"} 1.0
sglang:kv_transfer_bootstrap_ms_bucket{customer="a",le="+Inf",model_name="m"} 2.0
sglang:kv_transfer_bootstrap_ms_count{customer="a",model_name="m"} 2.0
sglang:kv_transfer_bootstrap_ms_sum{customer="a",model_name="m"} 10.0
sglang:kv_transfer_bootstrap_ms_bucket{customer="b",le="2.0",model_name="m"} 3.0
sglang:kv_transfer_bootstrap_ms_bucket{customer="b",le="+Inf",model_name="m"} 3.0
sglang:kv_transfer_bootstrap_ms_count{customer="b",model_name="m"} 3.0
sglang:kv_transfer_bootstrap_ms_sum{customer="b",model_name="m"} 4.0
`
	o := oneSeries(t, page, "kv_transfer_bootstrap_seconds", nil)
	if len(o.bounds) != 1 || o.bounds[0] != 0.002 || o.counts[0] != 4 || o.count != 5 || !near(o.sum, 0.014) {
		t.Errorf("%s", dumpOut([]outSeries{o}))
	}
}

// fwd_occupancy is a percentage, NaN when not measured.
func TestForwardOccupancy(t *testing.T) {
	page := "# TYPE sglang:fwd_occupancy gauge\n" +
		`sglang:fwd_occupancy{dp_rank="0",model_name="m",tp_rank="0"} 50.0` + "\n" +
		`sglang:fwd_occupancy{dp_rank="1",model_name="m",tp_rank="2"} NaN` + "\n"
	s := runPage([]byte(page), formatText, JoinLabels{}, Limits{}, nil)
	if s.err != nil {
		t.Fatal(s.err)
	}
	if len(s.out) != 1 || s.out[0].value != 0.5 || namedLabels(s.out[0])["dp_rank"] != "0" {
		t.Errorf("got %s, want only dp_rank 0 at 0.5", dumpOut(s.out))
	}
}

// transfer_type values are lower-cased into direction.
func TestOffloadDirection(t *testing.T) {
	page := "# TYPE vllm:kv_offload_total_bytes_total counter\n" +
		`vllm:kv_offload_total_bytes_total{engine="0",model_name="m",transfer_type="GPU_to_CPU"} 5.0` + "\n"
	o := oneSeries(t, page, "kv_offload_bytes_total", lbl("direction", "gpu_to_cpu"))
	if o.value != 5 {
		t.Errorf("value %v", o.value)
	}
}

// hiddenFamilies renders a vLLM 0.11 page as vLLM 0.11 prints it with
// --show-hidden-metrics-for-version=0.10: the 0.9-deprecated gpu_* families
// are printed too, recorded together with their successors (the same
// values; the help texts here are the successors', which the exporter does
// not read).
func hiddenFamilies(page string) string {
	var b strings.Builder
	lines := strings.SplitAfter(page, "\n")
	for _, old := range [][2]string{
		{"vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc"},
		{"vllm:prefix_cache_queries", "vllm:gpu_prefix_cache_queries"},
		{"vllm:prefix_cache_hits", "vllm:gpu_prefix_cache_hits"},
	} {
		re := regexp.MustCompile(`^(# (HELP|TYPE) )?` + regexp.QuoteMeta(old[0]) + `(_total|_created)?[ {]`)
		for _, l := range lines {
			if re.MatchString(l) {
				b.WriteString(strings.Replace(l, old[0], old[1], 1))
			}
		}
	}
	return page + b.String()
}

// without removes the families (and their _created) of the given names.
func without(page string, names ...string) string {
	var b strings.Builder
next:
	for _, l := range strings.SplitAfter(page, "\n") {
		for _, n := range names {
			re := regexp.MustCompile(`^(# (HELP|TYPE) )?` + regexp.QuoteMeta(n) + `(_total|_created|_bucket|_sum|_count)?[ {]`)
			if re.MatchString(l) {
				continue next
			}
		}
		b.WriteString(l)
	}
	return b.String()
}

// Old and new vLLM names meet in one series: a page printing both is
// counted once (the current name's values), a page printing only the old
// name (before the rename, or with the new one dropped by relabelling)
// yields the same series.
func TestVLLMOldAndNewNamesMeet(t *testing.T) {
	page := string(realPage(t, "vllm-v0.11-nixl-pd-decode.txt"))
	both := hiddenFamilies(page)
	if !strings.Contains(both, "vllm:gpu_prefix_cache_hits_total{") || !strings.Contains(both, "vllm:time_per_output_token_seconds_count{") {
		t.Fatal("the page with hidden families lacks them")
	}
	oldOnly := without(both, "vllm:kv_cache_usage_perc", "vllm:prefix_cache_queries", "vllm:prefix_cache_hits", "vllm:inter_token_latency_seconds")
	if strings.Contains(oldOnly, "vllm:prefix_cache_hits_total{") || strings.Contains(oldOnly, "vllm:inter_token_latency_seconds_count") {
		t.Fatal("the old-only page still has a new name")
	}
	join := JoinLabels{Pod: "p"}
	run := func(p string) map[string]outSeries {
		s := runPage([]byte(p), formatText, join, Limits{}, nil)
		if s.err != nil {
			t.Fatal(s.err)
		}
		m := map[string]outSeries{}
		for _, o := range s.out {
			k := o.fam.name + strings.Join(o.labels[:], ",")
			if _, dup := m[k]; dup {
				t.Fatalf("%s twice", k)
			}
			m[k] = o
		}
		return m
	}
	newOnly, withBoth, withOld := run(page), run(both), run(oldOnly)
	// Read off the page: hits 1280, queries 895154, KV cache usage 0.62,
	// 103321 inter-token latencies (in both histograms).
	for _, c := range []struct {
		family string
		labels map[string]string
		value  float64
	}{
		{"cached_prompt_tokens_total", nil, 1280},
		{"prompt_tokens_by_source_total", lbl("source", "local_cache_hit"), 1280},
		{"prefix_cache_queries_total", nil, 895154},
		{"kv_cache_usage_ratio", nil, 0.62},
		{"inter_token_latency_seconds", nil, 103321},
	} {
		for name, out := range map[string]map[string]outSeries{"new names": newOnly, "both": withBoth, "old names": withOld} {
			var list []outSeries
			for _, o := range out {
				list = append(list, o)
			}
			got := matching(list, c.family, c.labels)
			if len(got) != 1 {
				t.Errorf("%s: llm_engine_%s%v: %d series", name, c.family, c.labels, len(got))
				continue
			}
			v := got[0].value
			if got[0].fam.kind == kindHistogram {
				v = float64(got[0].count)
			}
			if v != c.value {
				t.Errorf("%s: llm_engine_%s%v = %v, want %v", name, c.family, c.labels, v, c.value)
			}
			if l := got[0].labels; l != matching(listOf(newOnly), c.family, c.labels)[0].labels {
				t.Errorf("%s: llm_engine_%s labels %q differ from the new name's", name, c.family, l)
			}
		}
	}
}

func listOf(m map[string]outSeries) []outSeries {
	var l []outSeries
	for _, o := range m {
		l = append(l, o)
	}
	return l
}

// The fallback of prompt_tokens_by_source is read only where the page lacks it.
func TestPromptTokensBySourcePreferred(t *testing.T) {
	page := string(realPage(t, "vllm-main-20260519-nixl-pd-dp2-decode.txt"))
	s := runPage([]byte(page), formatText, JoinLabels{}, Limits{}, nil)
	if s.err != nil {
		t.Fatal(s.err)
	}
	// engine 0: local_cache_hit 960 from by_source; prefix_cache_hits is 960
	// too, external_prefix_cache_hits 696823 = by_source's: once each.
	for _, src := range []string{"local_compute", "local_cache_hit", "external_kv_transfer"} {
		if n := len(matching(s.out, "prompt_tokens_by_source_total", lbl("source", src, "dp_rank", "0"))); n != 1 {
			t.Errorf("source %s: %d series", src, n)
		}
	}
	// Make the two disagree: the fallback must not be read.
	altered := strings.Replace(page, `vllm:prefix_cache_hits_total{engine="0",model_name="meta-llama/Llama-3.1-70B-Instruct"} 960.0`,
		`vllm:prefix_cache_hits_total{engine="0",model_name="meta-llama/Llama-3.1-70B-Instruct"} 7.0`, 1)
	if altered == page {
		t.Fatal("page line not found")
	}
	o := oneSeries(t, altered, "prompt_tokens_by_source_total", lbl("source", "local_cache_hit", "dp_rank", "0"))
	if o.value != 960 {
		t.Errorf("local_cache_hit = %v, want by_source's 960", o.value)
	}
}

// The gateway pages (endpoint picker, ASM) are not engine pages: read
// without error, they yield no normalised series.
func TestGatewayPagesYieldNothing(t *testing.T) {
	for _, p := range []string{"epp-gaie-v0.3.0.txt", "epp-gaie-v1.3.1.txt", "llm-d-router-v0.10.0-epp.txt", "asm-proxy.txt"} {
		s := runPage(realPage(t, p), formatText, JoinLabels{}, Limits{}, nil)
		if s.err != nil {
			t.Errorf("%s: %v", p, s.err)
			continue
		}
		if len(s.out) != 0 {
			t.Errorf("%s: %d normalised series: %s", p, len(s.out), dumpOut(s.out))
		}
	}
}
