package remotewrite

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

type running struct {
	p      *Pusher
	clock  *fakeClock
	cancel context.CancelFunc
	done   chan struct{} // closed when Run returned err
	err    error
	logs   *syncBuffer
}

// stop ends Run and returns its error; the flush needs no clock.
func (r *running) stop(t *testing.T) error {
	t.Helper()
	r.cancel()
	select {
	case <-r.done:
		return r.err
	case <-time.After(time.Minute):
		t.Fatal("Run did not return")
		return nil
	}
}

// stopAdvancing ends Run while advancing the clock by step, for a flush
// that waits on backoffs or on its timeout.
func (r *running) stopAdvancing(t *testing.T, step time.Duration) error {
	t.Helper()
	r.cancel()
	advanceUntil(t, r.clock, step, "Run to return", func() bool {
		select {
		case <-r.done:
			return true
		default:
			return false
		}
	})
	return r.err
}

// tick advances the clock by one interval and waits until that collection
// is queued.
func (r *running) tick(t *testing.T, ticks *atomic.Int64) {
	t.Helper()
	// Run reads the clock before its first collection.
	waitFor(t, time.Minute, "the first collection", func() bool { return ticks.Load() >= 1 })
	want := ticks.Load() + 1
	r.clock.Advance(r.p.cfg.Interval)
	waitFor(t, time.Minute, fmt.Sprintf("collection %d", want), func() bool { return ticks.Load() >= want })
	// The gather runs under the pusher's lock, which Collect holds until
	// the samples are queued.
	r.p.mu.Lock()
	r.p.mu.Unlock()
}

// endpointAt is a receiver with fastQueue and a request timeout that the
// tests' clock never reaches unless they mean to.
func endpointAt(url string) Endpoint {
	return Endpoint{URL: url, Queue: fastQueue(), RemoteTimeout: 24 * time.Hour}
}

func fastQueue() Queue {
	return Queue{BufferSamples: 100000, BufferAge: time.Hour, MaxSamplesPerSend: 1000,
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond}
}

