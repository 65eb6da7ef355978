// Package fakeapi is a fake Kubernetes API server for tests: a TLS server
// that lists collections (pods, ResourceSlices, anything) in pages and
// streams their watch events the way kube-apiserver does — resourceVersions,
// bookmarks, 410 Gone for an expired version, ERROR events — and checks the
// bearer token and the node's field selector on every request. It does not
// filter by the field selector: the client must check the node itself, as it
// must with an old or odd API server.
package fakeapi

import (
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"testing"
)

// Collection paths.
const (
	Pods           = "/api/v1/pods"
	ResourceSlices = "/apis/resource.k8s.io/v1/resourceslices"
)

type event struct {
	rv   int
	line []byte // {"type":..., "object":...}
}

type collection struct {
	objects map[string]json.RawMessage // by namespace/name
	log     []event                    // since logStart
	start   int                        // the oldest resourceVersion a watch may resume from
	watches []chan []byte              // open watch streams; a nil line drops the connection
	lists   int
	resumed []string // resourceVersion of each watch accepted
}

// Server is the fake API server.
type Server struct {
	t    testing.TB
	srv  *httptest.Server
	node string

	mu          sync.Mutex
	token       string
	rv          int
	colls       map[string]*collection
	down        bool
	goneNext    bool
	notServed   map[string]bool
	denied      int
	badSelector int
}

// New starts a server for node that accepts the bearer token; it stops at the
// end of the test.
func New(t testing.TB, node, token string) *Server {
	s := &Server{t: t, node: node, token: token, rv: 10, colls: map[string]*collection{}, notServed: map[string]bool{}}
	s.srv = httptest.NewTLSServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// Close stops the server (and its watch streams).
func (s *Server) Close() {
	s.DropWatches()
	s.srv.Close()
}

// URL is the server's https://host:port.
func (s *Server) URL() string { return s.srv.URL }

// CAPEM is the server certificate, PEM-encoded.
func (s *Server) CAPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.srv.Certificate().Raw})
}

// Kubeconfig writes a kubeconfig for the server (its CA, the token) into dir
// and returns its path.
func (s *Server) Kubeconfig(dir string) string {
	s.mu.Lock()
	tok := s.token
	s.mu.Unlock()
	cfg := fmt.Sprintf(`apiVersion: v1
kind: Config
current-context: fake
contexts:
- name: fake
  context: {cluster: fake, user: exporter}
clusters:
- name: fake
  cluster:
    server: %s
    certificate-authority-data: %s
users:
- name: exporter
  user:
    token: %s
`, s.URL(), base64.StdEncoding.EncodeToString(s.CAPEM()), tok)
	p := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		s.t.Fatal(err)
	}
	return p
}

// SetToken changes the accepted token.
func (s *Server) SetToken(tok string) {
	s.mu.Lock()
	s.token = tok
	s.mu.Unlock()
}

func (s *Server) coll(path string) *collection {
	c := s.colls[path]
	if c == nil {
		c = &collection{objects: map[string]json.RawMessage{}, start: s.rv}
		s.colls[path] = c
	}
	return c
}

// stamp marshals obj with metadata.resourceVersion set to rv and returns it
// with its namespace/name key.
func (s *Server) stamp(obj any, rv int) (string, json.RawMessage) {
	b, err := json.Marshal(obj)
	if err != nil {
		s.t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		s.t.Fatal(err)
	}
	meta, _ := m["metadata"].(map[string]any)
	if meta == nil {
		meta = map[string]any{}
		m["metadata"] = meta
	}
	meta["resourceVersion"] = strconv.Itoa(rv)
	ns, _ := meta["namespace"].(string)
	name, _ := meta["name"].(string)
	out, err := json.Marshal(m)
	if err != nil {
		s.t.Fatal(err)
	}
	return ns + "/" + name, out
}

func (s *Server) emitLocked(c *collection, typ string, obj json.RawMessage) {
	line, err := json.Marshal(map[string]any{"type": typ, "object": obj})
	if err != nil {
		s.t.Fatal(err)
	}
	c.log = append(c.log, event{s.rv, line})
	for _, w := range c.watches {
		w <- line
	}
}

// Put adds or updates an object of a collection; open watches see ADDED or
// MODIFIED.
func (s *Server) Put(path string, obj any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rv++
	c := s.coll(path)
	key, raw := s.stamp(obj, s.rv)
	typ := "ADDED"
	if _, ok := c.objects[key]; ok {
		typ = "MODIFIED"
	}
	c.objects[key] = raw
	s.emitLocked(c, typ, raw)
}

// Delete removes an object; open watches see DELETED.
func (s *Server) Delete(path, namespace, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.coll(path)
	key := namespace + "/" + name
	raw, ok := c.objects[key]
	if !ok {
		return
	}
	delete(c.objects, key)
	s.rv++
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	_, raw = s.stamp(m, s.rv)
	s.emitLocked(c, "DELETED", raw)
}

