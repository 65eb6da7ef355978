package main

// End-to-end tests: the built binary, run on the bundled fixture node and
// scraped over HTTP like Prometheus would.

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"golang.org/x/crypto/bcrypt"
)

var update = flag.Bool("update", false, "rewrite the golden files from the current output")

const (
	fixtureSysfs = "../../testdata/sys"
	goldenPath   = "testdata/fixture.metrics"
	metricsDoc   = "../../docs/metrics.md"
)

var binary string

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "llm-node-exporter-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "llm-node-exporter")
	build := exec.Command("go", "build", "-o", binary,
		"-ldflags", "-X github.com/prometheus/common/version.Version=e2e -X github.com/prometheus/common/version.Revision=e2e -X github.com/prometheus/common/version.Branch=e2e",
		".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building the exporter:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type exporter struct {
	url    string
	log    *syncBuffer
	pid    int
	exited chan struct{} // closed when the process has exited
}

// syncBuffer collects the exporter's output, written by exec's copying
// goroutine while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// startProcess starts cmd with its output collected, and stops it when the
// test ends: SIGTERM (so it can flush and exit cleanly), SIGKILL after 10 s.
func startProcess(t testing.TB, cmd *exec.Cmd) *syncBuffer {
	t.Helper()
	logs := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	return logs
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// patience bounds every wait of these tests for the exporter or a server to
// reach a state: long, because a loaded machine is slow, and only the upper
// bound of a poll that returns as soon as the state is reached.
const patience = 60 * time.Second

// eventually polls cond until it holds, failing t after patience.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(patience); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, patience)
		}
	}
}

// start runs the binary on a free loopback port and waits until it serves
// and, unless attribution is off, until its first attribution refresh has
// finished (the exporter serves before it), so pages compare run to run.
func start(t testing.TB, args ...string) *exporter {
	t.Helper()
	e := launch(t, args...)
	e.waitAttributed(t, args)
	return e
}

// launch runs the binary on a free loopback port and waits until it serves.
func launch(t testing.TB, args ...string) *exporter {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	// The fixture node has no NVML: the gpu collector runs only where a test asks.
	gpuArg := "--no-collector.gpu"
	for _, a := range args {
		if strings.HasPrefix(a, "--collector.gpu") {
			gpuArg = "--collector.gpu"
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, binary, append([]string{"--web.listen-address=" + addr, gpuArg}, args...)...)
	logs := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() { cancel(); <-exited })
	e := &exporter{url: "http://" + addr, log: logs, exited: exited, pid: cmd.Process.Pid}
	eventually(t, "exporter serving", func() bool {
		select {
		case <-exited:
			t.Fatalf("exporter exited before serving: %s", logs)
		default:
		}
		resp, err := http.Get(e.url + "/")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return true
	})
	return e
}

// waitLog waits until the exporter's output mentions substr (the output
// arrives through a pipe, shortly after the response that caused it) and
// returns the output.
func (e *exporter) waitLog(t testing.TB, substr string) string {
	t.Helper()
	return e.waitLogCount(t, substr, 1)
}

// waitLogCount waits until the output mentions substr n times.
func (e *exporter) waitLogCount(t testing.TB, substr string, n int) string {
	t.Helper()
	eventually(t, fmt.Sprintf("exporter output mentioning %q %d times", substr, n), func() bool {
		return strings.Count(e.log.String(), substr) >= n
	})
	return e.log.String()
}

