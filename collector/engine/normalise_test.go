package engine

import (
	"bytes"
	"context"
	"fmt"
	"hash/maphash"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// streamed is what the collector makes of one page: the target's interned
// state after the page, and the normalised series.
type streamed struct {
	ps   *pageState
	n    *normaliser
	out  []outSeries
	err  error
	pass []passItem
	pc   passCounts
}

// runPage parses and normalises one page as a scrape does, on a target's
// state (a fresh one when st is nil).
func runPage(page []byte, format pageFormat, join JoinLabels, lim Limits, prev *streamed) *streamed {
	s := &streamed{ps: newPageState(), n: newNormaliser()}
	if prev != nil {
		s.ps, s.n = prev.ps, prev.n
	}
	// The parser may append a newline: give it room, as the fetcher does.
	b := append(make([]byte, 0, len(page)+1), page...)
	if s.err = s.ps.parse(context.Background(), b, format, lim); s.err != nil {
		return s
	}
	s.out = s.n.normalise(s.ps, &join)
	s.n.sweep(s.ps.epoch)
	s.pass, s.pc = passthrough(s.ps, &join, testSeed, nil)
	return s
}

// pageCollector sends what the collector makes of one page.
type pageCollector struct {
	c      *Collector
	page   []byte
	format pageFormat
	join   JoinLabels
}

func (p pageCollector) Describe(chan<- *prometheus.Desc) {}
func (p pageCollector) Collect(ch chan<- prometheus.Metric) {
	st := &targetState{target: Target{URL: "http://x/metrics", Labels: p.join}, page: newPageState(), norm: newNormaliser()}
	s := runPage(p.page, p.format, p.join, Limits{}, &streamed{ps: st.page, n: st.norm})
	if s.err != nil {
		return
	}
	r := &result{}
	r.vals, r.hists = p.c.normItems(s.out)
	r.pass, _ = passthrough(st.page, &p.join, p.c.seed, nil)
	_ = p.c.send(context.Background(), ch, []*result{r})
}

// FuzzNormalise feeds arbitrary pages through the parser, the normaliser and
// the passthrough. Whatever a page holds, the normalised series are unique,
// per-request ones carry tp_rank="", histogram buckets are finite,
// increasing in le and cumulative (never decreasing, never above the
// count), and the exposition gathers without error.
func FuzzNormalise(f *testing.F) {
	for _, seed := range fuzzSeeds(f) {
		f.Add(seed.page, seed.openMetrics)
	}
	f.Add([]byte("# TYPE vllm:num_requests_running gauge\nvllm:num_requests_running{engine=\"0\",model_name=\"m\"} 1\nvllm:num_requests_running{engine=\"0\",model_name=\"m\",x=\"y\"} 2\n"), false)
	f.Add([]byte("sglang:num_running_reqs{tp_rank=\"x\",dp_rank=\"1\"} 1\nsglang:num_running_reqs{tp_rank=\"-1\",dp_rank=\"1\"} 2\n"), false)
	f.Add([]byte("# TYPE sglang:time_to_first_token_seconds histogram\nsglang:time_to_first_token_seconds_bucket{le=\"NaN\"} 1\nsglang:time_to_first_token_seconds_bucket{le=\"+Inf\"} 1\nsglang:time_to_first_token_seconds_count 1\nsglang:time_to_first_token_seconds_sum 1\n"), false)
	f.Add([]byte("# TYPE sglang:time_to_first_token_seconds histogram\nsglang:time_to_first_token_seconds_bucket{x=\"a\",le=\"0.1\"} 10\nsglang:time_to_first_token_seconds_bucket{x=\"a\",le=\"1\"} 10\nsglang:time_to_first_token_seconds_count{x=\"a\"} 10\nsglang:time_to_first_token_seconds_bucket{x=\"b\",le=\"0.5\"} 1\nsglang:time_to_first_token_seconds_bucket{x=\"b\",le=\"1\"} 1\nsglang:time_to_first_token_seconds_count{x=\"b\"} 1\n"), false)

	c, err := New(Config{Passthrough: true}, quiet)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, page []byte, openMetrics bool) {
		format := formatText
		if openMetrics {
			format = formatOpenMetrics
		}
		join := JoinLabels{Namespace: "ns", Pod: "pod", Container: "c", Role: "unified"}
		s := runPage(page, format, join, Limits{}, nil)
		if s.err != nil {
			return
		}
		checkInvariants(t, s.out)
		reg := prometheus.NewPedanticRegistry()
		reg.MustRegister(pageCollector{c: c, page: page, format: format, join: join})
		if _, err := reg.Gather(); err != nil {
			t.Fatalf("gather: %v", err)
		}
	})
}

