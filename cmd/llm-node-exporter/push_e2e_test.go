package main

// Push mode end to end: the built binary pushes the fixture node to a real
// Prometheus server (its remote-write receiver, on loopback), and the series
// are read back through Prometheus's HTTP API. The prometheus binary is built
// from the version pinned in mixin/go.mod by `make test-push-e2e` (mk/push.mk),
// which passes it in PROMETHEUS_BIN.

import (
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
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

type promServer struct {
	url        string
	logs       *syncBuffer
	user, pass string // basic auth, when its web config asks for it
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
	dir := t.TempDir()
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
	for i := 0; i < 300; i++ {
		if resp, err := p.get("/-/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("prometheus not ready:\n%s", p.logs)
	return nil
}

type promSeries struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
	Values [][2]any          `json:"values"`
}

// query runs an instant PromQL query.
func (p *promServer) query(t *testing.T, q string) []promSeries {
	t.Helper()
	resp, err := p.get("/api/v1/query?query=" + url.QueryEscape(q))
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
	for i := 0; i < 150; i++ {
		res = p.query(t, q)
		if cond(res) {
			return res
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s: %s never held; last %d series:\n%v", q, what, len(res), res)
	return nil
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
	e.stop(t, 15*time.Second)
	prom.waitQuery(t, sel, "stale after shutdown", func(r []promSeries) bool { return len(r) == 0 })
	if !strings.Contains(e.logs.String(), "push only") {
		t.Errorf("push-only start not logged:\n%s", e.logs)
	}
}

// The exporter starts while the receiver is down; when Prometheus comes up,
// every collection of the outage arrives, in order.
func TestPushEndToEndReceiverDownThenUp(t *testing.T) {
	bin := prometheusBin(t)
	addr := freeAddr(t)
	startedAt := time.Now()
	startPushOnly(t, "--remote-write.url=http://"+addr+"/api/v1/write", "--remote-write.interval=500ms",
		"--remote-write.instance=node-down")
	time.Sleep(3 * time.Second)
	promUp := time.Now()
	prom := startPrometheus(t, bin, addr)
	q := `llm_exporter_build_info{instance="node-down"}[5m]`
	// The buffer arrives over several requests after the receiver's first
	// success: wait until the outage's collections are all in.
	res := prom.waitQuery(t, q, "the samples from before Prometheus started", func(r []promSeries) bool {
		if len(r) != 1 || len(r[0].Values) < 6 {
			return false
		}
		first, _ := r[0].Values[0][0].(float64)
		return first < float64(promUp.UnixMilli())/1000
	})
	vals := res[0].Values
	prev := 0.0
	for i, v := range vals {
		ts := v[0].(float64)
		if i > 0 && (ts <= prev || ts-prev > 1.5) {
			t.Errorf("sample %d at %.3f after %.3f: out of order or a gap over 1.5s with a 0.5s interval", i, ts, prev)
		}
		prev = ts
	}
	first := vals[0][0].(float64)
	if first > float64(startedAt.UnixMilli())/1000+1.5 {
		t.Errorf("first sample at %.3f, exporter started at %.3f: the first collections were lost", first, float64(startedAt.UnixMilli())/1000)
	}
	if n := len(vals); n < 6 {
		t.Errorf("%d samples for 3s of outage at 0.5s", n)
	}
	fmt.Fprintf(os.Stderr, "receiver down then up: %d samples, first %.3f (exporter start %.3f, prometheus up %.3f)\n",
		len(vals), first, float64(startedAt.UnixMilli())/1000, float64(promUp.UnixMilli())/1000)
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
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(bad.logs.String(), "rejected the credentials") && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if logs := bad.logs.String(); !strings.Contains(logs, "rejected the credentials") || strings.Contains(logs, "not-the-secret") {
		t.Errorf("wrong secret: no clear credentials error, or the secret logged:\n%s", logs)
	}
	e.stop(t, 15*time.Second)
	bad.stop(t, 15*time.Second)
}