func (e *exporter) get(t testing.TB, path string) (int, string) {
	t.Helper()
	resp, err := http.Get(e.url + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

func (e *exporter) scrape(t testing.TB) string {
	t.Helper()
	code, body := e.get(t, "/metrics")
	if code != http.StatusOK {
		t.Fatalf("GET /metrics = %d: %s", code, body)
	}
	return body
}

func parse(t testing.TB, text string) map[string]*dto.MetricFamily {
	t.Helper()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := parser.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	return mfs
}

var durationLine = regexp.MustCompile(`(?m)^(llm_exporter_collector_duration_seconds\{[^}]*\}) .*$`)
var buildInfoLine = regexp.MustCompile(`(?m)^llm_exporter_build_info\{.*$`)
var cacheAgeLine = regexp.MustCompile(`(?m)^(llm_exporter_attribution_(?:cache_age|last_success_timestamp)_seconds) .*$`)

// normalize replaces the values that change from run to run.
func normalize(text string) string {
	text = durationLine.ReplaceAllString(text, "$1 <duration>")
	text = cacheAgeLine.ReplaceAllString(text, "$1 <age>")
	return buildInfoLine.ReplaceAllString(text, `llm_exporter_build_info{<build>} 1`)
}

// TestEndToEndGolden compares the whole /metrics page of the fixture node with
// the reviewed golden file; `make golden` regenerates it.
func TestEndToEndGolden(t *testing.T) {
	e := start(t, "--path.sysfs="+fixtureSysfs, "--web.disable-exporter-metrics")
	got := normalize(e.scrape(t))
	if *update {
		if err := os.WriteFile(goldenPath, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(goldenPath)
	if err != nil {
		t.Fatalf("%v (run `make golden`)", err)
	}
	if got != string(want) {
		t.Errorf("/metrics differs from %s (review, then `make golden`):\n%s", goldenPath, lineDiff(string(want), got))
	}
}

func lineDiff(want, got string) string {
	wantSet, gotSet := map[string]bool{}, map[string]bool{}
	for _, l := range strings.Split(want, "\n") {
		wantSet[l] = true
	}
	for _, l := range strings.Split(got, "\n") {
		gotSet[l] = true
	}
	var out []string
	for l := range wantSet {
		if !gotSet[l] {
			out = append(out, "- "+l)
		}
	}
	for l := range gotSet {
		if !wantSet[l] {
			out = append(out, "+ "+l)
		}
	}
	sort.Strings(out)
	if len(out) > 40 {
		out = append(out[:40], fmt.Sprintf("... and %d more", len(out)-40))
	}
	return strings.Join(out, "\n")
}

func TestEveryFixturePortServedLintClean(t *testing.T) {
	e := start(t, "--path.sysfs="+fixtureSysfs)
	text := e.scrape(t)
	problems, err := promlint.New(strings.NewReader(text)).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		if strings.HasPrefix(p.Metric, "llm_") {
			t.Errorf("promlint: %s: %s", p.Metric, p.Text)
		}
	}
	mfs := parse(t, text)
	state := mfs["llm_infiniband_state_id"]
	if state == nil || len(state.Metric) != 10 {
		t.Fatalf("llm_infiniband_state_id: want 10 ports, got %v", state)
	}
	for _, m := range state.Metric {
		if label(m, "link_layer") == "" {
			t.Errorf("port without link_layer: %v", m)
		}
	}
	if v := value(mfs, "llm_exporter_collector_success", "collector", "infiniband"); v != 1 {
		t.Errorf("infiniband collector success = %v", v)
	}
	for _, name := range []string{"go_goroutines", "process_resident_memory_bytes", "promhttp_metric_handler_requests_total"} {
		if mfs[name] == nil {
			t.Errorf("%s missing: exporter metrics are on by default", name)
		}
	}
	if bi := mfs["llm_exporter_build_info"]; bi == nil || label(bi.Metric[0], "version") != "e2e" {
		t.Errorf("build info = %v", bi)
	}
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.Label {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

func value(mfs map[string]*dto.MetricFamily, name, labelName, labelValue string) float64 {
	mf := mfs[name]
	if mf == nil {
		return -1
	}
	for _, m := range mf.Metric {
		if label(m, labelName) == labelValue {
			if m.Gauge != nil {
				return m.Gauge.GetValue()
			}
			return m.Counter.GetValue()
		}
	}
	return -1
}

// engineCoveragePages (under collector/engine/testdata) yield every llm_engine_*
// family between them: SGLang P/D of every version (KV transfer gauges and
// histograms, timeouts), SGLang with LoRA, vLLM NIXL P/D and vLLM with LoRA,
// MFU, speculative decoding and KV offload.
var engineCoveragePages = []string{
	"sglang-prefill-tp2.txt",
	"real/sglang-0.5.9-pd-kvgauges-prefill.txt",
	"real/sglang-main-kvtimeouts-pd-prefill.txt",
	"real/sglang-0.5.18-lora.txt",
	"real/vllm-main-20260519-nixl-pd-dp2-decode.txt",
	"real/vllm-main-20260519-lora-mfu-spec-offload.txt",
}

// TestMetricsDocumented: docs/metrics*.md list exactly the llm_* families the
// binary exposes on the fixture node (which exercises every one of them).
func TestMetricsDocumented(t *testing.T) {
	// Without the kubelet (none here) the attribution refreshes succeed, so its
	// last-success timestamp is served too; engine pages whose families
	// together cover every llm_engine_* one are served as engine targets (the
	// engine collector's TestCoveragePagesYieldEveryFamily keeps the same list).
	args := []string{"--path.sysfs=" + fixtureSysfs, "--no-attribution.kubelet"}
	for i, name := range engineCoveragePages {
		page, err := os.ReadFile(filepath.Join("../../collector/engine/testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/plain; version=0.0.4")
			w.Write(page)
		}))
		defer srv.Close()
		args = append(args, fmt.Sprintf("--engine.target=%s/metrics,namespace=llm,pod=engine-%d", srv.URL, i))
	}
	// A receiver that accepts everything, so push mode's self-metrics are served too.
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}))
	defer receiver.Close()
	e := start(t, append(args, "--remote-write.url="+receiver.URL+"/api/v1/write")...)
	exposed := map[string]bool{}
	for name := range parse(t, e.scrape(t)) {
		if strings.HasPrefix(name, "llm_") {
			exposed[name] = true
		}
	}
	// docs/metrics.md, plus docs/metrics-*.md pages of collectors documented apart.
	pages, _ := filepath.Glob(filepath.Join(filepath.Dir(metricsDoc), "metrics*.md"))
	var doc []byte
	for _, p := range pages {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		doc = append(doc, b...)
	}
	if len(doc) == 0 {
		t.Fatalf("no %s", metricsDoc)
	}
	documented := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `(llm_[a-z0-9_]+)`").FindAllStringSubmatch(string(doc), -1) {
		documented[m[1]] = true
	}
	for name := range exposed {
		if !documented[name] {
			t.Errorf("%s is exposed but not documented in docs/metrics.md", name)
		}
	}
	for name := range documented {
		// llm_gpu_*, llm_rank_info and llm_mig_rank_info need NVML, absent here:
		// collector/gpu checks them on go-nvml's mock, gpu_e2e_test.go and
		// dra_e2e_test.go on the fake libnvidia-ml.
		if !exposed[name] && !strings.HasPrefix(name, "llm_gpu_") && name != "llm_rank_info" && name != "llm_mig_rank_info" {
			t.Errorf("%s is documented in docs/metrics.md but not exposed", name)
		}
	}
}