// checkInvariants holds for the normalised series of any page.
func checkInvariants(t *testing.T, out []outSeries) {
	t.Helper()
	seen := map[string]bool{}
	for _, s := range out {
		key := s.fam.name + "\xff" + strings.Join(append(s.labels[:lTPRank:lTPRank], s.labels[lTPRank+1:]...), "\xff")
		if seen[key] {
			t.Fatalf("duplicate normalised series %q", key)
		}
		seen[key] = true
		if s.fam.kind != kindGauge && s.labels[lTPRank] != "" {
			t.Fatalf("per-request series %s with tp_rank %q", s.fam.name, s.labels[lTPRank])
		}
		if s.labels[lNamespace] != "ns" || s.labels[lPod] != "pod" || s.labels[lContainer] != "c" {
			t.Fatalf("join labels lost: %v", s.labels)
		}
		if s.labels[lEngine] != "sglang" && s.labels[lEngine] != "vllm" {
			t.Fatalf("engine %q", s.labels[lEngine])
		}
		for j := len(s.fam.extra); j < maxExtra; j++ {
			if s.labels[lExtra+j] != "" {
				t.Fatalf("extra label %d on %s: %q", j, s.fam.name, s.labels[lExtra+j])
			}
		}
		if len(s.bounds) != len(s.counts) {
			t.Fatalf("%s: %d bounds, %d counts", s.fam.name, len(s.bounds), len(s.counts))
		}
		for i, b := range s.bounds {
			if math.IsInf(b, 0) || math.IsNaN(b) {
				t.Fatalf("bucket bound %v", b)
			}
			if i > 0 && b <= s.bounds[i-1] {
				t.Fatalf("%s: bounds not increasing: %v", s.fam.name, s.bounds)
			}
			if i > 0 && s.counts[i] < s.counts[i-1] {
				t.Fatalf("%s: buckets not cumulative: %v %v", s.fam.name, s.bounds, s.counts)
			}
			if s.counts[i] > s.count {
				t.Fatalf("%s: bucket le=%v holds %d, more than the count %d", s.fam.name, b, s.counts[i], s.count)
			}
		}
	}
}

type fuzzSeed struct {
	page        []byte
	openMetrics bool
}

// fuzzSeeds are the heads of the real-shaped pages of testdata (both engines,
// every mode), each in the text format and as OpenMetrics, and each family of
// the engine pages of testdata/real that the table reads, alone.
func fuzzSeeds(tb testing.TB) []fuzzSeed {
	files, _ := filepath.Glob("testdata/*.txt")
	var out []fuzzSeed
	seen := map[string]bool{}
	for _, name := range realEnginePages {
		b, err := os.ReadFile(filepath.Join(realFixtureDir, name))
		if err != nil {
			tb.Fatal(err)
		}
		for _, block := range tableBlocks(b) {
			// One seed per family and type: the versions differ in their types.
			_, rest, _ := bytes.Cut(block, []byte("# TYPE "))
			typ, _, _ := bytes.Cut(rest, []byte("\n"))
			if !seen[string(typ)] {
				seen[string(typ)] = true
				out = append(out, fuzzSeed{block, false})
			}
		}
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			tb.Fatal(err)
		}
		// The head of each page: Go's fuzzer crawls on seeds of tens of kilobytes.
		head := func(b []byte, n int) []byte {
			if len(b) > n {
				b = b[:bytes.LastIndexByte(b[:n], '\n')+1]
			}
			return b
		}
		out = append(out, fuzzSeed{head(b, 600), false}, fuzzSeed{head(openMetricsOf(b), 500), true})
	}
	out = append(out, fuzzSeed{[]byte(openMetricsPage), true})
	return out
}

