package main

// End-to-end tests of the promise that one stuck or hostile source costs only
// its own series: a hung engine, a /proc read blocked in the kernel, idle
// connection floods, wrong-password floods, and SIGTERM in every mode, all
// through the built binary on the fixture node.

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	prompb "buf.build/gen/go/prometheus/prometheus/protocolbuffers/go"
	"github.com/prometheus/client_golang/exp/api/remote"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"golang.org/x/crypto/bcrypt"
	"google.golang.org/protobuf/proto"
)

// hungEngine is an engine target that accepts connections and never sends
// a byte back, as an engine stuck after accept does.
func hungEngine(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	return "http://" + l.Addr().String() + "/metrics"
}

// process is the binary run with its lifetime in the test's hands.
type process struct {
	*exporter
	cmd  *exec.Cmd
	done chan struct{}
}

// spawn runs the binary with args (a free loopback address is added unless
// listen is false) and, when listening, waits until ready(url) holds.
func spawn(t *testing.T, listen bool, ready func(url string) bool, args ...string) *process {
	t.Helper()
	url := ""
	if listen {
		addr := freeAddr(t)
		args = append([]string{"--web.listen-address=" + addr}, args...)
		url = "http://" + addr
	}
	cmd := exec.Command(binary, args...)
	logs := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{exporter: &exporter{url: url, log: logs}, cmd: cmd, done: make(chan struct{})}
	go func() { cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-p.done
	})
	if !listen {
		return p
	}
	if ready == nil {
		ready = func(url string) bool {
			resp, err := http.Get(url + "/")
			if err != nil {
				return false
			}
			resp.Body.Close()
			return true
		}
	}
	for end := time.Now().Add(30 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if ready(p.url) {
			return p
		}
		select {
		case <-p.done:
			t.Fatalf("exporter exited: %s", logs)
		default:
		}
	}
	t.Fatalf("exporter never served: %s", logs)
	return nil
}

// stopWithin sends SIGTERM and fails unless the process exits with code 0
// within d.
func (p *process) stopWithin(t *testing.T, d time.Duration) {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(d):
		t.Fatalf("still running %s after SIGTERM:\n%s", d, p.log)
	}
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("exit code %d after SIGTERM:\n%s", code, p.log)
	}
}

// scrapeAsPrometheus scrapes like Prometheus with scrape_timeout timeout: it
// sends the timeout header and gives up when the timeout passes.
func scrapeAsPrometheus(client *http.Client, url string, timeout time.Duration, user, pass string) (int, map[string]*dto.MetricFamily, error) {
	req, err := http.NewRequest(http.MethodGet, url+"/metrics", nil)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", fmt.Sprint(timeout.Seconds()))
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	c := *client
	c.Timeout = timeout
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, nil, nil
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := parser.TextToMetricFamilies(strings.NewReader(string(body)))
	return resp.StatusCode, mfs, err
}

// nodeServed says what is missing from a page that must carry the fixture
// node's InfiniBand series and, with gpus, the fake NVML's 8 GPUs.
func nodeServed(mfs map[string]*dto.MetricFamily, gpus bool) error {
	if n := len(mfs["llm_infiniband_state_id"].GetMetric()); n == 0 {
		return errors.New("no InfiniBand series")
	}
	if gpus && len(mfs["llm_gpu_power_watts"].GetMetric()) != 8 {
		return fmt.Errorf("%d llm_gpu_power_watts series, want 8", len(mfs["llm_gpu_power_watts"].GetMetric()))
	}
	return nil
}

// engineFailed: the hung target is reported failed, by the framework (the
// collector missed the deadline) or by the collector itself (target down).
func engineFailed(mfs map[string]*dto.MetricFamily) bool {
	if value(mfs, "llm_exporter_collector_success", "collector", "engine") == 0 {
		return true
	}
	for _, m := range mfs["llm_engine_up"].GetMetric() {
		if m.GetGauge().GetValue() == 0 {
			return true
		}
	}
	return false
}