func TestDisabledExporterMetricsAndCollector(t *testing.T) {
	e := start(t, "--path.sysfs="+fixtureSysfs, "--web.disable-exporter-metrics", "--no-collector.infiniband", "--no-attribution")
	mfs := parse(t, e.scrape(t))
	for name := range mfs {
		if strings.HasPrefix(name, "go_") || strings.HasPrefix(name, "process_") || strings.HasPrefix(name, "promhttp_") ||
			strings.HasPrefix(name, "llm_infiniband_") || strings.HasPrefix(name, "llm_exporter_collector_") {
			t.Errorf("%s exposed although disabled", name)
		}
	}
	if mfs["llm_exporter_build_info"] == nil {
		t.Error("build info must always be exposed")
	}
}

// TestFailingCollectorDoesNotFailScrape: a sysfs whose class/infiniband is not
// a directory makes the collector fail; the scrape still answers 200 with the
// failure reported and everything else served.
func TestFailingCollectorDoesNotFailScrape(t *testing.T) {
	sysfs := t.TempDir()
	os.MkdirAll(filepath.Join(sysfs, "class"), 0o755)
	os.WriteFile(filepath.Join(sysfs, "class/infiniband"), []byte("not a directory\n"), 0o644)
	e := start(t, "--path.sysfs="+sysfs)
	mfs := parse(t, e.scrape(t))
	if v := value(mfs, "llm_exporter_collector_success", "collector", "infiniband"); v != 0 {
		t.Errorf("collector success = %v, want 0", v)
	}
	if mfs["llm_exporter_build_info"] == nil || mfs["go_goroutines"] == nil {
		t.Error("a failing collector cost the rest of the scrape")
	}
	e.waitLog(t, "collector failed")
	// A node with no RDMA devices at all is not a failure.
	e = start(t, "--path.sysfs="+t.TempDir())
	if v := value(parse(t, e.scrape(t)), "llm_exporter_collector_success", "collector", "infiniband"); v != 1 {
		t.Errorf("collector success without RDMA devices = %v, want 1", v)
	}
}

