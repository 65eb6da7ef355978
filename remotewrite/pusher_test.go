package remotewrite

import (
	"context"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

type running struct {
	p      *Pusher
	cancel context.CancelFunc
	done   chan struct{} // closed when Run returned err
	err    error
	logs   *syncBuffer
}

// stop ends Run and returns its error.
func (r *running) stop(t *testing.T) error {
	t.Helper()
	r.cancel()
	select {
	case <-r.done:
		return r.err
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return")
		return nil
	}
}

func fastQueue() Queue {
	return Queue{BufferSamples: 100000, BufferAge: time.Hour, MaxSamplesPerSend: 1000,
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond}
}

func startPusher(t *testing.T, g prometheus.Gatherer, cfg Config) *running {
	t.Helper()
	logger, logs := testLogger()
	p, err := New(g, cfg, prometheus.NewRegistry(), logger)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{p: p, cancel: cancel, done: make(chan struct{}), logs: logs}
	go func() { r.err = p.Run(ctx); close(r.done) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(30 * time.Second):
		}
	})
	return r
}

func (r *running) ep() *endpointMetrics { return r.p.endpoints[0].m }

func TestPushHappyPath(t *testing.T) {
	rc := newReceiver(t)
	reg, ticks := tickRegistry()
	ib := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "llm_test_bytes_total", Help: "h"}, []string{"device", "instance"})
	ib.WithLabelValues("mlx5_0", "").Add(42)
	ib.WithLabelValues("mlx5_1", "own-instance").Add(7)
	gone := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "llm_test_gone", Help: "h"}, []string{"port"})
	gone.WithLabelValues("1").Set(3)
	hist := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "llm_test_seconds", Help: "h", Buckets: []float64{0.5, 1}})
	hist.Observe(0.7)
	reg.MustRegister(ib, gone, hist)

	r := startPusher(t, reg, Config{
		Interval:       30 * time.Millisecond,
		ExternalLabels: map[string]string{"job": "llm-node-exporter", "instance": "node-a", "cluster": "c1"},
		Endpoints:      []Endpoint{{URL: rc.srv.URL + "/api/v1/write", Queue: fastQueue()}},
	})
	waitFor(t, 10*time.Second, "3 ticks", func() bool { _, ps := rc.get("llm_test_tick"); return len(ps) >= 3 })
	gone.DeleteLabelValues("1")
	seenGone := ticks.Load()
	waitFor(t, 10*time.Second, "2 more ticks", func() bool { _, ps := rc.get("llm_test_tick"); return len(ps) >= int(seenGone)+2 })
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}

	h := rc.headers[0]
	for k, want := range map[string]string{"Content-Encoding": "snappy", "Content-Type": "application/x-protobuf",
		"X-Prometheus-Remote-Write-Version": "0.1.0"} {
		if got := h.Get(k); got != want {
			t.Errorf("header %s = %q, want %q", k, got, want)
		}
	}
	key, ps := rc.get(`__name__="llm_test_tick"`)
	if want := `{__name__="llm_test_tick",cluster="c1",instance="node-a",job="llm-node-exporter"}`; key != want {
		t.Errorf("labels %s, want %s", key, want)
	}
	n := int(ticks.Load())
	checkTicks(t, ps, 1, n)
	if !IsStaleNaN(ps[len(ps)-1].v) {
		t.Errorf("no stale marker on shutdown for the tick series: last %v", ps[len(ps)-1])
	}

	key, ps = rc.get(`device="mlx5_0"`)
	if want := `{__name__="llm_test_bytes_total",cluster="c1",device="mlx5_0",instance="node-a",job="llm-node-exporter"}`; key != want {
		t.Errorf("labels %s, want %s", key, want)
	}
	if len(ps) != n+1 || ps[0].v != 42 {
		t.Errorf("counter: %d points (want %d), first %v", len(ps), n+1, ps[0])
	}
	// A series' own instance label wins over the external one.
	if key, _ := rc.get(`device="mlx5_1"`); !strings.Contains(key, `instance="own-instance"`) {
		t.Errorf("own instance label lost: %s", key)
	}

	// The series that disappeared: values, then one stale marker, then nothing.
	_, ps = rc.get("llm_test_gone")
	if len(ps) < 2 || !IsStaleNaN(ps[len(ps)-1].v) {
		t.Fatalf("disappeared series: %v, want values then a stale marker", ps)
	}
	for _, p := range ps[:len(ps)-1] {
		if p.v != 3 {
			t.Errorf("disappeared series value %v, want 3", p.v)
		}
	}

	// Classic histogram as _bucket/_sum/_count.
	for _, part := range []string{`le="0.5"`, `le="1"`, `le="+Inf"`} {
		_, ps := rc.get("llm_test_seconds_bucket", part)
		if len(ps) == 0 {
			t.Errorf("no llm_test_seconds_bucket{%s}", part)
		}
	}
	if _, ps := rc.get("llm_test_seconds_bucket", `le="1"`); len(ps) > 0 && ps[0].v != 1 {
		t.Errorf("le=1 bucket = %v, want 1", ps[0].v)
	}
	if _, ps := rc.get(`__name__="llm_test_seconds_sum"`); len(ps) == 0 || ps[0].v != 0.7 {
		t.Errorf("_sum = %v", ps)
	}

	var total int
	rc.mu.Lock()
	for _, ps := range rc.series {
		total += len(ps)
	}
	rc.mu.Unlock()
	if got := counterValue(t, r.ep().sent); got != float64(total) {
		t.Errorf("samples_sent_total = %v, receiver got %d", got, total)
	}
	if got := counterValue(t, r.ep().queue); got != 0 {
		t.Errorf("queue after flush = %v", got)
	}
	if got := counterValue(t, r.ep().lastSuccess); got < float64(time.Now().Add(-time.Minute).Unix()) {
		t.Errorf("last success %v", got)
	}
	for _, c := range []prometheus.Collector{r.ep().failed, r.ep().retried} {
		if got := counterValue(t, c); got != 0 {
			t.Errorf("failed/retried = %v on the happy path", got)
		}
	}
}