// TestHungEngineDoesNotHoldBackTheNode: an engine target that accepts and
// never answers (its own timeout 30 s, so only the scrape deadline saves the
// scrape), 40 scrapes abandoned after 1 s, then two Prometheus replicas
// scraping every 5 s with a 4 s timeout: every one of their scrapes is
// served the GPU and InfiniBand series within its deadline, the engine
// reported failed, and nothing is refused.
func TestHungEngineDoesNotHoldBackTheNode(t *testing.T) {
	engine := hungEngine(t)
	e := startGPU(t, "--engine.target="+engine, "--engine.timeout=30s", "--no-attribution.kubelet")

	var abandoned sync.WaitGroup
	var refused atomic.Int32
	for i := 0; i < 40; i++ {
		abandoned.Add(1)
		go func() {
			defer abandoned.Done()
			client := &http.Client{Timeout: time.Second}
			resp, err := client.Get(e.url + "/metrics")
			if err == nil {
				if resp.StatusCode == http.StatusServiceUnavailable {
					refused.Add(1)
				}
				resp.Body.Close()
			}
		}()
	}
	abandoned.Wait()
	if n := refused.Load(); n > 0 {
		t.Errorf("%d of the 40 scrapes refused with 503", n)
	}

	const rounds, interval, timeout = 4, 5 * time.Second, 4 * time.Second
	var replicas sync.WaitGroup
	for r := 0; r < 2; r++ {
		replicas.Add(1)
		go func() {
			defer replicas.Done()
			client := &http.Client{Transport: &http.Transport{}}
			tick := time.NewTicker(interval)
			defer tick.Stop()
			for i := 0; i < rounds; i++ {
				code, mfs, err := scrapeAsPrometheus(client, e.url, timeout, "", "")
				switch {
				case err != nil || code != http.StatusOK:
					t.Errorf("replica %d, scrape %d: %d, %v", r, i, code, err)
				case nodeServed(mfs, true) != nil:
					t.Errorf("replica %d, scrape %d: %v", r, i, nodeServed(mfs, true))
				case !engineFailed(mfs):
					t.Errorf("replica %d, scrape %d: the hung engine is not reported failed", r, i)
				}
				<-tick.C
			}
		}()
		if r == 0 {
			time.Sleep(interval / 2) // the second replica scrapes half an interval later
		}
	}
	replicas.Wait()
}