// TestNoNVMLOnThisNode: on a node without libnvidia-ml (this one, and CI) the
// gpu collector fails, says so once, and everything else is served.
func TestNoNVMLOnThisNode(t *testing.T) {
	e := start(t, "--path.sysfs="+fixtureSysfs, "--collector.gpu.nvml-library=/nonexistent/libnvidia-ml.so.1")
	e.scrape(t)
	mfs := parse(t, e.scrape(t))
	if v := value(mfs, "llm_exporter_collector_success", "collector", "gpu"); v != 0 {
		t.Errorf("gpu collector success = %v, want 0", v)
	}
	if v := value(mfs, "llm_exporter_collector_success", "collector", "infiniband"); v != 1 {
		t.Errorf("infiniband collector success = %v, want 1", v)
	}
	if mfs["llm_infiniband_state_id"] == nil {
		t.Error("a missing NVML cost the InfiniBand series")
	}
	if n := strings.Count(e.waitLog(t, "cannot initialise NVML"), "cannot initialise NVML"); n != 1 {
		t.Errorf("NVML failure logged %d times over two scrapes, want once:\n%s", n, e.log)
	}
}

func TestLandingPageAndTelemetryPath(t *testing.T) {
	e := start(t, "--path.sysfs="+fixtureSysfs, "--web.telemetry-path=/probe")
	code, body := e.get(t, "/")
	if code != http.StatusOK || !strings.Contains(body, "llm-node-exporter") || !strings.Contains(body, `href="/probe"`) {
		t.Errorf("landing page = %d: %.300s", code, body)
	}
	if code, body := e.get(t, "/probe"); code != http.StatusOK || !strings.Contains(body, "llm_infiniband_state_id") {
		t.Errorf("/probe = %d", code)
	}
}

func TestWebConfigBasicAuth(t *testing.T) {
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(t.TempDir(), "web.yml")
	os.WriteFile(cfg, []byte("basic_auth_users:\n  prometheus: "+string(hash)+"\n"), 0o600)
	e := start(t, "--path.sysfs="+fixtureSysfs, "--web.config.file="+cfg)
	if code, _ := e.get(t, "/metrics"); code != http.StatusUnauthorized {
		t.Errorf("without credentials: %d, want 401", code)
	}
	req, _ := http.NewRequest(http.MethodGet, e.url+"/metrics", nil)
	req.SetBasicAuth("prometheus", "s3cret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("with credentials: %d, want 200", resp.StatusCode)
	}
}

func TestBadFlagsStopStartup(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--collector.infiniband.device-include=("}, "--collector.infiniband.device-include"},
		{[]string{"--no-such-flag"}, "unknown long flag"},
		{[]string{"--log.level=loud"}, "unrecognized log level"},
	} {
		out, err := exec.Command(binary, tc.args...).CombinedOutput()
		if err == nil {
			t.Errorf("%v: exited 0", tc.args)
			continue
		}
		if !strings.Contains(string(out), tc.want) {
			t.Errorf("%v: output %q does not mention %q", tc.args, out, tc.want)
		}
	}
}

func TestVersionFlag(t *testing.T) {
	out, err := exec.Command(binary, "--version").CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("llm-node-exporter, version e2e")) {
		t.Errorf("--version = %v: %s", err, out)
	}
}

// TestReadErrorsCountAcrossScrapes: the fixture's broken files are counted
// again on each scrape, and only logged once.
func TestReadErrorsCountAcrossScrapes(t *testing.T) {
	e := start(t, "--path.sysfs="+fixtureSysfs)
	e.scrape(t)
	mfs := parse(t, e.scrape(t))
	if v := value(mfs, "llm_infiniband_read_errors_total", "reason", "not_available"); v != 2 {
		t.Errorf("not_available after two scrapes = %v, want 2", v)
	}
	warnings := 0
	sc := bufio.NewScanner(strings.NewReader(e.waitLog(t, "symbol_error")))
	for sc.Scan() {
		if strings.Contains(sc.Text(), "level=WARN") && strings.Contains(sc.Text(), "symbol_error") {
			warnings++
		}
	}
	if warnings != 1 {
		t.Errorf("N/A file warned %d times over two scrapes, want once", warnings)
	}
}

// blockingCounterSysfs copies the fixture with mlx5_1's counters/symbol_error
// replaced by a FIFO: opening it for reading blocks until a writer comes, as a
// counter read blocks while the HCA's firmware does not answer. It returns the
// sysfs root and the FIFO's path.
func blockingCounterSysfs(t *testing.T) (string, string) {
	t.Helper()
	sysfs := filepath.Join(t.TempDir(), "sys")
	if out, err := runCmd("cp", "-a", fixtureSysfs, sysfs); err != nil {
		t.Fatalf("cp: %v: %s", err, out)
	}
	port, err := filepath.EvalSymlinks(filepath.Join(sysfs, "class/infiniband/mlx5_1/ports/1"))
	if err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(port, "counters/symbol_error")
	if err := os.Remove(fifo); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	// Never leave the exporter's reader blocked after the test.
	t.Cleanup(func() { unblock(fifo) })
	return sysfs, fifo
}