// The receiver is really down (connection refused) for many intervals, then
// back on the same address: every sample of the outage arrives, in order.
func TestPushReceiverDownAndBack(t *testing.T) {
	rc := newReceiver(t)
	addr := rc.srv.Listener.Addr().String()
	reg, ticks := tickRegistry()
	r := startPusher(t, reg, Config{
		Interval:       20 * time.Millisecond,
		ExternalLabels: map[string]string{"job": "j"},
		Endpoints:      []Endpoint{{URL: "http://" + addr + "/api/v1/write", Queue: fastQueue()}},
	})
	waitFor(t, 10*time.Second, "first ticks", func() bool { _, ps := rc.get("llm_test_tick"); return len(ps) >= 2 })
	rc.srv.Listener.Close() // refuse new connections
	rc.srv.CloseClientConnections()
	before := ticks.Load()
	waitFor(t, 10*time.Second, "10 intervals of outage", func() bool { return ticks.Load() >= before+10 })
	if got := counterValue(t, r.ep().retried); got == 0 {
		t.Error("no retry counted during the outage")
	}
	if q := counterValue(t, r.ep().queue); q == 0 {
		t.Error("queue empty during the outage")
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("cannot listen again on %s: %v", addr, err)
	}
	srv := &http.Server{Handler: rc.srv.Config.Handler}
	go srv.Serve(l)
	defer srv.Close()
	after := ticks.Load()
	waitFor(t, 10*time.Second, "the backlog", func() bool { _, ps := rc.get("llm_test_tick"); return len(ps) > int(after) })
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	_, ps := rc.get("llm_test_tick")
	checkTicks(t, ps, 1, int(ticks.Load()))
	if got := counterValue(t, r.ep().dropped.WithLabelValues("buffer_full")); got != 0 {
		t.Errorf("dropped %v inside the buffer", got)
	}
	if !strings.Contains(r.logs.String(), "remote write recovered") {
		t.Errorf("recovery not logged:\n%s", r.logs)
	}
}

