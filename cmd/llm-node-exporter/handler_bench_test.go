package main

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/llm-node-exporter/llm-node-exporter/collector"
	"github.com/llm-node-exporter/llm-node-exporter/collector/engine"
)

// discard is a ResponseWriter that keeps nothing.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(int)             {}

// benchmarkHandler serves whole scrapes of 8 targets each printing the
// SGLang DP-8 decode page of the engine benchmark, as a text or protobuf
// scraper asks for them: collection, gathering and encoding together.
func benchmarkHandler(b *testing.B, accept string, changing bool) {
	page, err := os.ReadFile("../../collector/engine/testdata/bench-sglang-decode-dp8.txt")
	if err != nil {
		b.Fatal(err)
	}
	versions := [2][]byte{page, page}
	if changing {
		versions[1] = bumped(b, page)
	}
	var tgts []engine.Target
	for i := 0; i < 8; i++ {
		var n atomic.Uint64
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
			_, _ = w.Write(versions[n.Add(1)%2])
		}))
		b.Cleanup(srv.Close)
		tgts = append(tgts, engine.Target{URL: srv.URL + "/metrics", Labels: engine.JoinLabels{Namespace: "bench", Pod: fmt.Sprintf("decode-%d", i)}})
	}
	c, err := engine.New(engine.Config{Targets: tgts}, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	set := collector.NewSet(slog.New(slog.DiscardHandler), map[string]collector.Collector{"engine": c})
	h := newMetricsHandler(set, prometheus.NewRegistry(), false, 40, time.Minute, 0, slog.New(slog.DiscardHandler))
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	w := &discard{h: http.Header{}}
	h.ServeHTTP(w, req) // the first page interns the series
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		clear(w.h)
		h.ServeHTTP(w, req)
	}
}

// bumped is page with every sample's value plus one: a page whose every
// value changed since the last scrape, as under traffic.
func bumped(b *testing.B, page []byte) []byte {
	var out bytes.Buffer
	for _, line := range bytes.SplitAfter(page, []byte("\n")) {
		body := bytes.TrimSuffix(line, []byte("\n"))
		if len(body) == 0 || body[0] == '#' {
			out.Write(line)
			continue
		}
		i := bytes.LastIndexByte(body, ' ')
		v, err := strconv.ParseFloat(string(body[i+1:]), 64)
		if err != nil {
			b.Fatal(err)
		}
		out.Write(body[:i+1])
		out.WriteString(strconv.FormatFloat(v+1, 'g', -1, 64))
		out.Write(line[len(body):])
	}
	return out.Bytes()
}

func BenchmarkHandler8TargetsText(b *testing.B) { benchmarkHandler(b, "", false) }

// Every value of every page changed since the last scrape.
func BenchmarkHandler8TargetsTextChanging(b *testing.B) { benchmarkHandler(b, "", true) }

func BenchmarkHandler8TargetsProtobuf(b *testing.B) {
	benchmarkHandler(b, "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited", false)
}
