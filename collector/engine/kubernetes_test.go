package engine

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func enginePod(ns, name, node, ip string, ann map[string]string, containers ...podContainer) *pod {
	return &pod{
		Metadata: podMeta{Namespace: ns, Name: name, Annotations: ann},
		Spec:     podSpec{NodeName: node, Containers: containers},
		Status:   podStatus{Phase: "Running", PodIP: ip},
	}
}

func hostPort(t *testing.T, raw string) (string, string) {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	h, p, err := net.SplitHostPort(u.Host)
	if err != nil {
		t.Fatal(err)
	}
	return h, p
}

// fakeAPI is a TLS Kubernetes API server for /api/v1/pods: it lists its pods
// in pages, streams the watch events the test sends, and checks the bearer
// token and the node's field selector on every request.
type fakeAPI struct {
	t    *testing.T
	srv  *httptest.Server
	node string

	mu      sync.Mutex
	token   string
	pods    []*pod
	rv      int
	goneNow bool     // answer the next watch with 410 Gone
	lists   int      // list pages served
	watches []string // resourceVersion of each watch accepted
	denied  int      // requests answered 401

	events chan string // a watch event (JSON), or "DROP" to break the connection
}

func newFakeAPI(t *testing.T, node, token string, pods ...*pod) *fakeAPI {
	f := &fakeAPI{t: t, node: node, token: token, pods: pods, rv: 10, events: make(chan string, 16)}
	f.srv = httptest.NewTLSServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeAPI) serve(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f.mu.Lock()
	if r.URL.Path != "/api/v1/pods" {
		f.mu.Unlock()
		f.t.Errorf("request for %s", r.URL.Path)
		http.NotFound(w, r)
		return
	}
	if got := r.Header.Get("Authorization"); got != "Bearer "+f.token {
		f.denied++
		f.mu.Unlock()
		http.Error(w, `{"kind":"Status","code":401}`, http.StatusUnauthorized)
		return
	}
	if sel := q.Get("fieldSelector"); sel != "spec.nodeName="+f.node {
		f.mu.Unlock()
		f.t.Errorf("%s without the node's field selector: %q", r.URL, sel)
		http.Error(w, "field selector", http.StatusBadRequest)
		return
	}
	if q.Get("watch") == "" {
		defer f.mu.Unlock()
		f.lists++
		limit, _ := strconv.Atoi(q.Get("limit"))
		from, _ := strconv.Atoi(q.Get("continue"))
		to := len(f.pods)
		if limit > 0 && from+limit < to {
			to = from + limit
		}
		var l podList
		l.Metadata.ResourceVersion = strconv.Itoa(f.rv)
		if to < len(f.pods) {
			l.Metadata.Continue = strconv.Itoa(to)
		}
		for _, p := range f.pods[from:to] {
			l.Items = append(l.Items, *p)
		}
		_ = json.NewEncoder(w).Encode(l)
		return
	}
	if q.Get("allowWatchBookmarks") != "true" || q.Get("timeoutSeconds") == "" {
		f.t.Errorf("watch without bookmarks or timeout: %s", r.URL)
	}
	if f.goneNow {
		f.goneNow = false
		f.mu.Unlock()
		http.Error(w, `{"kind":"Status","code":410,"reason":"Expired"}`, http.StatusGone)
		return
	}
	f.watches = append(f.watches, q.Get("resourceVersion"))
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	w.(http.Flusher).Flush()
	for {
		select {
		case <-r.Context().Done():
			return
		case ev := <-f.events:
			if ev == "DROP" {
				panic(http.ErrAbortHandler) // the connection breaks mid-stream
			}
			_, _ = fmt.Fprintln(w, ev)
			w.(http.Flusher).Flush()
		}
	}
}

func (f *fakeAPI) send(typ string, obj any) {
	b, err := json.Marshal(map[string]any{"type": typ, "object": obj})
	if err != nil {
		f.t.Fatal(err)
	}
	f.events <- string(b)
}

