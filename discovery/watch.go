package discovery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"
)

// Defaults of the list+watch loop.
const (
	listPageSize    = 250
	listTimeout     = time.Minute
	watchMinSeconds = 300 // the API server ends each watch after 5 to 10 minutes
	backoffMin      = time.Second
	backoffMax      = 30 * time.Second
)

// store keeps the objects of one resource as a watcher sees them.
type store interface {
	// replace sets the objects of a complete list.
	replace(items []json.RawMessage) error
	// apply applies one watch event: ADDED, MODIFIED or DELETED.
	apply(typ string, obj json.RawMessage) error
}

// Status is the state of one list+watch, for the exporter's self-metrics.
type Status struct {
	Synced   bool      // a complete list has been received
	LastSync time.Time // when the last list or watch event arrived
	Failing  bool      // the last list or watch ended in an error (the last good objects are kept)
	Errors   uint64    // failed lists and watches since start
	LastErr  error
}

// watcher lists and then watches one resource of one node (a field selector:
// the API server sends nothing else) into its store, for as long as its
// context lives: a watch that ends is resumed from the last version seen, a
// 410 Gone (the version is too old) lists again, and errors are retried with
// capped exponential backoff and jitter. While the API server is down the
// store keeps the last good objects.
type watcher struct {
	client   *Client
	what     string   // "pods", for logs and errors
	paths    []string // collection paths in order of preference; the next is tried when one is 404
	selector string
	store    store
	logger   *slog.Logger
	now      func() time.Time

	pageSize               int
	backoffMin, backoffMax time.Duration

	startOnce, syncOnce sync.Once
	synced              chan struct{} // closed at the first complete list

	mu     sync.Mutex
	status Status
	path   int // index in paths of the one in use
}

func newWatcher(client *Client, what, selector string, st store, logger *slog.Logger, paths ...string) *watcher {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &watcher{
		client: client, what: what, paths: paths, selector: selector, store: st, logger: logger, now: time.Now,
		pageSize: listPageSize, backoffMin: backoffMin, backoffMax: backoffMax,
		synced: make(chan struct{}),
	}
}

// start runs the loop in the background until ctx ends; only the first call
// starts it.
func (w *watcher) start(ctx context.Context) {
	w.startOnce.Do(func() { go w.loop(ctx) })
}

// waitSynced waits for the first complete list, ctx or the timeout, and says
// whether the list came.
func (w *watcher) waitSynced(ctx context.Context, timeout time.Duration) bool {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-w.synced:
		return true
	case <-ctx.Done():
	case <-t.C:
	}
	return false
}

func (w *watcher) getStatus() Status {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.status
}

func (w *watcher) failed(err error) {
	w.mu.Lock()
	w.status.Failing, w.status.LastErr = true, err
	w.status.Errors++
	w.mu.Unlock()
}

func (w *watcher) succeeded() {
	w.mu.Lock()
	w.status.Synced = true
	w.status.Failing, w.status.LastErr = false, nil
	w.status.LastSync = w.now()
	w.mu.Unlock()
}

func (w *watcher) loop(ctx context.Context) {
	backoff := w.backoffMin
	fails := 0
	wait := func(err error, what string) bool {
		w.failed(err)
		fails++
		level := slog.LevelWarn
		if fails == 1 {
			level = slog.LevelInfo // a single dropped watch is routine
		}
		if fails >= 5 {
			level = slog.LevelError
		}
		w.logger.Log(ctx, level, "kubernetes: "+what+" of "+w.what+" failed; retrying", "err", err, "in", backoff.Round(time.Millisecond))
		sleep := backoff/2 + rand.N(backoff/2+1)
		backoff = min(2*backoff, w.backoffMax)
		t := time.NewTimer(sleep)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
			return true
		}
	}
	ok := func() { backoff, fails = w.backoffMin, 0 }
	for ctx.Err() == nil {
		rv, err := w.list(ctx)
		if err != nil {
			if ctx.Err() != nil || !wait(err, "list") {
				return
			}
			continue
		}
		w.succeeded()
		w.syncOnce.Do(func() { close(w.synced) })
		ok()
		for ctx.Err() == nil {
			var events int
			rv, events, err = w.watch(ctx, rv)
			if ctx.Err() != nil {
				return
			}
			if isGone(err) {
				w.logger.Debug("kubernetes: resourceVersion expired; listing again", "resource", w.what)
				if events == 0 && !wait(err, "watch") { // not at once: the list just said this version
					return
				}
				break
			}
			if err == nil && events == 0 {
				err = errors.New("watch ended without any event")
			}
			if err != nil {
				if !wait(err, "watch") {
					return
				}
				var se *statusError
				if errors.As(err, &se) || errors.Is(err, errWatchError) {
					break // the API server refused the watch: list again
				}
				continue
			}
			w.succeeded()
			ok()
		}
	}
}

var errWatchError = errors.New("ERROR event")

