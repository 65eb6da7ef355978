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
	"github.com/prometheus/common/config"
)

// unit is one collection's worth of samples (or a part of it, at most
// max_samples_per_send and max_bytes_per_send), all with the same timestamp.
// Units are sent in the order they were collected, one request at a time per
// endpoint, so the samples of a series always arrive in order.
type unit struct {
	seq     uint64 // the collection (WAL record) it is part of
	off     int    // index of its first sample in that collection
	ts      int64  // milliseconds
	created time.Time
	samples []sample
	bytes   int // upper bound of its encoded size
	// gone: dropped from the queue while in the request being sent, for
	// goneReason. It is counted as dropped only if that request is not
	// accepted (settled tells it was counted).
	gone, settled bool
	goneReason    string
}

// position is how far an endpoint has got: every sample before sample off of
// collection seq is sent or dropped.
type position struct {
	seq uint64
	off int
}

func (p position) after(q position) bool {
	return p.seq > q.seq || p.seq == q.seq && p.off > q.off
}

var errAttemptTimeout = errors.New("no answer within remote_timeout")

// endpoint is one receiver: its bounded FIFO of units and its sender.
type endpoint struct {
	url     string // sanitised, for labels and logs
	rawURL  string
	queue   Queue
	timeout time.Duration
	client  *http.Client
	clock   Clock
	logger  *slog.Logger
	m       *endpointMetrics
	wal     *wal // nil without one
	walIdx  int

	mu       sync.Mutex
	units    []*unit // FIFO; units[:inflight] are in the request being sent
	queued   int     // samples in units
	inflight int
	dropSig  chan struct{} // a unit of the request in flight was dropped
	nextSeq  uint64        // the position when the queue is empty
	pos      position      // as last reported to the WAL
	wake     chan struct{}
	emptied  chan struct{} // signalled when the queue becomes empty

	raw, body []byte // the request being sent, reused
}

func newEndpoint(e Endpoint, m *metrics, clock Clock, logger *slog.Logger) (*endpoint, error) {
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
		url:     SanitizeURL(e.URL),
		rawURL:  e.URL,
		queue:   e.Queue,
		timeout: e.RemoteTimeout,
		// The attempt's timeout is the clock's (attempt), not the client's.
		client:  &http.Client{Transport: rt},
		clock:   clock,
		logger:  logger.With("url", SanitizeURL(e.URL)),
		wake:    make(chan struct{}, 1),
		emptied: make(chan struct{}, 1),
		dropSig: make(chan struct{}, 1),
	}
	ep.m = m.forEndpoint(ep.url)
	return ep, nil
}

// split cuts the samples of collection seq, from its sample off on, into
// units of at most max_samples_per_send samples and max_bytes_per_send bytes
// (at least one sample each).
func (e *endpoint) split(seq uint64, off int, ts int64, created time.Time, samples []sample) []*unit {
	var out []*unit
	start, bytes := 0, 0
	for i, s := range samples {
		if i > start && (i-start >= e.queue.MaxSamplesPerSend || bytes+s.s.size > e.queue.MaxBytesPerSend) {
			out = append(out, &unit{seq: seq, off: off + start, ts: ts, created: created, samples: samples[start:i:i], bytes: bytes})
			start, bytes = i, 0
		}
		bytes += s.s.size
	}
	if start < len(samples) {
		out = append(out, &unit{seq: seq, off: off + start, ts: ts, created: created, samples: samples[start:], bytes: bytes})
	}
	return out
}

// enqueue appends units, dropping the oldest units (the one in flight
// included) while the buffer would hold more than buffer_samples, and those
// older than buffer_age at now.
func (e *endpoint) enqueue(units []*unit, now time.Time) {
	if len(units) == 0 {
		return
	}
	e.mu.Lock()
	e.expireLocked(now)
	for _, u := range units {
		for len(e.units) > 0 && e.queued+len(u.samples) > e.queue.BufferSamples {
			e.dropHeadLocked("buffer_full")
		}
		e.units = append(e.units, u)
		e.queued += len(u.samples)
		e.nextSeq = max(e.nextSeq, u.seq+1)
	}
	e.expireLocked(now) // replayed units may be old already
	e.m.queue.Set(float64(e.queued))
	pos, moved := e.posLocked()
	e.mu.Unlock()
	select {
	case e.wake <- struct{}{}:
	default:
	}
	e.report(pos, moved)
}

