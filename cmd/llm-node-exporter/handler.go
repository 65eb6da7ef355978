package main

import (
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/llm-node-exporter/llm-node-exporter/collector"
	"github.com/llm-node-exporter/llm-node-exporter/selfmetrics"
)

// scrapeTimeoutHeader is how Prometheus tells a target its scrape_timeout.
const scrapeTimeoutHeader = "X-Prometheus-Scrape-Timeout-Seconds"

// scrapeBudget is the time a scrape's collectors get: Prometheus's scrape
// timeout less offset (so the page arrives before Prometheus gives up), never
// more than limit, and limit when the request does not say.
func scrapeBudget(h http.Header, limit, offset time.Duration) time.Duration {
	v := h.Get(scrapeTimeoutHeader)
	if v == "" {
		return limit
	}
	secs, err := strconv.ParseFloat(v, 64)
	if err != nil || !(secs > 0) || secs >= (limit+offset).Seconds() { // !(>) also catches NaN
		return limit
	}
	d := time.Duration(secs * float64(time.Second))
	// A timeout shorter than the offset still gets half of itself.
	return min(max(d-offset, d/2), limit)
}

// maxSlotWait is the longest a scrape waits for one of --web.max-requests.
const maxSlotWait = time.Second

// metricsHandler serves one scrape: the collector set under the scrape's
// deadline (ended early when the client goes away), plus the gatherers
// that never block (build info, push mode's self-metrics, runtime metrics).
type metricsHandler struct {
	set        *collector.Set
	static     prometheus.Gatherer
	self       *prometheus.Registry // the exporter's runtime metrics; nil when disabled
	opts       promhttp.HandlerOpts
	errCnt     *prometheus.CounterVec // promhttp's own, shared with its handlers
	inFlight   chan struct{}          // nil for no limit
	maxTimeout time.Duration
	offset     time.Duration
}

// newMetricsHandler serves the collectors and build info, plus the exporter's
// own runtime metrics unless disabled. Errors in one metric never fail the
// scrape (ContinueOnError): the rest is still served.
func newMetricsHandler(set *collector.Set, static prometheus.Gatherer, disableExporterMetrics bool, maxRequests int,
	scrapeTimeout, offset time.Duration, logger *slog.Logger) http.Handler {
	h := &metricsHandler{
		set:    set,
		static: static,
		opts: promhttp.HandlerOpts{
			ErrorLog:      slog.NewLogLogger(logger.Handler(), slog.LevelError),
			ErrorHandling: promhttp.ContinueOnError,
		},
		maxTimeout: scrapeTimeout,
		offset:     offset,
		errCnt:     newHandlerErrors(),
	}
	if maxRequests > 0 {
		h.inFlight = make(chan struct{}, maxRequests)
	}
	if disableExporterMetrics {
		return h
	}
	h.self = prometheus.NewRegistry()
	h.self.MustRegister(
		selfmetrics.NewProcessCollector(),
		collectors.NewGoCollector(),
	)
	h.opts.Registry = h.self
	// Registered here so that the text path counts its errors where
	// promhttp's handlers count theirs: they find it registered and use it.
	h.self.MustRegister(h.errCnt)
	return promhttp.InstrumentMetricHandler(h.self, h)
}

func (h *metricsHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// The request's context ends when the client goes away or the server
	// shuts down; the budget ends it at the scrape's deadline.
	budget := scrapeBudget(r.Header, h.maxTimeout, h.offset)
	ctx, cancel := context.WithTimeout(r.Context(), budget)
	defer cancel()
	if h.inFlight != nil {
		// A slot may take a moment to free: scrapes whose clients have just
		// hung up end as soon as the server notices. Wait a little for one
		// rather than refuse at once, never long enough to pile up.
		wait := time.NewTimer(min(budget/4, maxSlotWait))
		select {
		case h.inFlight <- struct{}{}:
			wait.Stop()
			defer func() { <-h.inFlight }()
		case <-wait.C:
			http.Error(w, fmt.Sprintf("Limit of concurrent requests reached (%d), try again later.", cap(h.inFlight)),
				http.StatusServiceUnavailable)
			return
		case <-ctx.Done():
			wait.Stop()
			return
		}
	}
	format := expfmt.Negotiate(r.Header) // as promhttp negotiates without OpenMetrics
	if format.FormatType() == expfmt.TypeTextPlain {
		h.serveText(ctx, w, r, format)
		return
	}
	g := prometheus.Gatherers{h.static, h.set.Gatherer(ctx)}
	if h.self != nil {
		g = append(prometheus.Gatherers{h.self}, g...)
	}
	// A handler per request (cheap: no registration, the in-flight limit is
	// above) because a Gatherer takes no context.
	promhttp.HandlerFor(unlessGone{g, r.Context()}, h.opts).ServeHTTP(w, r)
}

