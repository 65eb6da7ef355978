package mixin

// The pack among its neighbours and back ends: recorded names of its own, one engine table with the
// exporter, only the sources a profile has, the configured labels everywhere, and nothing a
// Prometheus-compatible ruler (Thanos Ruler, Mimir ruler, ARMS) would refuse.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-jsonnet"
	"github.com/prometheus/prometheus/promql/parser"
	"go.yaml.in/yaml/v3"
)

// standardRecords reads testdata/standard-mixin-records.txt: record name -> where it comes from.
func standardRecords(t *testing.T) map[string]string {
	t.Helper()
	f, err := os.Open("testdata/standard-mixin-records.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Split(line, "\t")
		if len(fields) != 4 {
			t.Fatalf("testdata/standard-mixin-records.txt: %q: want record, repository, file, version", line)
		}
		out[fields[0]] = strings.Join(fields[1:], " ")
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// No recorded name of the pack (either profile) is one that kubernetes-mixin or node-mixin records:
// the same name with other labels would give two series per pod and break both packs' joins.
func TestNoStandardMixinRecordName(t *testing.T) {
	theirs := standardRecords(t)
	if theirs["namespace_workload_pod:kube_pod_owner:relabel"] == "" {
		t.Fatal("testdata/standard-mixin-records.txt lacks kubernetes-mixin's pod owner join: the list is not the one the test was written against")
	}
	files := render(t)
	checked := 0
	for path, groups := range ruleFiles(t, files) {
		for _, g := range groups.Groups {
			for _, r := range g.Rules {
				if r.Record == "" {
					continue
				}
				checked++
				if from, ok := theirs[r.Record]; ok {
					t.Errorf("%s: group %s records %s, which %s records too", path, g.Name, r.Record, from)
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("no recording rule checked")
	}
}

type engineTable struct {
	Rows []struct {
		Family  string   `json:"family"`
		Sources []string `json:"sources"`
	} `json:"rows"`
}

func evalJsonnet(t *testing.T, snippet string) string {
	t.Helper()
	vm := jsonnet.MakeVM()
	vm.Importer(&jsonnet.FileImporter{JPaths: []string{"."}})
	out, err := vm.EvaluateAnonymousSnippet(filepath.Join(".", "test.jsonnet"), snippet)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// The engine sources the rules read are the exporter's normalisation table (lib/engine-mapping.json,
// generated from collector/engine/table.go): every source of the table is read by the shipped rules,
// and the few families only the pack reads name no source the table maps (one table per fact).
func TestEngineSourcesAreTheExportersTable(t *testing.T) {
	b, err := os.ReadFile("lib/engine-mapping.json")
	if err != nil {
		t.Fatal(err)
	}
	var table engineTable
	if err := json.Unmarshal(b, &table); err != nil {
		t.Fatal(err)
	}
	inTable := map[string]bool{}
	for _, r := range table.Rows {
		for _, s := range r.Sources {
			inTable[s] = true
		}
	}
	files := render(t)
	rules := string(files[profiles[0].rules()])
	var read []string
	if err := json.Unmarshal([]byte(evalJsonnet(t, `(import 'lib/engine.libsonnet')((import 'config.libsonnet')._config).tableSources`)), &read); err != nil {
		t.Fatal(err)
	}
	if len(read) == 0 {
		t.Fatal("the rules read no source of the table")
	}
	for _, s := range read {
		if !inTable[s] {
			t.Errorf("the rules read %s as a table source, but the table does not map it", s)
		}
		// A source is read under its own name (histograms: with _sum, _count, _bucket).
		if !regexp.MustCompile(regexp.QuoteMeta(s) + `(_sum|_count|_bucket)?[{\[)\s]`).MatchString(rules) {
			t.Errorf("the table maps %s, but no rule reads it", s)
		}
	}
	var only []string
	if err := json.Unmarshal([]byte(evalJsonnet(t, `(import 'lib/engine.libsonnet')((import 'config.libsonnet')._config).mixinOnlySources`)), &only); err != nil {
		t.Fatal(err)
	}
	for _, s := range only {
		if inTable[s] {
			t.Errorf("%s is in the exporter's table now: remove its row from mixinOnly in lib/engine.libsonnet", s)
		}
		if !strings.Contains(rules, s) {
			t.Errorf("mixin-only source %s is read by no rule", s)
		}
	}
}

// The generic profile (this exporter, kube-state-metrics and the engines) reads no series of the
// optional sources, in rules, alerts or dashboards.
func TestGenericProfileReadsNoAbsentSource(t *testing.T) {
	files := render(t)
	absent := regexp.MustCompile(`glm_watched_endpoints|node_infiniband_|container_network_`)
	prof := profiles[0]
	paths := append([]string{prof.rules(), prof.alerts()}, prof.dashboards(files)...)
	for _, p := range paths {
		if m := absent.FindAllString(string(files[p]), -1); len(m) > 0 {
			t.Errorf("%s reads %v, which the generic profile does not have", p, m)
		}
	}
	// ... and the seeds profile does read them (the switches switch something).
	seeds := string(files[profiles[1].rules()])
	for _, s := range []string{"glm_watched_endpoints", "node_infiniband_", "container_network_"} {
		if !strings.Contains(seeds, s) {
			t.Errorf("the seeds profile's rules do not read %s", s)
		}
	}
}

// labelsOf lists every label name an expression names: matchers, by / without, on / ignoring,
// group_left / group_right, label_replace / label_join arguments.
func labelsOf(expr parser.Expr) []string {
	var out []string
	parser.Inspect(expr, func(node parser.Node, _ []parser.Node) error {
		switch n := node.(type) {
		case *parser.VectorSelector:
			for _, m := range n.LabelMatchers {
				out = append(out, m.Name)
			}
		case *parser.AggregateExpr:
			out = append(out, n.Grouping...)
		case *parser.BinaryExpr:
			if n.VectorMatching != nil {
				out = append(out, n.VectorMatching.MatchingLabels...)
				out = append(out, n.VectorMatching.Include...)
			}
		case *parser.Call:
			var args []int
			switch n.Func.Name {
			case "label_replace":
				args = []int{1, 3}
			case "label_join":
				args = []int{1}
				for i := 3; i < len(n.Args); i++ {
					args = append(args, i)
				}
			}
			for _, i := range args {
				if s, ok := n.Args[i].(*parser.StringLiteral); ok {
					out = append(out, s.Val)
				}
			}
		}
		return nil
	})
	return out
}

type renderedPack struct {
	Rules      struct{ Groups []yamlGroup } `json:"rules"`
	Alerts     struct{ Groups []yamlGroup } `json:"alerts"`
	Dashboards map[string]json.RawMessage   `json:"dashboards"`
}

type yamlGroup struct {
	Name  string `json:"name"`
	Rules []struct {
		Record      string            `json:"record"`
		Alert       string            `json:"alert"`
		Expr        string            `json:"expr"`
		Annotations map[string]string `json:"annotations"`
	} `json:"rules"`
}

// With other cluster and node labels configured, no rule, alert or dashboard of either profile
// names `cluster`, `region` or `node` any more: the labels come from _config everywhere.
func TestConfiguredLabelsEverywhere(t *testing.T) {
	p := parser.NewParser(parser.Options{})
	forbidden := map[string]bool{"cluster": true, "region": true, "node": true}
	legend := regexp.MustCompile(`\{\{\s*(cluster|region|node)\s*\}\}|\$labels\.(cluster|region|node)\b`)
	for _, prof := range []string{"{}", "(import 'profiles/seeds.libsonnet')"} {
		raw := evalJsonnet(t, `local m = (import 'mixin.libsonnet') + `+prof+` + { _config+:: { clusterLabel: 'zz_cluster', nodeLabel: 'zz_node', kubeStateMetricsNodeLabel: 'zz_ksm_node' } };
{ rules: m.prometheusRules, alerts: m.prometheusAlerts, dashboards: m.grafanaDashboards }`)
		var pack renderedPack
		if err := json.Unmarshal([]byte(raw), &pack); err != nil {
			t.Fatal(err)
		}
		check := func(where, q string) {
			expr, err := p.ParseExpr(substituteVars(q))
			if err != nil {
				t.Errorf("%s %s: %v", prof, where, err)
				return
			}
			for _, l := range labelsOf(expr) {
				if forbidden[l] {
					t.Errorf("%s %s names label %q instead of the configured one:\n%s", prof, where, l, q)
				}
			}
		}
		for _, g := range append(pack.Rules.Groups, pack.Alerts.Groups...) {
			for _, r := range g.Rules {
				check(g.Name+" "+r.Record+r.Alert, r.Expr)
				for k, v := range r.Annotations {
					if legend.MatchString(v) {
						t.Errorf("%s %s: annotation %s names a fixed label: %s", prof, r.Alert, k, v)
					}
				}
			}
		}
		for name, d := range pack.Dashboards {
			var dash dashboard
			if err := json.Unmarshal(d, &dash); err != nil {
				t.Fatal(err)
			}
			for _, panel := range dash.Panels {
				for _, tg := range panel.Targets {
					check(name+" "+panel.Title, tg.Expr)
				}
			}
			// Legends and variable queries.
			if m := legend.FindAllString(string(d), -1); len(m) > 0 {
				t.Errorf("%s %s: legends name fixed labels: %v", prof, name, m)
			}
			if m := regexp.MustCompile(`label_values\([^"]*?, (cluster|region|node)\)`).FindAllString(string(d), -1); len(m) > 0 {
				t.Errorf("%s %s: variables read fixed labels: %v", prof, name, m)
			}
		}
	}
}

// The rules and alerts load unchanged into a Prometheus-compatible ruler (Thanos Ruler, Mimir ruler,
// ARMS recording rules): only the group fields every ruler knows (name, interval, rules), only the
// rule fields of Prometheus 2.x (no keep_firing_for), no experimental PromQL function (they need a
// feature flag), no @ modifier; few enough groups for Mimir's default of 70 per tenant.
func TestManagedRulerCompatible(t *testing.T) {
	files := render(t)
	p := parser.NewParser(parser.Options{})
	groupFields := map[string]bool{"name": true, "interval": true, "rules": true}
	ruleFields := map[string]bool{"record": true, "alert": true, "expr": true, "for": true, "labels": true, "annotations": true}
	for _, prof := range profiles {
		groups := 0
		for _, path := range []string{prof.rules(), prof.alerts()} {
			var doc struct {
				Groups []map[string]yaml.Node `yaml:"groups"`
			}
			if err := yaml.Unmarshal(files[path], &doc); err != nil {
				t.Fatal(err)
			}
			groups += len(doc.Groups)
			for _, g := range doc.Groups {
				for k := range g {
					if !groupFields[k] {
						t.Errorf("%s: group field %q is not understood by every ruler", path, k)
					}
				}
				var rules []map[string]any
				rn := g["rules"]
				if err := rn.Decode(&rules); err != nil {
					t.Fatal(err)
				}
				for _, r := range rules {
					var keys []string
					for k := range r {
						keys = append(keys, k)
					}
					sort.Strings(keys)
					for _, k := range keys {
						if !ruleFields[k] {
							t.Errorf("%s: rule field %q is not understood by every ruler", path, k)
						}
					}
					expr, err := p.ParseExpr(r["expr"].(string))
					if err != nil {
						t.Fatal(err)
					}
					parser.Inspect(expr, func(node parser.Node, _ []parser.Node) error {
						switch n := node.(type) {
						case *parser.Call:
							if n.Func.Experimental {
								t.Errorf("%s: %v uses the experimental function %s", path, r["record"], n.Func.Name)
							}
						case *parser.VectorSelector:
							if n.Timestamp != nil || n.StartOrEnd != 0 {
								t.Errorf("%s: %v uses the @ modifier", path, r["record"])
							}
						case *parser.SubqueryExpr:
							if n.Timestamp != nil || n.StartOrEnd != 0 {
								t.Errorf("%s: %v uses the @ modifier", path, r["record"])
							}
						}
						return nil
					})
				}
			}
		}
		if groups > 70 {
			t.Errorf("%s profile: %d rule groups, more than Mimir's default ruler_max_rule_groups_per_tenant (70)", prof.name, groups)
		}
		t.Logf("%s profile: %d rule groups", prof.name, groups)
	}
}

// The shipped PrometheusRule and the plain files carry the same groups (TestRuleFilesLoad) for
// both profiles; this also checks the default profile is the one the Helm chart and the kustomize
// overlay read (deploy/prometheusrule/) and that it is the generic one.
func TestDefaultProfileIsGeneric(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRoot, "rules/llm-node-exporter.rules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte("by (cluster, namespace")) || bytes.Contains(b, []byte("region")) {
		t.Error("rules/ is not the generic profile (aggregated by cluster, no region label)")
	}
}