// TestBlockingProcReadAtStartup: one engine process's /proc/<pid>/cmdline
// blocks on read (a FIFO with a writer that never writes, as a process stuck
// in the kernel does): the exporter still serves the GPU and InfiniBand
// series at once and exits on SIGTERM within the flush timeout.
func TestBlockingProcReadAtStartup(t *testing.T) {
	lib := fakeNVML(t)
	proc := engineProc(t)
	fifo := filepath.Join(proc, "4103", "cmdline") // the process of fake GPU 3
	if err := os.Remove(fifo); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	// Held open read-write here: the exporter's open succeeds and its read
	// blocks for as long as the test runs.
	w, err := os.OpenFile(fifo, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()

	p := spawn(t, true, nil, "--path.sysfs="+fixtureSysfs, "--path.procfs="+proc,
		"--collector.gpu.nvml-library="+lib, "--no-attribution.kubelet", "--remote-write.flush-timeout=3s")
	code, mfs, err := scrapeAsPrometheus(http.DefaultClient, p.url, 5*time.Second, "", "")
	if err != nil || code != http.StatusOK {
		t.Fatalf("scrape: %d, %v\n%s", code, err, p.log)
	}
	if err := nodeServed(mfs, true); err != nil {
		t.Errorf("%v\n%s", err, p.log)
	}
	// The exporter is really stuck on the FIFO: it holds it open.
	if !holdsOpen(t, p.cmd.Process.Pid, fifo) {
		t.Fatalf("the exporter never opened %s: the test did not block it\n%s", fifo, p.log)
	}
	p.stopWithin(t, 3*time.Second+2*time.Second)
}

// holdsOpen polls /proc/<pid>/fd until one of them is path.
func holdsOpen(t *testing.T, pid int, path string) bool {
	t.Helper()
	for end := time.Now().Add(30 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		fds, _ := filepath.Glob(fmt.Sprintf("/proc/%d/fd/*", pid))
		for _, fd := range fds {
			if target, err := os.Readlink(fd); err == nil && target == path {
				return true
			}
		}
	}
	return false
}

// pushReceiver is a remote-write 1.0 receiver recording the metric names it
// was sent.
type pushReceiver struct {
	mu    sync.Mutex
	names map[string]bool
	srv   *httptest.Server
}

func (rc *pushReceiver) Store(r *http.Request, _ remote.WriteMessageType) (*remote.WriteResponse, error) {
	resp := remote.NewWriteResponse()
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return resp, err
	}
	var req prompb.WriteRequest
	if err := proto.Unmarshal(body, &req); err != nil {
		resp.SetStatusCode(http.StatusBadRequest)
		return resp, err
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for _, ts := range req.Timeseries {
		for _, l := range ts.Labels {
			if l.Name == "__name__" {
				rc.names[l.Value] = true
			}
		}
	}
	return resp, nil
}

func newPushReceiver(t *testing.T) *pushReceiver {
	rc := &pushReceiver{names: map[string]bool{}}
	rc.srv = httptest.NewServer(remote.NewWriteHandler(rc, remote.MessageTypes{remote.WriteV1MessageType}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *pushReceiver) got(name string) bool {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.names[name]
}

// TestSIGTERMWithStuckCollector: with the engine collector stuck on a hung
// target, the exporter pushes the node's series on time and exits on SIGTERM
// within the flush timeout, with code 0, in pull, push and both modes.
func TestSIGTERMWithStuckCollector(t *testing.T) {
	const flush = 2 * time.Second
	for _, mode := range []string{"pull", "push", "both"} {
		t.Run(mode, func(t *testing.T) {
			args := []string{"--no-collector.gpu", "--path.sysfs=" + fixtureSysfs, "--no-attribution",
				"--engine.target=" + hungEngine(t), "--engine.timeout=30s", "--remote-write.flush-timeout=" + flush.String()}
			var rc *pushReceiver
			if mode != "pull" {
				rc = newPushReceiver(t)
				args = append(args, "--remote-write.url="+rc.srv.URL, "--remote-write.interval=1s")
			}
			if mode == "push" {
				args = append(args, "--web.listen-address=")
			}
			p := spawn(t, mode != "push", nil, args...)
			if rc != nil {
				waitFor(t, 30*time.Second, "InfiniBand series pushed", func() bool { return rc.got("llm_infiniband_state_id") })
			}
			if mode != "push" {
				// One scrape leaves the engine collector stuck; another is in
				// progress when SIGTERM arrives.
				code, mfs, err := scrapeAsPrometheus(http.DefaultClient, p.url, 2*time.Second, "", "")
				if err != nil || code != http.StatusOK || nodeServed(mfs, false) != nil || !engineFailed(mfs) {
					t.Fatalf("scrape: %d, %v", code, err)
				}
				go scrapeAsPrometheus(http.DefaultClient, p.url, time.Minute, "", "")
			}
			p.stopWithin(t, flush+2*time.Second)
		})
	}
}

// selfSigned writes a certificate and key for 127.0.0.1 into dir and returns
// their paths and a pool trusting the certificate.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "llm-node-exporter test"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// idleConnections opens n keep-alive connections with dial, sends one request
// on each, and returns how many the server closed once idle, waiting at most
// bound for each.
func idleConnections(t *testing.T, n int, bound time.Duration, dial func() (net.Conn, error)) int {
	t.Helper()
	var closed atomic.Int32
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := dial()
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(bound))
			if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: exporter\r\n\r\n"); err != nil {
				errs <- err
				return
			}
			br := bufio.NewReader(c)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				errs <- err
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			// Idle now: the read ends when the server closes the connection.
			_, err = br.ReadByte()
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return // still open at the bound
			}
			closed.Add(1)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("connection: %v", err)
		break
	}
	return int(closed.Load())
}