// A proxy in front of the receiver injects 500, 429 with Retry-After, a slow
// response past the request timeout and a dropped connection: nothing is lost,
// order is kept, Retry-After is honoured.
func TestPushFaults(t *testing.T) {
	rc := newReceiver(t)
	var mu sync.Mutex
	var after429 time.Time
	var retryGap time.Duration
	rc.setFault(func(w http.ResponseWriter, r *http.Request, n int) bool {
		mu.Lock()
		defer mu.Unlock()
		if !after429.IsZero() && retryGap == 0 {
			retryGap = time.Since(after429)
		}
		switch n {
		case 2:
			http.Error(w, "boom", http.StatusInternalServerError)
		case 3:
			http.Error(w, "bad gateway", http.StatusBadGateway)
		case 4:
			w.Header().Set("Retry-After", "1")
			http.Error(w, "slow down", http.StatusTooManyRequests)
			after429 = time.Now()
		case 5:
			time.Sleep(600 * time.Millisecond) // past the 200 ms request timeout
			http.Error(w, "too late", http.StatusServiceUnavailable)
		case 6:
			hijackClose(w)
		default:
			return false
		}
		return true
	})
	reg, ticks := tickRegistry()
	ep := Endpoint{URL: rc.srv.URL + "/api/v1/write", Queue: fastQueue(), RemoteTimeout: 200 * time.Millisecond}
	r := startPusher(t, reg, Config{Interval: 50 * time.Millisecond, Endpoints: []Endpoint{ep}})
	waitFor(t, 20*time.Second, "all faults passed", func() bool { return rc.n.Load() >= 8 })
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	_, ps := rc.get("llm_test_tick")
	checkTicks(t, ps, 1, int(ticks.Load()))
	mu.Lock()
	gap := retryGap
	mu.Unlock()
	if gap < time.Second {
		t.Errorf("retry %s after a 429 with Retry-After: 1", gap)
	}
	if got := counterValue(t, r.ep().retried); got < 5 {
		t.Errorf("samples_retried_total = %v, want ≥ 5 (one per failed attempt)", got)
	}
	if got := counterValue(t, r.ep().failed); got != 0 {
		t.Errorf("samples_failed_total = %v: retryable errors counted as failures", got)
	}
}

// 400: dropped, counted, logged with the receiver's message, never retried.
func TestPushBadRequestNotRetried(t *testing.T) {
	rc := newReceiver(t)
	rc.setFault(func(w http.ResponseWriter, r *http.Request, n int) bool {
		http.Error(w, "out of order sample", http.StatusBadRequest)
		return true
	})
	reg, ticks := tickRegistry()
	r := startPusher(t, reg, Config{Interval: 20 * time.Millisecond,
		Endpoints: []Endpoint{{URL: rc.srv.URL + "/api/v1/write", Queue: fastQueue()}}})
	waitFor(t, 10*time.Second, "10 collections", func() bool { return ticks.Load() >= 10 })
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	// One request per collection, plus the final collection's stale markers
	// (which may share a request with it): no retry.
	reqs, collections := int(rc.n.Load()), int(ticks.Load())
	if reqs > collections+1 || reqs < collections/2 {
		t.Errorf("%d requests for %d collections: want one per collection, no retries", reqs, collections)
	}
	if got := counterValue(t, r.ep().failed); got != float64(collections+1) {
		t.Errorf("samples_failed_total = %v, want %d (every tick and the stale marker)", got, collections+1)
	}
	if got := counterValue(t, r.ep().retried); got != 0 {
		t.Errorf("samples_retried_total = %v on a 400", got)
	}
	if logs := r.logs.String(); !strings.Contains(logs, "out of order sample") || !strings.Contains(logs, "status=400") {
		t.Errorf("the receiver's message is not logged:\n%s", logs)
	}
}