// tableBlocks cuts a page into its families (HELP, TYPE and samples) and
// returns those a table row reads, each cut to about 600 bytes at a line
// end: seeds of the size Go's fuzzer mutates well.
func tableBlocks(page []byte) [][]byte {
	read := map[string]bool{}
	for _, row := range table {
		for _, s := range row.sources {
			read[s] = true
			read[strings.TrimSuffix(s, "_total")] = true
		}
	}
	var out [][]byte
	var cur []byte
	name := ""
	flush := func() {
		if read[name] && len(cur) > 0 {
			if len(cur) > 600 {
				cur = cur[:bytes.LastIndexByte(cur[:600], '\n')+1]
			}
			out = append(out, cur)
		}
		cur = nil
	}
	for _, line := range bytes.SplitAfter(page, []byte("\n")) {
		if rest, ok := bytes.CutPrefix(line, []byte("# HELP ")); ok {
			flush()
			name = string(rest[:max(0, bytes.IndexByte(rest, ' '))])
		}
		cur = append(cur, line...)
	}
	flush()
	return out
}

// Every family is fed by some row, and every row's sources are distinct
// across rows of one family and extra value (one source, one meaning).
func TestTable(t *testing.T) {
	fed := map[*family]bool{}
	for _, row := range table {
		fed[row.out] = true
		if len(row.sources) == 0 {
			t.Errorf("row for %s has no source", row.out.name)
		}
		if len(row.extra) > len(row.out.extra) {
			t.Errorf("row for %s sets an extra label the family has not", row.out.name)
		}
		if len(row.out.extra) > maxExtra {
			t.Errorf("family %s has more than %d extra labels", row.out.name, maxExtra)
		}
		for _, src := range row.sources {
			if !strings.HasPrefix(src, "sglang:") && !strings.HasPrefix(src, "vllm:") {
				t.Errorf("source %s: unknown engine", src)
			}
		}
	}
	for _, f := range families {
		if !fed[f] {
			t.Errorf("family %s has no row", f.name)
		}
	}
}

// The preferred source wins when a page prints an old name next to the new one.
func TestAliasPreference(t *testing.T) {
	page := "# TYPE vllm:kv_cache_usage_perc gauge\nvllm:kv_cache_usage_perc{engine=\"0\",model_name=\"m\"} 0.5\n" +
		"# TYPE vllm:gpu_cache_usage_perc gauge\nvllm:gpu_cache_usage_perc{engine=\"0\",model_name=\"m\"} 0.25\n"
	s := runPage([]byte(page), formatText, JoinLabels{}, Limits{}, nil)
	if s.err != nil {
		t.Fatal(s.err)
	}
	if len(s.out) != 1 || s.out[0].fam != famKVUsage || s.out[0].value != 0.5 {
		t.Fatalf("got %+v", s.out)
	}
}

// Series that differ by a label the schema drops are summed; a higher rank is dropped.
func TestMergeRules(t *testing.T) {
	page := `# TYPE sglang:prompt_tokens_total counter
sglang:prompt_tokens_total{model_name="m",engine_type="decode",customer="a"} 10
sglang:prompt_tokens_total{model_name="m",engine_type="decode",customer="b"} 5
# TYPE sglang:num_retracted_requests_total counter
sglang:num_retracted_requests_total{model_name="m",tp_rank="1",pp_rank="0"} 100
sglang:num_retracted_requests_total{model_name="m",tp_rank="0",pp_rank="1"} 200
sglang:num_retracted_requests_total{model_name="m",tp_rank="0",pp_rank="0"} 3
`
	s := runPage([]byte(page), formatText, JoinLabels{}, Limits{}, nil)
	if s.err != nil {
		t.Fatal(s.err)
	}
	got := map[string]float64{}
	for _, o := range s.out {
		got[o.fam.name] = o.value
	}
	if got["prompt_tokens_total"] != 15 || got["requests_retracted_total"] != 3 {
		t.Errorf("got %v", got)
	}
}

