package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/exporter-toolkit/web"
	"golang.org/x/sync/errgroup"

	"github.com/llm-node-exporter/llm-node-exporter/collector"
)

// serverFlags bound what a scrape and a connection may cost the exporter.
type serverFlags struct {
	scrapeTimeout   *time.Duration
	timeoutOffset   *time.Duration
	readTimeout     *time.Duration
	writeTimeout    *time.Duration
	idleTimeout     *time.Duration
	maxAuthAttempts *int
}

func addServerFlags(app *kingpin.Application) *serverFlags {
	return &serverFlags{
		scrapeTimeout: app.Flag("web.scrape-timeout",
			"Deadline of a scrape that does not send X-Prometheus-Scrape-Timeout-Seconds, and the longest any scrape gets; a collector not finished by then is reported failed for that scrape. Push mode gathers within it (or the push interval, if shorter).").
			Default(collector.DefaultTimeout.String()).Duration(),
		timeoutOffset: app.Flag("web.scrape-timeout-offset",
			"Subtracted from Prometheus's X-Prometheus-Scrape-Timeout-Seconds, so the page reaches Prometheus before it gives up.").
			Default("500ms").Duration(),
		readTimeout: app.Flag("web.read-timeout",
			"Longest time to read a request, TLS handshake included; more than --web.scrape-timeout (0: none).").
			Default("30s").Duration(),
		writeTimeout: app.Flag("web.write-timeout",
			"Longest time from a request's headers to the end of its response, so a client that stops reading frees its slot; more than --web.scrape-timeout (0: none).").
			Default("1m").Duration(),
		idleTimeout: app.Flag("web.idle-timeout",
			"A keep-alive connection idle this long is closed (0: the read timeout).").
			Default("2m").Duration(),
		maxAuthAttempts: app.Flag("web.max-auth-attempts",
			"With basic auth (--web.config.file), requests whose credentials have not passed before are checked at most this many at once, the rest answered 429, so a wrong-password flood cannot hold real scrapes behind bcrypt; 0 for no bound.").
			Default("4").Int(),
	}
}

func (f *serverFlags) validate() error {
	if *f.scrapeTimeout <= 0 {
		return errors.New("--web.scrape-timeout must be positive")
	}
	if *f.timeoutOffset < 0 {
		return errors.New("--web.scrape-timeout-offset must not be negative")
	}
	for _, t := range []struct {
		name string
		d    time.Duration
	}{{"--web.read-timeout", *f.readTimeout}, {"--web.write-timeout", *f.writeTimeout}} {
		if t.d != 0 && t.d <= *f.scrapeTimeout {
			return fmt.Errorf("%s (%s) must be more than --web.scrape-timeout (%s), or 0", t.name, t.d, *f.scrapeTimeout)
		}
	}
	return nil
}

// newServer returns an HTTP server of h whose requests' contexts derive from
// base, so that cancelling base ends every scrape in progress.
func (f *serverFlags) newServer(h http.Handler, base context.Context) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: min(10*time.Second, positiveOr(*f.readTimeout, 10*time.Second)),
		ReadTimeout:       *f.readTimeout,
		WriteTimeout:      *f.writeTimeout,
		IdleTimeout:       *f.idleTimeout,
		BaseContext:       func(net.Listener) context.Context { return base },
	}
}

func positiveOr(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// servers are the exporter's HTTP servers, one per listener.
type servers struct {
	mu   sync.Mutex
	list []*http.Server
}

func (s *servers) add(srv *http.Server) {
	s.mu.Lock()
	s.list = append(s.list, srv)
	s.mu.Unlock()
}

// shutdown stops accepting and waits for the requests in progress until ctx
// ends, then closes what is left.
func (s *servers) shutdown(ctx context.Context) error {
	s.mu.Lock()
	list := s.list
	s.mu.Unlock()
	var errs []error
	for _, srv := range list {
		if err := srv.Shutdown(ctx); err != nil {
			errs = append(errs, err, srv.Close())
		}
	}
	return errors.Join(errs...)
}

// serve listens on the flags' addresses and serves h until the servers are
// shut down. With basic auth configured, a bound on unverified credentials
// in flight sits in front of exporter-toolkit's bcrypt check: the toolkit
// installs its TLS and auth handler on a server just before it accepts, so
// the bound wraps the server's handler at its first Accept (listeners the
// toolkit opens itself, systemd's and vsock's, go without it).
func serve(h http.Handler, f *serverFlags, toolkit *web.FlagConfig, base context.Context, all *servers,
	limiter *authLimiter, logger *slog.Logger) error {
	bound := limiter != nil && toolkit.WebConfigFile != nil && *toolkit.WebConfigFile != ""
	if toolkit.WebSystemdSocket != nil && *toolkit.WebSystemdSocket {
		bound = false
	}
	for _, a := range *toolkit.WebListenAddresses {
		if strings.HasPrefix(a, "vsock://") {
			bound = false
		}
	}
	if !bound {
		srv := f.newServer(h, base)
		all.add(srv)
		return web.ListenAndServe(srv, toolkit, logger)
	}
	var g errgroup.Group
	for _, addr := range *toolkit.WebListenAddresses {
		if addr == "" {
			continue
		}
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return err
		}
		defer l.Close()
		// A server per listener: the toolkit sets each one's handler and TLS
		// configuration in place.
		srv := f.newServer(limiter.recordVerified(h), base)
		all.add(srv)
		hooked := &firstAccept{Listener: l, hook: func() { srv.Handler = limiter.bound(srv.Handler) }}
		g.Go(func() error { return web.Serve(hooked, srv, toolkit, logger) })
	}
	return g.Wait()
}

