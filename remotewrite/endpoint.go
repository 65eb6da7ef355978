package remotewrite

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	prompb "buf.build/gen/go/prometheus/prometheus/protocolbuffers/go"
	"github.com/prometheus/client_golang/exp/api/remote"
	"github.com/prometheus/common/config"
)

// unit is one collection's worth of samples (or a part of it, at most
// max_samples_per_send), all with the same timestamp. Units are sent in the
// order they were collected, one request at a time per endpoint, so the
// samples of a series always arrive in order.
type unit struct {
	ts      int64 // milliseconds
	created time.Time
	samples []sample
	gone    bool // dropped from the queue while in flight
}

var (
	errDroppedFull = errors.New("dropped: buffer full")
	errShutdown    = errors.New("shutdown: flush timeout")
)

// endpoint is one receiver: its bounded FIFO of units and its sender.
type endpoint struct {
	url    string // sanitised, for labels and logs
	queue  Queue
	api    *remote.API
	logger *slog.Logger
	m      *endpointMetrics

	mu       sync.Mutex
	units    []*unit // FIFO; units[:inflight] are in the request being sent
	queued   int     // samples in units
	inflight int
	cancel   context.CancelCauseFunc // of the request in flight
	wake     chan struct{}
}

type statusKey struct{}

// statusRecorder records the HTTP status of the last attempt of a Write,
// which the library reports only as text.
type statusRecorder struct {
	mu     sync.Mutex
	status int
}

// instrumented times every attempt and records its status.
type instrumented struct {
	next     http.RoundTripper
	duration interface{ Observe(float64) }
}

func (t instrumented) RoundTrip(req *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := t.next.RoundTrip(req)
	t.duration.Observe(time.Since(start).Seconds())
	if rec, ok := req.Context().Value(statusKey{}).(*statusRecorder); ok {
		rec.mu.Lock()
		rec.status = 0
		if err == nil {
			rec.status = resp.StatusCode
		}
		rec.mu.Unlock()
	}
	return resp, err
}

func newEndpoint(e Endpoint, m *metrics, logger *slog.Logger) (*endpoint, error) {
	if err := e.validate(); err != nil {
		return nil, err
	}
	cc, err := e.httpClientConfig()
	if err != nil {
		return nil, fmt.Errorf("remote write %s: %w", SanitizeURL(e.URL), err)
	}
	rt, err := config.NewRoundTripperFromConfig(cc, "remote_write")
	if err != nil {
		return nil, fmt.Errorf("remote write %s: %w", SanitizeURL(e.URL), err)
	}
	ep := &endpoint{
		url:    SanitizeURL(e.URL),
		queue:  e.Queue,
		logger: logger.With("url", SanitizeURL(e.URL)),
		wake:   make(chan struct{}, 1),
	}
	ep.m = m.forEndpoint(ep.url)
	client := &http.Client{
		Transport: instrumented{next: rt, duration: ep.m.duration},
		Timeout:   e.RemoteTimeout,
	}
	// The library posts to baseURL joined with its path: give it the whole URL.
	ep.api, err = remote.NewAPI(e.URL,
		remote.WithAPIHTTPClient(client),
		remote.WithAPIPath(""),
		remote.WithAPIBackoff(remote.BackoffConfig{Min: e.Queue.MinBackoff, Max: e.Queue.MaxBackoff}),
	)
	if err != nil {
		return nil, err
	}
	return ep, nil
}

// enqueue appends u, dropping the oldest units (the one in flight included)
// while the buffer would hold more than buffer_samples.
func (e *endpoint) enqueue(u *unit) {
	e.mu.Lock()
	e.expireLocked(u.created)
	for len(e.units) > 0 && e.queued+len(u.samples) > e.queue.BufferSamples {
		e.dropHeadLocked("buffer_full", errDroppedFull)
	}
	e.units = append(e.units, u)
	e.queued += len(u.samples)
	e.m.queue.Set(float64(e.queued))
	e.mu.Unlock()
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// dropHeadLocked drops the oldest unit; if it is in the request being sent,
// that request is cancelled (its other units stay queued).
func (e *endpoint) dropHeadLocked(reason string, cause error) {
	u := e.units[0]
	e.units[0] = nil
	e.units = e.units[1:]
	e.queued -= len(u.samples)
	e.m.dropped.WithLabelValues(reason).Add(float64(len(u.samples)))
	if e.inflight > 0 {
		e.inflight--
		u.gone = true
		if e.cancel != nil {
			e.cancel(cause)
		}
	}
	e.m.queue.Set(float64(e.queued))
}

// expireLocked drops the units older than buffer_age.
func (e *endpoint) expireLocked(now time.Time) {
	for len(e.units) > 0 && !now.Before(e.units[0].created.Add(e.queue.BufferAge)) {
		e.dropHeadLocked("too_old", context.DeadlineExceeded)
	}
}

func (e *endpoint) length() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.queued
}

