package main

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
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
func benchmarkHandler(b *testing.B, accept string) {
	page, err := os.ReadFile("../../collector/engine/testdata/bench-sglang-decode-dp8.txt")
	if err != nil {
		b.Fatal(err)
	}
	var tgts []engine.Target
	for i := 0; i < 8; i++ {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
			_, _ = w.Write(page)
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

func BenchmarkHandler8TargetsText(b *testing.B) { benchmarkHandler(b, "") }

func BenchmarkHandler8TargetsProtobuf(b *testing.B) {
	benchmarkHandler(b, "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited")
}
