// Command rulesbench measures what the recording rules cost and save: it fills a Prometheus TSDB
// with a synthetic GPU cluster (node_exporter InfiniBand, kube-state-metrics, SGLang P/D engines
// with their scheduler and tokenizer series, the load balancer; llm-node-exporter's GPU, GPM, RDMA
// port, rank and engine series per node; inference-gateway endpoint pickers and the ASM LLM proxy
// per namespace), backfills the recording rules of
// the seeds profile over the whole range at their evaluation interval, then prints the cost of one
// evaluation of every rule group (samples and time), and runs the seed panels both ways — the
// corrected raw query and the dashboard's query on recorded series — as Grafana would (range query),
// side by side. Results: docs/rules-cost.md.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/google/go-jsonnet"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/rules"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"
)

var (
	nodes        = flag.Int("nodes", 200, "GPU nodes")
	hcas         = flag.Int("hcas", 8, "InfiniBand HCAs per node")
	enginePods   = flag.Int("engine-pods", 0, "SGLang engine pods (half prefill, half decode); 0: 2 per node")
	dpRanks      = flag.Int("dp-ranks", 8, "DP ranks per engine pod")
	apps         = flag.Int("apps", 0, "P/D apps the engine pods belong to; 0: one per 10 nodes")
	ksmPods      = flag.Int("ksm-pods", 0, "pods known to kube-state-metrics (engine pods included); 0: 25 per node")
	hours        = flag.Float64("hours", 6, "range of data and of the dashboard queries")
	scrape       = flag.Duration("scrape", 15*time.Second, "scrape interval of the synthetic series")
	ruleInterval = flag.Duration("rule-interval", time.Minute, "rule evaluation interval")
	step         = flag.Duration("step", 30*time.Second, "range query step (Grafana: 6h over ~700px)")
	mixinDir     = flag.String("mixin", ".", "mixin directory")
	rulesFile    = flag.String("rules", "../profiles/seeds/rules/llm-node-exporter.rules.yaml", "recording rules file (the seeds profile: the synthetic cluster has every source)")
	panelsFlag   = flag.String("panels", "0,3,12,26,34,56,58,62,65,79,83,84", "seed panel indexes shown one by one (the dashboards' totals count every seed panel)")
)

func main() {
	flag.Parse()
	if *enginePods == 0 {
		*enginePods = 2 * *nodes
	}
	if *apps == 0 {
		*apps = max(1, *nodes/10)
	}
	if *ksmPods == 0 {
		*ksmPods = 25 * *nodes
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "rulesbench:", err)
		os.Exit(1)
	}
}

type gen struct {
	app   storage.Appender
	n     int
	db    *tsdb.DB
	start int64
	steps int
	every int64
	total int
	// counts: series by source, for the report.
	counts map[string]int
}

// add appends one series: value(i) at every scrape.
func (g *gen) add(ls labels.Labels, value func(i int) float64) error {
	var ref storage.SeriesRef
	for i := 0; i < g.steps; i++ {
		var err error
		ref, err = g.app.Append(ref, ls, g.start+int64(i)*g.every, value(i))
		if err != nil {
			return err
		}
	}
	g.n += g.steps
	g.total++
	if g.n > 2_000_000 {
		if err := g.app.Commit(); err != nil {
			return err
		}
		g.app = g.db.Appender(context.Background())
		g.n = 0
	}
	return nil
}

func counter(rate float64) func(int) float64 { return func(i int) float64 { return rate * float64(i) } }
func gauge(v float64) func(int) float64      { return func(int) float64 { return v } }

func lbls(kv ...string) labels.Labels { return labels.FromStrings(kv...) }

