package main

// The rules pack in a monitoring stack that already runs kube-prometheus-stack: beside the stack
// test's rules and alerts (the generic profile), Prometheus loads a group recording
// kubernetes-mixin's pod owner join, namespace_workload_pod:kube_pod_owner:relabel, with its label
// set, and a rule that joins on it as kubernetes-mixin's workload dashboards do. The seeds profile
// (profiles/seeds/) runs in a second Prometheus on the same targets.

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// kubernetesMixinGroups records kubernetes-mixin's namespace_workload_pod:kube_pod_owner:relabel
// with the labels its rules give it (cluster, namespace, workload, pod, workload_type; group
// k8s.rules.pod_owner of rules/apps.libsonnet, version-1.5.6) for the workload kinds of the stack,
// and a rule joining kube_pod_info on it with group_left, which fails with many-to-many matching
// as soon as a second series of one pod carries that name.
const kubernetesMixinGroups = `groups:
  - name: k8s.rules.pod_owner
    rules:
      - record: namespace_workload_pod:kube_pod_owner:relabel
        expr: |
          max by (cluster, namespace, workload, pod) (
            kube_pod_owner{job="kube-state-metrics", owner_kind="ReplicaSet"}
            * on (cluster, namespace, owner_name) group_left (workload)
            label_replace(
              label_replace(kube_replicaset_owner{job="kube-state-metrics", owner_kind="Deployment"}, "workload", "$1", "owner_name", "(.*)"),
              "owner_name", "$1", "replicaset", "(.*)"
            )
          )
        labels:
          workload_type: deployment
      - record: namespace_workload_pod:kube_pod_owner:relabel
        expr: max by (cluster, namespace, workload, pod) (label_replace(kube_pod_owner{job="kube-state-metrics", owner_kind="StatefulSet"}, "workload", "$1", "owner_name", "(.+)"))
        labels:
          workload_type: statefulset
      - record: namespace_workload_pod:kube_pod_owner:relabel
        expr: max by (cluster, namespace, workload, pod) (label_replace(kube_pod_owner{job="kube-state-metrics", owner_kind="DaemonSet"}, "workload", "$1", "owner_name", "(.+)"))
        labels:
          workload_type: daemonset
      - record: namespace_workload_pod:kube_pod_owner:relabel
        expr: max by (cluster, namespace, workload, pod) (label_replace(kube_pod_owner{job="kube-state-metrics", owner_kind="", owner_name=""}, "workload", "$1", "pod", "(.+)"))
        labels:
          workload_type: barepod
  - name: e2e-kubernetes-mixin-join.rules
    rules:
      - record: namespace_workload:e2e_kube_pod_info:count
        expr: |
          count by (cluster, namespace, workload, workload_type) (
            kube_pod_info{job="kube-state-metrics"}
            * on (cluster, namespace, pod) group_left (workload, workload_type)
            namespace_workload_pod:kube_pod_owner:relabel
          )
`