func (f *fakeAPI) nextRV() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rv++
	return strconv.Itoa(f.rv)
}

func (f *fakeAPI) state() (lists int, watches []string, denied int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lists, append([]string(nil), f.watches...), f.denied
}

// caPEM is the fake server's certificate, PEM-encoded.
func (f *fakeAPI) caPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.srv.Certificate().Raw})
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// kubeconfig writes a kubeconfig for server whose current context's user is user (YAML lines).
func kubeconfig(t *testing.T, dir, server, cluster string, user ...string) string {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: v1\nkind: Config\ncurrent-context: ctx\ncontexts:\n- name: other\n  context: {cluster: nowhere, user: nobody}\n- name: ctx\n  context:\n    cluster: c\n    user: u\n")
	fmt.Fprintf(&b, "clusters:\n- name: c\n  cluster:\n    server: %s\n", server)
	for _, l := range strings.Split(cluster, "\n") {
		if l != "" {
			fmt.Fprintf(&b, "    %s\n", l)
		}
	}
	b.WriteString("users:\n- name: u\n  user:\n")
	for _, l := range user {
		fmt.Fprintf(&b, "    %s\n", l)
	}
	return writeFile(t, dir, "kubeconfig", b.String())
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestKubernetesDiscovery(t *testing.T) {
	prefillHost, prefillPort := hostPort(t, serve(t, textPage(fixture(t, "sglang-prefill-tp2.txt"))))
	vllmHost, vllmPort := hostPort(t, serve(t, textPage(fixture(t, "vllm-v1-dp2.txt"))))
	port, _ := strconv.Atoi(vllmPort)
	scrape := map[string]string{annScrape: "true", annPort: prefillPort}
	llama := enginePod("llm", "llama-0", "n1", vllmHost, map[string]string{annScrape: "true", annPath: "/metrics"},
		podContainer{Name: "vllm", Ports: []containerPort{{ContainerPort: port}}})
	pending := enginePod("llm", "pending", "n1", "", scrape, podContainer{Name: "sglang"})
	pending.Status.Phase = "Pending"
	api := newFakeAPI(t, "n1", "token-1",
		// Annotated, on this node: the container declaring the port is the one labelled.
		enginePod("llm", "chat-prefill-0", "n1", prefillHost, scrape,
			podContainer{Name: "router"}, podContainer{Name: "sglang", Ports: []containerPort{{ContainerPort: 30000}, {ContainerPort: mustAtoi(prefillPort)}}}),
		// No port annotation, one declared TCP port.
		llama,
		// Not for this exporter (the fake server ignores the field selector; the exporter checks it again).
		enginePod("llm", "other-node", "n2", prefillHost, scrape, podContainer{Name: "sglang"}),
		enginePod("llm", "not-annotated", "n1", prefillHost, nil, podContainer{Name: "sglang"}),
		enginePod("llm", "bad-port", "n1", prefillHost, map[string]string{annScrape: "true", annPort: "http"}, podContainer{Name: "sglang"}),
		pending,
	)
	dir := t.TempDir()
	writeFile(t, dir, "token", "token-1\n")
	writeFile(t, dir, "ca.crt", string(api.caPEM()))
	client, err := NewKubernetesClient(kubeconfig(t, dir, api.srv.URL, "certificate-authority: ca.crt", "tokenFile: token"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(Config{Kubernetes: true, NodeName: "n1", KubeClient: client}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	c.kube.pageSize = 2
	c.kube.backoffMin, c.kube.backoffMax = 5*time.Millisecond, 50*time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c.Start(ctx) // waits for the first list

	if lists, _, _ := api.state(); lists != 3 {
		t.Errorf("6 pods in pages of 2: %d list requests", lists)
	}
	mfs := gather(t, c)
	ups := samples(mfs, "llm_engine_up")
	if len(ups) != 2 {
		t.Fatalf("targets: %v", ups)
	}
	s := one(t, mfs, "llm_engine_up", map[string]string{"pod": "chat-prefill-0"})
	if s.value != 1 || s.labels["namespace"] != "llm" || s.labels["container"] != "sglang" || s.labels["engine"] != "sglang" {
		t.Errorf("prefill pod: %+v", s)
	}
	if s := one(t, mfs, "llm_engine_up", map[string]string{"pod": "llama-0"}); s.value != 1 || s.labels["container"] != "vllm" {
		t.Errorf("vllm pod: %+v", s)
	}
	one(t, mfs, "llm_engine_stage_latency_seconds", map[string]string{"pod": "chat-prefill-0", "namespace": "llm", "container": "sglang", "role": "prefill", "stage": "prefill_forward"})

	targets := func() []string {
		var out []string
		for _, tg := range c.targets() {
			out = append(out, tg.Labels.Pod)
		}
		sort.Strings(out)
		return out
	}
	waitTargets := func(what string, want ...string) {
		t.Helper()
		waitFor(t, what, func() bool { return strings.Join(targets(), ",") == strings.Join(want, ",") })
	}
	waitFor(t, "the watch", func() bool { _, w, _ := api.state(); return len(w) == 1 })
	if _, w, _ := api.state(); w[0] != "10" {
		t.Errorf("watch from resourceVersion %q, want the list's 10", w[0])
	}

	// A deleted pod's target goes away.
	del := *llama
	del.Metadata.ResourceVersion = api.nextRV()
	api.send("DELETED", del)
	waitTargets("the deleted pod to go", "chat-prefill-0")

	// A pod that becomes ready is added; one on another node is not.
	ready := *pending
	ready.Status = podStatus{Phase: "Running", PodIP: prefillHost}
	ready.Spec.Containers = []podContainer{{Name: "sglang"}}
	ready.Metadata.Annotations = map[string]string{annScrape: "true", annPort: prefillPort, annPath: "/other"}
	ready.Metadata.ResourceVersion = api.nextRV()
	api.send("MODIFIED", ready)
	stray := enginePod("llm", "stray", "n2", vllmHost, map[string]string{annScrape: "true", annPort: vllmPort})
	stray.Metadata.ResourceVersion = api.nextRV()
	api.send("ADDED", stray)
	waitTargets("the ready pod", "chat-prefill-0", "pending")

	// A bookmark moves the resourceVersion on; a broken connection resumes from it.
	api.send("BOOKMARK", pod{Metadata: podMeta{ResourceVersion: "42"}})
	api.events <- "DROP"
	waitFor(t, "the watch again", func() bool { _, w, _ := api.state(); return len(w) == 2 })
	if _, w, _ := api.state(); w[1] != "42" {
		t.Errorf("watch resumed from %q, want the bookmark's 42", w[1])
	}

	// The token rotates: the old one is refused (401), the file is read again.
	api.mu.Lock()
	api.token = "token-2"
	api.mu.Unlock()
	writeFile(t, dir, "token", "token-2\n")
	api.events <- "DROP"
	waitFor(t, "a watch with the new token", func() bool { _, w, _ := api.state(); return len(w) == 3 })
	if _, _, denied := api.state(); denied != 1 {
		t.Errorf("%d requests refused, want the one with the old token", denied)
	}

	// An ERROR event with code 410: the exporter lists again, and sees what it
	// missed (llama-0 back, chat-prefill-0 gone without an event).
	api.mu.Lock()
	api.pods = []*pod{llama, &ready}
	api.rv = 50
	api.mu.Unlock()
	api.send("ERROR", apiStatus{Code: 410, Reason: "Expired", Message: "too old resource version"})
	waitTargets("the list after the 410 event", "llama-0", "pending")
	waitFor(t, "the watch after the list", func() bool { _, w, _ := api.state(); return len(w) == 4 })
	if _, w, _ := api.state(); w[3] != "50" {
		t.Errorf("watch after the new list from %q, want 50", w[3])
	}

	// A watch answered 410 Gone: list again.
	lists, _, _ := api.state()
	api.mu.Lock()
	api.goneNow = true
	api.pods = []*pod{llama}
	api.mu.Unlock()
	api.events <- "DROP"
	waitTargets("the list after the 410 answer", "llama-0")
	if l, _, _ := api.state(); l != lists+1 {
		t.Errorf("%d lists after the 410 answer, want 1", l-lists)
	}
}

func mustAtoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		panic(err)
	}
	return n
}

func TestKubernetesStartDoesNotWaitForever(t *testing.T) {
	api := newFakeAPI(t, "n1", "right")
	dir := t.TempDir()
	client, err := NewKubernetesClient(kubeconfig(t, dir, api.srv.URL, "insecure-skip-tls-verify: true", "token: wrong"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(Config{Kubernetes: true, NodeName: "n1", KubeClient: client}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	c.kube.backoffMin, c.kube.backoffMax = 5*time.Millisecond, 20*time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	c.Start(ctx) // the token is refused: Start returns when ctx ends, the scrape works
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Start took %v", d)
	}
	if n := len(samples(gather(t, c), "llm_engine_up")); n != 0 {
		t.Errorf("%d targets", n)
	}
	if _, _, denied := api.state(); denied < 2 {
		t.Errorf("the list was not retried: %d refusals", denied)
	}
}

func TestInClusterClient(t *testing.T) {
	api := newFakeAPI(t, "n1", "sa-token", enginePod("ns", "p", "n1", "10.0.0.5", map[string]string{annScrape: "true", annPort: "8000"}, podContainer{Name: "c"}))
	dir := t.TempDir()
	writeFile(t, dir, "token", "sa-token")
	writeFile(t, dir, "ca.crt", string(api.caPEM()))
	old := serviceAccountDir
	serviceAccountDir = dir
	t.Cleanup(func() { serviceAccountDir = old })
	u, _ := url.Parse(api.srv.URL)
	host, port, _ := net.SplitHostPort(u.Host)
	t.Setenv("KUBERNETES_SERVICE_HOST", host)
	t.Setenv("KUBERNETES_SERVICE_PORT", port)
	client, err := NewKubernetesClient("")
	if err != nil {
		t.Fatal(err)
	}
	var got []Target
	d := newKubeDiscovery(client, "n1", quiet, func(t []Target) { got = t })
	if _, err := d.list(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].URL != "http://10.0.0.5:8000/metrics" {
		t.Errorf("targets: %+v", got)
	}

	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	if _, err := NewKubernetesClient(""); err == nil || !strings.Contains(err.Error(), "--engine.kubeconfig") {
		t.Errorf("outside a cluster: %v", err)
	}
}

// clientCert is a self-signed client certificate and its key, PEM-encoded.
func clientCert(t *testing.T) (certPEM, keyPEM []byte, cert *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "system:node:n1"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ = x509.ParseCertificate(der)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), cert
}

func TestKubeconfig(t *testing.T) {
	certPEM, keyPEM, cert := clientCert(t)
	// A server that wants the client certificate and no token.
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	mtls := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.TLS.PeerCertificates) == 0 || r.Header.Get("Authorization") != "" {
			http.Error(w, "who?", http.StatusUnauthorized)
			return
		}
		_, _ = fmt.Fprint(w, `{"metadata":{"resourceVersion":"7"},"items":[]}`)
	}))
	mtls.TLS = &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool}
	mtls.StartTLS()
	defer mtls.Close()
	mtlsCA := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: mtls.Certificate().Raw})
	api := newFakeAPI(t, "n1", "static-token")
	b64 := func(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

	dir := t.TempDir()
	writeFile(t, dir, "client.crt", string(certPEM))
	writeFile(t, dir, "client.key", string(keyPEM))
	writeFile(t, dir, "ca.crt", string(api.caPEM()))
	for name, tc := range map[string]struct {
		server, cluster string
		user            []string
		err             string // "" for a client whose list works
	}{
		"token, CA file":        {api.srv.URL, "certificate-authority: ca.crt", []string{"token: static-token"}, ""},
		"token, CA data":        {api.srv.URL, "certificate-authority-data: " + b64(api.caPEM()), []string{"token: static-token"}, ""},
		"token, insecure":       {api.srv.URL, "insecure-skip-tls-verify: true", []string{"token: static-token"}, ""},
		"wrong token":           {api.srv.URL, "insecure-skip-tls-verify: true", []string{"token: nope"}, "401"},
		"no CA":                 {api.srv.URL, "", []string{"token: static-token"}, "certificate"},
		"client cert files":     {mtls.URL, "certificate-authority-data: " + b64(mtlsCA), []string{"client-certificate: client.crt", "client-key: " + filepath.Join(dir, "client.key")}, ""},
		"client cert data":      {mtls.URL, "certificate-authority-data: " + b64(mtlsCA), []string{"client-certificate-data: " + b64(certPEM), "client-key-data: " + b64(keyPEM)}, ""},
		"no client cert":        {mtls.URL, "certificate-authority-data: " + b64(mtlsCA), []string{"token: x"}, "certificate"},
		"cert without key":      {mtls.URL, "", []string{"client-certificate: client.crt"}, "needs both"},
		"exec plugin":           {api.srv.URL, "", []string{"exec:", "  apiVersion: client.authentication.k8s.io/v1", "  command: aws"}, "exec credential plugins are not supported"},
		"auth provider":         {api.srv.URL, "", []string{"auth-provider:", "  name: oidc"}, "auth-provider is not supported"},
		"basic auth":            {api.srv.URL, "", []string{"username: admin", "password: x"}, "basic auth is not supported"},
		"missing token file":    {api.srv.URL, "", []string{"tokenFile: /nonexistent/token"}, "no such file"},
		"server not a URL":      {"api.example:6443", "", []string{"token: x"}, "not an http(s) URL"},
		"bad CA data":           {api.srv.URL, "certificate-authority-data: bm90IGEgY2VydA==", []string{"token: x"}, "no PEM certificate"},
		"unreadable kubeconfig": {"", "", nil, "no such file"},
	} {
		path := filepath.Join(dir, "missing")
		if tc.server != "" {
			path = kubeconfig(t, dir, tc.server, tc.cluster, tc.user...)
		}
		client, err := NewKubernetesClient(path)
		if err == nil {
			d := newKubeDiscovery(client, "n1", quiet, func([]Target) {})
			_, err = d.list(context.Background())
		}
		if tc.err == "" && err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%s: got %v, want an error with %q", name, err, tc.err)
		}
	}

	// No current context, or one that is not there.
	for _, text := range []string{"apiVersion: v1\nkind: Config\n", "current-context: gone\n", "{not yaml"} {
		if _, err := NewKubernetesClient(writeFile(t, dir, "bad", text)); err == nil {
			t.Errorf("kubeconfig %q accepted", text)
		}
	}
}

