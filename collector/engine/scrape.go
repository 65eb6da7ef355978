package engine

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
)

// Reasons of llm_engine_scrape_errors_total.
const (
	reasonTimeout     = "timeout"      // no complete answer within --engine.timeout, or the scrape was abandoned
	reasonConnect     = "connect"      // the endpoint could not be reached (refused, reset, DNS)
	reasonHTTPStatus  = "http_status"  // an answer other than 200
	reasonTooLarge    = "too_large"    // the (decompressed) page exceeded --engine.body-limit
	reasonParse       = "parse_error"  // the page is not valid text format / OpenMetrics
	reasonSampleLimit = "sample_limit" // more samples than --engine.sample-limit
	reasonLabelLimit  = "label_limit"  // a series over --engine.label-limit or a label length limit
)

var reasons = [...]string{reasonTimeout, reasonConnect, reasonHTTPStatus, reasonTooLarge, reasonParse, reasonSampleLimit, reasonLabelLimit}

// acceptHeader prefers the classic text format and accepts OpenMetrics from
// engines that only speak it.
const acceptHeader = "text/plain;version=0.0.4;q=0.9,application/openmetrics-text;version=1.0.0;q=0.5,*/*;q=0.1"

// scrapeError is a failed scrape with its reason.
type scrapeError struct {
	reason string
	err    error
}

func (e *scrapeError) Error() string { return e.reason + ": " + e.err.Error() }
func (e *scrapeError) Unwrap() error { return e.err }

var errTooLarge = errors.New("body exceeds the limit")

// pageFormat is the exposition format of a page, from its Content-Type.
type pageFormat uint8

const (
	formatText pageFormat = iota
	formatOpenMetrics
)

// formatOf reads the Content-Type as Prometheus does: OpenMetrics 0.0.1 and
// 1.0.0 are OpenMetrics, anything else is read as the text format.
func formatOf(contentType string) pageFormat {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil || mt != "application/openmetrics-text" {
		return formatText
	}
	switch params["version"] {
	case "", "0.0.1", "1.0.0":
		return formatOpenMetrics
	}
	return formatText
}

// fetcher downloads the pages of one target into a buffer it keeps between
// scrapes, so a steady page is read without allocating.
type fetcher struct {
	buf  []byte
	gzip *gzip.Reader
}

// maxKeptBuffer is the largest page buffer kept for the next scrape; a page
// larger than this (an outlier, or a hostile target) is read into a buffer
// that is dropped afterwards.
const maxKeptBuffer = 4 << 20

// fetch downloads one page: the body, decompressed, bounded by limit. The
// returned bytes are valid until the next fetch; they have one byte of spare
// capacity, so the parser can append its final newline without copying.
func (f *fetcher) fetch(ctx context.Context, client *http.Client, url string, limit int64) ([]byte, pageFormat, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, 0, &scrapeError{reasonConnect, err}
	}
	req.Header.Set("Accept", acceptHeader)
	req.Header.Set("Accept-Encoding", "gzip")
	req.Header.Set("User-Agent", "llm-node-exporter")
	resp, err := client.Do(req)
	if err != nil {
		return nil, 0, classify(ctx, err, reasonConnect)
	}
	defer func() {
		// Drain a little so the connection can be reused, never the whole of a huge body.
		_, _ = io.CopyN(io.Discard, resp.Body, 4096)
		_ = resp.Body.Close()
	}()
	if resp.StatusCode != http.StatusOK {
		return nil, 0, &scrapeError{reasonHTTPStatus, fmt.Errorf("HTTP status %s", resp.Status)}
	}
	var body io.Reader = resp.Body
	if resp.Header.Get("Content-Encoding") == "gzip" {
		if f.gzip == nil {
			f.gzip, err = gzip.NewReader(resp.Body)
		} else {
			err = f.gzip.Reset(resp.Body)
		}
		if err != nil {
			return nil, 0, classify(ctx, err, reasonParse)
		}
		body = f.gzip
	}
	buf := f.buf[:0]
	// A plain body announces its size: read it into a buffer of that size
	// rather than doubling one up to it.
	if n := resp.ContentLength; body == resp.Body && n > int64(cap(buf)) && n <= limit {
		buf = make([]byte, 0, n+2)
	}
	b, err := readLimited(buf, body, limit)
	if cap(b) <= maxKeptBuffer {
		f.buf = b
	} else {
		f.buf = nil
	}
	switch {
	case errors.Is(err, errTooLarge):
		return nil, 0, &scrapeError{reasonTooLarge, fmt.Errorf("page larger than %d bytes", limit)}
	case err != nil:
		// A body cut short (a reset, less than its Content-Length, broken gzip).
		return nil, 0, classify(ctx, err, reasonParse)
	}
	return b, formatOf(resp.Header.Get("Content-Type")), nil
}

// readLimited appends r to b until EOF, failing with errTooLarge once more
// than limit bytes were read; it never holds more than limit+1 bytes of the
// body. It keeps one byte of spare capacity.
func readLimited(b []byte, r io.Reader, limit int64) ([]byte, error) {
	for {
		if cap(b)-len(b) < 2 {
			size := 2*cap(b) + 4096
			if int64(size) > limit+2 {
				size = int(limit + 2)
			}
			if size < len(b)+2 {
				size = len(b) + 2
			}
			grown := make([]byte, len(b), size)
			copy(grown, b)
			b = grown
		}
		n, err := r.Read(b[len(b) : cap(b)-1])
		b = b[:len(b)+n]
		if int64(len(b)) > limit {
			return b, errTooLarge
		}
		if errors.Is(err, io.EOF) {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}

// classify names the reason of a transport or read error.
func classify(ctx context.Context, err error, fallback string) error {
	var ne net.Error
	if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) ||
		(errors.As(err, &ne) && ne.Timeout()) {
		return &scrapeError{reasonTimeout, err}
	}
	return &scrapeError{fallback, err}
}