// 401: a clear credentials error, no retry; the basic auth is sent.
func TestPushUnauthorized(t *testing.T) {
	rc := newReceiver(t)
	var user, pass string
	var mu sync.Mutex
	rc.setFault(func(w http.ResponseWriter, r *http.Request, n int) bool {
		mu.Lock()
		user, pass, _ = r.BasicAuth()
		mu.Unlock()
		http.Error(w, "invalid AccessKey", http.StatusUnauthorized)
		return true
	})
	t.Setenv("TEST_RW_SECRET", "s3cret")
	reg, ticks := tickRegistry()
	r := startPusher(t, reg, Config{Interval: 20 * time.Millisecond,
		Endpoints: []Endpoint{{URL: rc.srv.URL + "/api/v1/write", Queue: fastQueue(),
			BasicAuth: &BasicAuth{Username: "LTAIxxx", PasswordEnv: "TEST_RW_SECRET"}}}})
	waitFor(t, 10*time.Second, "5 collections", func() bool { return ticks.Load() >= 5 })
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if user != "LTAIxxx" || pass != "s3cret" {
		t.Errorf("basic auth %q:%q", user, pass)
	}
	mu.Unlock()
	if reqs, c := int(rc.n.Load()), int(ticks.Load()); reqs > c+1 {
		t.Errorf("%d requests for %d collections: 401 retried", reqs, c)
	}
	logs := r.logs.String()
	if !strings.Contains(logs, "rejected the credentials") || !strings.Contains(logs, "invalid AccessKey") {
		t.Errorf("no clear credentials error:\n%s", logs)
	}
	if strings.Contains(logs, "s3cret") {
		t.Error("the password is logged")
	}
}

// The buffer overflows while the receiver fails: the oldest collections are
// dropped and counted, the queue never exceeds its size, and the newest
// collections arrive once the receiver is back.
func TestPushBufferOverflow(t *testing.T) {
	rc := newReceiver(t)
	var down sync.Mutex
	isDown := true
	rc.setFault(func(w http.ResponseWriter, r *http.Request, n int) bool {
		down.Lock()
		defer down.Unlock()
		if isDown {
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
		}
		return isDown
	})
	reg, ticks := tickRegistry()
	// 10 series per collection.
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "llm_test_port", Help: "h"}, []string{"port"})
	for i := range 9 {
		g.WithLabelValues(string(rune('a' + i))).Set(float64(i))
	}
	reg.MustRegister(g)
	q := fastQueue()
	q.BufferSamples = 30 // three collections
	q.MaxSamplesPerSend = 10
	r := startPusher(t, reg, Config{Interval: time.Hour, // collections driven by the test
		Endpoints: []Endpoint{{URL: rc.srv.URL + "/api/v1/write", Queue: q}}})
	waitFor(t, 5*time.Second, "first collection", func() bool { return ticks.Load() == 1 })
	for range 11 {
		r.p.Collect(time.Now(), false)
		if got := counterValue(t, r.ep().queue); got > 30 {
			t.Fatalf("queue %v samples over its 30", got)
		}
	}
	if got := counterValue(t, r.ep().dropped.WithLabelValues("buffer_full")); got != 90 {
		t.Errorf("dropped %v, want 90 (9 oldest collections of 10 samples)", got)
	}
	// A request cancelled by a drop may still reach the receiver a little
	// later (as it could on a real network): let the retries of the current
	// head go round a few times first, so that the test is deterministic.
	n0 := rc.n.Load()
	waitFor(t, 10*time.Second, "retries of the head", func() bool { return rc.n.Load() >= n0+3 })
	down.Lock()
	isDown = false
	down.Unlock()
	waitFor(t, 10*time.Second, "the 3 newest collections", func() bool { _, ps := rc.get("llm_test_tick"); return len(ps) >= 3 })
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	_, ps := rc.get("llm_test_tick")
	checkTicks(t, ps, 10, int(ticks.Load()))
}

