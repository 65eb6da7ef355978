package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/textparse"

	"github.com/llm-node-exporter/llm-node-exporter/collector"
)

// benchTargets serves the ~1,840-sample SGLang DP-8 decode page from n test servers.
func benchTargets(b testing.TB, n int) []Target {
	page := fixture(b, "bench-sglang-decode-dp8.txt")
	tgts := make([]Target, n)
	for i := range tgts {
		tgts[i] = Target{URL: serve(b, textPage(page)), Labels: JoinLabels{Namespace: "ns", Pod: fmt.Sprint("decode-", i), Container: "sglang"}}
	}
	return tgts
}

// changingTargets serves the same page from n test servers, each answer
// differing from the previous one on every sample (every value alternately as
// printed and one more, as scripts/bench-engine-pages -changing does): the
// worst case for a collector that reuses what did not change.
func changingTargets(b testing.TB, n int) []Target {
	page := fixture(b, "bench-sglang-decode-dp8.txt")
	var bumped strings.Builder
	for _, line := range strings.SplitAfter(string(page), "\n") {
		body := strings.TrimSuffix(line, "\n")
		if body == "" || strings.HasPrefix(body, "#") {
			bumped.WriteString(line)
			continue
		}
		i := strings.LastIndexByte(body, ' ')
		v, err := strconv.ParseFloat(body[i+1:], 64)
		if err != nil {
			b.Fatal(err)
		}
		bumped.WriteString(body[:i+1] + strconv.FormatFloat(v+1, 'g', -1, 64) + line[len(body):])
	}
	versions := [2][]byte{page, []byte(bumped.String())}
	tgts := make([]Target, n)
	for i := range tgts {
		var k atomic.Uint64
		tgts[i] = Target{URL: serve(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			textPage(versions[k.Add(1)%2])(w, r)
		})), Labels: JoinLabels{Namespace: "ns", Pod: fmt.Sprint("decode-", i), Container: "sglang"}}
	}
	return tgts
}

// benchmarkCollect measures one collection: fetch, parse, normalise, and
// write every metric as the registry does.
func benchmarkCollect(b *testing.B, c collector.Collector) {
	var series int
	collect := func() {
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
	collect() // warm the connections (and the interned state)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		collect()
	}
	b.ReportMetric(float64(series), "metrics/op")
}

func benchmarkScrape(b *testing.B, passthrough bool) {
	c, err := New(Config{Targets: benchTargets(b, 8), Passthrough: passthrough, Timeout: 10 * time.Second}, quiet)
	if err != nil {
		b.Fatal(err)
	}
	benchmarkCollect(b, c)
}

func BenchmarkScrape8Targets(b *testing.B) { benchmarkScrape(b, false) }

// Every value of every page changed since the last scrape.
func BenchmarkScrape8TargetsChanging(b *testing.B) {
	c, err := New(Config{Targets: changingTargets(b, 8), Timeout: 10 * time.Second}, quiet)
	if err != nil {
		b.Fatal(err)
	}
	benchmarkCollect(b, c)
}

// The expfmt path on pages whose every value changes.
func BenchmarkScrape8TargetsChangingExpfmt(b *testing.B) {
	benchmarkCollect(b, newLegacyCollector(changingTargets(b, 8)))
}
func BenchmarkScrape8TargetsPassthrough(b *testing.B) { benchmarkScrape(b, true) }

// The collector as it was: expfmt's family trees and const metrics.
func BenchmarkScrape8TargetsExpfmt(b *testing.B) {
	benchmarkCollect(b, newLegacyCollector(benchTargets(b, 8)))
}

// pageReader fetches the 8 pages as the collector does, and hands each body
// to use: the floors the collector is measured against.
type pageReader struct {
	client *http.Client
	tgts   []Target
	use    func([]byte)
	bufs   [][]byte
}

func (p *pageReader) Update(chan<- prometheus.Metric) error {
	if p.bufs == nil {
		p.bufs = make([][]byte, len(p.tgts))
	}
	var wg sync.WaitGroup
	for i, t := range p.tgts {
		wg.Add(1)
		go func(i int, url string) {
			defer wg.Done()
			resp, err := p.client.Get(url)
			if err != nil {
				panic(err)
			}
			defer resp.Body.Close()
			p.bufs[i], err = readLimited(p.bufs[i][:0], resp.Body, DefaultBodyLimit)
			if err != nil {
				panic(err)
			}
			p.use(p.bufs[i])
		}(i, t.URL)
	}
	wg.Wait()
	return nil
}

func newPageReader(b testing.TB, use func([]byte)) *pageReader {
	return &pageReader{client: &http.Client{Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 2}}, tgts: benchTargets(b, 8), use: use}
}

// iterate runs Prometheus's text parser over a page, reading each sample's
// labels when withLabels is set, as its scrape loop does for series it has
// not cached.
func iterate(page []byte, withLabels bool) {
	p := textparse.NewPromParser(page, labels.NewSymbolTable(), false)
	var l labels.Labels
	for {
		et, err := p.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			panic(err)
		}
		if et == textparse.EntrySeries {
			p.Series()
			if withLabels {
				p.Labels(&l)
			}
		}
	}
}

// textparse.PromParser iterating the 8 pages: the floor.
func BenchmarkPromParser8Pages(b *testing.B) {
	benchmarkCollect(b, newPageReader(b, func(p []byte) { iterate(p, false) }))
}

