package engine

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// pageCollector sends what the collector makes of one already-parsed page.
type pageCollector struct {
	c    *Collector
	st   *targetState
	fams []*dto.MetricFamily
}

func (p pageCollector) Describe(chan<- *prometheus.Desc) {}
func (p pageCollector) Collect(ch chan<- prometheus.Metric) {
	seen := map[uint64]struct{}{}
	p.st.fams = p.fams
	p.c.sendNormalised(ch, p.st, seen)
	p.c.sendPassthrough(ch, p.st, seen, map[string]dto.MetricType{})
}

// FuzzNormalise feeds arbitrary pages through the parser, the normaliser and
// the passthrough. Whatever a page holds, the normalised series are unique,
// per-request ones carry tp_rank="", histogram buckets are finite and
// increasing, and the exposition gathers without error.
func FuzzNormalise(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.txt")
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		// The head of each page: Go's fuzzer crawls on seeds of tens of kilobytes.
		if len(b) > 600 {
			b = b[:bytes.LastIndexByte(b[:600], '\n')+1]
		}
		f.Add(b)
	}
	f.Add([]byte("# TYPE vllm:num_requests_running gauge\nvllm:num_requests_running{engine=\"0\",model_name=\"m\"} 1\nvllm:num_requests_running{engine=\"0\",model_name=\"m\",x=\"y\"} 2\n"))
	f.Add([]byte("sglang:num_running_reqs{tp_rank=\"x\",dp_rank=\"1\"} 1\nsglang:num_running_reqs{tp_rank=\"-1\",dp_rank=\"1\"} 2\n"))
	f.Add([]byte("# TYPE sglang:time_to_first_token_seconds histogram\nsglang:time_to_first_token_seconds_bucket{le=\"NaN\"} 1\nsglang:time_to_first_token_seconds_bucket{le=\"+Inf\"} 1\nsglang:time_to_first_token_seconds_count 1\nsglang:time_to_first_token_seconds_sum 1\n"))

	c, err := New(Config{Passthrough: true}, quiet)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, page []byte) {
		// The text format only: the normaliser sees the same families from
		// either parser, and expfmt's OpenMetrics parser, an ABNF grammar,
		// is too slow under coverage instrumentation for the fuzzer to move.
		fams, err := parsePage(bytes.NewReader(page), expfmt.FmtText)
		if err != nil {
			return
		}
		join := JoinLabels{Namespace: "ns", Pod: "pod", Container: "c", Role: "unified"}
		n := newNormaliser()
		seen := map[string]bool{}
		for _, s := range n.normalise(fams, &join) {
			key := s.fam.name + "\xff" + strings.Join(s.labels[:], "\xff")
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
			if s.fam.extra == "" && s.labels[lExtra] != "" {
				t.Fatalf("extra label on %s: %q", s.fam.name, s.labels[lExtra])
			}
			for i, b := range s.buckets {
				if math.IsInf(b.upper, 0) || math.IsNaN(b.upper) {
					t.Fatalf("bucket bound %v", b.upper)
				}
				for _, o := range s.buckets[:i] {
					if o.upper == b.upper {
						t.Fatalf("bucket %v twice", b.upper)
					}
				}
			}
		}
		reg := prometheus.NewPedanticRegistry()
		reg.MustRegister(pageCollector{c: c, st: &targetState{target: Target{Labels: join}, norm: newNormaliser()}, fams: fams})
		if _, err := reg.Gather(); err != nil {
			t.Fatalf("gather: %v", err)
		}
	})
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
		if row.out.extra == "" && (row.extraFrom != "" || row.extraValue != "") {
			t.Errorf("row for %s sets an extra label the family has not", row.out.name)
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
	fams, err := parsePage(strings.NewReader(page), expfmt.FmtText)
	if err != nil {
		t.Fatal(err)
	}
	out := newNormaliser().normalise(fams, &JoinLabels{})
	if len(out) != 1 || out[0].fam != famKVUsage || out[0].value != 0.5 {
		t.Fatalf("got %+v", out)
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
	fams, err := parsePage(strings.NewReader(page), expfmt.FmtText)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, s := range newNormaliser().normalise(fams, &JoinLabels{}) {
		got[s.fam.name] = s.value
	}
	if got["prompt_tokens_total"] != 15 || got["requests_retracted_total"] != 3 {
		t.Errorf("got %v", got)
	}
}