func fill(g *gen) error {
	les := []string{"0.05", "0.1", "0.5", "1", "5", "+Inf"}
	shape := []float64{0.1, 0.3, 0.6, 0.8, 0.95, 1}
	// Node exporter InfiniBand.
	for n := 0; n < *nodes; n++ {
		node := fmt.Sprintf("node-%03d", n)
		for d := 0; d < *hcas; d++ {
			base := []string{"region", "r0", "job", "node-exporter", "node", node, "instance", node + ":9100", "device", fmt.Sprintf("mlx5_%d", d), "port", "1"}
			for _, m := range []struct {
				name string
				rate float64
			}{
				{"node_infiniband_port_data_received_bytes_total", 1e9}, {"node_infiniband_port_data_transmitted_bytes_total", 1.1e9},
				{"node_infiniband_port_packets_received_total", 1e6}, {"node_infiniband_port_packets_transmitted_total", 1.1e6},
				{"node_infiniband_port_transmit_wait_total", 1e4},
			} {
				if err := g.add(lbls(append([]string{"__name__", m.name}, base...)...), counter(m.rate*float64(1+d))); err != nil {
					return err
				}
			}
		}
	}
	// kube-state-metrics: engine pods first, then the rest, 5 pods per ReplicaSet.
	type pod struct{ ns, name, rs, deploy, node string }
	var pods []pod
	for i := 0; i < *enginePods; i++ {
		role := "prefill"
		if i%2 == 1 {
			role = "decode"
		}
		a := (i / 2) % *apps
		deploy := fmt.Sprintf("app%d-%s", a, role)
		pods = append(pods, pod{fmt.Sprintf("ns%d", a%5), fmt.Sprintf("%s-7f9c-%d", deploy, i), deploy + "-7f9c", deploy, fmt.Sprintf("node-%03d", (i/2)%*nodes)})
	}
	for i := len(pods); i < *ksmPods; i++ {
		deploy := fmt.Sprintf("svc%d", i/5)
		pods = append(pods, pod{fmt.Sprintf("ns%d", i%7), fmt.Sprintf("%s-5d-%d", deploy, i), deploy + "-5d", deploy, fmt.Sprintf("node-%03d", i%*nodes)})
	}
	rsSeen := map[string]bool{}
	for _, p := range pods {
		ksm := []string{"region", "r0", "job", "kube-state-metrics", "namespace", p.ns}
		if err := g.add(lbls(append([]string{"__name__", "kube_pod_owner", "pod", p.name, "owner_kind", "ReplicaSet", "owner_name", p.rs, "owner_is_controller", "true"}, ksm...)...), gauge(1)); err != nil {
			return err
		}
		if err := g.add(lbls(append([]string{"__name__", "kube_pod_info", "pod", p.name, "node", p.node, "created_by_kind", "ReplicaSet", "created_by_name", p.rs, "host_ip", "10.0.0.1"}, ksm...)...), gauge(1)); err != nil {
			return err
		}
		if !rsSeen[p.ns+"/"+p.rs] {
			rsSeen[p.ns+"/"+p.rs] = true
			if err := g.add(lbls(append([]string{"__name__", "kube_replicaset_owner", "replicaset", p.rs, "owner_kind", "Deployment", "owner_name", p.deploy, "owner_is_controller", "true"}, ksm...)...), gauge(1)); err != nil {
				return err
			}
		}
	}
	// SGLang engines: per DP rank one per-stage histogram, three gauges; LB endpoints.
	for i, p := range pods[:*enginePods] {
		role, stage := "prefill", "prefill_bootstrap"
		if i%2 == 1 {
			role, stage = "decode", "decode_transferred"
		}
		app := strings.TrimSuffix(p.deploy, "-"+role)
		job := p.ns + "/" + p.deploy
		for d := 0; d < *dpRanks; d++ {
			base := []string{"region", "r0", "job", job, "namespace", p.ns, "pod", p.name, "instance", p.name + ":30000", "model_name", "glm", "engine_type", role, "dp_rank", fmt.Sprint(d), "tp_rank", fmt.Sprint(d)}
			n := float64(2 + (i+d)%5)
			for k, le := range les {
				if err := g.add(lbls(append([]string{"__name__", "sglang:per_stage_req_latency_seconds_bucket", "stage", stage, "le", le}, base...)...), counter(n*shape[k])); err != nil {
					return err
				}
			}
			if err := g.add(lbls(append([]string{"__name__", "sglang:per_stage_req_latency_seconds_sum", "stage", stage}, base...)...), counter(n*0.3)); err != nil {
				return err
			}
			if err := g.add(lbls(append([]string{"__name__", "sglang:per_stage_req_latency_seconds_count", "stage", stage}, base...)...), counter(n)); err != nil {
				return err
			}
			for _, m := range []string{"sglang:num_running_reqs", "sglang:num_queue_reqs", "sglang:token_usage"} {
				if err := g.add(lbls(append([]string{"__name__", m}, base...)...), gauge(float64(1+(i+d)%7))); err != nil {
					return err
				}
			}
			ep := fmt.Sprintf("10.1.%d.%d:30000:%d", i/250, i%250, d)
			if err := g.add(lbls("__name__", "glm_watched_endpoints", "region", "r0", "job", p.ns+"/"+app+"-lb", "namespace", p.ns, "pool", "p1;p2;p3;;;", "instance", "lb-0", "exported_endpoint", ep), gauge(1)); err != nil {
				return err
			}
		}
		// Tokenizer side, per pod: request and token counters split by is_streaming, the TTFT,
		// inter-token and end-to-end latency histograms.
		tok := []string{"region", "r0", "job", job, "namespace", p.ns, "pod", p.name, "instance", p.name + ":30000", "model_name", "glm", "engine_type", role}
		n := float64(5 + i%7)
		for _, st := range []struct {
			v string
			f float64
		}{{"true", 0.75}, {"false", 0.25}} {
			for _, m := range []struct {
				name string
				rate float64
			}{{"sglang:num_requests_total", n}, {"sglang:prompt_tokens_total", 100 * n}, {"sglang:generation_tokens_total", 20 * n}} {
				if err := g.add(lbls(append([]string{"__name__", m.name, "is_streaming", st.v}, tok...)...), counter(m.rate*st.f)); err != nil {
					return err
				}
			}
		}
		if err := g.add(lbls(append([]string{"__name__", "sglang:num_aborted_requests_total"}, tok...)...), counter(0.01*n)); err != nil {
			return err
		}
		for _, d := range []string{"receive", "transmit"} {
			if err := g.add(lbls("__name__", "container_network_"+d+"_bytes_total", "region", "r0", "job", "kubelet", "namespace", p.ns, "pod", p.name, "interface", "eth0"), counter(1e8)); err != nil {
				return err
			}
		}
		for _, h := range []string{"sglang:time_to_first_token_seconds", "sglang:inter_token_latency_seconds", "sglang:e2e_request_latency_seconds"} {
			for k, le := range les {
				if err := g.add(lbls(append([]string{"__name__", h + "_bucket", "le", le}, tok...)...), counter(n*shape[k])); err != nil {
					return err
				}
			}
			if err := g.add(lbls(append([]string{"__name__", h + "_sum"}, tok...)...), counter(n*0.5)); err != nil {
				return err
			}
			if err := g.add(lbls(append([]string{"__name__", h + "_count"}, tok...)...), counter(n)); err != nil {
				return err
			}
		}
	}
	g.counts["sglang, load balancer, cAdvisor, kube-state-metrics, node_exporter"] = g.total
	before := g.total
	var exp []expPod
	for _, p := range pods[:*enginePods] {
		role := "prefill"
		if strings.HasSuffix(p.deploy, "-decode") {
			role = "decode"
		}
		exp = append(exp, expPod{ns: p.ns, name: p.name, node: p.node, role: role, app: strings.TrimSuffix(p.deploy, "-"+role)})
	}
	if err := fillExporter(g, exp); err != nil {
		return err
	}
	g.counts["llm-node-exporter"] = g.total - before
	before = g.total
	if err := fillGateway(g); err != nil {
		return err
	}
	g.counts["inference gateway, ASM proxy"] = g.total - before
	return g.app.Commit()
}