func TestPodTarget(t *testing.T) {
	for name, tc := range map[string]struct {
		pod  *pod
		want string // "" for no target
	}{
		"annotated":     {enginePod("ns", "p", "n", "10.0.0.5", map[string]string{annScrape: "true", annPort: "30000"}, podContainer{Name: "c"}), "http://10.0.0.5:30000/metrics"},
		"path, scheme":  {enginePod("ns", "p", "n", "10.0.0.5", map[string]string{annScrape: "true", annPort: "8000", annPath: "/m", annScheme: "https"}, podContainer{Name: "c"}), "https://10.0.0.5:8000/m"},
		"ipv6":          {enginePod("ns", "p", "n", "fd00::5", map[string]string{annScrape: "true", annPort: "8000"}, podContainer{Name: "c"}), "http://[fd00::5]:8000/metrics"},
		"scrape=false":  {enginePod("ns", "p", "n", "10.0.0.5", map[string]string{annScrape: "false", annPort: "8000"}, podContainer{Name: "c"}), ""},
		"no port":       {enginePod("ns", "p", "n", "10.0.0.5", map[string]string{annScrape: "true"}, podContainer{Name: "c"}), ""},
		"two ports":     {enginePod("ns", "p", "n", "10.0.0.5", map[string]string{annScrape: "true"}, podContainer{Name: "c", Ports: []containerPort{{ContainerPort: 1}, {ContainerPort: 2}}}), ""},
		"port too big":  {enginePod("ns", "p", "n", "10.0.0.5", map[string]string{annScrape: "true", annPort: "70000"}, podContainer{Name: "c"}), ""},
		"no IP yet":     {enginePod("ns", "p", "n", "", map[string]string{annScrape: "true", annPort: "8000"}, podContainer{Name: "c"}), ""},
		"bad scheme":    {enginePod("ns", "p", "n", "10.0.0.5", map[string]string{annScrape: "true", annPort: "8000", annScheme: "grpc"}, podContainer{Name: "c"}), ""},
		"udp port only": {enginePod("ns", "p", "n", "10.0.0.5", map[string]string{annScrape: "true"}, podContainer{Name: "c", Ports: []containerPort{{ContainerPort: 1, Protocol: "UDP"}}}), ""},
		"deleting": {func() *pod {
			p := enginePod("ns", "p", "n", "10.0.0.5", map[string]string{annScrape: "true", annPort: "8000"}, podContainer{Name: "c"})
			ts := "2026-01-01T00:00:00Z"
			p.Metadata.DeletionTimestamp = &ts
			return p
		}(), ""},
	} {
		got, ok, _ := podTarget(tc.pod)
		if (tc.want == "") == ok || (ok && got.URL != tc.want) {
			t.Errorf("%s: got %q (%v), want %q", name, got.URL, ok, tc.want)
		}
	}
}