// unblock opens the FIFO for writing (releasing a reader blocked opening it)
// and writes a counter value.
func unblock(fifo string) {
	if f, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
		f.WriteString("7\n")
		f.Close()
	}
}

// TestBlockingSysfsReadEndToEnd: a counter file whose read blocks does not
// hang /metrics: every scrape answers with the port's other values and the
// other collectors, the file is read once (one stuck read, counted), and once
// the file answers and is fixed its counter comes back.
func TestBlockingSysfsReadEndToEnd(t *testing.T) {
	sysfs, fifo := blockingCounterSysfs(t)
	e := start(t, "--path.sysfs="+sysfs, "--no-attribution.kubelet")
	client := &http.Client{Timeout: patience}
	for scrape := 1; scrape <= 3; scrape++ {
		resp, err := client.Get(e.url + "/metrics")
		if err != nil {
			t.Fatalf("scrape %d with a blocking counter file: %v", scrape, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		mfs := parse(t, string(body))
		if v := deviceValue(mfs, "llm_infiniband_symbol_error_total", "mlx5_1"); v != -1 {
			t.Errorf("scrape %d: symbol_error of mlx5_1 = %v from a read that never returned", scrape, v)
		}
		if v := deviceValue(mfs, "llm_infiniband_port_errors_received_total", "mlx5_1"); v == -1 {
			t.Errorf("scrape %d: the port's other counters were lost", scrape)
		}
		if n := len(mfs["llm_infiniband_state_id"].GetMetric()); n != 10 {
			t.Errorf("scrape %d: %d ports served, want 10", scrape, n)
		}
		if v := value(mfs, "llm_exporter_collector_success", "collector", "infiniband"); v != 1 {
			t.Errorf("scrape %d: infiniband collector success = %v", scrape, v)
		}
		if v := value(mfs, "llm_infiniband_stuck_reads", "", ""); v != 1 {
			t.Errorf("scrape %d: stuck_reads = %v, want 1 (never a second read of the stuck file)", scrape, v)
		}
		if v := value(mfs, "llm_infiniband_read_errors_total", "reason", "timeout"); v != 1 {
			t.Errorf("scrape %d: timeouts = %v, want 1", scrape, v)
		}
		wantSkipped := float64(scrape - 1)
		if scrape == 1 {
			wantSkipped = -1 // none yet: no series
		}
		if v := value(mfs, "llm_infiniband_read_errors_total", "reason", "stuck"); v != wantSkipped {
			t.Errorf("scrape %d: skipped reads = %v, want %v", scrape, v, wantSkipped)
		}
		if mfs["go_goroutines"] == nil || mfs["llm_exporter_build_info"] == nil {
			t.Errorf("scrape %d: the exporter's other series were lost", scrape)
		}
	}
	// The firmware answers, and the file becomes a plain counter again.
	unblock(fifo)
	if err := os.Remove(fifo); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(fifo, []byte("9\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	e.scrapeUntil(t, "symbol_error of mlx5_1 back once its file answers", func(mfs map[string]*dto.MetricFamily) bool {
		return deviceValue(mfs, "llm_infiniband_symbol_error_total", "mlx5_1") == 9 && value(mfs, "llm_infiniband_stuck_reads", "", "") == 0
	})
}

// TestBlockingSysfsReadPushAndSIGTERM: with a counter file blocking, push mode
// still pushes and SIGTERM still ends the exporter.
func TestBlockingSysfsReadPushAndSIGTERM(t *testing.T) {
	sysfs, _ := blockingCounterSysfs(t)
	var pushes atomic.Int32
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Content-Encoding") == "snappy" {
			pushes.Add(1)
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer receiver.Close()
	e := start(t, "--path.sysfs="+sysfs, "--no-attribution.kubelet",
		"--remote-write.url="+receiver.URL+"/api/v1/write", "--remote-write.interval=200ms", "--remote-write.flush-timeout=5s")
	eventually(t, "3 pushes with a counter file blocking", func() bool { return pushes.Load() >= 3 })
	if err := syscall.Kill(e.pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-e.exited:
	case <-time.After(patience):
		t.Fatalf("the exporter ignored SIGTERM with a counter read blocked:\n%s", e.log)
	}
}

// deviceValue is name's value for RDMA device dev; -1 when absent.
func deviceValue(mfs map[string]*dto.MetricFamily, name, dev string) float64 {
	return value(mfs, name, "device", dev)
}
