package main

import (
	"bytes"
	"os"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

func parsePage(t *testing.T, page []byte) map[string]*dto.MetricFamily {
	t.Helper()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(bytes.NewReader(page))
	if err != nil {
		t.Fatalf("page does not parse: %v", err)
	}
	return fams
}

// Every page the demo serves, advanced 2.5 times, parses as Prometheus text and
// holds the same series: counters, histograms (buckets, sum, count) and
// summaries (sum, count) times 2.5, gauges (the _created ones too) unchanged.
func TestAdvancePageScalesCumulativeSamples(t *testing.T) {
	const f = 2.5
	for _, file := range []string{
		"../../collector/engine/testdata/sglang-prefill-tp2.txt",
		"../../collector/engine/testdata/sglang-decode-dp2.txt",
		"../llm-node-exporter/testdata/engines/vllm-v1-dp2.txt",
		"../../collector/engine/testdata/vllm-v0-old.txt",
	} {
		page, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		before, after := parsePage(t, page), parsePage(t, advancePage(page, f))
		if len(before) != len(after) {
			t.Fatalf("%s: %d families after advancing, %d before", file, len(after), len(before))
		}
		kinds := map[dto.MetricType]int{}
		for name, b := range before {
			a := after[name]
			if a == nil || len(a.Metric) != len(b.Metric) || a.GetType() != b.GetType() {
				t.Fatalf("%s: family %s changed shape", file, name)
			}
			kinds[b.GetType()]++
			for i, bm := range b.Metric {
				am := a.Metric[i]
				switch b.GetType() {
				case dto.MetricType_COUNTER:
					want(t, name, am.Counter.GetValue(), bm.Counter.GetValue()*f)
				case dto.MetricType_GAUGE:
					want(t, name, am.Gauge.GetValue(), bm.Gauge.GetValue())
				case dto.MetricType_HISTOGRAM:
					want(t, name+"_sum", am.Histogram.GetSampleSum(), bm.Histogram.GetSampleSum()*f)
					want(t, name+"_count", float64(am.Histogram.GetSampleCount()), float64(bm.Histogram.GetSampleCount())*f)
					for j, bb := range bm.Histogram.Bucket {
						ab := am.Histogram.Bucket[j]
						if ab.GetUpperBound() != bb.GetUpperBound() {
							t.Fatalf("%s: bucket %d moved", name, j)
						}
						want(t, name+"_bucket", float64(ab.GetCumulativeCount()), float64(bb.GetCumulativeCount())*f)
					}
				case dto.MetricType_SUMMARY:
					want(t, name+"_sum", am.Summary.GetSampleSum(), bm.Summary.GetSampleSum()*f)
				}
			}
		}
		if kinds[dto.MetricType_COUNTER] == 0 || kinds[dto.MetricType_HISTOGRAM] == 0 || kinds[dto.MetricType_GAUGE] == 0 {
			t.Errorf("%s: families by type %v: the page should have counters, histograms and gauges", file, kinds)
		}
	}
}

// want compares within the rounding of the parser's integer histogram counts.
func want(t *testing.T, name string, got, want float64) {
	t.Helper()
	if d := got - want; d > 1 || d < -1 {
		t.Errorf("%s: %g, want %g", name, got, want)
	}
}

// Label values may hold spaces, braces and escaped quotes; a timestamp and the
// lack of a final newline are kept; comments and unknown families stay as they are.
func TestAdvancePageLines(t *testing.T) {
	page := "# HELP c_total A counter.\n" +
		"# TYPE c_total counter\n" +
		`c_total{path="/a b}",q="say \"hi} \""} 10 1700000000000` + "\n" +
		"# TYPE g gauge\n" +
		"g 3\n" +
		"untyped_total 4\n" +
		"# TYPE h histogram\n" +
		`h_bucket{le="+Inf"} 6` + "\n" +
		"h_sum 1.5\n" +
		"h_count 6\n" +
		"h_created 1.7e+09"
	want := "# HELP c_total A counter.\n" +
		"# TYPE c_total counter\n" +
		`c_total{path="/a b}",q="say \"hi} \""} 20 1700000000000` + "\n" +
		"# TYPE g gauge\n" +
		"g 3\n" +
		"untyped_total 4\n" +
		"# TYPE h histogram\n" +
		`h_bucket{le="+Inf"} 12` + "\n" +
		"h_sum 3\n" +
		"h_count 12\n" +
		"h_created 1.7e+09"
	if got := string(advancePage([]byte(page), 2)); got != want {
		t.Errorf("advancePage:\n%s\nwant:\n%s", got, want)
	}
}

// Observation counts stay whole and in order; sums and counters need not.
func TestAdvancePageFloorsCounts(t *testing.T) {
	page := "# TYPE h histogram\nh_bucket{le=\"1\"} 5\nh_bucket{le=\"+Inf\"} 7\nh_sum 3\nh_count 7\n" +
		"# TYPE c counter\nc 3\n"
	want := "# TYPE h histogram\nh_bucket{le=\"1\"} 7\nh_bucket{le=\"+Inf\"} 10\nh_sum 4.5\nh_count 10\n" +
		"# TYPE c counter\nc 4.5\n"
	if got := string(advancePage([]byte(page), 1.5)); got != want {
		t.Errorf("advancePage:\n%s\nwant:\n%s", got, want)
	}
}