// startPusher runs a pusher on a fake clock (cfg's, or a new one).
func startPusher(t *testing.T, g prometheus.Gatherer, cfg Config) *running {
	t.Helper()
	logger, logs := testLogger()
	if cfg.clock == nil {
		cfg.clock = newFakeClock()
	}
	p, err := New(g, cfg, prometheus.NewRegistry(), logger)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{p: p, clock: cfg.clock.(*fakeClock), cancel: cancel, done: make(chan struct{}), logs: logs}
	go func() { r.err = p.Run(ctx); close(r.done) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(time.Minute):
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
		Interval:       30 * time.Second,
		ExternalLabels: map[string]string{"job": "llm-node-exporter", "instance": "node-a", "cluster": "c1"},
		Endpoints:      []Endpoint{endpointAt(rc.srv.URL + "/api/v1/write")},
	})
	start := r.clock.Now()
	waitFor(t, time.Minute, "the first collection", func() bool { _, ps := rc.get("llm_test_tick"); return len(ps) == 1 })
	for range 2 {
		r.tick(t, ticks)
	}
	gone.DeleteLabelValues("1")
	for range 2 {
		r.tick(t, ticks)
	}
	waitFor(t, time.Minute, "5 collections", func() bool { _, ps := rc.get("llm_test_tick"); return len(ps) == 5 })
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
	checkTicks(t, ps, 1, 6) // 5 collections and the final one
	if !IsStaleNaN(ps[len(ps)-1].v) {
		t.Errorf("no stale marker on shutdown for the tick series: last %v", ps[len(ps)-1])
	}
	// Timestamps are the collections': one interval apart on the clock.
	for i := range 5 {
		if want := start.Add(time.Duration(i) * 30 * time.Second).UnixMilli(); ps[i].ts != want {
			t.Errorf("collection %d at %d, want %d", i+1, ps[i].ts, want)
		}
	}

	key, ps = rc.get(`device="mlx5_0"`)
	if want := `{__name__="llm_test_bytes_total",cluster="c1",device="mlx5_0",instance="node-a",job="llm-node-exporter"}`; key != want {
		t.Errorf("labels %s, want %s", key, want)
	}
	if len(ps) != 7 || ps[0].v != 42 {
		t.Errorf("counter: %d points (want 6 and a stale marker), first %v", len(ps), ps[0])
	}
	// A series' own instance label wins over the external one.
	if key, _ := rc.get(`device="mlx5_1"`); !strings.Contains(key, `instance="own-instance"`) {
		t.Errorf("own instance label lost: %s", key)
	}

	// The series that disappeared after 3 collections: values, then one
	// stale marker at the next collection, then nothing.
	_, ps = rc.get("llm_test_gone")
	if len(ps) != 4 || !IsStaleNaN(ps[3].v) || ps[3].ts != start.Add(90*time.Second).UnixMilli() {
		t.Fatalf("disappeared series: %v, want 3 values then a stale marker at the 4th collection", ps)
	}
	for _, p := range ps[:3] {
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
	if got, want := counterValue(t, r.ep().lastSuccess), float64(start.Add(4*30*time.Second).Unix()); got != want {
		t.Errorf("last success %v, want %v (the last collection's time on the clock)", got, want)
	}
	for _, c := range []prometheus.Collector{r.ep().failed, r.ep().retried, r.ep().resyncs} {
		if got := counterValue(t, c); got != 0 {
			t.Errorf("failed/retried/resyncs = %v on the happy path", got)
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
		Interval:       20 * time.Second,
		ExternalLabels: map[string]string{"job": "j"},
		Endpoints:      []Endpoint{endpointAt("http://" + addr + "/api/v1/write")},
	})
	r.tick(t, ticks)
	waitFor(t, time.Minute, "first ticks", func() bool { _, ps := rc.get("llm_test_tick"); return len(ps) == 2 })
	rc.srv.Listener.Close() // refuse new connections
	rc.srv.CloseClientConnections()
	for range 10 {
		r.tick(t, ticks)
	}
	waitFor(t, time.Minute, "a retry counted", func() bool { return counterValue(t, r.ep().retried) > 0 })
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
	// The retry waits on the backoff (at most 50ms here).
	advanceUntil(t, r.clock, 10*time.Millisecond, "the backlog", func() bool { _, ps := rc.get("llm_test_tick"); return len(ps) == 12 })
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

// A proxy in front of the receiver injects 500, 502, 429 with Retry-After, a
// response that never comes (past the request timeout) and a dropped
// connection: nothing is lost, order is kept, Retry-After is honoured.
func TestPushFaults(t *testing.T) {
	rc := newReceiver(t)
	clock := newFakeClock()
	var mu sync.Mutex
	var at429, atRetry time.Time
	slow := make(chan struct{})
	rc.setFault(func(w http.ResponseWriter, r *http.Request, n int) bool {
		mu.Lock()
		switch n {
		case 4:
			at429 = clock.Now()
		case 5:
			atRetry = clock.Now()
		}
		mu.Unlock()
		switch n {
		case 2:
			http.Error(w, "boom", http.StatusInternalServerError)
		case 3:
			http.Error(w, "bad gateway", http.StatusBadGateway)
		case 4:
			w.Header().Set("Retry-After", "1")
			http.Error(w, "slow down", http.StatusTooManyRequests)
		case 5:
			io.Copy(io.Discard, r.Body) // then the server sees the client go
			close(slow)
			<-r.Context().Done() // until the client gives up
		case 6:
			hijackClose(w)
		default:
			return false
		}
		return true
	})
	reg, ticks := tickRegistry()
	ep := Endpoint{URL: rc.srv.URL + "/api/v1/write", Queue: fastQueue(), RemoteTimeout: time.Hour}
	ep.Queue.BufferAge = 24 * time.Hour
	r := startPusher(t, reg, Config{Interval: time.Minute, Endpoints: []Endpoint{ep}, clock: clock})
	waitFor(t, time.Minute, "the first request", func() bool { return rc.n.Load() == 1 })
	r.tick(t, ticks)
	// The backoffs pass in 10ms steps; the request timeout only once the
	// slow request is waiting (no other is in flight then: one at a time).
	deadline := time.Now().Add(time.Minute)
	for rc.stored() < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("faults not passed: %d requests", rc.n.Load())
		}
		select {
		case <-slow:
			slow = nil
			clock.Advance(time.Hour)
		default:
			clock.Advance(10 * time.Millisecond)
		}
		time.Sleep(time.Millisecond)
	}
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	_, ps := rc.get("llm_test_tick")
	checkTicks(t, ps, 1, int(ticks.Load()))
	mu.Lock()
	gap := atRetry.Sub(at429)
	mu.Unlock()
	if gap < time.Second {
		t.Errorf("retry %s after a 429 with Retry-After: 1", gap)
	}
	if got := counterValue(t, r.ep().retried); got != 5 {
		t.Errorf("samples_retried_total = %v, want 5 (one sample, 5 failed attempts)", got)
	}
	if got := counterValue(t, r.ep().failed); got != 0 {
		t.Errorf("samples_failed_total = %v: retryable errors counted as failures", got)
	}
	if logs := r.logs.String(); !strings.Contains(logs, "no answer within remote_timeout (1h0m0s)") {
		t.Errorf("the attempt timeout is not logged:\n%s", logs)
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
	r := startPusher(t, reg, Config{Interval: 20 * time.Second,
		Endpoints: []Endpoint{endpointAt(rc.srv.URL + "/api/v1/write")}})
	for c := 1; c <= 10; c++ {
		waitFor(t, time.Minute, fmt.Sprintf("request %d", c), func() bool { return rc.n.Load() == int64(c) })
		if c < 10 {
			r.tick(t, ticks)
		}
	}
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	// One request per collection; the final collection and its stale marker
	// share one.
	if reqs, collections := rc.n.Load(), ticks.Load(); reqs != 11 || collections != 11 {
		t.Errorf("%d requests for %d collections: want one per collection, no retries", reqs, collections)
	}
	if got := counterValue(t, r.ep().failed); got != 12 {
		t.Errorf("samples_failed_total = %v, want 12 (every tick and the stale marker)", got)
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
	r := startPusher(t, reg, Config{Interval: 20 * time.Second,
		Endpoints: []Endpoint{{URL: rc.srv.URL + "/api/v1/write", Queue: fastQueue(),
			BasicAuth: &BasicAuth{Username: "LTAIxxx", PasswordEnv: "TEST_RW_SECRET"}}}})
	for c := 1; c <= 5; c++ {
		waitFor(t, time.Minute, fmt.Sprintf("request %d", c), func() bool { return rc.n.Load() == int64(c) })
		if c < 5 {
			r.tick(t, ticks)
		}
	}
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if user != "LTAIxxx" || pass != "s3cret" {
		t.Errorf("basic auth %q:%q", user, pass)
	}
	mu.Unlock()
	if reqs, c := rc.n.Load(), ticks.Load(); reqs != c {
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
		Endpoints: []Endpoint{{URL: rc.srv.URL + "/api/v1/write", Queue: q, RemoteTimeout: 24 * time.Hour}}})
	waitFor(t, time.Minute, "first collection", func() bool { return ticks.Load() == 1 })
	for range 11 {
		r.p.Collect(r.clock.Now(), false)
		if got := counterValue(t, r.ep().queue); got > 30 {
			t.Fatalf("queue %v samples over its 30", got)
		}
	}
	// The units of the request in flight are counted once the sender gives
	// it up, at its next failure.
	dropped := r.ep().dropped.WithLabelValues("buffer_full")
	waitFor(t, time.Minute, "the drops counted", func() bool { return counterValue(t, dropped) >= 90 })
	if got := counterValue(t, dropped); got != 90 {
		t.Errorf("dropped %v, want 90 (9 oldest collections of 10 samples)", got)
	}
	down.Lock()
	isDown = false
	down.Unlock()
	advanceUntil(t, r.clock, 10*time.Millisecond, "the 3 newest collections", func() bool { _, ps := rc.get("llm_test_tick"); return len(ps) == 3 })
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
	r := startPusher(t, reg, Config{Interval: time.Hour, FlushTimeout: 3 * time.Second,
		Endpoints: []Endpoint{endpointAt(rc.srv.URL + "/api/v1/write")}})
	advanceUntil(t, r.clock, 10*time.Millisecond, "a retry", func() bool { return rc.n.Load() >= 2 })
	stopAt := r.clock.Now()
	err := r.stopAdvancing(t, 10*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "3 samples left unsent after the 3s flush timeout") {
		t.Errorf("Run = %v, want 3 samples left unsent (first, final, stale marker)", err)
	}
	if d := r.clock.Now().Sub(stopAt); d < 3*time.Second {
		t.Errorf("gave up after %s of a 3s flush timeout", d)
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
    queue_config: {buffer_samples: 1000, buffer_age: 10m, max_samples_per_send: 500, max_bytes_per_send: 262144}
  - url: http://127.0.0.1:9090/api/v1/write
    bearer_token_file: /run/token
`)
	eps, err := LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(eps) != 2 || eps[0].BasicAuth.PasswordFile != "/run/secret" || eps[0].Queue.BufferAge != 10*time.Minute || eps[0].Queue.MaxBytesPerSend != 256<<10 ||
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
		{URL: "http://x/", Queue: Queue{MaxBytesPerSend: 1000}},
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
	q.BufferAge = 200 * time.Second
	q.MinBackoff, q.MaxBackoff = time.Hour, time.Hour // the age, not a retry, ends each request
	r := startPusher(t, reg, Config{Interval: 20 * time.Second, FlushTimeout: time.Second,
		Endpoints: []Endpoint{{URL: rc.srv.URL + "/api/v1/write", Queue: q, RemoteTimeout: 24 * time.Hour}}})
	for range 39 {
		r.tick(t, ticks)
	}
	// Collections at 0, 20s, ... 780s: those of the last 200s are left.
	if got := counterValue(t, r.ep().queue); got != 10 {
		t.Errorf("queue %v samples, want 10 (200s of 20s collections)", got)
	}
	// The request in flight's are counted when the sender gives it up.
	tooOld := r.ep().dropped.WithLabelValues("too_old")
	waitFor(t, time.Minute, "the drops counted", func() bool { return counterValue(t, tooOld) >= 30 })
	if got := counterValue(t, tooOld); got != 30 {
		t.Errorf("dropped{too_old} = %v, want 30 of 40 collections with 200s of buffer", got)
	}
	r.stopAdvancing(t, 100*time.Millisecond)
}

// A request whose units are no longer at the head of the queue (a broken
// invariant) neither panics in the sender's goroutine nor leaves the queue
// wrong: it is logged, counted and resynchronised, and sending goes on.
func TestDoneResyncsBrokenQueue(t *testing.T) {
	rc := newReceiver(t)
	reg, _ := tickRegistry()
	logger, logs := testLogger()
	p, err := New(reg, Config{Interval: time.Hour, clock: newFakeClock(),
		Endpoints: []Endpoint{endpointAt(rc.srv.URL + "/api/v1/write")}}, prometheus.NewRegistry(), logger)
	if err != nil {
		t.Fatal(err)
	}
	e := p.endpoints[0]
	for range 3 {
		p.Collect(p.clock.Now(), false)
	}
	batch := e.next(context.Background())
	if len(batch) != 3 {
		t.Fatalf("batch of %d units, want 3", len(batch))
	}
	// Break the invariant: the head leaves the queue without being marked
	// gone, and a unit the request does not hold is queued in front.
	e.mu.Lock()
	stray := &unit{seq: batch[0].seq, ts: batch[0].ts, created: batch[0].created, samples: batch[0].samples}
	e.units = append([]*unit{stray}, e.units[1:]...)
	e.mu.Unlock()

	e.done(batch)
	if got := counterValue(t, e.m.resyncs); got != 1 {
		t.Errorf("queue_resyncs_total = %v, want 1", got)
	}
	if got := e.length(); got != 1 {
		t.Errorf("queue holds %d samples after the resync, want 1 (the stray unit)", got)
	}
	if !strings.Contains(logs.String(), "remote write queue out of order") {
		t.Errorf("the broken queue is not logged:\n%s", logs)
	}
	// The queue works on: the stray unit and a new collection are sent.
	p.Collect(p.clock.Now(), false)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.run(ctx); close(done) }()
	waitFor(t, time.Minute, "the queue sent", func() bool { return e.length() == 0 })
	cancel()
	<-done
	if got := counterValue(t, e.m.sent); got != 2 {
		t.Errorf("samples_sent_total = %v after the resync, want 2", got)
	}
}

// realisticNode has n series with the labels of an attributed engine
// series pushed from a Kubernetes GPU node: about 600 bytes each encoded.
func realisticNode(n int) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "llm_engine_request_prefill_time_seconds_bucket", Help: "h"},
		[]string{"namespace", "pod", "container", "engine", "role", "model", "dp_rank", "tp_rank", "gpu", "uuid",
			"le", "node", "cluster", "instance", "job"})
	for i := range n {
		g.WithLabelValues("llm-serving-production-cn-hangzhou",
			fmt.Sprintf("sglang-deepseek-r1-0528-decode-leaderworkerset-%d-%d", i/64, i%8), "sglang-decode-engine",
			"sglang", "decode", "/mnt/models/deepseek-ai/DeepSeek-R1-0528-FP8-block-quantised-mtp", fmt.Sprint(i%64), fmt.Sprint(i%8),
			fmt.Sprint(i%8), fmt.Sprintf("GPU-3f5c8a2e-91b4-4d7e-a6c0-%012d", i%8), fmt.Sprintf("%g", float64(i%40)*0.025),
			fmt.Sprintf("cn-hangzhou.gpu-h20-141g-8x-node-%04d.ecs.internal", i/512), "ack-llm-prod-hangzhou-01",
			fmt.Sprintf("10.24.%d.%d:9836", i/256, i%256), "llm-node-exporter-daemonset").Set(float64(i))
	}
	reg.MustRegister(g)
	return reg
}

// Every request stays under max_bytes_per_send (before compression), the
// default well under the 1 MB past which ARMS drops the rest of a request,
// while 2,000 samples of realistic labels come to about 1 MB.
func TestPushRequestBytesCapped(t *testing.T) {
	for _, tc := range []struct {
		name  string
		limit int // max_bytes_per_send; 0 for the default
	}{{"default", 0}, {"64KiB", 64 << 10}} {
		t.Run(tc.name, func(t *testing.T) {
			rc := newReceiver(t)
			reg := realisticNode(2500)
			ep := endpointAt(rc.srv.URL + "/api/v1/write")
			ep.Queue.MaxSamplesPerSend = DefaultMaxSamplesPerSend
			ep.Queue.MaxBytesPerSend = tc.limit
			limit := cmp.Or(tc.limit, DefaultMaxBytesPerSend)
			r := startPusher(t, reg, Config{Interval: time.Hour, Endpoints: []Endpoint{ep}})
			waitFor(t, time.Minute, "every sample", func() bool { return counterValue(t, r.ep().sent) == 2500 })
			rc.mu.Lock()
			sizes := append([]int(nil), rc.sizes...)
			n := len(rc.series)
			rc.mu.Unlock()
			if n != 2500 {
				t.Errorf("%d series received, want 2500", n)
			}
			total := 0
			for _, s := range sizes {
				total += s
				if s > limit || s > 1_000_000 {
					t.Errorf("a request of %d bytes, over the %d bytes bound", s, limit)
				}
			}
			// The bound is what cut the requests, not the sample count.
			if perSample := total / 2500; 2000*perSample < 900_000 {
				t.Errorf("%d bytes per sample: 2,000 samples come to %d bytes, not the ~1 MB this test is about", perSample, 2000*perSample)
			}
			if min := (total + limit - 1) / limit; len(sizes) < min || len(sizes) > 2*min+1 {
				t.Errorf("%d requests for %d bytes under a %d bound: want %d to %d", len(sizes), total, limit, min, 2*min+1)
			}
			t.Logf("%d requests, %d bytes in all, largest %d, bound %d", len(sizes), total, slices.Max(sizes), limit)
		})
	}
}
