package engine

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/textparse"

	"github.com/llm-node-exporter/llm-node-exporter/collector"
)

// collectOnce is one collection's metrics, for both exposition paths.
func collectOnce(c prometheus.Collector) []prometheus.Metric {
	ch := make(chan prometheus.Metric)
	var ms []prometheus.Metric
	done := make(chan struct{})
	go func() {
		for m := range ch {
			ms = append(ms, m)
		}
		close(done)
	}()
	c.Collect(ch)
	close(ch)
	<-done
	return ms
}

type metrics []prometheus.Metric

func (m metrics) Describe(chan<- *prometheus.Desc) {}
func (m metrics) Collect(ch chan<- prometheus.Metric) {
	for _, x := range m {
		ch <- x
	}
}

var textFormat = expfmt.NewFormat(expfmt.TypeTextPlain)

// throughDTO is the page client_golang makes of ms: gathered by a registry
// into dto messages, encoded by expfmt.
func throughDTO(t testing.TB, ms []prometheus.Metric) ([]byte, []*dto.MetricFamily) {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(metrics(ms))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	var b bytes.Buffer
	enc := expfmt.NewEncoder(&b, textFormat)
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			t.Fatalf("encode %s: %v", mf.GetName(), err)
		}
	}
	return b.Bytes(), mfs
}

// throughText is the page of the text path: the TextMetrics written by
// themselves, the rest gathered and encoded, as the /metrics handler does.
func throughText(t testing.TB, ms []prometheus.Metric) ([]byte, int) {
	t.Helper()
	var text []collector.TextMetric
	var rest []prometheus.Metric
	for _, m := range ms {
		if tm, ok := m.(collector.TextMetric); ok {
			text = append(text, tm)
		} else {
			rest = append(rest, m)
		}
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(metrics(rest))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	page := collector.NewTextPage(text)
	defer page.Release()
	if mfs, err = page.Resolve(mfs); err != nil {
		t.Fatalf("resolve: %v", err)
	}
	n := page.Len()
	var b bytes.Buffer
	enc := expfmt.NewEncoder(&b, textFormat)
	page.Write(&b, mfs, enc.Encode, nil, func(err error) bool {
		if err != nil {
			t.Errorf("write: %v", err)
		}
		return false
	})
	return b.Bytes(), n
}

// parsedSeries reads a text page with the Prometheus server's own parser:
// every sample by its series, and each family's help and type.
func parsedSeries(t testing.TB, page []byte) (map[string]float64, map[string]string) {
	t.Helper()
	p, err := textparse.New(page, "text/plain; version=0.0.4", labels.NewSymbolTable(), textparse.ParserOptions{})
	if err != nil {
		t.Fatal(err)
	}
	series, meta := map[string]float64{}, map[string]string{}
	var lset labels.Labels
	for {
		e, err := p.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("textparse: %v", err)
		}
		switch e {
		case textparse.EntryHelp:
			name, help := p.Help()
			meta[string(name)+" help"] = string(help)
		case textparse.EntryType:
			name, typ := p.Type()
			meta[string(name)+" type"] = string(typ)
		case textparse.EntrySeries:
			_, _, v := p.Series()
			p.Labels(&lset)
			key := lset.String()
			if _, dup := series[key]; dup {
				t.Errorf("series %s twice on the page", key)
			}
			series[key] = v
		}
	}
	return series, meta
}