// report tells the WAL how far the endpoint has got; e.mu is not held.
func (e *endpoint) report(pos position, moved bool) {
	if moved && e.wal != nil {
		e.wal.advance(e.walIdx, pos)
	}
}

// posLocked returns the queue's position, and whether it moved since it was
// last returned.
func (e *endpoint) posLocked() (position, bool) {
	p := position{seq: e.nextSeq}
	if len(e.units) > 0 {
		p = position{seq: e.units[0].seq, off: e.units[0].off}
	}
	moved := p.after(e.pos)
	if moved {
		e.pos = p
	}
	if e.queued == 0 {
		select {
		case e.emptied <- struct{}{}:
		default:
		}
	}
	return p, moved
}

// dropHeadLocked drops the oldest unit. One in the request being sent is
// marked gone: an attempt under way is not cut short (it may be stored
// already), but the request is not retried with it.
func (e *endpoint) dropHeadLocked(reason string) {
	u := e.units[0]
	e.units[0] = nil
	e.units = e.units[1:]
	e.queued -= len(u.samples)
	if e.inflight > 0 {
		e.inflight--
		u.gone, u.goneReason = true, reason
		select {
		case e.dropSig <- struct{}{}:
		default:
		}
	} else {
		e.m.dropped.WithLabelValues(reason).Add(float64(len(u.samples)))
	}
	e.m.queue.Set(float64(e.queued))
}

// settleLocked counts as dropped the batch's units that went while it was
// not accepted.
func (e *endpoint) settleLocked(batch []*unit) {
	for _, u := range batch {
		if u.gone && !u.settled {
			u.settled = true
			e.m.dropped.WithLabelValues(u.goneReason).Add(float64(len(u.samples)))
		}
	}
}

func (e *endpoint) anyGone(batch []*unit) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, u := range batch {
		if u.gone {
			return true
		}
	}
	return false
}

// expireLocked drops the units older than buffer_age.
func (e *endpoint) expireLocked(now time.Time) {
	for len(e.units) > 0 && !now.Before(e.units[0].created.Add(e.queue.BufferAge)) {
		e.dropHeadLocked("too_old")
	}
}

// dropThrough drops the units of collections up to seq, whose WAL segment is
// removed to keep the WAL within its bound; the WAL's lock is held.
func (e *endpoint) dropThrough(seq uint64) (position, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for len(e.units) > 0 && e.units[0].seq <= seq {
		e.dropHeadLocked("wal_full")
	}
	return e.posLocked()
}

func (e *endpoint) length() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.queued
}

// next waits for queued units and takes the oldest ones, at most
// max_samples_per_send samples and max_bytes_per_send bytes (and at least
// one unit), as the request to send.
func (e *endpoint) next(ctx context.Context) []*unit {
	for {
		if ctx.Err() != nil {
			return nil
		}
		e.mu.Lock()
		e.expireLocked(e.clock.Now())
		pos, moved := e.posLocked()
		if len(e.units) > 0 {
			n, total, bytes := 0, 0, 0
			for n < len(e.units) {
				u := e.units[n]
				if n > 0 && (total+len(u.samples) > e.queue.MaxSamplesPerSend || bytes+u.bytes > e.queue.MaxBytesPerSend) {
					break
				}
				total += len(u.samples)
				bytes += u.bytes
				n++
			}
			e.inflight = n
			batch := append([]*unit(nil), e.units[:n]...)
			e.mu.Unlock()
			e.report(pos, moved)
			return batch
		}
		e.mu.Unlock()
		e.report(pos, moved)
		select {
		case <-e.wake:
		case <-ctx.Done():
			return nil
		}
	}
}

// done removes the units of a finished request that are still queued. They
// are at the head of the queue, in order; if not (a bug), the queue is
// resynchronised rather than the process stopped: each of them is removed
// wherever it is, and the count is rebuilt.
func (e *endpoint) done(batch []*unit) {
	e.mu.Lock()
	k, inOrder := 0, true
	for _, u := range batch {
		if u.gone {
			continue
		}
		if k >= len(e.units) || e.units[k] != u {
			inOrder = false
			break
		}
		k++
	}
	if inOrder {
		for i := range k {
			e.queued -= len(e.units[i].samples)
			e.units[i] = nil
		}
		e.units = e.units[k:]
	} else {
		e.resyncLocked(batch)
	}
	e.inflight = 0
	e.m.queue.Set(float64(e.queued))
	pos, moved := e.posLocked()
	e.mu.Unlock()
	e.report(pos, moved)
}