// list replaces the store's objects with those of a fresh list (paginated)
// and returns the list's resourceVersion. A collection path answered 404 (an
// API version the server does not serve) moves on to the next one.
func (w *watcher) list(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, listTimeout)
	defer cancel()
	w.mu.Lock()
	first := w.path
	w.mu.Unlock()
	for i := 0; i < len(w.paths); i++ {
		p := (first + i) % len(w.paths)
		rv, err := w.listPath(ctx, w.paths[p])
		var se *statusError
		if errors.As(err, &se) && se.code == http.StatusNotFound && len(w.paths) > 1 {
			continue
		}
		if err == nil {
			w.mu.Lock()
			w.path = p
			w.mu.Unlock()
		}
		return rv, err
	}
	return "", fmt.Errorf("list of %s: none of %v is served", w.what, w.paths)
}

func (w *watcher) listPath(ctx context.Context, path string) (string, error) {
	var items []json.RawMessage
	q := url.Values{"fieldSelector": {w.selector}, "limit": {strconv.Itoa(w.pageSize)}}
	for {
		resp, err := w.client.get(ctx, path, q)
		if err != nil {
			return "", err
		}
		var l struct {
			Metadata struct {
				ResourceVersion string `json:"resourceVersion"`
				Continue        string `json:"continue"`
			} `json:"metadata"`
			Items []json.RawMessage `json:"items"`
		}
		err = json.NewDecoder(resp.Body).Decode(&l)
		resp.Body.Close()
		if err != nil {
			return "", fmt.Errorf("list of %s: %w", w.what, err)
		}
		items = append(items, l.Items...)
		if l.Metadata.Continue == "" {
			if err := w.store.replace(items); err != nil {
				return "", fmt.Errorf("list of %s: %w", w.what, err)
			}
			return l.Metadata.ResourceVersion, nil
		}
		q.Set("continue", l.Metadata.Continue)
	}
}

// watchEvent is one line of a watch stream; Object is the resource, or a
// Status for an ERROR.
type watchEvent struct {
	Type   string          `json:"type"`
	Object json.RawMessage `json:"object"`
}

type apiStatus struct {
	Code    int    `json:"code"`
	Reason  string `json:"reason"`
	Message string `json:"message"`
}

// watch follows the objects from resourceVersion rv until the API server
// ends the watch (after timeoutSeconds), the connection drops or ctx ends; it
// returns the last resourceVersion seen and how many events came. A 410 Gone,
// as the answer or as an ERROR event, is a *statusError for which isGone is
// true.
func (w *watcher) watch(ctx context.Context, rv string) (string, int, error) {
	timeout := watchMinSeconds + rand.N(watchMinSeconds+1)
	// The API server ends the watch itself; the deadline only guards against
	// a connection that went silent.
	ctx, cancel := context.WithTimeout(ctx, time.Duration(timeout)*time.Second+30*time.Second)
	defer cancel()
	q := url.Values{
		"fieldSelector":       {w.selector},
		"watch":               {"1"},
		"resourceVersion":     {rv},
		"allowWatchBookmarks": {"true"},
		"timeoutSeconds":      {strconv.Itoa(timeout)},
	}
	w.mu.Lock()
	path := w.paths[w.path]
	w.mu.Unlock()
	resp, err := w.client.get(ctx, path, q)
	if err != nil {
		return rv, 0, err
	}
	defer resp.Body.Close()
	w.succeeded() // the API server accepted the watch: up to date from here on
	dec := json.NewDecoder(resp.Body)
	events := 0
	for {
		var ev watchEvent
		if err := dec.Decode(&ev); err != nil {
			if errors.Is(err, io.EOF) {
				return rv, events, nil
			}
			return rv, events, fmt.Errorf("watch of %s: %w", w.what, err)
		}
		events++
		switch ev.Type {
		case "ADDED", "MODIFIED", "DELETED", "BOOKMARK":
			var meta struct {
				Metadata struct {
					ResourceVersion string `json:"resourceVersion"`
				} `json:"metadata"`
			}
			if err := json.Unmarshal(ev.Object, &meta); err != nil {
				return rv, events, fmt.Errorf("watch of %s: %s event: %w", w.what, ev.Type, err)
			}
			if meta.Metadata.ResourceVersion != "" {
				rv = meta.Metadata.ResourceVersion
			}
			if ev.Type == "BOOKMARK" {
				continue
			}
			if err := w.store.apply(ev.Type, ev.Object); err != nil {
				return rv, events, fmt.Errorf("watch of %s: %s event: %w", w.what, ev.Type, err)
			}
			w.succeeded()
		case "ERROR":
			var st apiStatus
			_ = json.Unmarshal(ev.Object, &st)
			if st.Code == http.StatusGone {
				return rv, events, &statusError{code: st.Code, msg: st.Message}
			}
			return rv, events, fmt.Errorf("%w: %d %s: %s", errWatchError, st.Code, st.Reason, st.Message)
		default:
			w.logger.Debug("kubernetes: unknown watch event", "resource", w.what, "type", ev.Type)
		}
	}
}