var testSeed = maphash.MakeSeed()

type namedPage struct {
	name        string
	page        []byte
	openMetrics bool
}

// fuzzSeedsWhole are the real-shaped pages of testdata, whole.
func fuzzSeedsWhole(tb testing.TB) []namedPage {
	files, _ := filepath.Glob("testdata/*.txt")
	var out []namedPage
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, namedPage{filepath.Base(name), b, false})
		// expfmt's OpenMetrics grammar takes seconds a page (tens under -race): two
		// pages whole, an SGLang one and a vLLM one with _created and python_*
		// families; the fuzz seeds have the head of every page as OpenMetrics.
		if base := filepath.Base(name); base == "sglang-unified.txt" || base == "vllm-v1-dp2.txt" {
			out = append(out, namedPage{base + " as OpenMetrics", openMetricsOf(b), true})
		}
	}
	for _, name := range realEnginePages {
		b, err := os.ReadFile(filepath.Join(realFixtureDir, name))
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, namedPage{"real/" + name, b, false})
		// One OpenMetrics page of each engine with the new families.
		if name == "vllm-main-20260519-lora-mfu-spec-offload.txt" || name == "sglang-main-kvtimeouts-pd-prefill.txt" {
			out = append(out, namedPage{"real/" + name + " as OpenMetrics", openMetricsOf(b), true})
		}
	}
	return append(out, namedPage{"openMetricsPage", []byte(openMetricsPage), true})
}

// openMetricsOf renders a prometheus_client text page as prometheus_client's
// OpenMetrics exposition renders the same registry: a counter family is named
// without _total, the _created series (a gauge family of their own in the
// text format) follow each counter and each histogram's _sum, and the page
// ends with # EOF.
func openMetricsOf(text []byte) []byte {
	type block struct {
		name, help, typ string
		samples         []string
	}
	var blocks []*block
	for _, line := range strings.Split(strings.TrimSuffix(string(text), "\n"), "\n") {
		switch {
		case strings.HasPrefix(line, "# HELP "):
			name, help, _ := strings.Cut(strings.TrimPrefix(line, "# HELP "), " ")
			blocks = append(blocks, &block{name: name, help: help})
		case strings.HasPrefix(line, "# TYPE "):
			_, typ, _ := strings.Cut(strings.TrimPrefix(line, "# TYPE "), " ")
			blocks[len(blocks)-1].typ = typ
		default:
			blocks[len(blocks)-1].samples = append(blocks[len(blocks)-1].samples, line)
		}
	}
	labelsOf := func(sample string) string {
		if i := strings.IndexByte(sample, '{'); i >= 0 {
			return sample[i : strings.LastIndexByte(sample, '}')+1]
		}
		return ""
	}
	created := map[string]map[string]string{} // family -> labels -> _created line
	for _, b := range blocks {
		if base, ok := strings.CutSuffix(b.name, "_created"); ok && b.typ == "gauge" {
			created[base] = map[string]string{}
			for _, s := range b.samples {
				created[base][labelsOf(s)] = s
			}
		}
	}
	var out strings.Builder
	for _, b := range blocks {
		if _, ok := strings.CutSuffix(b.name, "_created"); ok && b.typ == "gauge" {
			continue
		}
		name := b.name
		if b.typ == "counter" {
			name = strings.TrimSuffix(name, "_total")
		}
		fmt.Fprintf(&out, "# HELP %s %s\n# TYPE %s %s\n", name, b.help, name, b.typ)
		for _, s := range b.samples {
			out.WriteString(s + "\n")
			metric := s[:strings.IndexAny(s, "{ ")]
			if (b.typ == "counter" && strings.HasSuffix(metric, "_total")) || ((b.typ == "histogram" || b.typ == "summary") && strings.HasSuffix(metric, "_sum")) {
				if c, ok := created[name][labelsOf(s)]; ok {
					out.WriteString(c + "\n")
				}
			}
		}
	}
	out.WriteString("# EOF\n")
	return []byte(out.String())
}
