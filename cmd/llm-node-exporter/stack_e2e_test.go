package main

// The whole stack end to end, on loopback: fake SGLang prefill (TP2) and
// decode (DP2) engines, a vLLM V1 (DP2) engine and a vLLM V0 engine serving
// engine fixture pages (collector/engine/testdata, and testdata/engines for a
// V1 page with the request-size and iteration histograms), the fake kubelet, the exporter on the fixture node (a copy of
// testdata/sys, the fake 8-GPU NVML, engineProc's /proc) with the four
// engines as --engine.target, and a real Prometheus scraping the exporter and
// the engines every second with the committed rules/ and alerts/ loaded.
// Five more engines, read by the exporter only, serve the real-shaped pages of
// newer versions (collector/engine/testdata/real: vLLM NIXL P/D, vLLM LoRA
// with MFU, speculative decoding and KV offload, SGLang 0.5.9 KV gauges,
// SGLang main KV timeouts, SGLang LoRA), so that every llm_engine_* family
// reaches Prometheus; one more, the SGLang 0.5.18 P/D prefill page with its KV
// transfer histograms and FLOP counter, is the server of DP rank 1 of the
// GPU-holding prefill pod, so that the KV-against-fabric and MFU records join
// engine, GPU and RDMA port series of one rank;
// small static kube-state-metrics, node_exporter, cAdvisor and load-balancer
// pages stand in for the other sources the mixin joins with, and the inference
// gateway's endpoint pickers of three releases and ASM's proxy serve their
// real-shaped pages (the LoRA canary rules). Only
// the alerts' `for:` durations are shortened (to 2s) in a temporary copy; see
// docs/e2e.md for why the rate windows are kept. `make test-stack-e2e`
// (mk/stack.mk) builds prometheus from mixin/go.mod and passes PROMETHEUS_BIN.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	podresources "k8s.io/kubelet/pkg/apis/podresources/v1"
)

// fakeEngine serves one engine fixture page; down switches it to 503.
type fakeEngine struct {
	srv  *httptest.Server
	down atomic.Bool
}

// Engine fixture pages: the engine collector's (real pages of the engines), and
// this package's testdata/engines, pages of the same engines with families the
// collector's pages lack (docs/e2e.md).
const (
	collectorPages = "../../collector/engine/testdata"
	stackPages     = "testdata/engines"
)

// startFakeEngine serves the page at path (collectorPages or stackPages / file).
func startFakeEngine(t *testing.T, path string) *fakeEngine {
	t.Helper()
	page, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	e := &fakeEngine{}
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if e.down.Load() {
			http.Error(w, "engine down", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		w.Write(page)
	}))
	t.Cleanup(e.srv.Close)
	return e
}

// host is the engine's host:port, as a Prometheus static target.
func (e *fakeEngine) host() string { return strings.TrimPrefix(e.srv.URL, "http://") }