type benchPair struct {
	Target    string `json:"target"`
	Corrected string `json:"corrected"`
	New       string `json:"new"`
}

type benchPanel struct {
	Index     int         `json:"index"`
	ID        string      `json:"id"`
	Dashboard string      `json:"dashboard"`
	Seed      string      `json:"seed"`
	Ours      []string    `json:"ours"`
	Pairs     []benchPair `json:"pairs"`
}

func loadPanels() ([]benchPanel, error) {
	vm := jsonnet.MakeVM()
	vm.Importer(&jsonnet.FileImporter{JPaths: []string{*mixinDir}})
	vars := `{ region: '.*', namespace: 'ns0', app: 'app0', role: '.*', engine: '.*', model_name: '.*' }`
	raw, err := vm.EvaluateAnonymousSnippet(filepath.Join(*mixinDir, "bench.jsonnet"), fmt.Sprintf("((import 'mixin.libsonnet') + (import 'profiles/seeds.libsonnet') + (import 'tests/tests.libsonnet')).benchCheck(std.range(0, 84), %s)", vars))
	if err != nil {
		return nil, err
	}
	var ps []benchPanel
	return ps, json.Unmarshal([]byte(raw), &ps)
}

type measure struct {
	samples, read int64
	dur           time.Duration
	series        int
	err           error
}