// TestIdleConnectionsClosed: 500 plain and 300 TLS keep-alive connections
// left idle are closed by the exporter after --web.idle-timeout.
func TestIdleConnectionsClosed(t *testing.T) {
	const bound = time.Minute // far past the 1 s idle timeout: only a server that never closes reaches it
	base := []string{"--no-collector.gpu", "--path.sysfs=" + fixtureSysfs, "--no-attribution", "--web.idle-timeout=1s"}

	plain := spawn(t, true, nil, base...)
	addr := strings.TrimPrefix(plain.url, "http://")
	if n := idleConnections(t, 500, bound, func() (net.Conn, error) { return net.Dial("tcp", addr) }); n != 500 {
		t.Errorf("%d of 500 idle plain connections closed by the exporter", n)
	}

	dir := t.TempDir()
	certFile, keyFile, pool := selfSigned(t, dir)
	cfg := filepath.Join(dir, "web.yml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("tls_server_config:\n  cert_file: %s\n  key_file: %s\n", certFile, keyFile)), 0o600)
	tlsConfig := &tls.Config{RootCAs: pool}
	tlsReady := func(url string) bool {
		c, err := tls.Dial("tcp", strings.TrimPrefix(url, "http://"), tlsConfig)
		if err != nil {
			return false
		}
		c.Close()
		return true
	}
	secure := spawn(t, true, tlsReady, append(base, "--web.config.file="+cfg)...)
	addr = strings.TrimPrefix(secure.url, "http://")
	if n := idleConnections(t, 300, bound, func() (net.Conn, error) { return tls.Dial("tcp", addr, tlsConfig) }); n != 300 {
		t.Errorf("%d of 300 idle TLS connections closed by the exporter", n)
	}
}

// TestWrongPasswordFlood: 300 clients in flight with wrong passwords (each a
// new one, so the toolkit's cache of checked credentials keeps churning) do
// not hold back a real scraper's scrapes past their 4 s timeout: attempts
// beyond --web.max-auth-attempts are answered 429 and counted.
func TestWrongPasswordFlood(t *testing.T) {
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.DefaultCost)
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(t.TempDir(), "web.yml")
	os.WriteFile(cfg, []byte("basic_auth_users:\n  prometheus: "+string(hash)+"\n"), 0o600)
	p := spawn(t, true, nil, "--no-collector.gpu", "--path.sysfs="+fixtureSysfs, "--no-attribution", "--web.config.file="+cfg)

	const timeout = 4 * time.Second
	real := &http.Client{Transport: &http.Transport{}}
	if code, _, err := scrapeAsPrometheus(real, p.url, time.Minute, "prometheus", "s3cret"); code != http.StatusOK {
		t.Fatalf("first scrape: %d, %v", code, err)
	}

	stop := make(chan struct{})
	var flood sync.WaitGroup
	var answered, throttled atomic.Int64
	transport := &http.Transport{MaxIdleConnsPerHost: 300}
	for w := 0; w < 300; w++ {
		flood.Add(1)
		go func() {
			defer flood.Done()
			client := &http.Client{Transport: transport}
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				req, _ := http.NewRequest(http.MethodGet, p.url+"/metrics", nil)
				req.SetBasicAuth("prometheus", fmt.Sprintf("wrong-%d-%d", w, n))
				resp, err := client.Do(req)
				if err != nil {
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				answered.Add(1)
				if resp.StatusCode == http.StatusTooManyRequests {
					throttled.Add(1)
					// As told (Retry-After): a client that ignores it is a
					// plain request flood, for network policy to stop.
					select {
					case <-stop:
					case <-time.After(100 * time.Millisecond):
					}
				}
			}
		}()
	}
	defer func() { close(stop); flood.Wait() }()
	// Well into the flood: more wrong passwords checked than the toolkit's
	// cache holds, so the real credentials have been evicted from it.
	waitFor(t, 3*time.Minute, "the flood under way", func() bool { return answered.Load()-throttled.Load() >= 150 })
	var slowest time.Duration
	defer func() { t.Logf("slowest of 10 real scrapes during the flood: %s", slowest) }()
	for i := 0; i < 10; i++ {
		began := time.Now()
		code, mfs, err := scrapeAsPrometheus(real, p.url, timeout, "prometheus", "s3cret")
		slowest = max(slowest, time.Since(began))
		if err != nil || code != http.StatusOK {
			t.Fatalf("real scrape %d during the flood: %d, %v", i, code, err)
		}
		if err := nodeServed(mfs, false); err != nil {
			t.Fatalf("real scrape %d: %v", i, err)
		}
		if i == 9 && value(mfs, "llm_exporter_http_auth_throttled_total", "", "") <= 0 {
			t.Error("llm_exporter_http_auth_throttled_total did not count the flood")
		}
	}
	if throttled.Load() == 0 {
		t.Error("no wrong-password attempt was answered 429")
	}
}