// startStackPrometheus runs prometheus with cfg (prometheus.yml text) in dir
// and waits until it is ready; it is stopped with SIGTERM at the end of t.
func startStackPrometheus(t *testing.T, bin, dir, cfg string) *promServer {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	cmd := exec.Command(bin, "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+addr)
	return (&promServer{url: "http://" + addr}).run(t, cmd)
}

// forLine matches the `for:` of an alerting rule in the rendered YAML.
var forLine = regexp.MustCompile(`(?m)^(\s+for: )(\S+)$`)

// shortFor copies the committed alerts with every non-zero `for:` set to 2s.
func shortFor(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	out := forLine.ReplaceAllStringFunc(string(b), func(l string) string {
		m := forLine.FindStringSubmatch(l)
		if m[2] == "0s" {
			return l
		}
		n++
		return m[1] + "2s"
	})
	if n == 0 {
		t.Fatalf("%s: no `for:` to shorten", src)
	}
	if err := os.WriteFile(dst, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
}

type promRule struct {
	Name   string `json:"name"`
	Query  string `json:"query"`
	Health string `json:"health"`
	Error  string `json:"lastError"`
	Type   string `json:"type"`
	State  string `json:"state"`
}

func (p *promServer) rules(t *testing.T) (groups map[string][]promRule) {
	t.Helper()
	resp, err := p.get("/api/v1/rules")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r struct {
		Data struct {
			Groups []struct {
				Name  string     `json:"name"`
				Rules []promRule `json:"rules"`
			} `json:"groups"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatal(err)
	}
	groups = map[string][]promRule{}
	for _, g := range r.Data.Groups {
		groups[g.Name] = g.Rules
	}
	return groups
}

// groupsEvaluatedAfter reports whether every rule group's last evaluation
// started after at.
func (p *promServer) groupsEvaluatedAfter(t *testing.T, at time.Time) bool {
	t.Helper()
	resp, err := p.get("/api/v1/rules")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r struct {
		Data struct {
			Groups []struct {
				LastEvaluation time.Time `json:"lastEvaluation"`
			} `json:"groups"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatal(err)
	}
	for _, g := range r.Data.Groups {
		if g.LastEvaluation.Before(at) {
			return false
		}
	}
	return len(r.Data.Groups) > 0
}

// firing lists the firing alerts named alert, as their label sets.
func (p *promServer) firing(t *testing.T, alert string) []map[string]string {
	t.Helper()
	var out []map[string]string
	for _, s := range p.query(t, `ALERTS{alertstate="firing",alertname="`+alert+`"}`) {
		out = append(out, s.Metric)
	}
	return out
}

// waitFor polls cond every 250 ms for at most d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("%s: not within %s", what, d)
}

// stackExceptions: recording rules and dashboard queries that cannot return
// data in this stack, by a regexp over the rule's name or the panel query,
// with the reason. A listed rule that does return data is an error too, so the
// list stays honest.
var stackExceptions = []struct {
	re     *regexp.Regexp
	reason string
}{
	// Families the engines of this stack do not print:
	{regexp.MustCompile(`engine_last_batch_queue_latency_seconds`),
		"sglang:avg_request_queue_latency: an older SGLang gauge, gone from the SGLang version of the pages (which has queue_time_seconds)"},
	// The fixture node's attributed ports (mlx5_0-7) are InfiniBand: the RoCE hw_counters exist
	// only on its Ethernet ports mlx5_8 and mlx5_9, which no pod owns.
	{regexp.MustCompile(`namespace_pod_dp_rank:llm_infiniband_(np_cnp_packets_sent|rp_cnp_packets_handled|np_ecn_marked_roce_packets_received|roce_adp_retransmits)`),
		"RoCE congestion counters per DP rank: the attributed ports of the fixture node are InfiniBand, its RoCE ports belong to no pod"},
	// Dashboard queries of states the fixture node does not have:
	{regexp.MustCompile(`llm_gpu_gpm_supported\{[^}]*\} == 0`), "every fake H100 supports GPM"},
}

// knownRuleErrors: recording rules that fail to evaluate on this stack's
// pages because of a known mixin bug; the test asserts they still fail, so an
// entry must go when its rule is fixed. (The vLLM inter-token-latency rules that
// failed on a page serving both the current and the deprecated name were fixed:
// the mixin now prefers one name with `or`.)
var knownRuleErrors = map[string]string{}

// tryQuery is query without failing the test: the result count, or the error.
func (p *promServer) tryQuery(q string) (int, error) {
	resp, err := p.get("/api/v1/query?query=" + url.QueryEscape(q))
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var r struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return 0, err
	}
	if r.Status != "success" {
		return 0, fmt.Errorf("%s", r.Error)
	}
	return len(r.Data.Result), nil
}

// tryQueryEventually is tryQuery retried until it returns series or deadline
// passes; a query listed in stackExceptions (by name) is asked once.
func (p *promServer) tryQueryEventually(q string, deadline time.Time, name string) (int, error) {
	for {
		n, err := p.tryQuery(q)
		if _, ok := excepted(name); n > 0 || err != nil || ok || time.Now().After(deadline) {
			return n, err
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func excepted(s string) (string, bool) {
	for _, e := range stackExceptions {
		if e.re.MatchString(s) {
			return e.reason, true
		}
	}
	return "", false
}

func TestStackEndToEnd(t *testing.T) {
	if os.Getenv("PROMETHEUS_BIN") == "" {
		t.Skip("PROMETHEUS_BIN is unset: `make test-stack-e2e` builds prometheus from mixin/go.mod and runs this test with it")
	}
	bin := prometheusBin(t)
	lib := fakeNVML(t)
	dir := t.TempDir()

	prefill := startFakeEngine(t, filepath.Join(collectorPages, "sglang-prefill-tp2.txt"))
	decode := startFakeEngine(t, filepath.Join(collectorPages, "sglang-decode-dp2.txt"))
	// The V1 page of vllm-v1-dp2.txt with the request-size and iteration
	// histograms that V1 prints (and the collector's page leaves out).
	vllm := startFakeEngine(t, filepath.Join(stackPages, "vllm-v1-dp2.txt"))
	// A vLLM V0 engine: swapped requests, CPU KV-cache usage.
	vllmV0 := startFakeEngine(t, filepath.Join(collectorPages, "vllm-v0-old.txt"))
	// Newer engine versions, through the exporter only (no direct job): pod, role, page.
	var newer []string
	for _, e := range newerEngines {
		srv := startFakeEngine(t, filepath.Join(collectorPages, "real", e.page))
		newer = append(newer, "--engine.target="+srv.srv.URL+"/metrics,role="+e.role+",namespace=llm,pod="+e.pod+e.labels)
	}
	socket := startFakeKubelet(t, []*podresources.PodResources{
		gpuPod("llm", "sglang-prefill-0", "sglang", 0, 1, 2, 3),
		gpuPod("llm", "sglang-decode-0", "sglang", 4, 5, 6, 7),
	})
	// A copy of the fixture sysfs whose port states the test rewrites.
	sysfs := filepath.Join(dir, "sys")
	if out, err := runCmd("cp", "-a", fixtureSysfs, sysfs); err != nil {
		t.Fatalf("cp: %v: %s", err, out)
	}
	// GPU 6 (decode DP2) is lost while this file exists.
	lostFile := filepath.Join(dir, "gpu6-lost")
	t.Setenv("FAKENVML_LOST_GPU", "6")
	t.Setenv("FAKENVML_LOST_FILE", lostFile)
	// An application XID (13) on GPU 2, so that the XID panels have data.
	t.Setenv("FAKENVML_XID", "2:13")
	e := start(t, append([]string{"--path.sysfs=" + sysfs, "--path.procfs=" + engineProc(t),
		"--collector.gpu.nvml-library=" + lib, "--attribution.kubelet-socket=" + socket,
		"--collector.gpu.gpm-interval=100ms",
		"--engine.target=" + prefill.srv.URL + "/metrics,role=prefill,namespace=llm,pod=sglang-prefill-0,engine=sglang",
		"--engine.target=" + decode.srv.URL + "/metrics,role=decode,namespace=llm,pod=sglang-decode-0,engine=sglang",
		"--engine.target=" + vllm.srv.URL + "/metrics,role=unified,namespace=llm,pod=vllm-0,engine=vllm",
		"--engine.target=" + vllmV0.srv.URL + "/metrics,role=unified,namespace=llm,pod=vllm-v0-0,engine=vllm"}, newer...)...)

	rulesFile, _ := filepath.Abs("../../rules/llm-node-exporter.rules.yaml")
	alertsFile := filepath.Join(dir, "alerts.yaml")
	shortFor(t, "../../alerts/llm-node-exporter.alerts.yaml", alertsFile)

	// The exporter's job as the mixin selects it (llmExporterSelector), with
	// honor_labels and the node label the PodMonitor adds; the engines scraped
	// directly under the seed job names "<namespace>/<app>-<role>".
	engineJob := func(job, pod string, e *fakeEngine) string {
		return fmt.Sprintf(`  - job_name: %s
    static_configs:
      - targets: [%q]
        labels: {namespace: llm, pod: %s, node: fixture-node, region: e2e}
`, job, e.host(), pod)
	}
	// The other sources the mixin joins with, as small static pages.
	pageJob := func(job, labels, page string) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/plain; version=0.0.4")
			w.Write([]byte(page))
		}))
		t.Cleanup(srv.Close)
		return fmt.Sprintf(`  - job_name: %s
    honor_labels: true
    static_configs:
      - targets: [%q]
        labels: {%s}
`, job, strings.TrimPrefix(srv.URL, "http://"), labels)
	}
	// The inference gateway: endpoint pickers of three releases (GAIE v0.3.0's inference_model_*,
	// GAIE v1.3.1's inference_objective_*, the llm-d router v0.10.0 printing llm_d_epp_* and the
	// deprecated GAIE names side by side) and ASM's proxy token counters, all in namespace llm
	// (collector/engine/testdata/real/SOURCES.md).
	gatewayPage := func(name string) string {
		b, err := os.ReadFile(filepath.Join(collectorPages, "real", name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	gateways := pageJob("llm/epp-gaie-v0-3", "region: e2e, namespace: llm", gatewayPage("epp-gaie-v0.3.0.txt")) +
		pageJob("llm/epp-gaie-v1-3", "region: e2e, namespace: llm", gatewayPage("epp-gaie-v1.3.1.txt")) +
		pageJob("llm/epp-llm-d", "region: e2e, namespace: llm", gatewayPage("llm-d-router-v0.10.0-epp.txt")) +
		pageJob("llm/asm-gateway", "region: e2e, namespace: llm", gatewayPage("asm-proxy.txt"))
	others := gateways + pageJob("kube-state-metrics", "region: e2e", kubeStateMetricsPage) +
		pageJob("node-exporter", "region: e2e, node: fixture-node", nodeExporterPage) +
		pageJob("kubelet", "region: e2e, node: fixture-node", cadvisorPage) +
		pageJob("llm/glm-lb", "region: e2e", loadBalancerPage)
	cfg := `global:
  scrape_interval: 1s
  scrape_timeout: 900ms
  evaluation_interval: 1s
  external_labels: {}
rule_files: [` + fmt.Sprintf("%q, %q, %q", rulesFile, alertsFile, kubernetesMixinRules(t, dir)) + `]
scrape_configs:
  - job_name: llm-node-exporter
    honor_labels: true
    static_configs:
      - targets: [` + fmt.Sprintf("%q", strings.TrimPrefix(e.url, "http://")) + `]
        labels: {node: fixture-node, region: e2e}
` + engineJob("llm/sglang-prefill", "sglang-prefill-0", prefill) +
		engineJob("llm/sglang-decode", "sglang-decode-0", decode) +
		engineJob("llm/vllm", "vllm-0", vllm) +
		engineJob("llm/vllm-v0", "vllm-v0-0", vllmV0) + others
	p := startStackPrometheus(t, bin, dir, cfg)

	// Every target up, then every rule group evaluated after two more scrapes,
	// so that every rate has two samples (recorded chains that need more
	// evaluations are waited for per query below).
	p.waitQuery(t, `count(up == 1)`, "13 targets up", func(s []promSeries) bool {
		return len(s) == 1 && fmt.Sprint(s[0].Value[1]) == "13"
	})
	upAt := time.Now()
	waitFor(t, 30*time.Second, "GPM series in Prometheus", func() bool {
		return len(p.query(t, `llm_gpu_tensor_active_ratio`)) == 8
	})
	waitFor(t, 60*time.Second, "every rule group evaluated 2 s after every target was up", func() bool {
		return p.groupsEvaluatedAfter(t, upAt.Add(2*time.Second))
	})

	t.Run("RulesHealthyAndProduceSeries", func(t *testing.T) { checkRulesProduceSeries(t, p) })
	t.Run("DashboardQueriesReturnData", func(t *testing.T) { checkDashboardsReturnData(t, p, "../../dashboards/*.json") })
	// The pack beside kubernetes-mixin's pod owner join, and the seeds profile's rules and dashboards
	// on the same targets (stack_mixin_e2e_test.go).
	t.Run("CoexistsWithKubernetesMixin", func(t *testing.T) { checkKubernetesMixinCoexistence(t, p) })
	t.Run("SeedsProfile", func(t *testing.T) { checkSeedsProfile(t, bin, dir, cfg, rulesFile, alertsFile) })

	t.Run("EveryEngineFamilyInPrometheus", func(t *testing.T) {
		// Every normalised family docs/metrics-engine.md lists is stored by
		// Prometheus from the exporter's job.
		doc, err := os.ReadFile("../../docs/metrics-engine.md")
		if err != nil {
			t.Fatal(err)
		}
		rows := regexp.MustCompile("(?m)^\\| `(llm_engine_[a-z0-9_]+)` \\| (gauge|counter|histogram) \\|").FindAllStringSubmatch(string(doc), -1)
		if len(rows) < 50 {
			t.Fatalf("%d families in the doc", len(rows))
		}
		for _, r := range rows {
			name := r[1]
			if r[2] == "histogram" {
				name += "_count"
			}
			if n, err := p.tryQuery(name + `{job="llm-node-exporter"}`); err != nil || n == 0 {
				t.Errorf("%s: %d series (%v)", name, n, err)
			}
		}
		// The labels and units the rules are written against, as Prometheus stores them.
		for _, c := range []struct {
			q    string
			want string // the value of the one series
		}{
			{`llm_engine_lora_adapters{pod="vllm-lora-0",adapter="sql-lora-2",state="running",dp_rank=""}`, "1"},
			{`llm_engine_lora_adapters{pod="vllm-lora-0",adapter="tweet-summary-1",state="waiting"}`, "1"},
			{`count(llm_engine_lora_adapters{pod="vllm-lora-0"})`, "3"},
			{`llm_engine_lora_max_adapters{pod="vllm-lora-0"}`, "4"},
			{`llm_engine_kv_transfer_seconds_count{pod="vllm-pd-decode-0",connector="nixl",dp_rank="1",role="decode",tp_rank=""}`, "1120"},
			// 50 MiB, in bytes; 11 transfers at most that large on the SGLang 0.5.18 page.
			{`llm_engine_kv_transfer_bytes_bucket{pod="sglang-pd-prefill-1",connector="sglang",le="5.24288e+07"}`, "11"},
			{`llm_engine_kv_transfer_seconds_bucket{pod="sglang-pd-prefill-1",connector="sglang",le="0.025"}`, "7"},
			{`llm_engine_kv_transfer_timeouts_total{pod="sglang-pd-prefill-1",connector="sglang",stage="transfer"}`, "2"},
			{`llm_engine_kv_transfer_last_seconds{pod="sglang-059-prefill-0",connector="sglang"}`, "0.061"},
			{`llm_engine_forward_occupancy_ratio{pod="sglang-lora-0"}`, "0.795"},
			{`count(llm_engine_forward_occupancy_ratio{pod="sglang-pd-prefill-1"}) or vector(0)`, "0"}, // NaN on the page
			{`llm_engine_prompt_tokens_by_source_total{pod="vllm-pd-decode-0",dp_rank="0",source="external_kv_transfer"}`, "696823"},
		} {
			res := p.query(t, c.q)
			if len(res) != 1 || fmt.Sprint(res[0].Value[1]) != c.want {
				t.Errorf("%s: %v, want one series of %s", c.q, res, c.want)
			}
		}
	})

	t.Run("KVFabricAndMFURecords", func(t *testing.T) { checkKVFabricRecords(t, p) })
	t.Run("LoRACanary", func(t *testing.T) { checkLoRACanary(t, p) })

	t.Run("Attribution", func(t *testing.T) {
		// GPU i: prefill DP i (0-3) or decode DP i-4; the HCA mlx5_i beside it.
		for gpu := 0; gpu < 8; gpu++ {
			pod, role, dp := "sglang-prefill-0", "prefill", gpu
			if gpu >= 4 {
				pod, role, dp = "sglang-decode-0", "decode", gpu-4
			}
			for _, q := range []string{
				fmt.Sprintf(`llm_gpu_power_watts{job="llm-node-exporter",gpu="%d"}`, gpu),
				fmt.Sprintf(`llm_infiniband_port_data_received_bytes_total{job="llm-node-exporter",device="mlx5_%d"}`, gpu),
			} {
				res := p.query(t, q)
				if len(res) != 1 {
					t.Errorf("%s: %d series, want 1", q, len(res))
					continue
				}
				m := res[0].Metric
				if m["pod"] != pod || m["role"] != role || m["dp_rank"] != fmt.Sprint(dp) || m["namespace"] != "llm" || m["node"] != "fixture-node" {
					t.Errorf("%s: labels %v, want pod %s role %s dp_rank %d in llm on fixture-node", q, m, pod, role, dp)
				}
			}
		}
		// Engine series through the exporter: role from the target, dp_rank from the page
		// (the prefill pod's rank 1 from its target: that page has none).
		for _, c := range []struct {
			pod, role string
			dpRanks   string
		}{{"sglang-prefill-0", "prefill", ",1"}, {"sglang-decode-0", "decode", "0,1"}, {"vllm-0", "unified", "0,1"}} {
			res := p.query(t, `llm_engine_requests_running{job="llm-node-exporter",pod="`+c.pod+`"}`)
			var ranks []string
			for _, s := range res {
				if s.Metric["role"] != c.role || s.Metric["namespace"] != "llm" {
					t.Errorf("llm_engine_requests_running of %s: labels %v, want role %s", c.pod, s.Metric, c.role)
				}
				ranks = append(ranks, s.Metric["dp_rank"])
			}
			sort.Strings(ranks)
			if got := strings.Join(ranks, ","); len(res) == 0 || got != c.dpRanks {
				t.Errorf("llm_engine_requests_running of %s: dp_rank %q over %d series, want %q", c.pod, got, len(res), c.dpRanks)
			}
		}
		// Recorded per-rank series keep the join.
		res := p.query(t, `namespace_pod_dp_rank:engine_requests_running:max{pod="sglang-decode-0"}`)
		if len(res) != 2 {
			t.Errorf("namespace_pod_dp_rank:engine_requests_running:max of the decode pod: %d series, want 2 (DP2): %v", len(res), res)
		}
	})

	t.Run("AlertsFireAndResolve", func(t *testing.T) {
		type fault struct {
			alert  string
			labels map[string]string
		}
		faults := []fault{
			// A lost GPU keeps its attribution (the gpu collector lists it with
			// its last identity and processes), so the alert names the pod.
			{"LLMGPULost", map[string]string{"gpu": "6", "uuid": fakeUUID(6), "node": "fixture-node", "pod": "sglang-decode-0", "role": "decode", "dp_rank": "2"}},
			{"LLMEngineDown", map[string]string{"pod": "sglang-decode-0", "job": "llm/sglang-decode"}},
			{"LLMEngineDown", map[string]string{"pod": "sglang-decode-0", "job": "llm-node-exporter"}},
			{"LLMInfiniBandPortDown", map[string]string{"device": "mlx5_0", "pod": "sglang-prefill-0"}},
		}
		fires := func(f fault) bool {
		next:
			for _, m := range p.firing(t, f.alert) {
				for k, v := range f.labels {
					if m[k] != v {
						continue next
					}
				}
				return true
			}
			return false
		}
		// The fixture's own DOWN port (mlx5_3) fires from the start (its
		// `for:` may still be running when this subtest begins).
		waitFor(t, 30*time.Second, "LLMInfiniBandPortDown firing for the fixture's DOWN port mlx5_3", func() bool {
			return fires(fault{"LLMInfiniBandPortDown", map[string]string{"device": "mlx5_3"}})
		})
		for _, f := range faults {
			if fires(f) {
				t.Fatalf("%s %v firing before the fault", f.alert, f.labels)
			}
		}
		state := filepath.Join(sysfs, "class/infiniband/mlx5_0/ports/1/state")
		active, err := os.ReadFile(state)
		if err != nil {
			t.Fatal(err)
		}
		// Faults in: GPU 6 lost, the decode engine answering 503, mlx5_0 DOWN.
		if err := os.WriteFile(lostFile, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		decode.down.Store(true)
		if err := os.WriteFile(state, []byte("1: DOWN\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, f := range faults {
			waitFor(t, 30*time.Second, fmt.Sprintf("%s %v firing", f.alert, f.labels), func() bool { return fires(f) })
		}
		// Faults out.
		if err := os.Remove(lostFile); err != nil {
			t.Fatal(err)
		}
		decode.down.Store(false)
		if err := os.WriteFile(state, active, 0o644); err != nil {
			t.Fatal(err)
		}
		for _, f := range faults {
			waitFor(t, 30*time.Second, fmt.Sprintf("%s %v resolved", f.alert, f.labels), func() bool { return !fires(f) })
		}
	})
}

// checkRulesProduceSeries: every rule Prometheus loaded is healthy and every recording rule
// produces series, but for the listed exceptions.
func checkRulesProduceSeries(t *testing.T, p *promServer) {
	groups := p.rules(t)
	if len(groups) == 0 {
		t.Fatal("no rule groups loaded")
	}
	var names []string
	for g := range groups {
		names = append(names, g)
	}
	sort.Strings(names)
	recording, producing := 0, 0
	// Chains of recorded series fill in over a few evaluations: wait for
	// an empty result at most this long (in all) before calling it empty.
	deadline := time.Now().Add(20 * time.Second)
	for _, g := range names {
		for i, r := range groups[g] {
			known, isKnown := knownRuleErrors[r.Name]
			switch {
			case r.Health != "ok" && isKnown:
				t.Logf("known failure of %s[%d] %s (%s): %s", g, i, r.Name, known, r.Error)
				continue
			case r.Health != "ok":
				t.Errorf("%s[%d] %s: health %q: %s", g, i, r.Name, r.Health, r.Error)
				continue
			}
			if r.Type != "recording" {
				continue
			}
			recording++
			n, err := p.tryQueryEventually(r.Query, deadline, r.Name)
			if err != nil {
				t.Errorf("%s[%d] %s: %v", g, i, r.Name, err)
				continue
			}
			reason, ok := excepted(r.Name)
			switch {
			case n > 0 && ok:
				t.Errorf("%s[%d] %s produces %d series but is listed as an exception (%s)", g, i, r.Name, n, reason)
			case n > 0:
				producing++
			case !ok:
				t.Errorf("%s[%d] %s produces no series:\n%s", g, i, r.Name, r.Query)
			}
		}
	}
	for name, why := range knownRuleErrors {
		failing := false
		for _, g := range groups {
			for _, r := range g {
				failing = failing || (r.Name == name && r.Health != "ok")
			}
		}
		if !failing {
			t.Errorf("%s is listed as failing (%s) but evaluates: remove it from knownRuleErrors", name, why)
		}
	}
	t.Logf("%d of %d recording rules produce series", producing, recording)
}

// checkDashboardsReturnData: every panel query of the dashboards (a glob) returns data, but for
// the listed exceptions.
func checkDashboardsReturnData(t *testing.T, p *promServer, dashboards string) {
	files, _ := filepath.Glob(dashboards)
	if len(files) == 0 {
		t.Fatal("no dashboards")
	}
	total, data := 0, 0
	deadline := time.Now().Add(20 * time.Second)
	for _, f := range files {
		for _, q := range panelQueries(t, f) {
			total++
			expr := grafanaVars(q.expr)
			n, err := p.tryQueryEventually(expr, deadline, q.expr)
			reason, ok := excepted(q.expr)
			switch {
			case err != nil:
				t.Errorf("%s %q: %s: %v", filepath.Base(f), q.title, expr, err)
			case n > 0 && ok:
				t.Errorf("%s %q returns data but is listed as an exception (%s): %s", filepath.Base(f), q.title, reason, q.expr)
			case n > 0:
				data++
			case !ok:
				t.Errorf("%s %q returns no data: %s", filepath.Base(f), q.title, expr)
			}
		}
	}
	t.Logf("%d of %d panel queries return data", data, total)
}

// newerEngines are the real-shaped pages of newer engine versions the
// exporter reads in the stack (collector/engine/testdata/real/SOURCES.md).
// The last one serves DP rank 1 of the prefill pod that holds GPUs 0-3 (its
// schedulers are DP0-3 on one GPU each, engineProc): a page without dp_rank
// labels takes the target's, as one SGLang server per DP rank is scraped.
var newerEngines = []struct{ pod, role, page, labels string }{
	{"vllm-pd-decode-0", "decode", "vllm-main-20260519-nixl-pd-dp2-decode.txt", ""},
	{"vllm-lora-0", "unified", "vllm-main-20260519-lora-mfu-spec-offload.txt", ""},
	{"sglang-pd-prefill-1", "prefill", "sglang-main-kvtimeouts-pd-prefill.txt", ""},
	{"sglang-059-prefill-0", "prefill", "sglang-0.5.9-pd-kvgauges-prefill.txt", ""},
	{"sglang-lora-0", "unified", "sglang-0.5.18-lora.txt", ""},
	{"sglang-prefill-0", "prefill", "sglang-0.5.18-pd-kvhist-prefill.txt", ",dp_rank=1"},
}

// kube-state-metrics: the SGLang prefill pod owned by a ReplicaSet of the Deployment sglang-prefill,
// the decode pod the leader of the LeaderWorkerSet sglang-decode (its leader StatefulSet, the LWS
// label allow-listed on kube_pod_labels), vllm-0 of a Deployment, vllm-v0-0 of a StatefulSet, a
// DaemonSet pod and a bare pod, all on the fixture node (app sglang, roles from the names).
const kubeStateMetricsPage = `# TYPE kube_pod_owner gauge
kube_pod_owner{namespace="llm",pod="sglang-prefill-0",owner_kind="ReplicaSet",owner_name="sglang-prefill-5d8f7c9b4",owner_is_controller="true"} 1
kube_pod_owner{namespace="llm",pod="sglang-decode-0",owner_kind="StatefulSet",owner_name="sglang-decode",owner_is_controller="true"} 1
kube_pod_owner{namespace="llm",pod="vllm-0",owner_kind="ReplicaSet",owner_name="vllm-7f6d5c4b3",owner_is_controller="true"} 1
kube_pod_owner{namespace="llm",pod="vllm-v0-0",owner_kind="StatefulSet",owner_name="vllm-v0",owner_is_controller="true"} 1
kube_pod_owner{namespace="llm-node-exporter",pod="llm-node-exporter-x7k2p",owner_kind="DaemonSet",owner_name="llm-node-exporter",owner_is_controller="true"} 1
kube_pod_owner{namespace="llm",pod="debug-shell",owner_kind="",owner_name="",owner_is_controller=""} 1
# TYPE kube_pod_labels gauge
kube_pod_labels{namespace="llm",pod="sglang-prefill-0",uid="u1"} 1
kube_pod_labels{namespace="llm",pod="sglang-decode-0",uid="u2",label_leaderworkerset_sigs_k8s_io_name="sglang-decode"} 1
kube_pod_labels{namespace="llm",pod="vllm-0",uid="u3"} 1
kube_pod_labels{namespace="llm",pod="vllm-v0-0",uid="u4"} 1
kube_pod_labels{namespace="llm-node-exporter",pod="llm-node-exporter-x7k2p",uid="u5"} 1
kube_pod_labels{namespace="llm",pod="debug-shell",uid="u6"} 1
# TYPE kube_replicaset_owner gauge
kube_replicaset_owner{namespace="llm",replicaset="sglang-prefill-5d8f7c9b4",owner_kind="Deployment",owner_name="sglang-prefill",owner_is_controller="true"} 1
kube_replicaset_owner{namespace="llm",replicaset="vllm-7f6d5c4b3",owner_kind="Deployment",owner_name="vllm",owner_is_controller="true"} 1
# TYPE kube_pod_info gauge
kube_pod_info{namespace="llm",pod="sglang-prefill-0",node="fixture-node",host_ip="10.0.0.1",pod_ip="10.1.0.10"} 1
kube_pod_info{namespace="llm",pod="sglang-decode-0",node="fixture-node",host_ip="10.0.0.1",pod_ip="10.1.0.11"} 1
kube_pod_info{namespace="llm",pod="vllm-0",node="fixture-node",host_ip="10.0.0.1",pod_ip="10.1.0.12"} 1
kube_pod_info{namespace="llm",pod="vllm-v0-0",node="fixture-node",host_ip="10.0.0.1",pod_ip="10.1.0.13"} 1
kube_pod_info{namespace="llm-node-exporter",pod="llm-node-exporter-x7k2p",node="fixture-node",host_ip="10.0.0.1",pod_ip="10.0.0.1"} 1
kube_pod_info{namespace="llm",pod="debug-shell",node="fixture-node",host_ip="10.0.0.1",pod_ip="10.1.0.14"} 1
`

// node_exporter's InfiniBand collector on the fixture node: two HCAs.
const nodeExporterPage = `# TYPE node_infiniband_port_data_received_bytes_total counter
node_infiniband_port_data_received_bytes_total{device="mlx5_0",port="1"} 1.2e+12
node_infiniband_port_data_received_bytes_total{device="mlx5_4",port="1"} 3.4e+12
# TYPE node_infiniband_port_data_transmitted_bytes_total counter
node_infiniband_port_data_transmitted_bytes_total{device="mlx5_0",port="1"} 2.1e+12
node_infiniband_port_data_transmitted_bytes_total{device="mlx5_4",port="1"} 4.3e+12
# TYPE node_infiniband_port_packets_received_total counter
node_infiniband_port_packets_received_total{device="mlx5_0",port="1"} 3e+08
node_infiniband_port_packets_received_total{device="mlx5_4",port="1"} 8e+08
# TYPE node_infiniband_port_packets_transmitted_total counter
node_infiniband_port_packets_transmitted_total{device="mlx5_0",port="1"} 5e+08
node_infiniband_port_packets_transmitted_total{device="mlx5_4",port="1"} 9e+08
# TYPE node_infiniband_port_transmit_wait_total counter
node_infiniband_port_transmit_wait_total{device="mlx5_0",port="1"} 12345
node_infiniband_port_transmit_wait_total{device="mlx5_4",port="1"} 67890
`

// cAdvisor (the kubelet's /metrics/cadvisor): the pods' network.
const cadvisorPage = `# TYPE container_network_receive_bytes_total counter
container_network_receive_bytes_total{namespace="llm",pod="sglang-prefill-0",interface="eth0"} 5e+09
container_network_receive_bytes_total{namespace="llm",pod="sglang-decode-0",interface="eth0"} 6e+09
# TYPE container_network_transmit_bytes_total counter
container_network_transmit_bytes_total{namespace="llm",pod="sglang-prefill-0",interface="eth0"} 7e+09
container_network_transmit_bytes_total{namespace="llm",pod="sglang-decode-0",interface="eth0"} 8e+09
`

// The in-house load balancer's watched endpoints ("ip:port[:dp_rank]").
const loadBalancerPage = `# TYPE glm_watched_endpoints gauge
glm_watched_endpoints{pool="prefill",exported_endpoint="10.1.0.10:30000"} 1
glm_watched_endpoints{pool="decode",exported_endpoint="10.1.0.11:30001:0"} 1
glm_watched_endpoints{pool="decode",exported_endpoint="10.1.0.11:30001:1"} 1
`

type panelQuery struct{ title, expr string }

// panelQueries lists the Prometheus queries of every panel (rows included) of a dashboard.
func panelQueries(t *testing.T, file string) []panelQuery {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	type panel struct {
		Title   string `json:"title"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
		Panels []json.RawMessage `json:"panels"`
	}
	var d struct {
		Panels []json.RawMessage `json:"panels"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	var out []panelQuery
	var walk func([]json.RawMessage)
	walk = func(ps []json.RawMessage) {
		for _, raw := range ps {
			var p panel
			if err := json.Unmarshal(raw, &p); err != nil {
				t.Fatal(err)
			}
			for _, tg := range p.Targets {
				if tg.Expr != "" {
					out = append(out, panelQuery{p.Title, tg.Expr})
				}
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	return out
}

var (
	grafanaEq       = regexp.MustCompile(`([a-z_]+)="\$\{?[a-z_]+\}?"`)
	grafanaInterval = regexp.MustCompile(`\$\{?__(rate_interval|range|interval)\}?`)
	grafanaVar      = regexp.MustCompile(`\$\{?[a-z_]+\}?`)
)

// grafanaVars replaces the dashboard variables: label="$v" by label=~".*",
// other $v by .*, and $__rate_interval / $__range / $__interval by 1m.
func grafanaVars(q string) string {
	q = grafanaEq.ReplaceAllString(q, `$1=~".*"`)
	q = grafanaInterval.ReplaceAllString(q, "1m")
	return grafanaVar.ReplaceAllString(q, ".*")
}