// next waits for queued units and takes the oldest ones, at most
// max_samples_per_send samples (and at least one unit), as the request to send.
func (e *endpoint) next(ctx context.Context) []*unit {
	for {
		if ctx.Err() != nil {
			return nil
		}
		e.mu.Lock()
		e.expireLocked(time.Now())
		if len(e.units) > 0 {
			n, total := 0, 0
			for n < len(e.units) && (n == 0 || total+len(e.units[n].samples) <= e.queue.MaxSamplesPerSend) {
				total += len(e.units[n].samples)
				n++
			}
			e.inflight = n
			batch := append([]*unit(nil), e.units[:n]...)
			e.mu.Unlock()
			return batch
		}
		e.mu.Unlock()
		select {
		case <-e.wake:
		case <-ctx.Done():
			return nil
		}
	}
}

// done removes the units of a finished request that are still queued.
func (e *endpoint) done(batch []*unit) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, u := range batch {
		if u.gone {
			continue
		}
		if len(e.units) == 0 || e.units[0] != u {
			panic("remotewrite: queue out of order")
		}
		e.units[0] = nil
		e.units = e.units[1:]
		e.queued -= len(u.samples)
	}
	e.inflight = 0
	e.cancel = nil
	e.m.queue.Set(float64(e.queued))
}

// release returns a cancelled request's units to the queue, to be sent again.
func (e *endpoint) release() {
	e.mu.Lock()
	e.inflight = 0
	e.cancel = nil
	e.mu.Unlock()
}

// buildRequest groups a batch's samples per series, in time order; e.mu is held.
func buildRequest(batch []*unit) (*prompb.WriteRequest, int) {
	idx := map[*series]*prompb.TimeSeries{}
	req := &prompb.WriteRequest{}
	n := 0
	for _, u := range batch {
		if u.gone {
			continue
		}
		for _, s := range u.samples {
			ts, ok := idx[s.s]
			if !ok {
				ts = &prompb.TimeSeries{Labels: s.s.labels}
				idx[s.s] = ts
				req.Timeseries = append(req.Timeseries, ts)
			}
			ts.Samples = append(ts.Samples, &prompb.Sample{Value: s.v, Timestamp: u.ts})
			n++
		}
	}
	return req, n
}

// run sends the queue, oldest first, until ctx ends. A request is retried
// (network errors, 5xx, 429 after Retry-After) until it succeeds, its oldest
// unit passes buffer_age, or the buffer overflows onto it.
func (e *endpoint) run(ctx context.Context) {
	for {
		batch := e.next(ctx)
		if batch == nil {
			return
		}
		e.send(ctx, batch)
	}
}

func (e *endpoint) send(ctx context.Context, batch []*unit) {
	rctx, cancel := context.WithCancelCause(ctx)
	deadline := batch[0].created.Add(e.queue.BufferAge)
	rctx, cancelDeadline := context.WithDeadline(rctx, deadline)
	defer cancelDeadline()
	e.mu.Lock()
	req, n := buildRequest(batch)
	e.cancel = cancel
	if n == 0 {
		// Every unit was dropped between next and here.
		cancel(errDroppedFull)
	}
	e.mu.Unlock()
	rec := &statusRecorder{}
	rctx = context.WithValue(rctx, statusKey{}, rec)
	retries := 0
	_, err := e.api.Write(rctx, remote.WriteV1MessageType, req, remote.WithWriteRetryCallback(func(err error) {
		retries++
		e.m.retried.Add(float64(n))
		if retries == 1 || retries%10 == 0 {
			e.logger.Warn("remote write failed, retrying", "samples", n, "retries", retries, "err", err)
		}
	}))
	cancelled := rctx.Err() != nil
	cancel(nil)
	rec.mu.Lock()
	status := rec.status
	rec.mu.Unlock()
	switch {
	case err == nil:
		e.m.sent.Add(float64(n))
		e.m.lastSuccess.SetToCurrentTime()
		if retries > 0 {
			e.logger.Info("remote write recovered", "samples", n, "retries", retries)
		}
		e.done(batch)
	case cancelled:
		// Cancelled: dropped (buffer full), too old, or shutdown. Whatever
		// is still queued is sent again or expired by next.
		e.release()
	case status == 0 || status >= 500 || status == http.StatusTooManyRequests:
		// A retryable status whose response could not be read, which the
		// library does not retry: send it again after the minimum backoff.
		e.m.retried.Add(float64(n))
		e.logger.Warn("remote write failed, retrying", "samples", n, "status", status, "err", err)
		e.release()
		select {
		case <-time.After(e.queue.MinBackoff):
		case <-ctx.Done():
		}
	default:
		// A rejection that retrying cannot fix (4xx other than 429): drop
		// the request.
		e.m.failed.Add(float64(n))
		switch status {
		case http.StatusUnauthorized, http.StatusForbidden:
			e.logger.Error("remote write rejected the credentials: check basic_auth (username and password) or the bearer token of this endpoint; samples dropped",
				"status", status, "samples", n, "err", err)
		default:
			e.logger.Error("remote write rejected by the receiver, not retried; samples dropped", "status", status, "samples", n, "err", err)
		}
		e.done(batch)
	}
}