// equivalent requires the two paths to write the same page, byte for byte,
// and checks it with an independent parser: the same series, values, help
// and types, every one of the dto path's series there.
func equivalent(t testing.TB, ms []prometheus.Metric) int {
	t.Helper()
	viaDTO, mfs := throughDTO(t, ms)
	viaText, n := throughText(t, ms)
	if !bytes.Equal(viaDTO, viaText) {
		a, b := strings.Split(string(viaDTO), "\n"), strings.Split(string(viaText), "\n")
		for i := 0; i < len(a) || i < len(b); i++ {
			var la, lb string
			if i < len(a) {
				la = a[i]
			}
			if i < len(b) {
				lb = b[i]
			}
			if la != lb {
				t.Fatalf("line %d differs:\ndto:  %q\ntext: %q", i+1, la, lb)
			}
		}
	}
	s1, m1 := parsedSeries(t, viaDTO)
	s2, m2 := parsedSeries(t, viaText)
	if len(s1) != len(s2) || len(m1) != len(m2) {
		t.Fatalf("parsed: %d series, %d help/type lines through dto; %d, %d as text", len(s1), len(m1), len(s2), len(m2))
	}
	for k, v := range s1 {
		w, ok := s2[k]
		if !ok || math.Float64bits(v) != math.Float64bits(w) && !(math.IsNaN(v) && math.IsNaN(w)) {
			t.Errorf("series %s: %v through dto, %v (present: %t) as text", k, v, w, ok)
		}
	}
	for k, v := range m1 {
		if m2[k] != v {
			t.Errorf("%s: %q through dto, %q as text", k, v, m2[k])
		}
	}
	// And expfmt's own parser reads back the families the registry built
	// (those with names it reads: the text path writes no other; the rest,
	// quoted, are the dto path's on both pages, compared above).
	tp := expfmt.NewTextParser(model.UTF8Validation)
	back, err := tp.TextToMetricFamilies(bytes.NewReader(viaText))
	if err != nil {
		t.Fatalf("expfmt parse: %v", err)
	}
	for _, mf := range mfs {
		if !model.LegacyValidation.IsValidMetricName(mf.GetName()) {
			continue
		}
		got := back[mf.GetName()]
		if got == nil || len(got.Metric) != len(mf.Metric) || got.GetType() != mf.GetType() || got.GetHelp() != mf.GetHelp() {
			t.Errorf("family %s not read back whole", mf.GetName())
		}
	}
	return n
}

// TestTextPathEqualsDTOPath: on every real-shaped page of testdata (text
// and OpenMetrics), with and without passthrough, and with join labels that
// need escaping, the engine's series written as text are the page the
// registry and expfmt make of the same collection.
func TestTextPathEqualsDTOPath(t *testing.T) {
	join := JoinLabels{Namespace: "ns", Pod: `decode-0 "a\b` + "\nline", Container: "sglang"}
	for _, seed := range fuzzSeedsWhole(t) {
		for _, pass := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/passthrough=%t", seed.name, pass), func(t *testing.T) {
				page := seed.page
				h := textPage(page)
				if seed.openMetrics {
					h = omPage(page)
				}
				c := newCollector(t, Config{Targets: []Target{{URL: serve(t, h), Labels: join}}, Passthrough: pass})
				ms := collectOnce(adapter{c})
				n := equivalent(t, ms)
				if n == 0 {
					t.Fatal("no series written as text")
				}
				for _, m := range ms {
					if _, ok := m.(collector.TextMetric); !ok {
						if _, summary := m.(*summaryMetric); !summary {
							t.Errorf("%s is no TextMetric", m.Desc())
						}
					}
				}
			})
		}
	}
}

func omPage(page []byte) func(w http.ResponseWriter, r *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/openmetrics-text; version=1.0.0; charset=utf-8")
		_, _ = w.Write(page)
	}
}

// edgePage has what the text format must escape or spell: quotes,
// backslashes and newlines in label values, NaN, infinities, tiny and huge
// values, a histogram with buckets at those bounds, and a summary.
const edgePage = `# HELP sglang:num_running_reqs The number of running requests.
# TYPE sglang:num_running_reqs gauge
sglang:num_running_reqs{model_name="m \"quoted\" \\ back\nslash",engine_type="unified",tp_rank="0"} NaN
# HELP sglang:token_usage The token usage.
# TYPE sglang:token_usage gauge
sglang:token_usage{model_name="m \"quoted\" \\ back\nslash",engine_type="unified",tp_rank="0"} +Inf
# HELP sglang:gen_throughput The generation throughput (token/s).
# TYPE sglang:gen_throughput gauge
sglang:gen_throughput{model_name="m \"quoted\" \\ back\nslash",engine_type="unified",tp_rank="0"} 1e-300
# HELP sglang:prompt_tokens_total Number of prefill tokens processed.
# TYPE sglang:prompt_tokens_total counter
sglang:prompt_tokens_total{model_name="m \"quoted\" \\ back\nslash",engine_type="unified",tp_rank="0"} 1.7976931348623157e+308
# HELP sglang:time_to_first_token_seconds Histogram of time to first token in seconds.
# TYPE sglang:time_to_first_token_seconds histogram
sglang:time_to_first_token_seconds_bucket{le="1e-05",model_name="m \"quoted\" \\ back\nslash",engine_type="unified",tp_rank="0"} 0
sglang:time_to_first_token_seconds_bucket{le="0.1",model_name="m \"quoted\" \\ back\nslash",engine_type="unified",tp_rank="0"} 3
sglang:time_to_first_token_seconds_bucket{le="1",model_name="m \"quoted\" \\ back\nslash",engine_type="unified",tp_rank="0"} 1e+15
sglang:time_to_first_token_seconds_bucket{le="+Inf",model_name="m \"quoted\" \\ back\nslash",engine_type="unified",tp_rank="0"} 1e+15
sglang:time_to_first_token_seconds_sum{model_name="m \"quoted\" \\ back\nslash",engine_type="unified",tp_rank="0"} -Inf
sglang:time_to_first_token_seconds_count{model_name="m \"quoted\" \\ back\nslash",engine_type="unified",tp_rank="0"} 1e+15
# HELP odd_gauge A gauge of the engine's own, with odd labels.
# TYPE odd_gauge gauge
odd_gauge{a="",b="tab\there",c="é",pod="theirs"} -0
odd_gauge{a="x",b="y"} 0.1
odd_gauge 42
# HELP odd_summary A summary.
# TYPE odd_summary summary
odd_summary{quantile="0.5"} 1
odd_summary_sum 2
odd_summary_count 3
# TYPE odd_untyped untyped
odd_untyped{x="1"} -1
`