// slowClients opens n connections that each send a scrape request and then
// misbehave: trickle is called on each until it fails or stop is called; with
// a nil trickle the connection is just left unread.
func slowClients(t *testing.T, n int, dial func() (net.Conn, error), request string, trickle func(net.Conn) error) (stop func()) {
	t.Helper()
	done := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		c, err := dial()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(c, request); err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.Close()
			for {
				select {
				case <-done:
					return
				default:
				}
				if trickle == nil {
					<-done
					return
				}
				if trickle(c) != nil {
					return
				}
			}
		}()
	}
	return func() { close(done); wg.Wait() }
}

// slotsHeldThenFreed waits until a scrape is refused for want of a slot (the
// slow clients hold them all), then until one is served again (the server's
// timeout has freed them).
func slotsHeldThenFreed(t *testing.T, url string) {
	t.Helper()
	client := &http.Client{Timeout: time.Minute}
	// A scrape with a 1 s timeout waits a quarter of its 0.5 s budget for a
	// slot; the client itself waits for the answer however slow the machine.
	status := func() int {
		req, _ := http.NewRequest(http.MethodGet, url+"/metrics", nil)
		req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", "1")
		resp, err := client.Do(req)
		if err != nil {
			return 0
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	waitFor(t, time.Minute, "every slot held by the slow clients", func() bool { return status() == http.StatusServiceUnavailable })
	waitFor(t, time.Minute, "a scrape served again", func() bool { return status() == http.StatusOK })
}

// TestSlowClientsFreeTheirSlots: 40 clients that trickle a request body
// (--web.read-timeout) or never read the page (--web.write-timeout) hold all
// of --web.max-requests only until that timeout: then real scrapes are
// served again.
func TestSlowClientsFreeTheirSlots(t *testing.T) {
	// Long enough that every slow client is in before the first one's
	// timeout, however slowly they connect on a busy machine.
	timeouts := []string{"--web.scrape-timeout=1s", "--web.read-timeout=10s", "--web.write-timeout=10s", "--no-attribution"}
	t.Run("trickled body", func(t *testing.T) {
		p := spawn(t, true, nil, append(timeouts, "--no-collector.gpu", "--path.sysfs="+fixtureSysfs, "--web.max-requests=40")...)
		addr := strings.TrimPrefix(p.url, "http://")
		tick := time.NewTicker(100 * time.Millisecond) // one byte per tick, shared by all
		defer tick.Stop()
		stop := slowClients(t, 40, func() (net.Conn, error) { return net.Dial("tcp", addr) },
			"POST /metrics HTTP/1.1\r\nHost: exporter\r\nContent-Length: 100000\r\n\r\n",
			func(c net.Conn) error { <-tick.C; _, err := c.Write([]byte("x")); return err })
		defer stop()
		slotsHeldThenFreed(t, p.url)
	})
	t.Run("page never read", func(t *testing.T) {
		// Scrapes pipelined on connections that are never read: their pages
		// fill the 4 KiB receive windows and the server's send buffers, and
		// a handler blocks writing.
		p := spawn(t, true, nil, append(timeouts, "--no-collector.gpu", "--path.sysfs="+fixtureSysfs, "--web.max-requests=4")...)
		addr := strings.TrimPrefix(p.url, "http://")
		dialer := &net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
			var serr error
			err := rc.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
			return errors.Join(err, serr)
		}}
		stop := slowClients(t, 4, func() (net.Conn, error) { return dialer.Dial("tcp", addr) },
			strings.Repeat("GET /metrics HTTP/1.1\r\nHost: exporter\r\nAccept-Encoding: identity\r\n\r\n", 200), nil)
		defer stop()
		slotsHeldThenFreed(t, p.url)
	})
}