func rangeQuery(ng *promql.Engine, db storage.Queryable, q string, start, end time.Time) measure {
	t := time.Now()
	qry, err := ng.NewRangeQuery(context.Background(), db, promql.NewPrometheusQueryOpts(true, 0), q, start, end, *step)
	if err != nil {
		return measure{err: err}
	}
	defer qry.Close()
	res := qry.Exec(context.Background())
	m := measure{dur: time.Since(t), err: res.Err}
	if st := qry.Stats(); st != nil && st.Samples != nil {
		m.samples, m.read = st.Samples.TotalSamples, st.Samples.SamplesRead
	}
	if mat, ok := res.Value.(promql.Matrix); ok {
		m.series = len(mat)
	}
	return m
}

// instantQuery is one rule evaluation's query: samples loaded and time.
func instantQuery(ng *promql.Engine, db storage.Queryable, q string, ts time.Time) measure {
	t := time.Now()
	qry, err := ng.NewInstantQuery(context.Background(), db, promql.NewPrometheusQueryOpts(true, 0), q, ts)
	if err != nil {
		return measure{err: err}
	}
	defer qry.Close()
	res := qry.Exec(context.Background())
	m := measure{dur: time.Since(t), err: res.Err}
	if st := qry.Stats(); st != nil && st.Samples != nil {
		m.samples = st.Samples.TotalSamples
	}
	if v, ok := res.Value.(promql.Vector); ok {
		m.series = len(v)
	}
	return m
}

// groupCost is one evaluation of a rule group: its time, the samples its rules load, and how many of
// its rules record nothing.
type groupCost struct {
	name    string
	rules   int
	dur     time.Duration
	samples int64
	empty   int
}

// bench is the synthetic cluster in a TSDB and the seeds profile's rule groups over it.
type bench struct {
	dir        string
	db         *tsdb.DB
	ng         *promql.Engine
	g          *gen
	groups     []*rules.Group
	start, end time.Time
}

func newBench() (*bench, error) {
	dir, err := os.MkdirTemp("", "rulesbench")
	if err != nil {
		return nil, err
	}
	b := &bench{dir: dir}
	opts := tsdb.DefaultOptions()
	opts.MinBlockDuration = int64(48 * time.Hour / time.Millisecond) // keep everything in the head
	opts.MaxBlockDuration = opts.MinBlockDuration
	if b.db, err = tsdb.Open(dir, slog.New(slog.DiscardHandler), nil, opts, nil); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	b.end = time.Unix(0, 0).Add(time.Duration(*hours*float64(time.Hour)) + 10*time.Minute).UTC()
	b.start = time.Unix(0, 0).UTC()
	b.g = &gen{db: b.db, app: b.db.Appender(context.Background()), start: b.start.UnixMilli(), every: scrape.Milliseconds(), steps: int(b.end.Sub(b.start) / *scrape) + 1, counts: map[string]int{}}
	t0 := time.Now()
	if err := fill(b.g); err != nil {
		b.close()
		return nil, err
	}
	fmt.Fprintf(os.Stderr, "loaded %d series x %d samples in %v\n", b.g.total, b.g.steps, time.Since(t0).Round(time.Second))

	b.ng = promql.NewEngine(promql.EngineOpts{Logger: slog.New(slog.DiscardHandler), MaxSamples: 2_000_000_000, Timeout: time.Hour, LookbackDelta: 5 * time.Minute})
	p := parser.NewParser(parser.Options{})
	m := rules.NewManager(&rules.ManagerOptions{
		QueryFunc: rules.EngineQueryFunc(b.ng, b.db), Appendable: b.db, Queryable: b.db, Context: context.Background(),
		Logger: slog.New(slog.DiscardHandler), NotifyFunc: func(context.Context, string, ...*rules.Alert) {}, Parser: p,
		NameValidationScheme: model.LegacyValidation,
	})
	groupsMap, errs := m.LoadGroups(*ruleInterval, labels.EmptyLabels(), "", nil, false, *rulesFile)
	if len(errs) > 0 {
		b.close()
		return nil, errs[0]
	}
	raw, err := os.ReadFile(*rulesFile)
	if err != nil {
		b.close()
		return nil, err
	}
	rg, perrs := rulefmt.Parse(raw, false, model.LegacyValidation, p, slog.New(slog.DiscardHandler))
	if len(perrs) > 0 {
		b.close()
		return nil, perrs[0]
	}
	for _, gr := range rg.Groups {
		for _, x := range groupsMap {
			if x.Name() == gr.Name {
				b.groups = append(b.groups, x)
			}
		}
	}
	return b, nil
}

func (b *bench) close() {
	b.db.Close()
	os.RemoveAll(b.dir)
}