// Replace sets a collection's objects without any event and forgets its
// history, as a compaction does: a watch resuming from an older version gets
// 410 Gone and the client must list again.
func (s *Server) Replace(path string, objs ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rv++
	c := s.coll(path)
	c.objects = map[string]json.RawMessage{}
	for _, o := range objs {
		key, raw := s.stamp(o, s.rv)
		c.objects[key] = raw
	}
	c.log, c.start = nil, s.rv
}

// Send writes a raw event (BOOKMARK, ERROR, or an object the store does not
// hold) to the open watches of a collection, without recording it.
func (s *Server) Send(path, typ string, obj any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	line, err := json.Marshal(map[string]any{"type": typ, "object": obj})
	if err != nil {
		s.t.Fatal(err)
	}
	for _, w := range s.coll(path).watches {
		w <- line
	}
}

// NextRV returns a fresh resourceVersion (for objects given to Send).
func (s *Server) NextRV() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rv++
	return strconv.Itoa(s.rv)
}

// DropWatches breaks every open watch connection mid-stream.
func (s *Server) DropWatches() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.colls {
		for _, w := range c.watches {
			w <- nil
		}
	}
}

// ExpireNextWatch answers the next watch request with 410 Gone.
func (s *Server) ExpireNextWatch() {
	s.mu.Lock()
	s.goneNext = true
	s.mu.Unlock()
}

// SetDown makes every request fail with 503 (and drops the open watches),
// or serves again.
func (s *Server) SetDown(down bool) {
	s.mu.Lock()
	s.down = down
	s.mu.Unlock()
	if down {
		s.DropWatches()
	}
}

// NotServed makes a collection answer 404, as an API version the server does
// not serve.
func (s *Server) NotServed(path string) {
	s.mu.Lock()
	s.notServed[path] = true
	s.mu.Unlock()
}

// Stats of one collection.
type Stats struct {
	Lists   int      // list pages served
	Watches []string // the resourceVersion of each watch accepted
	Denied  int      // requests answered 401 (any collection)
}

// Stats returns the counts of a collection.
func (s *Server) Stats(path string) Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.coll(path)
	return Stats{Lists: c.lists, Watches: append([]string(nil), c.resumed...), Denied: s.denied}
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	s.mu.Lock()
	switch {
	case s.down:
		s.mu.Unlock()
		http.Error(w, `{"kind":"Status","code":503}`, http.StatusServiceUnavailable)
		return
	case r.Header.Get("Authorization") != "Bearer "+s.token:
		s.denied++
		s.mu.Unlock()
		http.Error(w, `{"kind":"Status","code":401}`, http.StatusUnauthorized)
		return
	case s.notServed[r.URL.Path]:
		s.mu.Unlock()
		http.Error(w, `{"kind":"Status","code":404,"reason":"NotFound"}`, http.StatusNotFound)
		return
	case q.Get("fieldSelector") != "spec.nodeName="+s.node:
		s.badSelector++
		s.mu.Unlock()
		s.t.Errorf("%s without the node's field selector", r.URL)
		http.Error(w, "field selector", http.StatusBadRequest)
		return
	}
	c := s.coll(r.URL.Path)
	if q.Get("watch") == "" {
		defer s.mu.Unlock()
		c.lists++
		keys := make([]string, 0, len(c.objects))
		for k := range c.objects {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		limit, _ := strconv.Atoi(q.Get("limit"))
		from, _ := strconv.Atoi(q.Get("continue"))
		from = min(from, len(keys))
		to := len(keys)
		if limit > 0 && from+limit < to {
			to = from + limit
		}
		list := map[string]any{"kind": "List", "apiVersion": "v1"}
		meta := map[string]any{"resourceVersion": strconv.Itoa(s.rv)}
		if to < len(keys) {
			meta["continue"] = strconv.Itoa(to)
		}
		list["metadata"] = meta
		items := make([]json.RawMessage, 0, to-from)
		for _, k := range keys[from:to] {
			items = append(items, c.objects[k])
		}
		list["items"] = items
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(list)
		return
	}
	if q.Get("allowWatchBookmarks") != "true" || q.Get("timeoutSeconds") == "" {
		s.t.Errorf("watch without bookmarks or timeout: %s", r.URL)
	}
	from, err := strconv.Atoi(q.Get("resourceVersion"))
	if s.goneNext || err != nil || from < c.start {
		s.goneNext = false
		s.mu.Unlock()
		http.Error(w, `{"kind":"Status","code":410,"reason":"Expired"}`, http.StatusGone)
		return
	}
	c.resumed = append(c.resumed, q.Get("resourceVersion"))
	ch := make(chan []byte, 1024)
	for _, ev := range c.log {
		if ev.rv > from {
			ch <- ev.line
		}
	}
	c.watches = append(c.watches, ch)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		for i, x := range c.watches {
			if x == ch {
				c.watches = append(c.watches[:i], c.watches[i+1:]...)
				break
			}
		}
		s.mu.Unlock()
	}()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	w.(http.Flusher).Flush()
	for {
		select {
		case <-r.Context().Done():
			return
		case line := <-ch:
			if line == nil {
				panic(http.ErrAbortHandler) // the connection breaks mid-stream
			}
			_, _ = w.Write(append(line, '\n'))
			w.(http.Flusher).Flush()
		}
	}
}