// The API server's JSON, not this package's structs, is what the decoder meets.
func TestPodDecodesAPIJSON(t *testing.T) {
	const raw = `{"kind":"Pod","apiVersion":"v1","metadata":{"name":"p","namespace":"ns","uid":"u","resourceVersion":"123",
	"deletionTimestamp":"2026-01-01T00:00:00Z","annotations":{"prometheus.io/scrape":"true"},"managedFields":[{"manager":"kubelet"}]},
	"spec":{"nodeName":"n1","containers":[{"name":"c","image":"i","ports":[{"name":"http","containerPort":8000,"protocol":"TCP"}]}]},
	"status":{"phase":"Running","podIP":"10.0.0.5","podIPs":[{"ip":"10.0.0.5"}]}}`
	var p pod
	if err := json.Unmarshal([]byte(raw), &p); err != nil {
		t.Fatal(err)
	}
	if p.Metadata.Name != "p" || p.Metadata.Namespace != "ns" || p.Metadata.ResourceVersion != "123" || p.Metadata.DeletionTimestamp == nil ||
		p.Metadata.Annotations[annScrape] != "true" || p.Spec.NodeName != "n1" || p.Spec.Containers[0].Ports[0].ContainerPort != 8000 ||
		p.Spec.Containers[0].Ports[0].Protocol != "TCP" || p.Status.Phase != "Running" || p.Status.PodIP != "10.0.0.5" {
		t.Errorf("decoded %+v", p)
	}
}

func TestKubernetesNeedsNodeName(t *testing.T) {
	if _, err := New(Config{Kubernetes: true, KubeClient: &KubeClient{}}, quiet); err == nil {
		t.Error("--engine.kubernetes without a node name was accepted")
	}
}