// backfill records every group over the range, as Prometheus would have, up to the last
// evaluation, which measure times.
func (b *bench) backfill() {
	t0 := time.Now()
	evals := 0
	for ts := b.start.Add(*ruleInterval); ts.Before(b.end); ts = ts.Add(*ruleInterval) {
		for _, x := range b.groups {
			x.Eval(context.Background(), ts)
		}
		evals++
	}
	fmt.Fprintf(os.Stderr, "backfilled %d rule evaluations in %v\n", evals, time.Since(t0).Round(time.Second))
}

// measure evaluates every group once at the end of the data (every rate window of every rule has its
// samples), timed; then each rule's query once more at the same time for the samples it loads (the
// rule manager keeps no sample statistics) and the series it records.
func (b *bench) measure() ([]groupCost, error) {
	var costs []groupCost
	for _, x := range b.groups {
		t := time.Now()
		x.Eval(context.Background(), b.end)
		gc := groupCost{name: x.Name(), rules: len(x.Rules()), dur: time.Since(t)}
		for _, r := range x.Rules() {
			if r.LastError() != nil {
				return nil, fmt.Errorf("rule %s: %w", r.Name(), r.LastError())
			}
			m := instantQuery(b.ng, b.db, r.Query().String(), b.end)
			if m.err != nil {
				return nil, fmt.Errorf("rule %s: %w", r.Name(), m.err)
			}
			gc.samples += m.samples
			if m.series == 0 {
				gc.empty++
			}
		}
		costs = append(costs, gc)
	}
	return costs, nil
}

