package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// Reasons of llm_engine_scrape_errors_total.
const (
	reasonTimeout    = "timeout"     // no complete answer within --engine.timeout
	reasonConnect    = "connect"     // the endpoint could not be reached (refused, reset, DNS)
	reasonHTTPStatus = "http_status" // an answer other than 200
	reasonTooLarge   = "too_large"   // the (decompressed) page exceeded --engine.body-limit
	reasonParse      = "parse_error" // the page is not valid text format / OpenMetrics
)

var reasons = []string{reasonTimeout, reasonConnect, reasonHTTPStatus, reasonTooLarge, reasonParse}

// acceptHeader prefers the classic text format, whose parser is the cheapest,
// and accepts OpenMetrics from engines that only speak it.
const acceptHeader = "text/plain;version=0.0.4;q=0.9,application/openmetrics-text;version=1.0.0;q=0.5,*/*;q=0.1"

// scrapeError is a failed scrape with its reason.
type scrapeError struct {
	reason string
	err    error
}

func (e *scrapeError) Error() string { return e.reason + ": " + e.err.Error() }
func (e *scrapeError) Unwrap() error { return e.err }

var errTooLarge = errors.New("body exceeds the limit")

// limitedReader fails with errTooLarge once more than n bytes were read, so
// a huge page is cut off after n bytes instead of being buffered whole.
type limitedReader struct {
	r        io.Reader
	n        int64
	exceeded bool
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.n <= 0 {
		// Probe one byte: a body of exactly the limit is fine.
		var one [1]byte
		k, err := l.r.Read(one[:])
		if k > 0 {
			l.exceeded = true
			return 0, errTooLarge
		}
		return 0, err
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	k, err := l.r.Read(p)
	l.n -= int64(k)
	return k, err
}

// scrape fetches one page and parses it into metric families. The transport
// asks for gzip and decompresses it; the body limit applies to the
// decompressed page (a gzip bomb is too_large too).
func scrape(ctx context.Context, client *http.Client, url string, limit int64) ([]*dto.MetricFamily, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, &scrapeError{reasonConnect, err}
	}
	req.Header.Set("Accept", acceptHeader)
	req.Header.Set("User-Agent", "llm-node-exporter")
	resp, err := client.Do(req)
	if err != nil {
		return nil, classify(ctx, err, reasonConnect)
	}
	defer func() {
		// Drain a little so the connection can be reused, never the whole of a huge body.
		_, _ = io.CopyN(io.Discard, resp.Body, 4096)
		_ = resp.Body.Close()
	}()
	if resp.StatusCode != http.StatusOK {
		return nil, &scrapeError{reasonHTTPStatus, fmt.Errorf("HTTP status %s", resp.Status)}
	}
	body := &limitedReader{r: resp.Body, n: limit}
	format := expfmt.ResponseFormat(resp.Header)
	var r io.Reader = body
	if format.FormatType() == expfmt.TypeOpenMetrics {
		r = &lineGuard{r: body, max: maxOpenMetricsLine}
	}
	fams, err := parsePage(r, format)
	if err != nil {
		if body.exceeded {
			return nil, &scrapeError{reasonTooLarge, fmt.Errorf("page larger than %d bytes", limit)}
		}
		return nil, classify(ctx, err, reasonParse)
	}
	if body.exceeded {
		return nil, &scrapeError{reasonTooLarge, fmt.Errorf("page larger than %d bytes", limit)}
	}
	return fams, nil
}

// classify names the reason of a transport or read error.
func classify(ctx context.Context, err error, fallback string) error {
	var ne net.Error
	if errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) ||
		(errors.As(err, &ne) && ne.Timeout()) {
		return &scrapeError{reasonTimeout, err}
	}
	return &scrapeError{fallback, err}
}

// parsePage decodes a whole page in the given format (text when unknown).
func parsePage(r io.Reader, format expfmt.Format) ([]*dto.MetricFamily, error) {
	dec := expfmt.NewDecoder(r, format)
	var fams []*dto.MetricFamily
	for {
		f := &dto.MetricFamily{}
		err := dec.Decode(f)
		if errors.Is(err, io.EOF) {
			return fams, nil
		}
		if err != nil {
			return nil, err
		}
		fams = append(fams, f)
	}
}

// maxOpenMetricsLine bounds the lines of an OpenMetrics page: expfmt parses
// them with an ABNF grammar whose cost grows with the square of the line
// (about 1 s for 800 bytes). Engines print lines of a few hundred bytes.
const maxOpenMetricsLine = 2048

var errLineTooLong = fmt.Errorf("OpenMetrics line longer than %d bytes", maxOpenMetricsLine)

// lineGuard fails a page with a line longer than max.
type lineGuard struct {
	r    io.Reader
	max  int
	line int
}

func (g *lineGuard) Read(p []byte) (int, error) {
	n, err := g.r.Read(p)
	for _, b := range p[:n] {
		if b == '\n' {
			g.line = 0
			continue
		}
		g.line++
		if g.line > g.max {
			return 0, errLineTooLong
		}
	}
	return n, err
}
