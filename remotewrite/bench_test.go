package remotewrite

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// nodeRegistry is a realistic GPU node as the exporter exposes it: 8 GPUs
// with 40 gauges each and 16 IB/RoCE ports with 60 counters each, every
// series with the attribution labels (pod, namespace, container, engine,
// role, ranks): 1,280 series.
func nodeRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	attr := []string{"namespace", "pod", "container", "engine", "role", "dp_rank", "tp_rank"}
	for m := range 40 {
		g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: fmt.Sprintf("llm_gpu_metric_%d", m), Help: "h"},
			append([]string{"gpu", "uuid", "model_name"}, attr...))
		for gpu := range 8 {
			g.WithLabelValues(fmt.Sprint(gpu), fmt.Sprintf("GPU-00000000-0000-0000-0000-00000000000%d", gpu), "NVIDIA H100 80GB HBM3",
				"llm-serving", fmt.Sprintf("sglang-decode-%d", gpu/4), "engine", "sglang", "decode", fmt.Sprint(gpu/4), fmt.Sprint(gpu%4)).
				Set(float64(gpu * m))
		}
		reg.MustRegister(g)
	}
	for m := range 60 {
		c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: fmt.Sprintf("llm_infiniband_counter_%d_total", m), Help: "h"},
			append([]string{"device", "port", "link_layer", "gpu"}, attr...))
		for p := range 16 {
			c.WithLabelValues(fmt.Sprintf("mlx5_%d", p), "1", "InfiniBand", fmt.Sprint(p/2),
				"llm-serving", fmt.Sprintf("sglang-decode-%d", p/8), "engine", "sglang", "decode", fmt.Sprint(p/8), fmt.Sprint(p%8)).
				Add(float64(p*m) * 1e9)
		}
		reg.MustRegister(c)
	}
	return reg
}

// BenchmarkPushNode: one collection of the node, converted, queued, encoded,
// compressed and sent to a loopback receiver, per iteration. ns/sample and
// B/sample are the costs per pushed sample (the receiver's reading included).
func BenchmarkPushNode(b *testing.B) { benchmarkPush(b, false) }

// BenchmarkPushNodeWAL is BenchmarkPushNode with the WAL on: each collection
// is also encoded, written and fsynced.
func BenchmarkPushNodeWAL(b *testing.B) { benchmarkPush(b, true) }

func benchmarkPush(b *testing.B, wal bool) {
	got := make(chan struct{}, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
		got <- struct{}{}
	}))
	defer srv.Close()
	reg := nodeRegistry()
	cfg := Config{Interval: time.Hour, Endpoints: []Endpoint{{URL: srv.URL + "/api/v1/write"}}}
	if wal {
		cfg.WALDir = b.TempDir()
	}
	p, err := New(reg, cfg, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	<-got // Run's first collection
	mfs, _ := reg.Gather()
	samples := 0
	for _, mf := range mfs {
		samples += len(mf.Metric)
	}
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	start := time.Now()
	for b.Loop() {
		p.Collect(time.Now(), false)
		<-got
		n++
	}
	b.ReportMetric(float64(time.Since(start).Nanoseconds())/float64(n*samples), "ns/sample")
	cancel()
	go func() {
		for range got {
		}
	}()
	<-done
	b.ReportMetric(float64(samples), "samples/push")
}

// BenchmarkGatherNode is the share of BenchmarkPushNode that /metrics pays
// too: gathering the registry.
func BenchmarkGatherNode(b *testing.B) {
	reg := nodeRegistry()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := reg.Gather(); err != nil {
			b.Fatal(err)
		}
	}
}