// resyncLocked removes the batch's units from wherever they are in the queue
// and recounts it; it logs and counts that the queue was out of order.
func (e *endpoint) resyncLocked(batch []*unit) {
	sent := make(map[*unit]bool, len(batch))
	for _, u := range batch {
		if !u.gone {
			sent[u] = true
		}
	}
	head := "none"
	if len(e.units) > 0 {
		head = fmt.Sprintf("collection %d sample %d", e.units[0].seq, e.units[0].off)
	}
	kept := e.units[:0]
	e.queued = 0
	for _, u := range e.units {
		if !sent[u] {
			kept = append(kept, u)
			e.queued += len(u.samples)
		}
	}
	clear(e.units[len(kept):])
	e.units = kept
	e.m.resyncs.Inc()
	e.logger.Error("remote write queue out of order: the sent request was not at its head; resynchronised (please report this bug)",
		"request_units", len(sent), "queue_head", head, "queue_units", len(e.units))
}

// release returns the units of a request given up (for now) to the queue,
// to be sent again; those dropped meanwhile are counted.
func (e *endpoint) release(batch []*unit) {
	e.mu.Lock()
	e.settleLocked(batch)
	e.inflight = 0
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

// run sends the queue, oldest first, until ctx ends.
func (e *endpoint) run(ctx context.Context) {
	for {
		batch := e.next(ctx)
		if batch == nil {
			return
		}
		e.send(ctx, batch)
	}
}

// send sends one request. It is retried (network errors, timeouts, 5xx,
// 429 after Retry-After) with exponential backoff until it succeeds, its
// oldest unit passes buffer_age, or a unit of it is dropped (the buffer
// overflowed onto it): then the queue's head is sent anew.
func (e *endpoint) send(ctx context.Context, batch []*unit) {
	select { // a signal about an earlier request
	case <-e.dropSig:
	default:
	}
	e.mu.Lock()
	e.settleLocked(batch) // dropped between next and here: never sent
	req, n := buildRequest(batch)
	var oldest time.Time
	for _, u := range batch {
		if !u.gone {
			oldest = u.created
			break
		}
	}
	e.mu.Unlock()
	if n == 0 {
		e.release(batch)
		return
	}
	tooOld := e.clock.After(oldest.Add(e.queue.BufferAge).Sub(e.clock.Now()))

	var err error
	if e.body, e.raw, err = encode(e.body, e.raw, req); err != nil {
		// Cannot happen with prompb messages; never retried.
		e.m.failed.Add(float64(n))
		e.logger.Error("remote write: encoding the request; samples dropped", "samples", n, "err", err)
		e.done(batch)
		return
	}
	b := backoff{min: e.queue.MinBackoff, max: e.queue.MaxBackoff}
	for attempt := 0; ; attempt++ {
		status, retryAfter, err := e.attempt(ctx, e.body, attempt)
		switch {
		case err == nil:
			// Units dropped during the attempt were delivered all the same.
			e.m.sent.Add(float64(n))
			e.m.lastSuccess.Set(float64(e.clock.Now().UnixNano()) / 1e9)
			if attempt > 0 {
				e.logger.Info("remote write recovered", "samples", n, "retries", attempt)
			}
			e.done(batch)
			return
		case ctx.Err() != nil:
			// Shutdown: what is still queued is counted or kept by Run.
			e.release(batch)
			return
		case !retryable(status):
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
			return
		}
		e.m.retried.Add(float64(n))
		if attempt == 0 || (attempt+1)%10 == 0 {
			e.logger.Warn("remote write failed, retrying", "samples", n, "retries", attempt+1, "status", status, "err", err)
		} else {
			e.logger.Debug("remote write failed, retrying", "samples", n, "retries", attempt+1, "status", status, "err", err)
		}
		if e.anyGone(batch) {
			e.release(batch)
			return
		}
		select {
		case <-e.clock.After(b.next() + retryAfter):
		case <-tooOld: // next expires it
			e.release(batch)
			return
		case <-e.dropSig:
			e.release(batch)
			return
		case <-ctx.Done():
			e.release(batch)
			return
		}
	}
}