// TestTextPathEdgeValues: escapes, NaN, infinities and extreme values come
// out alike on both paths, normalised and passed through.
func TestTextPathEdgeValues(t *testing.T) {
	join := JoinLabels{Namespace: `n"s`, Pod: "p\\od", Container: "c\n"}
	c := newCollector(t, Config{Targets: []Target{{URL: serve(t, textPage([]byte(edgePage))), Labels: join}}, Passthrough: true})
	ms := collectOnce(adapter{c})
	if n := equivalent(t, ms); n < 10 {
		t.Fatalf("only %d series written as text", n)
	}
	viaText, _ := throughText(t, ms)
	for _, want := range []string{
		`llm_engine_requests_running{container="c\n",dp_rank="",engine="sglang",model="m \"quoted\" \\ back\nslash",namespace="n\"s",pod="p\\od",role="unified",tp_rank="0"} NaN`,
		`exported_pod="theirs"`,
		`llm_engine_time_to_first_token_seconds_bucket{container="c\n",dp_rank="",engine="sglang",model="m \"quoted\" \\ back\nslash",namespace="n\"s",pod="p\\od",role="unified",tp_rank="",le="1e-05"} 0`,
		`series_dropped_total{container="c\n",engine="sglang",namespace="n\"s",pod="p\\od",reason="invalid_histogram",role="",target=`,
		`odd_summary{container="c\n",namespace="n\"s",pod="p\\od",quantile="0.5"} 1`,
	} {
		if !bytes.Contains(viaText, []byte(want)) {
			t.Errorf("page lacks %s:\n%s", want, viaText)
		}
	}
}

// FuzzTextPath: whatever page the engine serves, the text path writes what
// the dto path does.
func FuzzTextPath(f *testing.F) {
	for _, seed := range fuzzSeeds(f) {
		f.Add(seed.page, seed.openMetrics)
	}
	f.Add([]byte(edgePage), false)
	c, err := New(Config{Passthrough: true}, quiet)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, page []byte, openMetrics bool) {
		format := formatText
		if openMetrics {
			format = formatOpenMetrics
		}
		join := JoinLabels{Namespace: "ns", Pod: "p\"\\\n", Container: "c"}
		ms := collectOnce(pageCollector{c: c, page: page, format: format, join: join})
		reg := prometheus.NewPedanticRegistry()
		reg.MustRegister(metrics(ms))
		if _, err := reg.Gather(); err != nil {
			return // FuzzNormalise's to report; the paths are compared on pages that gather
		}
		equivalent(t, ms)
	})
}

// TestTextFamiliesMatchDescs: every family the engine writes as text has
// the name and help of its Desc, so the two paths cannot disagree on them.
func TestTextFamiliesMatchDescs(t *testing.T) {
	c := newCollector(t, Config{})
	check := func(d *prometheus.Desc, f *collector.TextFamily) {
		t.Helper()
		want := fmt.Sprintf("Desc{fqName: %q, help: %q,", f.Name, f.Help)
		if !strings.HasPrefix(d.String(), want) {
			t.Errorf("%s: text family %s %q", d, f.Name, f.Help)
		}
		if !model.LegacyValidation.IsValidMetricName(f.Name) {
			t.Errorf("%s: not a name the text path writes", f.Name)
		}
	}
	for fam, d := range c.descs {
		check(d, c.fams[fam])
	}
	check(c.upDesc, c.upFam)
	check(c.durationDesc, c.durationFam)
	check(c.errorsDesc, c.errorsFam)
	check(c.droppedDesc, c.droppedFam)
	check(c.renamedDesc, c.renamedFam)
}
