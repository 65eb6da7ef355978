package main

// End-to-end tests of the engine collector through the built binary: memory
// bounded by series while a target serves a huge page, passthrough of real
// engine pages next to the exporter's own families, and promtool on the result.

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/common/expfmt"

	"github.com/llm-node-exporter/llm-node-exporter/collector/engine"
)

// startWithPID runs the binary as start does and also returns its PID.
func startWithPID(t *testing.T, args ...string) (*exporter, int) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, binary, append([]string{"--web.listen-address=" + addr, "--no-collector.gpu"}, args...)...)
	logs := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); cmd.Wait() })
	e := &exporter{url: "http://" + addr, log: logs}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if resp, err := http.Get(e.url + "/"); err == nil {
			resp.Body.Close()
			return e, cmd.Process.Pid
		}
		if time.Now().After(deadline) {
			t.Fatalf("exporter did not start: %s", logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// procStatus reads a field of /proc/<pid>/status in bytes (VmRSS, VmHWM).
func procStatus(t *testing.T, pid int, field string) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

// servePage serves a fixture page (or bytes) as an engine does.
func servePage(t *testing.T, page []byte) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		w.Write(page)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/metrics"
}

func enginePage(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("../../collector/engine/testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestEngineEndToEndHugePageBoundedMemory: one target serves a page of a
// million short series (16 MB, under the body limit) on every scrape; it
// fails as sample_limit, the other engine and the InfiniBand collector are
// served, and the exporter's peak RSS stays under the chart's 256 Mi limit.
func TestEngineEndToEndHugePageBoundedMemory(t *testing.T) {
	var huge bytes.Buffer
	for i := 0; i < 1_000_000; i++ {
		fmt.Fprintf(&huge, "m{i=\"%07d\"} 1\n", i)
	}
	hugeURL := servePage(t, huge.Bytes())
	goodURL := servePage(t, enginePage(t, "sglang-prefill-tp2.txt"))
	e, pid := startWithPID(t, "--path.sysfs="+fixtureSysfs, "--no-attribution", "--engine.passthrough",
		"--engine.target="+hugeURL+",pod=huge", "--engine.target="+goodURL+",pod=good")
	for i := 1; i <= 5; i++ {
		mfs := parse(t, e.scrape(t))
		up := map[string]float64{}
		for _, m := range mfs["llm_engine_up"].GetMetric() {
			up[label(m, "pod")] = m.Gauge.GetValue()
		}
		if up["huge"] != 0 || up["good"] != 1 {
			t.Fatalf("scrape %d: up = %v", i, up)
		}
		for _, m := range mfs["llm_engine_scrape_errors_total"].GetMetric() {
			if label(m, "pod") == "huge" && label(m, "reason") == "sample_limit" && m.Counter.GetValue() != float64(i) {
				t.Errorf("scrape %d: sample_limit errors = %v", i, m.Counter.GetValue())
			}
		}
		if mfs["llm_engine_time_to_first_token_seconds"] == nil || mfs["llm_infiniband_state_id"] == nil {
			t.Fatalf("scrape %d: the other engine or InfiniBand not served", i)
		}
		if v := value(mfs, "llm_exporter_collector_success", "collector", "infiniband"); v != 1 {
			t.Errorf("scrape %d: infiniband success = %v", i, v)
		}
	}
	hwm := procStatus(t, pid, "VmHWM")
	t.Logf("exporter VmHWM %d MiB, VmRSS %d MiB after 5 scrapes of a %d-byte, 1M-series page", hwm>>20, procStatus(t, pid, "VmRSS")>>20, huge.Len())
	if hwm > 250<<20 {
		t.Errorf("peak RSS %d MiB, over 250 MiB", hwm>>20)
	}
}

// goEnginePage is a Go engine's or gateway's page: client_golang's Go
// runtime and process collectors, as client_golang writes them.
func goEnginePage(t *testing.T) []byte {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	for _, mf := range mfs {
		if _, err := expfmt.MetricFamilyToText(&b, mf); err != nil {
			t.Fatal(err)
		}
	}
	return b.Bytes()
}

// TestEngineEndToEndPassthroughRealPages: passthrough over every real-shaped
// engine page, of every version (prometheus_client's process_* and python_* included) and a Go
// gateway's page, next to the exporter's own Go and process metrics. The
// gather has no error, the engines' clashing families are served as
// exported_<name>, and promtool finds nothing wrong with the exposition
// beyond the engines' own naming (their colons), never a duplicate.
func TestEngineEndToEndPassthroughRealPages(t *testing.T) {
	args := []string{"--path.sysfs=" + fixtureSysfs, "--no-attribution", "--engine.passthrough"}
	pages, _ := filepath.Glob("../../collector/engine/testdata/*.txt")
	// The engines' pages of newer versions (SGLang prints the same KV-transfer
	// names as gauges in 0.5.9 and histograms in 0.5.18: one is skipped per scrape).
	real, _ := filepath.Glob("../../collector/engine/testdata/real/[sv]*.txt")
	pages = append(append(pages, real...), "testdata/engines/vllm-v1-dp2.txt")
	for i, p := range pages {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		args = append(args, fmt.Sprintf("--engine.target=%s,namespace=llm,pod=engine-%d", servePage(t, b), i))
	}
	args = append(args, "--engine.target="+servePage(t, goEnginePage(t))+",namespace=llm,pod=gateway-0")
	e := start(t, args...)
	e.scrape(t)
	text := e.scrape(t)
	mfs := parse(t, text)
	if v := value(mfs, "promhttp_metric_handler_errors_total", "cause", "gathering"); v != 0 {
		t.Errorf("gathering errors: %v\n%s", v, e.log.String())
	}
	if strings.Contains(e.log.String(), "error gathering metrics") {
		t.Errorf("the exporter logged a gathering error:\n%s", e.log.String())
	}
	for _, name := range []string{"process_cpu_seconds_total", "go_goroutines"} {
		if mf := mfs[name]; mf == nil || len(mf.Metric) != 1 || len(mf.Metric[0].Label) != 0 {
			t.Errorf("the exporter's own %s: %v", name, mf)
		}
	}
	for _, name := range []string{"exported_process_cpu_seconds_total", "exported_go_goroutines", "python_gc_objects_collected_total", "python_info"} {
		if mfs[name] == nil {
			t.Errorf("%s not passed through", name)
		}
	}
	for name := range mfs {
		if strings.HasPrefix(name, "exported_") {
			continue
		}
		for _, p := range engine.ReservedPrefixes {
			if strings.HasPrefix(name, p) && mfs[name].GetHelp() != "" && strings.HasPrefix(mfs[name].GetHelp(), "Passthrough of") {
				t.Errorf("engine family %s served under one of the exporter's own prefixes", name)
			}
		}
	}

	bin := os.Getenv("PROMTOOL_BIN")
	if bin == "" {
		t.Skip("PROMTOOL_BIN is unset: `make test-engine-e2e` builds promtool from mixin/go.mod and runs this test with it")
	}
	cmd := exec.Command(bin, "check", "metrics")
	cmd.Stdin = strings.NewReader(text)
	out, err := cmd.CombinedOutput()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 3 {
			t.Fatalf("promtool check metrics: %v\n%s", err, out)
		}
	}
	// Exit 3 is lint problems: only the engines' own names may have them.
	kinds := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if line == "" {
			continue
		}
		name, problem, _ := strings.Cut(line, " ")
		kinds[problem]++
		engineName := strings.Contains(name, ":")
		if !engineName || strings.Contains(problem, "not unique") {
			t.Errorf("promtool: %s", line)
		}
	}
	t.Logf("promtool check metrics: lint problems on the engines' own families: %v", kinds)
}

// TestEngineEndToEndReservedPrefixes: every family the binary serves of its
// own starts with one of engine.ReservedPrefixes, the names the passthrough
// keeps clear of.
func TestEngineEndToEndReservedPrefixes(t *testing.T) {
	e := start(t, "--path.sysfs="+fixtureSysfs, "--engine.target="+servePage(t, enginePage(t, "sglang-prefill-tp2.txt")))
	for name := range parse(t, e.scrape(t)) {
		ok := false
		for _, p := range engine.ReservedPrefixes {
			ok = ok || strings.HasPrefix(name, p)
		}
		if !ok {
			t.Errorf("the exporter serves %s, outside engine.ReservedPrefixes", name)
		}
	}
}
