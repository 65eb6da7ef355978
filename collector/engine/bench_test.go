package engine

import (
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// benchTargets serves the ~1,840-sample SGLang DP-8 decode page from n test servers.
func benchTargets(b *testing.B, n int) []Target {
	page := fixture(b, "bench-sglang-decode-dp8.txt")
	tgts := make([]Target, n)
	for i := range tgts {
		tgts[i] = Target{URL: serve(b, textPage(page)), Labels: JoinLabels{Namespace: "ns", Pod: fmt.Sprint("decode-", i), Container: "sglang"}}
	}
	return tgts
}

// One collection of 8 targets: fetch, parse, normalise, and write every
// metric as the registry does.
func benchmarkScrape(b *testing.B, passthrough bool) {
	c, err := New(Config{Targets: benchTargets(b, 8), Passthrough: passthrough, Timeout: 10 * time.Second}, quiet)
	if err != nil {
		b.Fatal(err)
	}
	var series int
	scrape := func() {
		ch := make(chan prometheus.Metric, 1024)
		done := make(chan int)
		go func() {
			n := 0
			var m dto.Metric
			for metric := range ch {
				m.Reset()
				if err := metric.Write(&m); err != nil {
					b.Error(err)
				}
				n++
			}
			done <- n
		}()
		if err := c.Update(ch); err != nil {
			b.Fatal(err)
		}
		close(ch)
		series = <-done
	}
	scrape() // warm the connections
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		scrape()
	}
	b.ReportMetric(float64(series), "metrics/scrape")
}

func BenchmarkScrape8Targets(b *testing.B)            { benchmarkScrape(b, false) }
func BenchmarkScrape8TargetsPassthrough(b *testing.B) { benchmarkScrape(b, true) }

// The parser and normaliser on one page, as a steady target sees it.
func BenchmarkParseNormalise(b *testing.B) {
	page := fixture(b, "bench-sglang-decode-dp8.txt")
	prev := runPage(page, formatText, JoinLabels{Pod: "p"}, Limits{}, nil)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		runPage(page, formatText, JoinLabels{Pod: "p"}, Limits{}, prev)
	}
}
