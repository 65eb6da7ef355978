package main

// Push mode end to end: the built binary pushes the fixture node to a real
// Prometheus server (its remote-write receiver, on loopback), and the series
// are read back through Prometheus's HTTP API. The prometheus binary is built
// from the version pinned in mixin/go.mod by `make test-push-e2e` (mk/push.mk),
// which passes it in PROMETHEUS_BIN.

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

type promServer struct {
	url        string
	logs       *syncBuffer
	user, pass string // basic auth, when its web config asks for it
	cmd        *exec.Cmd
}

func (p *promServer) get(path string) (*http.Response, error) {
	req, err := http.NewRequest(http.MethodGet, p.url+path, nil)
	if err != nil {
		return nil, err
	}
	if p.user != "" {
		req.SetBasicAuth(p.user, p.pass)
	}
	return http.DefaultClient.Do(req)
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func prometheusBin(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("PROMETHEUS_BIN")
	if bin == "" {
		t.Skip("PROMETHEUS_BIN is unset: `make test-push-e2e` builds prometheus from mixin/go.mod and runs this test with it")
	}
	abs, err := filepath.Abs(bin)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

// startPrometheus runs a real Prometheus with its remote-write receiver on
// addr and waits until it is ready.
// With user and pass, every endpoint (the receiver included) asks for basic
// auth, as ARMS does.
func startPrometheus(t *testing.T, bin, addr string, userPass ...string) *promServer {
	t.Helper()
	return startPrometheusIn(t, bin, addr, t.TempDir(), userPass...)
}

// startPrometheusIn is startPrometheus keeping its configuration and data
// in dir, so that a Prometheus started again there has the same data.
func startPrometheusIn(t *testing.T, bin, addr, dir string, userPass ...string) *promServer {
	t.Helper()
	cfg := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfg, []byte("global:\n  scrape_interval: 1m\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"--config.file=" + cfg, "--storage.tsdb.path=" + filepath.Join(dir, "data"),
		"--web.listen-address=" + addr, "--web.enable-remote-write-receiver"}
	p := &promServer{url: "http://" + addr}
	if len(userPass) == 2 {
		p.user, p.pass = userPass[0], userPass[1]
		hash, err := bcrypt.GenerateFromPassword([]byte(p.pass), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		web := filepath.Join(dir, "web.yml")
		if err := os.WriteFile(web, []byte("basic_auth_users:\n  "+p.user+": "+string(hash)+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, "--web.config.file="+web)
	}
	return p.run(t, exec.Command(bin, args...))
}

// run starts the prometheus command for p (stopped at the end of t) and waits
// until it reports ready.
func (p *promServer) run(t *testing.T, cmd *exec.Cmd) *promServer {
	t.Helper()
	p.logs = startProcess(t, cmd)
	p.cmd = cmd
	ok := poll(2*time.Minute, func() bool {
		resp, err := p.get("/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	if !ok {
		t.Fatalf("prometheus not ready:\n%s", p.logs)
	}
	return p
}

// stop stops Prometheus (SIGTERM: its data is kept) and waits for it.
func (p *promServer) stop(t *testing.T) {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		t.Fatalf("prometheus still running after SIGTERM:\n%s", p.logs)
	}
}

// poll checks cond every 50 ms until it holds or the deadline (a bound for
// a hang, not a wait) passes.
func poll(deadline time.Duration, cond func() bool) bool {
	end := time.Now().Add(deadline)
	for !cond() {
		if time.Now().After(end) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
	return true
}

type promSeries struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
	Values [][2]any          `json:"values"`
}

// query runs an instant PromQL query, at time at when given.
func (p *promServer) query(t *testing.T, q string, at ...float64) []promSeries {
	t.Helper()
	path := "/api/v1/query?query=" + url.QueryEscape(q)
	if len(at) == 1 {
		path += "&time=" + strconv.FormatFloat(at[0], 'f', 3, 64)
	}
	resp, err := p.get(path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []promSeries `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatal(err)
	}
	if r.Status != "success" {
		t.Fatalf("query %s: %s", q, r.Error)
	}
	return r.Data.Result
}

func (p *promServer) waitQuery(t *testing.T, q string, what string, cond func([]promSeries) bool) []promSeries {
	t.Helper()
	var res []promSeries
	if !poll(2*time.Minute, func() bool { res = p.query(t, q); return cond(res) }) {
		t.Fatalf("%s: %s never held; last %d series:\n%v", q, what, len(res), res)
	}
	return res
}

type pushExporter struct {
	cmd  *exec.Cmd
	logs *syncBuffer
	done chan struct{}
}

// startPushOnly runs the binary without an HTTP server (--web.listen-address="")
// on the fixture node; stop sends SIGTERM, as the kubelet or the platform would.
func startPushOnly(t *testing.T, args ...string) *pushExporter {
	t.Helper()
	cmd := exec.Command(binary, append([]string{`--web.listen-address=`, "--no-collector.gpu", "--path.sysfs=" + fixtureSysfs}, args...)...)
	logs := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	e := &pushExporter{cmd: cmd, logs: logs, done: make(chan struct{})}
	go func() { cmd.Wait(); close(e.done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-e.done
	})
	return e
}

func (e *pushExporter) stop(t *testing.T, within time.Duration) {
	t.Helper()
	e.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-e.done:
	case <-time.After(within):
		t.Fatalf("exporter still running %s after SIGTERM:\n%s", within, e.logs)
	}
	if code := e.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("exit code %d:\n%s", code, e.logs)
	}
}

// seriesKey is the labels of a series, without the ones push mode adds.
func seriesKey(m map[string]string, drop ...string) string {
	var parts []string
	for k, v := range m {
		skip := false
		for _, d := range drop {
			skip = skip || k == d
		}
		if !skip && v != "" {
			parts = append(parts, k+"="+v)
		}
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

func TestPushEndToEndPrometheus(t *testing.T) {
	bin := prometheusBin(t)
	prom := startPrometheus(t, bin, freeAddr(t))

	// The reference: the same fixture node, pulled from an exporter that
	// also pushes (pull and push at once).
	both := start(t, "--path.sysfs="+fixtureSysfs, "--remote-write.url="+prom.url+"/api/v1/write",
		"--remote-write.interval=1s", "--remote-write.instance=node-both")
	pulled := map[string]float64{}
	for name, mf := range parse(t, both.scrape(t)) {
		if !strings.HasPrefix(name, "llm_infiniband_") {
			continue
		}
		for _, m := range mf.Metric {
			l := map[string]string{"__name__": name}
			for _, lp := range m.Label {
				l[lp.GetName()] = lp.GetValue()
			}
			v := m.GetCounter().GetValue() + m.GetGauge().GetValue() + m.GetUntyped().GetValue()
			pulled[seriesKey(l)] = v
		}
	}
	if len(pulled) < 100 {
		t.Fatalf("only %d llm_infiniband_* series pulled from the fixture", len(pulled))
	}

	e := startPushOnly(t, "--remote-write.url="+prom.url+"/api/v1/write", "--remote-write.interval=1s",
		"--remote-write.instance=node-e2e", "--remote-write.external-label=cluster=e2e",
		"--remote-write.external-label=region=test")
	sel := `{__name__=~"llm_infiniband_.+",job="llm-node-exporter",instance="node-e2e",cluster="e2e",region="test"}`
	got := prom.waitQuery(t, sel, "every pulled series pushed", func(r []promSeries) bool { return len(r) >= len(pulled) })
	if len(got) != len(pulled) {
		t.Errorf("%d series in Prometheus, %d pulled", len(got), len(pulled))
	}
	for _, s := range got {
		k := seriesKey(s.Metric, "job", "instance", "cluster", "region")
		want, ok := pulled[k]
		if !ok {
			t.Errorf("pushed series not served by /metrics: %v", s.Metric)
			continue
		}
		v, err := strconv.ParseFloat(s.Value[1].(string), 64)
		if strings.Contains(k, "__name__=llm_infiniband_read_errors_total") {
			// Counts an unreadable file at every collection (and scrape): the
			// two processes have collected a different number of times.
			if err != nil || v < 1 || want < 1 {
				t.Errorf("%s = %v (%v), pulled %v: want both at least 1", k, s.Value[1], err, want)
			}
			continue
		}
		if err != nil || v != want {
			t.Errorf("%s = %v (%v), /metrics says %v", k, s.Value[1], err, want)
		}
	}
	// The labels the dashboards select on.
	port := prom.query(t, `llm_infiniband_port_data_received_bytes_total{device="mlx5_0",port="1",instance="node-e2e"}`)
	if len(port) != 1 || port[0].Metric["link_layer"] == "" {
		t.Errorf("mlx5_0 port 1: %v", port)
	}
	// Self-metrics are pushed too.
	prom.waitQuery(t, `llm_exporter_remote_write_samples_sent_total{instance="node-e2e",url="`+prom.url+`/api/v1/write"} > 0`,
		"samples sent counted", func(r []promSeries) bool { return len(r) == 1 })

	// Pull and push at once: the pusher's self-metrics on /metrics, its series in Prometheus.
	prom.waitQuery(t, `llm_infiniband_info{instance="node-both",job="llm-node-exporter"}`, "pushed while serving /metrics",
		func(r []promSeries) bool { return len(r) > 0 })
	if mfs := parse(t, both.scrape(t)); value(mfs, "llm_exporter_remote_write_samples_sent_total", "url", prom.url+"/api/v1/write") <= 0 {
		t.Error("llm_exporter_remote_write_samples_sent_total not served on /metrics in pull+push mode")
	}

	// SIGTERM: final push, then stale markers: the series end at once
	// instead of lingering for 5 minutes.
	e.stop(t, time.Minute)
	prom.waitQuery(t, sel, "stale after shutdown", func(r []promSeries) bool { return len(r) == 0 })
	if !strings.Contains(e.logs.String(), "push only") {
		t.Errorf("push-only start not logged:\n%s", e.logs)
	}
}

// countingEngine is a vLLM engine on localhost whose page says how many
// pages it served: vllm:num_requests_running is 1, 2, 3 ... Each collection
// of a push-only exporter scrapes it once, so the value of
// llm_engine_requests_running in Prometheus numbers the collections.
// It also serves vllm:num_requests_waiting until dropWaiting.
type countingEngine struct {
	srv    *httptest.Server
	served atomic.Int64
	mu     sync.Mutex
	noWait bool
	hold   chan struct{} // the next scrape waits for it to close and is not served
	held   chan struct{} // closed when a scrape waits
}

func newCountingEngine(t *testing.T) *countingEngine {
	c := &countingEngine{}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		hold, held, noWait := c.hold, c.held, c.noWait
		c.hold, c.held = nil, nil
		c.mu.Unlock()
		if hold != nil {
			close(held)
			select {
			case <-hold:
			case <-r.Context().Done():
			}
			return
		}
		n := c.served.Add(1)
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprintf(w, "# HELP vllm:num_requests_running Number of requests in model execution batches.\n"+
			"# TYPE vllm:num_requests_running gauge\n"+
			"vllm:num_requests_running{engine=\"0\",model_name=\"Qwen/Qwen3-0.6B\"} %d\n", n)
		if !noWait {
			fmt.Fprint(w, "# HELP vllm:num_requests_waiting Number of requests waiting to be processed.\n"+
				"# TYPE vllm:num_requests_waiting gauge\n"+
				"vllm:num_requests_waiting{engine=\"0\",model_name=\"Qwen/Qwen3-0.6B\"} 1\n")
		}
	}))
	t.Cleanup(c.srv.Close)
	return c
}

func (c *countingEngine) url() string { return c.srv.URL + "/metrics" }

// holdNext makes the next scrape wait; the channel closes when it does.
func (c *countingEngine) holdNext() (held <-chan struct{}, release func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.hold, c.held = make(chan struct{}), make(chan struct{})
	hold := c.hold
	return c.held, func() { close(hold) }
}

func (c *countingEngine) dropWaiting() {
	c.mu.Lock()
	c.noWait = true
	c.mu.Unlock()
}

// waitServed waits until the engine has served n pages.
func (c *countingEngine) waitServed(t *testing.T, n int64) {
	t.Helper()
	if !poll(2*time.Minute, func() bool { return c.served.Load() >= n }) {
		t.Fatalf("the engine served %d pages, waiting for %d", c.served.Load(), n)
	}
}

// collections returns the timestamps of llm_engine_requests_running in
// Prometheus by its value (the collection's number), failing on a sample out
// of order or a number seen twice.
func collections(t *testing.T, prom *promServer, sel string) (map[int]float64, int) {
	t.Helper()
	res := prom.query(t, sel+"[30m]")
	if len(res) != 1 {
		t.Fatalf("%s: %d series, want 1: %v", sel, len(res), res)
	}
	at := map[int]float64{}
	prevTs, last := 0.0, 0
	for _, v := range res[0].Values {
		ts := v[0].(float64)
		n, err := strconv.Atoi(v[1].(string))
		if err != nil {
			t.Fatalf("value %v", v[1])
		}
		if ts <= prevTs {
			t.Errorf("collection %d at %.3f, not after %.3f", n, ts, prevTs)
		}
		if _, dup := at[n]; dup {
			t.Errorf("collection %d twice", n)
		}
		at[n], prevTs, last = ts, ts, n
	}
	return at, last
}

// checkContiguous fails unless collections 1..last are all there.
func checkContiguous(t *testing.T, at map[int]float64, last int) {
	t.Helper()
	var missing []int
	for n := 1; n <= last; n++ {
		if _, ok := at[n]; !ok {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		t.Errorf("collections %v of 1..%d missing", missing, last)
	}
}

// The exporter starts while the receiver is down; when Prometheus comes up,
// every collection of the outage arrives, in order.
func TestPushEndToEndReceiverDownThenUp(t *testing.T) {
	bin := prometheusBin(t)
	addr := freeAddr(t)
	eng := newCountingEngine(t)
	e := startPushOnly(t, "--no-collector.infiniband", "--no-attribution", "--engine.target="+eng.url(),
		"--remote-write.url=http://"+addr+"/api/v1/write", "--remote-write.interval=200ms", "--remote-write.instance=node-down")
	eng.waitServed(t, 6) // six collections queued, none sent
	beforeUp := int(eng.served.Load())
	prom := startPrometheus(t, bin, addr)
	sel := `llm_engine_requests_running{instance="node-down"}`
	prom.waitQuery(t, sel, "a collection made after Prometheus started", func(r []promSeries) bool {
		if len(r) != 1 {
			return false
		}
		n, _ := strconv.Atoi(r[0].Value[1].(string))
		return n > beforeUp
	})
	at, last := collections(t, prom, sel)
	checkContiguous(t, at, last)
	e.stop(t, time.Minute)
	fmt.Fprintf(os.Stderr, "receiver down then up: collections 1..%d arrived, %d of them made before Prometheus started\n", last, beforeUp)
}

// The DaemonSet's OOM kill: with --remote-write.wal-dir, an exporter killed
// (SIGKILL) while its receiver is down loses nothing. Prometheus stops
// (taking its data with it), the exporter collects on, is killed between
// two collections and started again, collects on, and when Prometheus is
// back every collection arrives, in order, once; a series the restarted
// exporter no longer serves ends with a staleness marker at once.
func TestPushEndToEndWALSurvivesSIGKILL(t *testing.T) {
	bin := prometheusBin(t)
	addr, promDir, walDir := freeAddr(t), t.TempDir(), t.TempDir()
	eng := newCountingEngine(t)
	args := []string{"--no-collector.infiniband", "--no-attribution", "--engine.target=" + eng.url(), "--engine.timeout=10m",
		"--remote-write.url=http://" + addr + "/api/v1/write", "--remote-write.interval=200ms",
		"--remote-write.instance=node-wal", "--remote-write.wal-dir=" + walDir}
	sel := `llm_engine_requests_running{instance="node-wal"}`
	prom := startPrometheusIn(t, bin, addr, promDir)
	first := startPushOnly(t, args...)
	prom.waitQuery(t, sel, "pushed", func(r []promSeries) bool { return len(r) == 1 })

	prom.stop(t)
	eng.waitServed(t, eng.served.Load()+6) // collected while Prometheus is down
	// Kill it between two collections: the next scrape waits, so the
	// collection before it is complete and the one after not begun.
	held, release := eng.holdNext()
	select {
	case <-held:
	case <-time.After(2 * time.Minute):
		t.Fatalf("no scrape after %d:\n%s", eng.served.Load(), first.logs)
	}
	beforeKill := int(eng.served.Load())
	first.cmd.Process.Kill()
	<-first.done
	release()

	eng.dropWaiting()
	again := startPushOnly(t, args...)
	eng.waitServed(t, int64(beforeKill)+3) // collected after the restart, Prometheus still down
	prom = startPrometheusIn(t, bin, addr, promDir)
	prom.waitQuery(t, sel, "the restart's collections", func(r []promSeries) bool {
		if len(r) != 1 {
			return false
		}
		n, _ := strconv.Atoi(r[0].Value[1].(string))
		return n >= beforeKill+3
	})
	at, last := collections(t, prom, sel)
	checkContiguous(t, at, last)

	// vllm:num_requests_waiting was served until the kill: it ends at the
	// restart's first collection instead of lingering for 5 minutes.
	waiting := `llm_engine_requests_waiting{instance="node-wal"}`
	if r := prom.query(t, waiting, at[beforeKill]); len(r) != 1 {
		t.Errorf("%s at the last collection before the kill: %v, want one series", waiting, r)
	}
	if r := prom.query(t, waiting, at[beforeKill+1]); len(r) != 0 {
		t.Errorf("%s at the first collection after the restart: %v, want none (a staleness marker)", waiting, r)
	}
	if !strings.Contains(again.logs.String(), "remote write WAL opened") {
		t.Errorf("the restart does not log the WAL:\n%s", again.logs)
	}
	again.stop(t, time.Minute)
	fmt.Fprintf(os.Stderr, "WAL across SIGKILL: collections 1..%d arrived in order, killed after %d\n", last, beforeKill)
}

// --remote-write.job and --remote-write.instance never silently replace an
// external label of the same name: given both, different, the exporter does
// not start; an external label alone replaces the flag's default.
func TestPushLabelFlagsConflict(t *testing.T) {
	for _, tc := range []struct{ flag, label, want string }{
		{"--remote-write.job=llm", "job=gpu-nodes", "--remote-write.external-label=job=gpu-nodes conflicts with --remote-write.job=llm: give the job label once"},
		{"--remote-write.instance=node-a", "instance=node-b", "--remote-write.external-label=instance=node-b conflicts with --remote-write.instance=node-a: give the instance label once"},
	} {
		// Bounded: an exporter that starts instead of refusing runs until killed.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		out, err := exec.CommandContext(ctx, binary, "--web.listen-address=", "--no-collector.gpu", "--no-collector.infiniband",
			"--remote-write.url=http://127.0.0.1:1/api/v1/write", tc.flag, "--remote-write.external-label="+tc.label).CombinedOutput()
		cancel()
		if err == nil || !strings.Contains(string(out), tc.want) {
			t.Errorf("%s with --remote-write.external-label=%s (%v):\n%s", tc.flag, tc.label, err, out)
		}
	}
	e := startPushOnly(t, "--no-collector.infiniband", "--remote-write.url=http://127.0.0.1:1/api/v1/write", "--remote-write.flush-timeout=1s",
		"--remote-write.external-label=job=gpu-nodes", "--remote-write.instance=node-a", "--remote-write.external-label=instance=node-a")
	if !poll(2*time.Minute, func() bool { return strings.Contains(e.logs.String(), "push mode") }) {
		t.Fatalf("did not start:\n%s", e.logs)
	}
	if logs := e.logs.String(); !strings.Contains(logs, `external_labels="map[instance:node-a job:gpu-nodes]"`) {
		t.Errorf("want job from the external label and the agreeing instance:\n%s", logs)
	}
	e.stop(t, time.Minute)
}

// --web.listen-address="" without push mode would do nothing: a start-up error.
func TestEmptyListenAddressNeedsPush(t *testing.T) {
	out, err := exec.Command(binary, `--web.listen-address=`, "--no-collector.gpu", "--path.sysfs="+fixtureSysfs).CombinedOutput()
	if err == nil {
		t.Fatalf("started with neither server nor push:\n%s", out)
	}
	if !strings.Contains(string(out), "push mode (--remote-write.url) is then required") {
		t.Errorf("unclear error:\n%s", out)
	}
	out, err = exec.Command(binary, "--no-collector.gpu", "--remote-write.url=ftp://x/").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "want http(s)://host/path") {
		t.Errorf("bad remote-write URL accepted (%v):\n%s", err, out)
	}
}

// The serverless sidecar of docs/push.md: no HTTP server, no node collectors,
// one vLLM engine on localhost, pushed with basic auth (ARMS: AccessKey ID and
// secret, the secret from an environment variable) to a Prometheus that
// requires it; a wrong secret is a clear credentials error.
func TestPushEndToEndServerlessEngine(t *testing.T) {
	bin := prometheusBin(t)
	prom := startPrometheus(t, bin, freeAddr(t), "LTAI-e2e", "ak-secret")
	page, err := os.ReadFile("../../collector/engine/testdata/vllm-v1-dp2.txt")
	if err != nil {
		t.Fatal(err)
	}
	engine := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		w.Write(page)
	}))
	defer engine.Close()
	t.Setenv("LLM_E2E_AK_SECRET", "ak-secret")
	t.Setenv("LLM_E2E_WRONG_SECRET", "not-the-secret")
	args := func(instance, env string) []string {
		return []string{"--no-collector.infiniband", "--no-attribution", "--engine.target=" + engine.URL + "/metrics",
			"--remote-write.url=" + prom.url + "/api/v1/write", "--remote-write.interval=1s",
			"--remote-write.basic-auth.username=LTAI-e2e", "--remote-write.basic-auth.password-env=" + env,
			"--remote-write.job=qwen3-fc", "--remote-write.instance=" + instance}
	}
	e := startPushOnly(t, args("fc-instance-1", "LLM_E2E_AK_SECRET")...)
	bad := startPushOnly(t, args("fc-instance-2", "LLM_E2E_WRONG_SECRET")...)

	got := prom.waitQuery(t, `llm_engine_requests_running{job="qwen3-fc",instance="fc-instance-1"}`, "both DP ranks pushed",
		func(r []promSeries) bool { return len(r) == 2 })
	var vals []string
	for _, s := range got {
		vals = append(vals, s.Value[1].(string))
	}
	sort.Strings(vals)
	if strings.Join(vals, " ") != "4 5" {
		t.Errorf("llm_engine_requests_running = %v, want 4 and 5 (vllm:num_requests_running of the page)", vals)
	}
	if r := prom.query(t, `llm_engine_up{job="qwen3-fc",instance="fc-instance-1"}`); len(r) != 1 || r[0].Value[1] != "1" {
		t.Errorf("llm_engine_up: %v", r)
	}
	if r := prom.query(t, `{job="qwen3-fc",instance="fc-instance-2"}`); len(r) != 0 {
		t.Errorf("pushed with a wrong secret: %d series", len(r))
	}
	poll(2*time.Minute, func() bool { return strings.Contains(bad.logs.String(), "rejected the credentials") })
	if logs := bad.logs.String(); !strings.Contains(logs, "rejected the credentials") || strings.Contains(logs, "not-the-secret") {
		t.Errorf("wrong secret: no clear credentials error, or the secret logged:\n%s", logs)
	}
	e.stop(t, time.Minute)
	bad.stop(t, time.Minute)
}