// firstAccept runs hook once, on the serving goroutine, before the first
// connection is accepted, so no request can see the server half set up.
type firstAccept struct {
	net.Listener
	once sync.Once
	hook func()
}

func (l *firstAccept) Accept() (net.Conn, error) {
	l.once.Do(l.hook)
	return l.Listener.Accept()
}

// maxVerified bounds the remembered credentials: only ones that passed the
// toolkit's check are added, so an attacker cannot grow it.
const maxVerified = 64

// authLimiter bounds the requests in flight whose basic-auth credentials
// have never passed: each may cost a bcrypt check, which the toolkit runs one
// at a time, so a flood of wrong passwords would otherwise queue the real
// scrapes behind it. Credentials seen to pass are remembered (as a hash) and
// go straight on; remembering them never lets a request skip the toolkit's
// own check.
type authLimiter struct {
	slots     chan struct{}
	throttled prometheus.Counter

	mu       sync.Mutex
	verified map[[sha256.Size]byte]struct{}
}

func newAuthLimiter(n int, reg prometheus.Registerer) *authLimiter {
	a := &authLimiter{
		verified: map[[sha256.Size]byte]struct{}{},
		throttled: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: collector.Namespace,
			Subsystem: "exporter",
			Name:      "http_auth_throttled_total",
			Help:      "Requests answered 429 because --web.max-auth-attempts requests with credentials not yet verified were already being checked.",
		}),
	}
	reg.MustRegister(a.throttled)
	if n > 0 {
		a.slots = make(chan struct{}, n)
	}
	return a
}

func credentialsKey(user, pass string) [sha256.Size]byte {
	return sha256.Sum256([]byte(user + "\x00" + pass))
}

func (a *authLimiter) known(k [sha256.Size]byte) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	_, ok := a.verified[k]
	return ok
}

type slotKey struct{}

// slot is one unverified request's place among the checks in flight.
type slot struct{ release func() }

// bound is the limiter in front of the toolkit's check.
func (a *authLimiter) bound(next http.Handler) http.Handler {
	if a.slots == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, ok := r.BasicAuth()
		if !ok || a.known(credentialsKey(user, pass)) {
			next.ServeHTTP(w, r)
			return
		}
		select {
		case a.slots <- struct{}{}:
		default:
			a.throttled.Inc()
			w.Header().Set("Retry-After", "1")
			http.Error(w, "Too many authentication attempts in flight, try again later.", http.StatusTooManyRequests)
			return
		}
		s := &slot{release: sync.OnceFunc(func() { <-a.slots })}
		defer s.release()
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), slotKey{}, s)))
	})
}

// recordVerified is behind the toolkit's check: whatever credentials reach
// it have passed. It remembers them and frees the request's slot, so a real
// scrape does not hold one while it collects.
func (a *authLimiter) recordVerified(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s, ok := r.Context().Value(slotKey{}).(*slot); ok {
			s.release()
		}
		if user, pass, ok := r.BasicAuth(); ok {
			k := credentialsKey(user, pass)
			a.mu.Lock()
			if _, seen := a.verified[k]; !seen {
				if len(a.verified) >= maxVerified {
					for old := range a.verified {
						delete(a.verified, old)
						break
					}
				}
				a.verified[k] = struct{}{}
			}
			a.mu.Unlock()
		}
		next.ServeHTTP(w, r)
	})
}