// Shutdown with the receiver down: the flush gives up after its timeout, and
// says how much it left.
func TestPushFlushTimeout(t *testing.T) {
	rc := newReceiver(t)
	rc.setFault(func(w http.ResponseWriter, r *http.Request, n int) bool {
		http.Error(w, "unavailable", http.StatusServiceUnavailable)
		return true
	})
	reg, _ := tickRegistry()
	r := startPusher(t, reg, Config{Interval: time.Hour, FlushTimeout: 300 * time.Millisecond,
		Endpoints: []Endpoint{{URL: rc.srv.URL + "/api/v1/write", Queue: fastQueue()}}})
	waitFor(t, 5*time.Second, "a retry", func() bool { return rc.n.Load() >= 2 })
	start := time.Now()
	err := r.stop(t)
	if err == nil || !strings.Contains(err.Error(), "3 samples left unsent") {
		t.Errorf("Run = %v, want 3 samples left unsent (first, final, stale marker)", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("shutdown took %s with a 300ms flush timeout", d)
	}
	if got := counterValue(t, r.ep().dropped.WithLabelValues("shutdown")); got != 3 {
		t.Errorf("dropped{reason=shutdown} = %v, want 3", got)
	}
}

func TestConfigFile(t *testing.T) {
	dir := t.TempDir()
	path := dir + "/rw.yaml"
	writeFile(t, path, `remote_write:
  - url: https://user:pw@arms.example/api/v1/write?token=x
    basic_auth: {username: LTAI, password_file: /run/secret}
    headers: {X-Scope-OrgID: tenant-a}
    tls_config: {insecure_skip_verify: true}
    queue_config: {buffer_samples: 1000, buffer_age: 10m, max_samples_per_send: 500}
  - url: http://127.0.0.1:9090/api/v1/write
    bearer_token_file: /run/token
`)
	eps, err := LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(eps) != 2 || eps[0].BasicAuth.PasswordFile != "/run/secret" || eps[0].Queue.BufferAge != 10*time.Minute ||
		eps[0].Headers["X-Scope-OrgID"] != "tenant-a" || !eps[0].TLSConfig.InsecureSkipVerify || eps[1].BearerTokenFile != "/run/token" {
		t.Errorf("parsed %+v", eps)
	}
	if got := SanitizeURL(eps[0].URL); got != "https://arms.example/api/v1/write" {
		t.Errorf("sanitised %s", got)
	}
	p, err := New(prometheus.NewRegistry(), Config{Interval: time.Second, Endpoints: eps}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(p.URLs(), " "); got != "https://arms.example/api/v1/write http://127.0.0.1:9090/api/v1/write" {
		t.Errorf("URLs %s", got)
	}
	writeFile(t, path, "remote_write:\n  - url: http://x/\n    basic_auth: {username: a, pasword: typo}\n")
	if _, err := LoadFile(path); err == nil {
		t.Error("unknown field accepted")
	}
	bad := []Endpoint{
		{URL: "ftp://x/"},
		{URL: "http://x/", BearerToken: "a", BearerTokenFile: "b"},
		{URL: "http://x/", BasicAuth: &BasicAuth{Username: "u", PasswordFile: "f", PasswordEnv: "E"}},
		{URL: "http://x/", Queue: Queue{BufferSamples: 10, MaxSamplesPerSend: 100}},
		{URL: "http://x/", BasicAuth: &BasicAuth{Username: "u", PasswordEnv: "LLM_TEST_SURELY_UNSET"}},
	}
	for _, e := range bad {
		if _, err := New(prometheus.NewRegistry(), Config{Interval: time.Second, Endpoints: []Endpoint{e}}, nil, nil); err == nil {
			t.Errorf("accepted %+v", e)
		}
	}
}

// Samples older than buffer_age are dropped (counted as too_old), the one in
// flight included, while the receiver keeps failing.
func TestPushBufferAge(t *testing.T) {
	rc := newReceiver(t)
	rc.setFault(func(w http.ResponseWriter, r *http.Request, n int) bool {
		http.Error(w, "unavailable", http.StatusServiceUnavailable)
		return true
	})
	reg, ticks := tickRegistry()
	q := fastQueue()
	q.BufferAge = 200 * time.Millisecond
	r := startPusher(t, reg, Config{Interval: 20 * time.Millisecond, FlushTimeout: 100 * time.Millisecond,
		Endpoints: []Endpoint{{URL: rc.srv.URL + "/api/v1/write", Queue: q}}})
	waitFor(t, 10*time.Second, "40 collections", func() bool { return ticks.Load() >= 40 })
	// At most 200ms of 20ms collections queued (one sample each), with slack
	// for a slow machine.
	if got := counterValue(t, r.ep().queue); got > 20 {
		t.Errorf("queue %v samples, want about 10 (200ms of 20ms collections)", got)
	}
	if got := counterValue(t, r.ep().dropped.WithLabelValues("too_old")); got < 20 {
		t.Errorf("dropped{too_old} = %v after 40 collections with 200ms of buffer", got)
	}
	r.stop(t)
}
