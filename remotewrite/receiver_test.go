package remotewrite

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	prompb "buf.build/gen/go/prometheus/prometheus/protocolbuffers/go"
	"github.com/prometheus/client_golang/exp/api/remote"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/protobuf/proto"
)

// point is one received sample.
type point struct {
	ts int64
	v  float64
}

// receiver is a remote-write receiver decoding real requests with
// client_golang's exp/api/remote handler and the prompb messages.
type receiver struct {
	t        *testing.T
	mu       sync.Mutex
	series   map[string][]point // by labels string
	headers  []http.Header
	requests int   // decoded and stored
	sizes    []int // of each stored request's protobuf, before compression
	srv      *httptest.Server
	// fault, when set, may answer a request instead of the receiver: it
	// returns true when it did. n counts every request that reached it.
	fault func(w http.ResponseWriter, r *http.Request, n int) bool
	n     atomic.Int64
}

func labelsString(ls []*prompb.Label) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, l := range ls {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%s=%q", l.Name, l.Value)
	}
	b.WriteByte('}')
	return b.String()
}

func (rc *receiver) Store(r *http.Request, msgType remote.WriteMessageType) (*remote.WriteResponse, error) {
	resp := remote.NewWriteResponse()
	if msgType != remote.WriteV1MessageType {
		resp.SetStatusCode(http.StatusUnsupportedMediaType)
		return resp, fmt.Errorf("want remote write 1.0, got %s", msgType)
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		resp.SetStatusCode(http.StatusBadRequest)
		return resp, err
	}
	var req prompb.WriteRequest
	if err := proto.Unmarshal(body, &req); err != nil {
		resp.SetStatusCode(http.StatusBadRequest)
		return resp, err
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.requests++
	rc.sizes = append(rc.sizes, len(body))
	for _, ts := range req.Timeseries {
		if !sort.SliceIsSorted(ts.Labels, func(i, j int) bool { return ts.Labels[i].Name < ts.Labels[j].Name }) {
			rc.t.Errorf("labels not sorted: %s", labelsString(ts.Labels))
		}
		k := labelsString(ts.Labels)
		for _, s := range ts.Samples {
			rc.series[k] = append(rc.series[k], point{s.Timestamp, s.Value})
		}
	}
	return resp, nil
}

func newReceiver(t *testing.T) *receiver {
	rc := &receiver{t: t, series: map[string][]point{}}
	h := remote.NewWriteHandler(rc, remote.MessageTypes{remote.WriteV1MessageType})
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := int(rc.n.Add(1))
		rc.mu.Lock()
		rc.headers = append(rc.headers, r.Header.Clone())
		fault := rc.fault
		rc.mu.Unlock()
		if fault != nil && fault(w, r, n) {
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) setFault(f func(w http.ResponseWriter, r *http.Request, n int) bool) {
	rc.mu.Lock()
	rc.fault = f
	rc.mu.Unlock()
}

// get returns the points of the series whose labels string contains every
// one of parts.
func (rc *receiver) get(parts ...string) (string, []point) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for k, ps := range rc.series {
		ok := true
		for _, p := range parts {
			if !strings.Contains(k, p) {
				ok = false
				break
			}
		}
		if ok {
			return k, append([]point(nil), ps...)
		}
	}
	return "", nil
}

func (rc *receiver) stored() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.requests
}

// syncBuffer is a log sink read while the pusher writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func testLogger() (*slog.Logger, *syncBuffer) {
	b := &syncBuffer{}
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})), b
}

// tickRegistry has llm_test_tick, whose value is the number of the collection
// (1, 2, ...): every collection is identifiable on the receiver.
func tickRegistry() (*prometheus.Registry, *atomic.Int64) {
	reg := prometheus.NewRegistry()
	n := &atomic.Int64{}
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "llm_test_tick", Help: "collection number"},
		func() float64 { return float64(n.Add(1)) }))
	return reg, n
}

// checkTicks asserts that the tick series holds 1..want (want ≥ 1) exactly,
// in order, with increasing timestamps, possibly followed by a stale marker.
func checkTicks(t *testing.T, ps []point, from, want int) {
	t.Helper()
	var vals []float64
	for i, p := range ps {
		if i > 0 && p.ts <= ps[i-1].ts {
			t.Errorf("sample %d: timestamp %d not after %d", i, p.ts, ps[i-1].ts)
		}
		if IsStaleNaN(p.v) {
			if i != len(ps)-1 {
				t.Errorf("stale marker at %d of %d", i, len(ps))
			}
			continue
		}
		vals = append(vals, p.v)
	}
	if len(vals) != want-from+1 {
		t.Fatalf("got %d ticks %v, want %d..%d", len(vals), vals, from, want)
	}
	for i, v := range vals {
		if v != float64(from+i) {
			t.Fatalf("tick %d = %v, want %d (all: %v)", i, v, from+i, vals)
		}
	}
}

func counterValue(t *testing.T, c prometheus.Collector) float64 {
	t.Helper()
	return testutil.ToFloat64(c)
}

// waitFor polls cond every 10 ms for up to d (a deadline, for a hang; the
// callers give a minute or more).
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// hijackClose drops the connection without an answer.
func hijackClose(w http.ResponseWriter) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err == nil {
		conn.Close()
	}
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}