// kubernetesMixinRules writes the groups into dir and returns the file's path.
func kubernetesMixinRules(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "kubernetes-mixin.rules.yaml")
	if err := os.WriteFile(path, []byte(kubernetesMixinGroups), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// labelSet renders a result's labels as name=value pairs in name order.
func labelSet(m map[string]string) string {
	var kv []string
	for k, v := range m {
		kv = append(kv, k+"="+v)
	}
	sort.Strings(kv)
	return strings.Join(kv, ",")
}

// panelTarget is the query of panel title (target i) in the dashboard file, its variables set as
// grafanaVars sets them.
func panelTarget(t *testing.T, file, title string, i int) string {
	t.Helper()
	n := 0
	for _, q := range panelQueries(t, file) {
		if q.title == title {
			if n == i {
				return grafanaVars(q.expr)
			}
			n++
		}
	}
	t.Fatalf("%s: no target %d of panel %q", file, i, title)
	return ""
}

// checkKubernetesMixinCoexistence: both packs' joins hold one series per pod under their own names,
// and the per-workload panels keep the values the fake GPUs give them. Every rule of both packs is
// healthy and produces series (checkRulesProduceSeries, run before on the same Prometheus).
func checkKubernetesMixinCoexistence(t *testing.T, p *promServer) {
	for _, name := range []string{"namespace_workload_pod:kube_pod_owner:relabel", "namespace_workload_pod:llm_kube_pod_owner:relabel"} {
		if dup := p.query(t, `count by (namespace, pod) (`+name+`) > 1`); len(dup) > 0 {
			t.Errorf("%s: several series for one pod: %v", name, dup)
		}
	}
	// kubernetes-mixin's series keep their own label set, ours carry app and role too.
	for _, c := range []struct{ name, pod, want string }{
		{"namespace_workload_pod:kube_pod_owner:relabel", "sglang-prefill-0", "__name__=namespace_workload_pod:kube_pod_owner:relabel,namespace=llm,pod=sglang-prefill-0,workload=sglang-prefill,workload_type=deployment"},
		{"namespace_workload_pod:llm_kube_pod_owner:relabel", "sglang-prefill-0", "__name__=namespace_workload_pod:llm_kube_pod_owner:relabel,app=sglang,namespace=llm,pod=sglang-prefill-0,role=prefill,workload=sglang-prefill,workload_type=deployment"},
		// The decode engine is a LeaderWorkerSet's leader; kubernetes-mixin sees its StatefulSet.
		{"namespace_workload_pod:llm_kube_pod_owner:relabel", "sglang-decode-0", "__name__=namespace_workload_pod:llm_kube_pod_owner:relabel,app=sglang,namespace=llm,pod=sglang-decode-0,role=decode,workload=sglang-decode,workload_type=leaderworkerset"},
		{"namespace_workload_pod:kube_pod_owner:relabel", "sglang-decode-0", "__name__=namespace_workload_pod:kube_pod_owner:relabel,namespace=llm,pod=sglang-decode-0,workload=sglang-decode,workload_type=statefulset"},
		{"namespace_workload_pod:llm_kube_pod_owner:relabel", "vllm-v0-0", "__name__=namespace_workload_pod:llm_kube_pod_owner:relabel,app=vllm-v0,namespace=llm,pod=vllm-v0-0,workload=vllm-v0,workload_type=statefulset"},
		{"namespace_workload_pod:llm_kube_pod_owner:relabel", "llm-node-exporter-x7k2p", "__name__=namespace_workload_pod:llm_kube_pod_owner:relabel,app=llm-node-exporter,namespace=llm-node-exporter,pod=llm-node-exporter-x7k2p,workload=llm-node-exporter,workload_type=daemonset"},
		{"namespace_workload_pod:llm_kube_pod_owner:relabel", "debug-shell", "__name__=namespace_workload_pod:llm_kube_pod_owner:relabel,app=debug-shell,namespace=llm,pod=debug-shell,workload=debug-shell,workload_type=barepod"},
	} {
		res := p.query(t, fmt.Sprintf(`%s{pod=%q}`, c.name, c.pod))
		if len(res) != 1 || labelSet(res[0].Metric) != c.want {
			var got []string
			for _, s := range res {
				got = append(got, labelSet(s.Metric))
			}
			t.Errorf("%s{pod=%q}: %v, want %s", c.name, c.pod, got, c.want)
		}
	}
	// The join on kubernetes-mixin's name works: one pod per workload.
	if res := p.query(t, `namespace_workload:e2e_kube_pod_info:count{workload="sglang-prefill"}`); len(res) != 1 || fmt.Sprint(res[0].Value[1]) != "1" {
		t.Errorf("kubernetes-mixin-style join on the pod owner: %v, want one pod of sglang-prefill", res)
	}
	// Per-workload panels, by the dashboard's own query: tensor activity of the prefill Deployment's
	// GPUs 0-3 (40..43 %) and DRAM bandwidth of the decode LWS's GPUs 4-7 (64..67 %).
	const gpu = "../../dashboards/llm-gpu-fabric.json"
	const title = "Prefill tensor efficiency / decode memory bandwidth per workload"
	for _, c := range []struct {
		target          int
		workload, wtype string
		want            float64
	}{
		{0, "sglang-prefill", "deployment", 0.415},
		{1, "sglang-decode", "leaderworkerset", 0.655},
	} {
		q := panelTarget(t, gpu, title, c.target)
		res := p.query(t, q)
		found := false
		for _, s := range res {
			if s.Metric["workload"] != c.workload {
				continue
			}
			found = true
			var v float64
			fmt.Sscan(fmt.Sprint(s.Value[1]), &v)
			if s.Metric["workload_type"] != c.wtype || v < c.want-1e-9 || v > c.want+1e-9 {
				t.Errorf("%s target %d: %v = %v, want workload_type %s, %g", title, c.target, s.Metric, v, c.wtype, c.want)
			}
		}
		if !found {
			t.Errorf("%s target %d: no series for %s: %v", title, c.target, c.workload, res)
		}
	}
}

// checkSeedsProfile runs the seeds profile's rules and alerts (with the kubernetes-mixin groups)
// in a second Prometheus with cfg's scrape configs, and checks its rules and dashboards as the
// generic profile's are checked.
func checkSeedsProfile(t *testing.T, bin, dir, cfg, rulesFile, alertsFile string) {
	seedsDir := filepath.Join(dir, "seeds")
	if err := os.MkdirAll(seedsDir, 0o755); err != nil {
		t.Fatal(err)
	}
	seedsRules, _ := filepath.Abs("../../profiles/seeds/rules/llm-node-exporter.rules.yaml")
	seedsAlerts := filepath.Join(seedsDir, "alerts.yaml")
	shortFor(t, "../../profiles/seeds/alerts/llm-node-exporter.alerts.yaml", seedsAlerts)
	seedsCfg := strings.NewReplacer(fmt.Sprintf("%q", rulesFile), fmt.Sprintf("%q", seedsRules), fmt.Sprintf("%q", alertsFile), fmt.Sprintf("%q", seedsAlerts)).Replace(cfg)
	if seedsCfg == cfg {
		t.Fatal("the stack's configuration does not name its rule files")
	}
	p := startStackPrometheus(t, bin, seedsDir, seedsCfg)
	p.waitQuery(t, `count(up == 1)`, "9 targets up", func(s []promSeries) bool {
		return len(s) == 1 && fmt.Sprint(s[0].Value[1]) == "9"
	})
	// A chain across groups (GPM, kube join) is recorded: the rules have run a few times.
	waitFor(t, 30*time.Second, "per-workload GPU series of the seeds profile", func() bool {
		return len(p.query(t, `namespace_workload:llm_gpu_tensor_active_ratio:avg`)) > 0
	})
	t.Run("RulesHealthyAndProduceSeries", func(t *testing.T) { checkRulesProduceSeries(t, p) })
	t.Run("DashboardQueriesReturnData", func(t *testing.T) { checkDashboardsReturnData(t, p, "../../profiles/seeds/dashboards/*.json") })
}