// textparse.PromParser reading every sample's labels, as on a first scrape.
func BenchmarkPromParserLabels8Pages(b *testing.B) {
	benchmarkCollect(b, newPageReader(b, func(p []byte) { iterate(p, true) }))
}

// Fetching the 8 pages' bytes, nothing else.
func BenchmarkReadBytes8Pages(b *testing.B) {
	benchmarkCollect(b, newPageReader(b, func([]byte) {}))
}

// The parser and normaliser on one page in memory, as a steady target sees it.
func BenchmarkParseNormalise(b *testing.B) {
	page := fixture(b, "bench-sglang-decode-dp8.txt")
	prev := runPage(page, formatText, JoinLabels{Pod: "p"}, Limits{}, nil)
	buf := make([]byte, len(page), len(page)+1)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ps, n := prev.ps, prev.n
		copy(buf, page)
		if err := ps.parse(context.Background(), buf, formatText, Limits{}); err != nil {
			b.Fatal(err)
		}
		n.normalise(ps, &JoinLabels{Pod: "p"})
	}
}

// TestEngineCostReport prints the cost of one collection of the 8-target
// DP-8 benchmark next to the alternatives, measured in the same run, with
// the ratios (`make bench-engine`; skipped otherwise). The variants run in
// turn, ENGINE_COST_ROUNDS times (default 5): on a shared machine the best
// round of each is its cost, the median says how noisy the run was.
func TestEngineCostReport(t *testing.T) {
	if os.Getenv("ENGINE_COST_REPORT") == "" {
		t.Skip("set ENGINE_COST_REPORT=1 (make bench-engine)")
	}
	rounds := 5
	if n, err := strconv.Atoi(os.Getenv("ENGINE_COST_ROUNDS")); err == nil && n > 0 {
		rounds = n
	}
	runs := []struct {
		name string
		f    func(*testing.B)
	}{
		{"streaming (this collector)", BenchmarkScrape8Targets},
		{"expfmt family trees (before)", BenchmarkScrape8TargetsExpfmt},
		{"streaming, every value changing", BenchmarkScrape8TargetsChanging},
		{"expfmt, every value changing", BenchmarkScrape8TargetsChangingExpfmt},
		{"streaming, passthrough on", BenchmarkScrape8TargetsPassthrough},
		{"textparse.PromParser iterating (floor)", BenchmarkPromParser8Pages},
		{"textparse.PromParser with Labels()", BenchmarkPromParserLabels8Pages},
		{"reading the bytes alone", BenchmarkReadBytes8Pages},
	}
	res := make([][]testing.BenchmarkResult, len(runs))
	for r := 0; r < rounds; r++ {
		for i, run := range runs {
			res[i] = append(res[i], testing.Benchmark(run.f))
		}
	}
	best := make([]testing.BenchmarkResult, len(runs))
	median := make([]int64, len(runs))
	for i := range runs {
		sort.Slice(res[i], func(a, b int) bool { return res[i][a].NsPerOp() < res[i][b].NsPerOp() })
		best[i], median[i] = res[i][0], res[i][len(res[i])/2].NsPerOp()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\none collection of 8 targets, each serving testdata/bench-sglang-decode-dp8.txt over loopback HTTP (best of %d rounds):\n", rounds)
	fmt.Fprintf(&b, "%-42s %10s %10s %10s %12s\n", "", "time", "median", "allocs", "bytes")
	for i, r := range runs {
		fmt.Fprintf(&b, "%-42s %8.2fms %8.2fms %10d %12d\n", r.name, float64(best[i].NsPerOp())/1e6, float64(median[i])/1e6, best[i].AllocsPerOp(), best[i].AllocedBytesPerOp())
	}
	ratio := func(a, b int64) float64 { return float64(a) / float64(max(b, 1)) }
	s, old, busy, busyOld, floor, bytesOnly := best[0], best[1], best[2], best[3], best[5], best[7]
	for _, p := range []struct {
		what     string
		new, old testing.BenchmarkResult
	}{{"steady pages", s, old}, {"every value changing", busy, busyOld}} {
		fmt.Fprintf(&b, "\nexpfmt / streaming, %s: time %.1fx, allocations %.0fx, bytes %.1fx (targets >= 5x, >= 20x); streaming allocates %.2f MB per collection (target <= 2 MB)",
			p.what, ratio(p.old.NsPerOp(), p.new.NsPerOp()), ratio(p.old.AllocsPerOp(), p.new.AllocsPerOp()), ratio(p.old.AllocedBytesPerOp(), p.new.AllocedBytesPerOp()), float64(p.new.AllocedBytesPerOp())/1e6)
	}
	b.WriteString("\n")
	fmt.Fprintf(&b, "streaming / PromParser:  time %.2fx (target <= 2x)\n", ratio(s.NsPerOp(), floor.NsPerOp()))
	fmt.Fprintf(&b, "streaming / bytes alone: time %.1fx\n", ratio(s.NsPerOp(), bytesOnly.NsPerOp()))
	t.Log(b.String())
}

// textparse.PromParser iterating one page in memory.
func BenchmarkPromParserPage(b *testing.B) {
	page := fixture(b, "bench-sglang-decode-dp8.txt")
	buf := make([]byte, len(page), len(page)+1)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		copy(buf, page)
		iterate(buf, false)
	}
}
