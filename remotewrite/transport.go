package remotewrite

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

	prompb "buf.build/gen/go/prometheus/prometheus/protocolbuffers/go"
	"github.com/klauspost/compress/snappy"
	"google.golang.org/protobuf/proto"
)

// The wire format of remote write 1.0: a snappy-compressed (block format)
// prometheus.WriteRequest POSTed with these headers. The attempt is built
// here, not by a library, so that its timeout, its backoff and the Retry-After
// wait run on the pusher's Clock and its HTTP status is known.
const (
	contentType    = "application/x-protobuf"
	versionHeader  = "X-Prometheus-Remote-Write-Version"
	versionValue   = "0.1.0"
	maxMessageRead = 1 << 10 // of a rejection's body, for the log
)

// encode marshals req into raw and compresses it into body, reusing both.
func encode(body, raw []byte, req *prompb.WriteRequest) (newBody, newRaw []byte, err error) {
	raw, err = proto.MarshalOptions{}.MarshalAppend(raw[:0], req)
	if err != nil {
		return body, raw, err
	}
	if n := snappy.MaxEncodedLen(len(raw)); cap(body) < n {
		body = make([]byte, n)
	}
	return snappy.Encode(body[:cap(body)], raw), raw, nil
}

// attempt POSTs body once, within remote_timeout. status is 0 when no
// response came; retryAfter is the response's Retry-After.
func (e *endpoint) attempt(ctx context.Context, body []byte, retry int) (status int, retryAfter time.Duration, err error) {
	actx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := e.clock.AfterFunc(e.timeout, func() { cancel(errAttemptTimeout) })
	defer stop()
	req, err := http.NewRequestWithContext(actx, http.MethodPost, e.rawURL, bytes.NewReader(body))
	if err != nil {
		return 0, 0, err
	}
	req.Header.Set("Content-Encoding", "snappy")
	req.Header.Set("Content-Type", contentType)
	req.Header.Set(versionHeader, versionValue)
	if retry > 0 {
		req.Header.Set("Retry-Attempt", strconv.Itoa(retry))
	}
	start := time.Now() // the histogram is of real latency
	defer func() { e.m.duration.Observe(time.Since(start).Seconds()) }()
	resp, err := e.client.Do(req)
	if err != nil {
		if errors.Is(context.Cause(actx), errAttemptTimeout) && ctx.Err() == nil {
			err = fmt.Errorf("%w (%s): %w", errAttemptTimeout, e.timeout, err)
		}
		return 0, 0, err
	}
	defer resp.Body.Close()
	msg, rerr := io.ReadAll(io.LimitReader(resp.Body, maxMessageRead))
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // lets the connection be reused
	if resp.StatusCode/100 == 2 {
		return resp.StatusCode, 0, nil
	}
	err = fmt.Errorf("server returned HTTP status %s: %s", resp.Status, bytes.TrimSpace(msg))
	if rerr != nil {
		err = fmt.Errorf("%w (reading the body: %w)", err, rerr)
	}
	return resp.StatusCode, parseRetryAfter(resp.Header.Get("Retry-After"), e.clock.Now()), err
}

// retryable: no response, a 5xx or a 429.
func retryable(status int) bool {
	return status == 0 || status/100 == 5 || status == http.StatusTooManyRequests
}

// parseRetryAfter reads a Retry-After header: seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// backoff is exponential with jitter: each wait is drawn in [cur, 2·cur),
// cur doubling from min up to max.
type backoff struct {
	min, max, cur time.Duration
}

func (b *backoff) next() time.Duration {
	if b.cur == 0 {
		b.cur = b.min
	}
	d := b.cur
	if hi := min(2*b.cur, b.max); hi > d {
		d += rand.N(hi - d)
	}
	b.cur = min(2*b.cur, b.max)
	return d
}
