// Command rulesbench measures what the recording rules save: it fills a Prometheus TSDB with a
// synthetic GPU cluster (node_exporter InfiniBand, kube-state-metrics, SGLang P/D engines, the load
// balancer), backfills the recording rules over the whole range at their evaluation interval, then
// runs the join-heavy seed panels both ways — the corrected raw query and the dashboard's query on
// recorded series — as Grafana would (range query), and prints samples touched and time side by side,
// plus the cost of one evaluation of every rule group. Results: docs/rules-cost.md.
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
	enginePods   = flag.Int("engine-pods", 400, "SGLang engine pods (half prefill, half decode)")
	dpRanks      = flag.Int("dp-ranks", 8, "DP ranks per engine pod")
	apps         = flag.Int("apps", 20, "P/D apps the engine pods belong to")
	ksmPods      = flag.Int("ksm-pods", 5000, "pods known to kube-state-metrics (engine pods included)")
	hours        = flag.Float64("hours", 6, "range of data and of the dashboard queries")
	scrape       = flag.Duration("scrape", 15*time.Second, "scrape interval of the synthetic series")
	ruleInterval = flag.Duration("rule-interval", time.Minute, "rule evaluation interval")
	step         = flag.Duration("step", 30*time.Second, "range query step (Grafana: 6h over ~700px)")
	mixinDir     = flag.String("mixin", ".", "mixin directory")
	rulesFile    = flag.String("rules", "../rules/llm-node-exporter.rules.yaml", "recording rules file")
	panelsFlag   = flag.String("panels", "0,3,12,26,34,56,58,62,65,79,83,84", "seed panel indexes to measure")
)

func main() {
	flag.Parse()
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
	}
	return g.app.Commit()
}

type benchPanel struct {
	ID        string `json:"id"`
	Target    string `json:"target"`
	Corrected string `json:"corrected"`
	New       string `json:"new"`
}