func run() error {
	bn, err := newBench()
	if err != nil {
		return err
	}
	defer bn.close()
	bn.backfill()
	costs, err := bn.measure()
	if err != nil {
		return err
	}
	ng, db, g, groups, end, evalAt := bn.ng, bn.db, bn.g, bn.groups, bn.end, bn.end
	var total time.Duration
	var totalSamples int64
	for _, c := range costs {
		total += c.dur
		totalSamples += c.samples
	}

	panels, err := loadPanels()
	if err != nil {
		return err
	}
	qStart, qEnd := end.Add(-time.Duration(*hours*float64(time.Hour))), end
	fmt.Printf("Synthetic cluster: %d nodes x %d HCAs, %d SGLang pods x %d DP ranks in %d P/D apps, %d pods in kube-state-metrics; %d series, %d samples each (%v scrapes over %vh + 10m). Rules evaluated every %v.\n\n",
		*nodes, *hcas, *enginePods, *dpRanks, *apps, *ksmPods, g.total, g.steps, *scrape, *hours, *ruleInterval)

	fmt.Printf("Series by source: ")
	srcs := make([]string, 0, len(g.counts))
	for k := range g.counts {
		srcs = append(srcs, k)
	}
	sort.Strings(srcs)
	for i, k := range srcs {
		if i > 0 {
			fmt.Print("; ")
		}
		fmt.Printf("%s %d", k, g.counts[k])
	}
	fmt.Printf(". Exporter: %d GPUs per node, every %d-th app vLLM (NIXL, %d LoRA adapters per pod); gateway: %d endpoint pickers per namespace x %d models x %d adapters.\n\n", *gpus, *vllmEvery, *loraAdapters, *epps, *gatewayModels, *gatewayAdapters)

	fmt.Printf("One evaluation of every rule group (%d groups, %d rules) at the end of the range: %v, %d samples.\n\n", len(groups), func() (n int) {
		for _, c := range costs {
			n += c.rules
		}
		return
	}(), total.Round(time.Millisecond), totalSamples)
	fmt.Println("| Group | Rules | Rules recording nothing | Samples | Evaluation time | % of interval |")
	fmt.Println("|---|---:|---:|---:|---:|---:|")
	for _, c := range costs {
		fmt.Printf("| %s | %d | %d | %d | %s | %.2f%% |\n", c.name, c.rules, c.empty, c.samples, c.dur.Round(100*time.Microsecond), 100*float64(c.dur)/float64(*ruleInterval))
	}

	// The burn-rate ratios as the rules computed them before: rates of the raw counters over each
	// window, at every evaluation.
	fmt.Print("\nBurn-rate ratio of every job, one evaluation: raw counters over the window vs the recorded 1m rates summed over it:\n\n")
	fmt.Println("| Window | Raw: samples | Raw: time | Recorded: samples | Recorded: time |")
	fmt.Println("|---|---:|---:|---:|---:|")
	for _, bw := range []string{"5m", "30m", "1h", "6h"} {
		sel := `job=~".+-(prefill|decode)"`
		by := "region, namespace, job, model_name"
		raw := instantQuery(ng, db, fmt.Sprintf(`sum by (%s) (rate(sglang:num_aborted_requests_total{%s}[%s])) / sum by (%s) (max without (tp_rank, pp_rank, moe_ep_rank) (rate(sglang:num_requests_total{%s}[%s])))`, by, sel, bw, by, sel, bw), evalAt)
		rec := instantQuery(ng, db, fmt.Sprintf(`sum by (%s) (sum_over_time(namespace_job:engine_requests_aborted:rate1m[%s])) / sum by (%s) (sum_over_time(namespace_job:engine_requests:rate1m[%s]))`, by, bw, by, bw), evalAt)
		if raw.err != nil || rec.err != nil {
			return fmt.Errorf("burn-rate %s: %v %v", bw, raw.err, rec.err)
		}
		fmt.Printf("| %s | %d | %s | %d | %s |\n", bw, raw.samples, raw.dur.Round(100*time.Microsecond), rec.samples, rec.dur.Round(100*time.Microsecond))
	}

	fmt.Printf("\nRange queries over %vh, step %v ($namespace=ns0, $app=app0):\n\n", *hours, *step)
	fmt.Println("| Seed panel | Target | Raw: samples | Raw: time | Recorded: samples | Recorded: time | Samples ratio | Time ratio |")
	fmt.Println("|---|---|---:|---:|---:|---:|---:|---:|")
	shown := map[int]bool{}
	for _, s := range strings.Split(*panelsFlag, ",") {
		var i int
		fmt.Sscan(s, &i)
		shown[i] = true
	}
	var ratios []float64
	type dashTotal struct{ raw, ours int64 }
	totals := map[string]*dashTotal{}
	for _, bp := range panels {
		dt := totals[bp.Dashboard]
		if dt == nil {
			dt = &dashTotal{}
			totals[bp.Dashboard] = dt
		}
		// A refresh of the seed dashboard runs the seed's query; ours runs every target of the panel.
		seed := rangeQuery(ng, db, bp.Seed, qStart, qEnd)
		if seed.err != nil {
			return fmt.Errorf("%s: seed: %w", bp.ID, seed.err)
		}
		dt.raw += seed.samples
		for _, q := range bp.Ours {
			m := rangeQuery(ng, db, q, qStart, qEnd)
			if m.err != nil {
				return fmt.Errorf("%s: %s: %w", bp.ID, q, m.err)
			}
			dt.ours += m.samples
		}
		if !shown[bp.Index] {
			continue
		}
		for _, pr := range bp.Pairs {
			raw := rangeQuery(ng, db, pr.Corrected, qStart, qEnd)
			rec := rangeQuery(ng, db, pr.New, qStart, qEnd)
			if raw.err != nil || rec.err != nil {
				fmt.Printf("| %s | %s | error: %v | | error: %v | | | |\n", bp.ID, pr.Target, raw.err, rec.err)
				continue
			}
			if raw.series != rec.series {
				fmt.Fprintf(os.Stderr, "warning: %s: raw returns %d series, recorded %d\n", bp.ID, raw.series, rec.series)
			}
			r := float64(raw.samples) / math.Max(1, float64(rec.samples))
			ratios = append(ratios, r)
			fmt.Printf("| %s | %s | %d | %s | %d | %s | %.0fx | %.1fx |\n", bp.ID, pr.Target, raw.samples, raw.dur.Round(time.Millisecond), rec.samples, rec.dur.Round(time.Millisecond), r, float64(raw.dur)/math.Max(1, float64(rec.dur)))
		}
	}
	sort.Float64s(ratios)
	if len(ratios) > 0 {
		fmt.Printf("\nSamples ratio: min %.0fx, median %.0fx, max %.0fx.\n", ratios[0], ratios[len(ratios)/2], ratios[len(ratios)-1])
	}
	fmt.Printf("\nOne refresh of each PD dashboard over %vh (every seed panel; ours with all its targets, the extra quantiles and per-HCA targets included):\n\n", *hours)
	fmt.Println("| Dashboard | Seed queries: samples | Ours: samples | Ratio |")
	fmt.Println("|---|---:|---:|---:|")
	var names []string
	for n := range totals {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		dt := totals[n]
		fmt.Printf("| %s | %d | %d | %.0fx |\n", n, dt.raw, dt.ours, float64(dt.raw)/math.Max(1, float64(dt.ours)))
	}
	return nil
}
