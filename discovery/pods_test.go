package discovery

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
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/llm-node-exporter/llm-node-exporter/discovery/fakeapi"
)

var quiet = slog.New(slog.DiscardHandler)

// annotated is a running engine pod of node with the scrape annotations.
func annotated(ns, name, uid, node, ip string, ann map[string]string, containers ...fakeapi.Container) *fakeapi.Pod {
	p := fakeapi.NewPod(ns, name, uid, node, ip, "x", "")
	p.Metadata.Annotations = ann
	p.Spec.Containers = containers
	return p
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

// fastPods is a Pods of node n1 on the fake server, retrying quickly.
func fastPods(t *testing.T, api *fakeapi.Server) *Pods {
	t.Helper()
	client, err := NewClient(api.Kubeconfig(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	p := NewPods(client, "n1", quiet)
	p.w.backoffMin, p.w.backoffMax = 5*time.Millisecond, 50*time.Millisecond
	return p
}

// targetsOf collects what a Pods publishes.
type targetsOf struct {
	mu   sync.Mutex
	last []Target
	n    int
}

func (g *targetsOf) set(t []Target) {
	g.mu.Lock()
	g.last, g.n = t, g.n+1
	g.mu.Unlock()
}

func (g *targetsOf) pods() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []string
	for _, t := range g.last {
		out = append(out, t.Labels.Namespace+"/"+t.Labels.Pod+"/"+t.Labels.Container+"@"+t.URL)
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

func TestPodsTargets(t *testing.T) {
	scrape := map[string]string{annScrape: "true", annPort: "30001"}
	api := fakeapi.New(t, "n1", "token-1")
	api.Replace(fakeapi.Pods,
		// Annotated, on this node: the container declaring the port is the one labelled.
		annotated("llm", "chat-prefill-0", "u1", "n1", "10.0.0.1", scrape,
			fakeapi.Container{Name: "router"}, fakeapi.Container{Name: "sglang", Ports: []fakeapi.Port{{ContainerPort: 30000}, {ContainerPort: 30001}}}),
		// No port annotation, one declared TCP port.
		annotated("llm", "llama-0", "u2", "n1", "10.0.0.2", map[string]string{annScrape: "true", annPath: "/metrics"},
			fakeapi.Container{Name: "vllm", Ports: []fakeapi.Port{{ContainerPort: 8000}}}),
		// Not for this exporter (the fake server ignores the field selector; the client checks it again).
		annotated("llm", "other-node", "u3", "n2", "10.0.0.3", scrape, fakeapi.Container{Name: "sglang"}),
		annotated("llm", "not-annotated", "u4", "n1", "10.0.0.4", nil, fakeapi.Container{Name: "sglang"}),
		annotated("llm", "bad-port", "u5", "n1", "10.0.0.5", map[string]string{annScrape: "true", annPort: "http"}, fakeapi.Container{Name: "sglang"}),
		func() *fakeapi.Pod {
			p := annotated("llm", "pending", "u6", "n1", "", scrape, fakeapi.Container{Name: "sglang"})
			p.Status.Phase = "Pending"
			return p
		}(),
	)
	p := fastPods(t, api)
	p.w.pageSize = 2
	var got targetsOf
	p.OnTargets(got.set)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p.Start(ctx)
	p.Start(ctx) // a second user of the shared watcher: no second loop
	if !p.WaitSynced(ctx, 10*time.Second) {
		t.Fatal("not synced")
	}
	if st := api.Stats(fakeapi.Pods); st.Lists != 3 {
		t.Errorf("6 pods in pages of 2: %d list requests", st.Lists)
	}
	want := "llm/chat-prefill-0/sglang@http://10.0.0.1:30001/metrics llm/llama-0/vllm@http://10.0.0.2:8000/metrics"
	if got.pods() != want {
		t.Errorf("targets %s, want %s", got.pods(), want)
	}
	waitTargets := func(what, want string) {
		t.Helper()
		waitFor(t, what+": "+want, func() bool { return got.pods() == want })
	}
	waitFor(t, "the watch", func() bool { return len(api.Stats(fakeapi.Pods).Watches) == 1 })

	// A deleted pod's target goes away.
	api.Delete(fakeapi.Pods, "llm", "llama-0")
	waitTargets("the deleted pod to go", "llm/chat-prefill-0/sglang@http://10.0.0.1:30001/metrics")

	// A pod that becomes ready is added; one on another node is not.
	ready := annotated("llm", "pending", "u6", "n1", "10.0.0.6", map[string]string{annScrape: "true", annPort: "30001", annPath: "/other"}, fakeapi.Container{Name: "sglang"})
	api.Put(fakeapi.Pods, ready)
	api.Put(fakeapi.Pods, annotated("llm", "stray", "u7", "n2", "10.0.0.7", scrape))
	waitTargets("the ready pod", "llm/chat-prefill-0/sglang@http://10.0.0.1:30001/metrics llm/pending/sglang@http://10.0.0.6:30001/other")
	if _, ok := p.ByUID("u7"); ok {
		t.Error("a pod of another node is indexed")
	}

	// A bookmark moves the resourceVersion on; a broken connection resumes from it.
	rv := api.NextRV()
	api.Send(fakeapi.Pods, "BOOKMARK", map[string]any{"kind": "Pod", "metadata": map[string]any{"resourceVersion": rv}})
	api.DropWatches()
	waitFor(t, "the watch again", func() bool { return len(api.Stats(fakeapi.Pods).Watches) == 2 })
	if w := api.Stats(fakeapi.Pods).Watches; w[1] != rv {
		t.Errorf("watch resumed from %q, want the bookmark's %s", w[1], rv)
	}

	// An ERROR event with code 410: list again, and see what was missed
	// (llama-0 back, chat-prefill-0 gone without an event).
	api.Replace(fakeapi.Pods, annotated("llm", "llama-0", "u2", "n1", "10.0.0.2", map[string]string{annScrape: "true"},
		fakeapi.Container{Name: "vllm", Ports: []fakeapi.Port{{ContainerPort: 8000}}}), ready)
	api.Send(fakeapi.Pods, "ERROR", apiStatus{Code: 410, Reason: "Expired", Message: "too old resource version"})
	waitTargets("the list after the 410 event", "llm/llama-0/vllm@http://10.0.0.2:8000/metrics llm/pending/sglang@http://10.0.0.6:30001/other")

	// A watch answered 410 Gone: list again.
	waitFor(t, "the watch after the list", func() bool { return len(api.Stats(fakeapi.Pods).Watches) == 3 })
	lists := api.Stats(fakeapi.Pods).Lists
	api.ExpireNextWatch()
	api.DropWatches()
	waitFor(t, "a list after the 410 answer", func() bool { return api.Stats(fakeapi.Pods).Lists > lists })
}

// The token rotates: the old one is refused (401), the file is read again.
func TestPodsTokenRotation(t *testing.T) {
	api := fakeapi.New(t, "n1", "token-1")
	dir := t.TempDir()
	writeFile(t, dir, "token", "token-1\n")
	writeFile(t, dir, "ca.crt", string(api.CAPEM()))
	client, err := NewClient(kubeconfig(t, dir, api.URL(), "certificate-authority: ca.crt", "tokenFile: token"))
	if err != nil {
		t.Fatal(err)
	}
	p := NewPods(client, "n1", quiet)
	p.w.backoffMin, p.w.backoffMax = 5*time.Millisecond, 50*time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p.Start(ctx)
	waitFor(t, "the watch", func() bool { return len(api.Stats(fakeapi.Pods).Watches) == 1 })
	api.SetToken("token-2")
	writeFile(t, dir, "token", "token-2\n")
	api.DropWatches()
	waitFor(t, "a watch with the new token", func() bool { return len(api.Stats(fakeapi.Pods).Watches) == 2 })
	if denied := api.Stats(fakeapi.Pods).Denied; denied != 1 {
		t.Errorf("%d requests refused, want the one with the old token", denied)
	}
}

// Pods by UID, with their containers by id; a pod recreated under the same
// name (a StatefulSet's) gets its new UID, the old one is forgotten.
func TestPodsByUID(t *testing.T) {
	api := fakeapi.New(t, "n1", "tok")
	api.Replace(fakeapi.Pods, fakeapi.NewPod("llm", "decode-0", "uid-1", "n1", "10.0.0.1", "sglang", "ABC123def4567890"))
	p := fastPods(t, api)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p.Start(ctx)
	if !p.WaitSynced(ctx, 10*time.Second) {
		t.Fatal("not synced")
	}
	pd, ok := p.ByUID("uid-1")
	if byName, _ := p.ByName("llm", "decode-0"); !ok || pd.Namespace != "llm" || pd.Name != "decode-0" || pd.Containers["abc123def4567890"] != "sglang" || byName.UID != "uid-1" {
		t.Errorf("ByUID(uid-1) = %+v, %v", pd, ok)
	}
	waitFor(t, "the watch", func() bool { return len(api.Stats(fakeapi.Pods).Watches) == 1 })
	api.Delete(fakeapi.Pods, "llm", "decode-0")
	api.Put(fakeapi.Pods, fakeapi.NewPod("llm", "decode-0", "uid-2", "n1", "10.0.0.9", "sglang", "fedcba9876543210"))
	waitFor(t, "the new pod", func() bool { _, ok := p.ByUID("uid-2"); return ok })
	if _, ok := p.ByUID("uid-1"); ok {
		t.Error("the old UID is still known")
	}
	if st := p.Status(); !st.Synced || st.Failing || st.Errors != 0 {
		t.Errorf("status %+v", st)
	}

	// The API server goes down: the pods stay, the failures are counted.
	api.SetDown(true)
	waitFor(t, "a counted failure", func() bool { st := p.Status(); return st.Failing && st.Errors > 0 })
	if _, ok := p.ByUID("uid-2"); !ok {
		t.Error("the last good pods were not kept while the API server is down")
	}
	api.SetDown(false)
	waitFor(t, "recovery", func() bool { return !p.Status().Failing })
}

func TestPodsStartDoesNotWaitForever(t *testing.T) {
	api := fakeapi.New(t, "n1", "right")
	dir := t.TempDir()
	client, err := NewClient(kubeconfig(t, dir, api.URL(), "insecure-skip-tls-verify: true", "token: wrong"))
	if err != nil {
		t.Fatal(err)
	}
	p := NewPods(client, "n1", quiet)
	p.w.backoffMin, p.w.backoffMax = 5*time.Millisecond, 20*time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p.Start(ctx)
	// The client's own count: the API server counts a denial before the client has read it.
	waitFor(t, "retries", func() bool { return api.Stats(fakeapi.Pods).Denied >= 2 && p.Status().Errors >= 2 })
	short, cancelShort := context.WithCancel(ctx)
	cancelShort()
	if p.WaitSynced(short, time.Hour) {
		t.Error("synced with a refused token")
	}
	if st := p.Status(); st.Synced || !st.Failing || st.Errors < 2 || !strings.Contains(st.LastErr.Error(), "401") {
		t.Errorf("status %+v", st)
	}
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

func TestInClusterClient(t *testing.T) {
	api := fakeapi.New(t, "n1", "sa-token")
	api.Replace(fakeapi.Pods, annotated("ns", "p", "u", "n1", "10.0.0.5", map[string]string{annScrape: "true", annPort: "8000"}, fakeapi.Container{Name: "c"}))
	dir := t.TempDir()
	writeFile(t, dir, "token", "sa-token")
	writeFile(t, dir, "ca.crt", string(api.CAPEM()))
	old := serviceAccountDir
	serviceAccountDir = dir
	t.Cleanup(func() { serviceAccountDir = old })
	u, _ := url.Parse(api.URL())
	host, port, _ := net.SplitHostPort(u.Host)
	t.Setenv("KUBERNETES_SERVICE_HOST", host)
	t.Setenv("KUBERNETES_SERVICE_PORT", port)
	client, err := NewClient("")
	if err != nil {
		t.Fatal(err)
	}
	var got []Target
	p := NewPods(client, "n1", quiet)
	p.OnTargets(func(t []Target) { got = t })
	if _, err := p.w.list(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].URL != "http://10.0.0.5:8000/metrics" {
		t.Errorf("targets: %+v", got)
	}

	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	if _, err := NewClient(""); err == nil || !strings.Contains(err.Error(), "--engine.kubeconfig") {
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
	api := fakeapi.New(t, "n1", "static-token")
	b64 := func(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

	dir := t.TempDir()
	writeFile(t, dir, "client.crt", string(certPEM))
	writeFile(t, dir, "client.key", string(keyPEM))
	writeFile(t, dir, "ca.crt", string(api.CAPEM()))
	for name, tc := range map[string]struct {
		server, cluster string
		user            []string
		err             string // "" for a client whose list works
	}{
		"token, CA file":        {api.URL(), "certificate-authority: ca.crt", []string{"token: static-token"}, ""},
		"token, CA data":        {api.URL(), "certificate-authority-data: " + b64(api.CAPEM()), []string{"token: static-token"}, ""},
		"token, insecure":       {api.URL(), "insecure-skip-tls-verify: true", []string{"token: static-token"}, ""},
		"wrong token":           {api.URL(), "insecure-skip-tls-verify: true", []string{"token: nope"}, "401"},
		"no CA":                 {api.URL(), "", []string{"token: static-token"}, "certificate"},
		"client cert files":     {mtls.URL, "certificate-authority-data: " + b64(mtlsCA), []string{"client-certificate: client.crt", "client-key: " + filepath.Join(dir, "client.key")}, ""},
		"client cert data":      {mtls.URL, "certificate-authority-data: " + b64(mtlsCA), []string{"client-certificate-data: " + b64(certPEM), "client-key-data: " + b64(keyPEM)}, ""},
		"no client cert":        {mtls.URL, "certificate-authority-data: " + b64(mtlsCA), []string{"token: x"}, "certificate"},
		"cert without key":      {mtls.URL, "", []string{"client-certificate: client.crt"}, "needs both"},
		"exec plugin":           {api.URL(), "", []string{"exec:", "  apiVersion: client.authentication.k8s.io/v1", "  command: aws"}, "exec credential plugins are not supported"},
		"auth provider":         {api.URL(), "", []string{"auth-provider:", "  name: oidc"}, "auth-provider is not supported"},
		"basic auth":            {api.URL(), "", []string{"username: admin", "password: x"}, "basic auth is not supported"},
		"missing token file":    {api.URL(), "", []string{"tokenFile: /nonexistent/token"}, "no such file"},
		"server not a URL":      {"api.example:6443", "", []string{"token: x"}, "not an http(s) URL"},
		"bad CA data":           {api.URL(), "certificate-authority-data: bm90IGEgY2VydA==", []string{"token: x"}, "no PEM certificate"},
		"unreadable kubeconfig": {"", "", nil, "no such file"},
	} {
		path := filepath.Join(dir, "missing")
		if tc.server != "" {
			path = kubeconfig(t, dir, tc.server, tc.cluster, tc.user...)
		}
		client, err := NewClient(path)
		if err == nil {
			_, err = NewPods(client, "n1", quiet).w.list(context.Background())
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
		if _, err := NewClient(writeFile(t, dir, "bad", text)); err == nil {
			t.Errorf("kubeconfig %q accepted", text)
		}
	}
}

func enginePod(ns, name, node, ip string, ann map[string]string, containers ...podContainer) *pod {
	return &pod{
		Metadata: podMeta{Namespace: ns, Name: name, Annotations: ann},
		Spec:     podSpec{NodeName: node, Containers: containers},
		Status:   podStatus{Phase: "Running", PodIP: ip},
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