func loadPanels() ([]benchPanel, error) {
	vm := jsonnet.MakeVM()
	vm.Importer(&jsonnet.FileImporter{JPaths: []string{*mixinDir}})
	vars := `{ region: '.*', namespace: 'ns0', app: 'app0', pool: '.*', pool1: 'p1', pool2: 'p2', pool3: 'p3', role: '.*', engine: '.*', model_name: '.*' }`
	raw, err := vm.EvaluateAnonymousSnippet(filepath.Join(*mixinDir, "bench.jsonnet"), fmt.Sprintf("(import 'mixin.libsonnet').benchCheck([%s], %s)", *panelsFlag, vars))
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
	qry, err := ng.NewRangeQuery(context.Background(), db, promql.NewPrometheusQueryOpts(false, 0), q, start, end, *step)
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

func run() error {
	dir, err := os.MkdirTemp("", "rulesbench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	opts := tsdb.DefaultOptions()
	opts.MinBlockDuration = int64(48 * time.Hour / time.Millisecond) // keep everything in the head
	opts.MaxBlockDuration = opts.MinBlockDuration
	db, err := tsdb.Open(dir, slog.New(slog.DiscardHandler), nil, opts, nil)
	if err != nil {
		return err
	}
	defer db.Close()

	end := time.Unix(0, 0).Add(time.Duration(*hours*float64(time.Hour)) + 10*time.Minute).UTC()
	start := time.Unix(0, 0).UTC()
	g := &gen{db: db, app: db.Appender(context.Background()), start: start.UnixMilli(), every: scrape.Milliseconds(), steps: int(end.Sub(start) / *scrape) + 1}
	t0 := time.Now()
	if err := fill(g); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "loaded %d series x %d samples in %v\n", g.total, g.steps, time.Since(t0).Round(time.Second))

	ng := promql.NewEngine(promql.EngineOpts{Logger: slog.New(slog.DiscardHandler), MaxSamples: 2_000_000_000, Timeout: time.Hour, LookbackDelta: 5 * time.Minute})
	p := parser.NewParser(parser.Options{})
	m := rules.NewManager(&rules.ManagerOptions{
		QueryFunc: rules.EngineQueryFunc(ng, db), Appendable: db, Queryable: db, Context: context.Background(),
		Logger: slog.New(slog.DiscardHandler), NotifyFunc: func(context.Context, string, ...*rules.Alert) {}, Parser: p,
		NameValidationScheme: model.LegacyValidation,
	})
	groupsMap, errs := m.LoadGroups(*ruleInterval, labels.EmptyLabels(), "", nil, false, *rulesFile)
	if len(errs) > 0 {
		return errs[0]
	}
	b, err := os.ReadFile(*rulesFile)
	if err != nil {
		return err
	}
	rg, perrs := rulefmt.Parse(b, false, model.LegacyValidation, p, slog.New(slog.DiscardHandler))
	if len(perrs) > 0 {
		return perrs[0]
	}
	var groups []*rules.Group
	for _, gr := range rg.Groups {
		for _, x := range groupsMap {
			if x.Name() == gr.Name {
				groups = append(groups, x)
			}
		}
	}
	// Backfill the recorded series over the whole range, as Prometheus would have.
	t0 = time.Now()
	evals := 0
	for ts := start.Add(*ruleInterval); !ts.After(end); ts = ts.Add(*ruleInterval) {
		for _, x := range groups {
			x.Eval(context.Background(), ts)
		}
		evals++
	}
	fmt.Fprintf(os.Stderr, "backfilled %d rule evaluations in %v\n", evals, time.Since(t0).Round(time.Second))
	// One evaluation of every group at the end, timed.
	var groupRows []string
	var total time.Duration
	for _, x := range groups {
		t := time.Now()
		x.Eval(context.Background(), end.Add(*ruleInterval))
		d := time.Since(t)
		total += d
		for _, r := range x.Rules() {
			if r.LastError() != nil {
				return fmt.Errorf("rule %s: %w", r.Name(), r.LastError())
			}
		}
		groupRows = append(groupRows, fmt.Sprintf("| %s | %d | %s |", x.Name(), len(x.Rules()), d.Round(100*time.Microsecond)))
	}

	panels, err := loadPanels()
	if err != nil {
		return err
	}
	qStart, qEnd := end.Add(-time.Duration(*hours*float64(time.Hour))), end
	fmt.Printf("Synthetic cluster: %d nodes x %d HCAs, %d SGLang pods x %d DP ranks in %d P/D apps, %d pods in kube-state-metrics; %d series, %d samples each (%v scrapes over %vh + 10m). Rules evaluated every %v.\n\n",
		*nodes, *hcas, *enginePods, *dpRanks, *apps, *ksmPods, g.total, g.steps, *scrape, *hours, *ruleInterval)
	fmt.Printf("Range queries over %vh, step %v ($namespace=ns0, $app=app0):\n\n", *hours, *step)
	fmt.Println("| Seed panel | Target | Raw: samples | Raw: time | Recorded: samples | Recorded: time | Samples ratio | Time ratio |")
	fmt.Println("|---|---|---:|---:|---:|---:|---:|---:|")
	var ratios []float64
	for _, bp := range panels {
		raw := rangeQuery(ng, db, bp.Corrected, qStart, qEnd)
		rec := rangeQuery(ng, db, bp.New, qStart, qEnd)
		if raw.err != nil || rec.err != nil {
			fmt.Printf("| %s | %s | error: %v | | error: %v | | | |\n", bp.ID, bp.Target, raw.err, rec.err)
			continue
		}
		if raw.series != rec.series {
			fmt.Fprintf(os.Stderr, "warning: %s: raw returns %d series, recorded %d\n", bp.ID, raw.series, rec.series)
		}
		r := float64(raw.samples) / math.Max(1, float64(rec.samples))
		ratios = append(ratios, r)
		fmt.Printf("| %s | %s | %d | %s | %d | %s | %.0fx | %.1fx |\n", bp.ID, bp.Target, raw.samples, raw.dur.Round(time.Millisecond), rec.samples, rec.dur.Round(time.Millisecond), r, float64(raw.dur)/math.Max(1, float64(rec.dur)))
	}
	sort.Float64s(ratios)
	if len(ratios) > 0 {
		fmt.Printf("\nSamples ratio: min %.0fx, median %.0fx, max %.0fx.\n", ratios[0], ratios[len(ratios)/2], ratios[len(ratios)-1])
	}
	fmt.Printf("\nOne evaluation of every rule group (%d groups) at the end of the range: %v, %.2f%% of the %v evaluation interval.\n\n", len(groups), total.Round(time.Millisecond), 100*float64(total)/float64(*ruleInterval), *ruleInterval)
	fmt.Println("| Group | Rules | Evaluation time |")
	fmt.Println("|---|---:|---:|")
	for _, r := range groupRows {
		fmt.Println(r)
	}
	return nil
}