// serveText serves a scrape in the text format as promhttp.HandlerFor with
// h.opts would (compression, name[] filter, errors), except that the
// collectors' TextMetrics (the engine collector's series) are written as
// text by themselves, in their place among the families, without being
// gathered into dto messages and encoded.
func (h *metricsHandler) serveText(ctx context.Context, w http.ResponseWriter, r *http.Request, format expfmt.Format) {
	set := h.set.TextGatherer(ctx)
	g := prometheus.Gatherers{h.static, set}
	if h.self != nil {
		g = append(prometheus.Gatherers{h.self}, g...)
	}
	mfs, err := g.Gather()
	page := set.Text()
	defer page.Release()
	if r.Context().Err() != nil {
		return // gone (unlessGone): nothing to encode for no one
	}
	if err == nil {
		mfs, err = page.Resolve(mfs)
	} else {
		mfs, _ = page.Resolve(mfs)
	}
	if err != nil {
		h.opts.ErrorLog.Println("error gathering metrics:", err)
		h.errCnt.WithLabelValues("gathering").Inc()
		if len(mfs) == 0 && page.Len() == 0 {
			httpError(w, err)
			return
		}
	}
	w.Header().Set("Content-Type", string(format))
	out := io.Writer(w)
	if acceptsGzip(r) {
		w.Header().Set("Content-Encoding", "gzip")
		gz := gzipPool.Get().(*gzip.Writer)
		gz.Reset(w)
		defer func() { _ = gz.Close(); gzipPool.Put(gz) }()
		out = gz
	}
	var keep func(string) bool
	if names := r.URL.Query()["name[]"]; len(names) > 0 {
		keep = func(n string) bool { return slices.Contains(names, n) }
	}
	enc := expfmt.NewEncoder(out, format)
	page.Write(out, mfs, enc.Encode, keep, func(err error) bool {
		if err != nil {
			h.opts.ErrorLog.Println("error encoding and sending metric family:", err)
			h.errCnt.WithLabelValues("encoding").Inc()
		}
		return false // ContinueOnError
	})
}

// newHandlerErrors is promhttp's promhttp_metric_handler_errors_total.
func newHandlerErrors() *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "promhttp_metric_handler_errors_total",
		Help: "Total number of internal errors encountered by the promhttp metric handler.",
	}, []string{"cause"})
	c.WithLabelValues("gathering")
	c.WithLabelValues("encoding")
	return c
}

var gzipPool = sync.Pool{New: func() any { return gzip.NewWriter(nil) }}

func httpError(w http.ResponseWriter, err error) {
	w.Header().Del("Content-Encoding")
	http.Error(w, "An error has occurred while serving metrics:\n\n"+err.Error(), http.StatusInternalServerError)
}

// acceptsGzip negotiates Accept-Encoding as promhttp does between identity
// and gzip: the offer with the highest q wins, identity on a tie or when
// neither is named.
func acceptsGzip(r *http.Request) bool {
	best, bestQ := "identity", -1.0
	specs := parseAcceptEncoding(r.Header.Values("Accept-Encoding"))
	for _, offer := range []string{"identity", "gzip"} {
		for _, s := range specs {
			if s.q > bestQ && (s.value == "*" || s.value == offer) {
				best, bestQ = offer, s.q
			}
		}
	}
	return best == "gzip" && bestQ != 0
}

type acceptSpec struct {
	value string
	q     float64
}

// parseAcceptEncoding reads "gzip;q=0.8, identity" headers.
func parseAcceptEncoding(values []string) []acceptSpec {
	var out []acceptSpec
	for _, v := range values {
		for _, part := range strings.Split(v, ",") {
			name, params, _ := strings.Cut(part, ";")
			name = strings.TrimSpace(name)
			if name == "" {
				continue
			}
			q := 1.0
			for _, p := range strings.Split(params, ";") {
				k, val, ok := strings.Cut(strings.TrimSpace(p), "=")
				if ok && strings.EqualFold(strings.TrimSpace(k), "q") {
					f, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
					if err != nil {
						f = 0
					}
					q = f
				}
			}
			out = append(out, acceptSpec{name, q})
		}
	}
	return out
}

// unlessGone gathers g, and nothing when the request has ended meanwhile
// (the client hung up, the server is shutting down): no one will read the
// page, and encoding it for each abandoned scrape would burn the CPU the
// next scrapes need.
type unlessGone struct {
	g   prometheus.Gatherer
	ctx context.Context
}

func (u unlessGone) Gather() ([]*dto.MetricFamily, error) {
	mfs, err := u.g.Gather()
	if u.ctx.Err() != nil {
		return nil, nil // an empty page, and no error to log for each
	}
	return mfs, err
}

// pushGatherer is what push mode gathers: the collector set within a
// deadline of its own, as there is no scrape request to take one from,
// merged with the static gatherer.
type pushGatherer struct {
	set     *collector.Set
	static  prometheus.Gatherer
	timeout time.Duration
	// Once stopping has ended (SIGTERM), a gather gets at most final, so the
	// last collection leaves the rest of the flush timeout to the sends.
	stopping context.Context
	final    time.Duration
}

func (g *pushGatherer) Gather() ([]*dto.MetricFamily, error) {
	timeout := g.timeout
	if g.stopping != nil && g.stopping.Err() != nil {
		timeout = min(timeout, g.final)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return prometheus.Gatherers{g.static, g.set.Gatherer(ctx)}.Gather()
}
