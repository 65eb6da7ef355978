package deploy

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/kustomize/api/krusty"
	kustypes "sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

const (
	chartDir    = "helm/llm-node-exporter"
	kubeVersion = "v1.37.0" // the chart's kubeVersion constraint is checked against this
)

var (
	root, _   = filepath.Abs("..")
	helmBin   = envOr("HELM", filepath.Join(root, ".cache/bin/helm"))
	binary    = envOr("LLM_NODE_EXPORTER", filepath.Join(root, "bin/llm-node-exporter"))
	knownFlag map[string]flag
	rules     []*monitoringv1.PrometheusRule
)

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// TestMain builds what is missing (`make deploy-test` builds both first, cached): helm from this
// module's go.mod and the exporter from the root module. Then it reads the binary's flags.
func TestMain(m *testing.M) {
	if err := setup(); err != nil {
		fmt.Fprintln(os.Stderr, "setup:", err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

func setup() error {
	if _, err := os.Stat(helmBin); err != nil {
		cmd := exec.Command("go", "build", "-o", helmBin, "helm.sh/helm/v3/cmd/helm")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("building helm: %w", err)
		}
	}
	if _, err := os.Stat(binary); err != nil {
		cmd := exec.Command("go", "build", "-o", binary, "./cmd/llm-node-exporter")
		cmd.Dir, cmd.Stdout, cmd.Stderr = root, os.Stderr, os.Stderr
		cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("building the exporter: %w", err)
		}
	}
	out, err := exec.Command(binary, "--help-long").CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s --help-long: %w\n%s", binary, err, out)
	}
	knownFlag = parseHelp(out)
	for _, f := range []string{"web.listen-address", "path.sysfs", "path.procfs", "attribution.kubelet-socket", "collector.gpu"} {
		if _, ok := knownFlag[f]; !ok {
			return fmt.Errorf("--help-long of %s lists no --%s: the parser is broken\n%s", binary, f, out)
		}
	}
	files, err := filepath.Glob(filepath.Join(root, "deploy/prometheusrule/*.yaml"))
	if err != nil || len(files) == 0 {
		return fmt.Errorf("no deploy/prometheusrule/*.yaml: %v", err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		objs, err := decodeAll(b)
		if err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		rules = append(rules, ofKind[*monitoringv1.PrometheusRule](objs)...)
	}
	return nil
}

func helm(t *testing.T, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(helmBin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helm %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr.String())
	}
	return out
}

func mustDecode(t *testing.T, what string, b []byte) []object {
	t.Helper()
	objs, err := decodeAll(b)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return objs
}

func reportAll(t *testing.T, what string, errs []error) {
	t.Helper()
	for _, e := range errs {
		t.Errorf("%s: %v", what, e)
	}
}

func kinds(objs []object) []string {
	var k []string
	for _, o := range objs {
		k = append(k, o.kind)
	}
	sort.Strings(k)
	return k
}

// daemonSetArgs returns the exporter's arguments of the one DaemonSet.
func daemonSetArgs(t *testing.T, objs []object) []string {
	t.Helper()
	dss := ofKind[*appsv1.DaemonSet](objs)
	if len(dss) != 1 || len(dss[0].Spec.Template.Spec.Containers) != 1 {
		t.Fatalf("want one DaemonSet with one container")
	}
	return dss[0].Spec.Template.Spec.Containers[0].Args
}

// acceptedByBinary runs the exporter with the arguments and --help: kingpin rejects an unknown
// flag, or a repeated non-repeatable one, before it prints the help.
func acceptedByBinary(t *testing.T, args []string) {
	t.Helper()
	out, err := exec.Command(binary, append(slices.Clone(args), "--help")...).CombinedOutput()
	if err != nil {
		t.Errorf("the exporter rejects the rendered arguments %q: %v\n%s", args, err, out)
	}
}

func TestHelmLint(t *testing.T) {
	helm(t, "lint", "--strict", chartDir, "--kube-version", kubeVersion)
	helm(t, "lint", "--strict", chartDir, "--kube-version", kubeVersion, "-f", "testdata/values-nondefault.yaml")
}

// TestHelmLintRejectsBadValues: values.schema.json is enforced by lint and template.
func TestHelmLintRejectsBadValues(t *testing.T) {
	for _, set := range []string{"flags.web.maxRequests=many", "flags.log.level=verbose", "hostPID=yes", "flags.collector.gpu.gpmInterval=soon", "unknownTopLevel=1"} {
		cmd := exec.Command(helmBin, "template", "t", chartDir, "--kube-version", kubeVersion, "--set", set)
		if out, err := cmd.CombinedOutput(); err == nil {
			t.Errorf("helm template --set %s: want a schema error, rendered:\n%.300s", set, out)
		}
	}
}

func TestHelmTemplateDefault(t *testing.T) {
	out := helm(t, "template", "llm", chartDir, "--kube-version", kubeVersion, "--namespace", "monitoring")
	objs := mustDecode(t, "helm template (default values)", out)
	if got, want := kinds(objs), []string{"DaemonSet", "Service", "ServiceAccount"}; !slices.Equal(got, want) {
		t.Errorf("default objects %v, want %v", got, want)
	}
	reportAll(t, "default values", checkObjects(objs, knownFlag, rules))
	args := daemonSetArgs(t, objs)
	acceptedByBinary(t, args)

	// Every flag of the binary is exposed (rendered with the default values), and where the
	// binary prints its default, the chart's default is the same (except the paths the chart
	// points at its mounts).
	given, errs := checkArgs(args, knownFlag)
	reportAll(t, "default arguments", errs)
	chartManaged := map[string]bool{"path.sysfs": true, "path.procfs": true}
	for name, f := range knownFlag {
		if slices.Contains(builtinFlags, name) {
			continue
		}
		if strings.HasPrefix(name, "engine.") || strings.HasPrefix(name, "remote-write.") {
			continue // rendered only with targets / URLs: TestHelmTemplateNonDefault
		}
		v, ok := given[name]
		if !ok {
			t.Errorf("the chart does not expose --%s (add it to values.yaml flags and templates/_helpers.tpl)", name)
			continue
		}
		if f.hasDefault && !chartManaged[name] && strings.Join(v, ",") != f.def {
			t.Errorf("--%s: chart default %q, binary default %q", name, strings.Join(v, ","), f.def)
		}
	}
	// Chart-managed paths: the host's directories mounted where the flags say.
	if v := given["path.sysfs"]; !slices.Equal(v, []string{"/host/sys"}) {
		t.Errorf("--path.sysfs %v", v)
	}
}

func TestHelmTemplateNonDefault(t *testing.T) {
	out := helm(t, "template", "gpu-metrics", chartDir, "--kube-version", kubeVersion, "--namespace", "observability",
		"-f", "testdata/values-nondefault.yaml")
	objs := mustDecode(t, "helm template (non-default values)", out)
	want := []string{"ClusterRole", "ClusterRoleBinding", "DaemonSet", "PodMonitor", "PrometheusRule", "PrometheusRule", "Service", "ServiceAccount", "ServiceMonitor"}
	if got := kinds(objs); !slices.Equal(got, want) {
		t.Errorf("objects %v, want %v", got, want)
	}
	reportAll(t, "non-default values", checkObjects(objs, knownFlag, rules))

	args := daemonSetArgs(t, objs)
	given, _ := checkArgs(args, knownFlag)
	// Each value reached its flag.
	for flag, want := range map[string][]string{
		"web.listen-address":                    {":9900", "127.0.0.1:9837"},
		"web.telemetry-path":                    {"/custom-metrics"},
		"web.config.file":                       {"/etc/llm-node-exporter/web.yml"},
		"web.systemd-socket":                    {"true"},
		"web.max-requests":                      {"7"},
		"web.scrape-timeout":                    {"20s"},
		"web.scrape-timeout-offset":             {"1s"},
		"web.read-timeout":                      {"40s"},
		"web.write-timeout":                     {"2m"},
		"web.idle-timeout":                      {"3m"},
		"web.max-auth-attempts":                 {"2"},
		"path.rootfs":                           {"/host/root"},
		"log.level":                             {"debug"},
		"log.format":                            {"json"},
		"collector.gpu":                         {"false"},
		"collector.gpu.nvml-library":            {"/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1"},
		"collector.gpu.pcie-throughput":         {"true"},
		"collector.gpu.xid-events":              {"false"},
		"collector.gpu.gpm":                     {"false"},
		"collector.gpu.gpm-interval":            {"2s"},
		"collector.gpu.gpm-nvlink-per-link":     {"true"},
		"collector.infiniband":                  {"false"},
		"collector.infiniband.device-include":   {"^mlx5_[0-7]$"},
		"collector.infiniband.device-exclude":   {"^mlx5_bond.*"},
		"collector.infiniband.read-timeout":     {"2s"},
		"engine.sample-limit":                   {"20000"},
		"engine.label-limit":                    {"32"},
		"engine.label-name-length-limit":        {"128"},
		"engine.label-value-length-limit":       {"2048"},
		"engine.lora-adapter-limit":             {"64"},
		"attribution":                           {"false"},
		"attribution.kubelet":                   {"false"},
		"attribution.kubelet-socket":            {"/var/lib/kubelet/pod-resources/kubelet-alt.sock"},
		"attribution.refresh-interval":          {"30s"},
		"attribution.gpu-resource-prefix":       {"nvidia.com/", "example.com/gpu"},
		"attribution.proc-timeout":              {"2s"},
		"attribution.pods":                      {"true"},
		"attribution.dra":                       {"true"},
		"attribution.dra-driver":                {"gpu.nvidia.com=uuid,parentUUID", "gpu.example.com=guid"},
		"attribution.engine-targets":            {"false"},
		"attribution.label.pod-uid":             {"true"},
		"attribution.label.claim":               {"true"},
		"remote-write.url":                      {"https://arms.example.com/api/v1/prometheus/write"},
		"remote-write.config-file":              {"/etc/llm-node-exporter/remote-write.yaml"},
		"remote-write.interval":                 {"30s"},
		"remote-write.external-label":           {"cluster=gpu-1", "region=cn-hangzhou"},
		"remote-write.job":                      {"gpu-nodes"},
		"remote-write.instance":                 {"$(NODE_NAME)"},
		"remote-write.buffer-samples":           {"100000"},
		"remote-write.buffer-age":               {"30m"},
		"remote-write.max-samples-per-send":     {"500"},
		"remote-write.flush-timeout":            {"20s"},
		"remote-write.max-bytes-per-send":       {"256KiB"},
		"remote-write.wal-dir":                  {"/var/lib/llm-node-exporter/wal"},
		"remote-write.wal-max-bytes":            {"128MiB"},
		"remote-write.basic-auth.username":      {"LTAI-example"},
		"remote-write.basic-auth.password-file": {"/etc/llm-node-exporter/secret/password"},
		"remote-write.basic-auth.password-env":  {"ARMS_PASSWORD"},
		"remote-write.bearer-token-file":        {"/etc/llm-node-exporter/secret/token"},
	} {
		if got := given[flag]; !slices.Equal(got, want) {
			t.Errorf("--%s = %q, want %q", flag, got, want)
		}
	}
	acceptedByBinary(t, args)
	// With every optional group on, every flag of the binary is rendered.
	for name := range knownFlag {
		if _, ok := given[name]; !ok && !slices.Contains(builtinFlags, name) {
			t.Errorf("the chart does not expose --%s (add it to values.yaml flags, templates/_helpers.tpl, values.schema.json and testdata/values-nondefault.yaml)", name)
		}
	}
	// The ports follow the first listen address.
	ds := ofKind[*appsv1.DaemonSet](objs)[0]
	if p := ds.Spec.Template.Spec.Containers[0].Ports[0].ContainerPort; p != 9900 {
		t.Errorf("container port %d, want 9900", p)
	}
	if ds.Spec.Template.Spec.AutomountServiceAccountToken == nil || !*ds.Spec.Template.Spec.AutomountServiceAccountToken {
		t.Errorf("engine.kubernetes without the token mounted")
	}
	for _, pm := range ofKind[*monitoringv1.PodMonitor](objs) {
		if !slices.ContainsFunc(pm.Spec.PodMetricsEndpoints[0].RelabelConfigs, func(rc monitoringv1.RelabelConfig) bool {
			return rc.TargetLabel == "job" && rc.Replacement != nil && *rc.Replacement == "llm-node-exporter"
		}) {
			t.Errorf("PodMonitor: no job=llm-node-exporter relabeling (the mixin selects that job)")
		}
	}
	for _, sm := range ofKind[*monitoringv1.ServiceMonitor](objs) {
		if sm.Spec.Endpoints[0].Path != "/custom-metrics" {
			t.Errorf("ServiceMonitor path %q, want the telemetry path", sm.Spec.Endpoints[0].Path)
		}
	}
}

// TestHelmTemplateAttributionRBAC: flags.attribution.pods / dra create exactly the reads they need.
func TestHelmTemplateAttributionRBAC(t *testing.T) {
	for _, tc := range []struct {
		set   []string
		rules []string // group/resource:verbs of the ClusterRole, nil for no RBAC
	}{
		{[]string{"flags.attribution.dra=true"}, []string{"resource.k8s.io/resourceslices:list,watch"}},
		{[]string{"flags.attribution.pods=true"}, []string{"/pods:get,list,watch"}},
		{[]string{"flags.attribution.pods=true", "flags.attribution.dra=true"}, []string{"/pods:get,list,watch", "resource.k8s.io/resourceslices:list,watch"}},
		{[]string{"flags.attribution.dra=true", "flags.attribution.enabled=false"}, nil},
	} {
		args := []string{"template", "llm", chartDir, "--kube-version", kubeVersion}
		for _, s := range tc.set {
			args = append(args, "--set", s)
		}
		objs := mustDecode(t, strings.Join(tc.set, " "), helm(t, args...))
		reportAll(t, strings.Join(tc.set, " "), checkObjects(objs, knownFlag, rules))
		var got []string
		for _, cr := range ofKind[*rbacv1.ClusterRole](objs) {
			for _, r := range cr.Rules {
				got = append(got, r.APIGroups[0]+"/"+r.Resources[0]+":"+strings.Join(r.Verbs, ","))
			}
		}
		if !slices.Equal(got, tc.rules) {
			t.Errorf("%v: ClusterRole rules %v, want %v", tc.set, got, tc.rules)
		}
		acceptedByBinary(t, daemonSetArgs(t, objs))
	}
}

// kustomizeBuild renders a kustomization directory as `kubectl kustomize` does.
func kustomizeBuild(t *testing.T, dir string, restrict bool) []byte {
	t.Helper()
	opts := krusty.MakeDefaultOptions()
	if !restrict {
		opts.LoadRestrictions = kustypes.LoadRestrictionsNone
	}
	rm, err := krusty.MakeKustomizer(opts).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	out, err := rm.AsYaml()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestKustomize(t *testing.T) {
	for _, tc := range []struct {
		dir      string
		restrict bool // renders with kustomize's default load restrictions
		kinds    []string
		ns       string
	}{
		{"kubernetes/base", true, []string{"DaemonSet", "Service", "ServiceAccount"}, ""},
		{"kubernetes", true, []string{"DaemonSet", "Namespace", "Service", "ServiceAccount"}, "llm-node-exporter"},
		{"kubernetes/prometheus-operator", false, []string{"DaemonSet", "Namespace", "PrometheusRule", "PrometheusRule", "Service", "ServiceAccount", "ServiceMonitor"}, "llm-node-exporter"},
	} {
		t.Run(tc.dir, func(t *testing.T) {
			objs := mustDecode(t, tc.dir, kustomizeBuild(t, tc.dir, tc.restrict))
			if got := kinds(objs); !slices.Equal(got, tc.kinds) {
				t.Errorf("objects %v, want %v", got, tc.kinds)
			}
			reportAll(t, tc.dir, checkObjects(objs, knownFlag, rules))
			acceptedByBinary(t, daemonSetArgs(t, objs))
			ds := ofKind[*appsv1.DaemonSet](objs)[0]
			if ds.Namespace != tc.ns {
				t.Errorf("namespace %q, want %q", ds.Namespace, tc.ns)
			}
			if ds.Spec.Template.Spec.AutomountServiceAccountToken == nil || *ds.Spec.Template.Spec.AutomountServiceAccountToken {
				t.Errorf("the token is mounted without the engine-discovery component")
			}
		})
	}
}

// TestKustomizeEngineDiscovery renders an overlay with the opt-in component.
func TestKustomizeEngineDiscovery(t *testing.T) {
	dir := t.TempDir()
	abs := func(p string) string { r, _ := filepath.Rel(dir, filepath.Join(root, "deploy", p)); return r }
	k := fmt.Sprintf("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [%s]\ncomponents: [%s]\n",
		abs("kubernetes"), abs("kubernetes/components/engine-discovery"))
	if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(k), 0o644); err != nil {
		t.Fatal(err)
	}
	objs := mustDecode(t, "engine-discovery", kustomizeBuild(t, dir, false))
	if got, want := kinds(objs), []string{"ClusterRole", "ClusterRoleBinding", "DaemonSet", "Namespace", "Service", "ServiceAccount"}; !slices.Equal(got, want) {
		t.Errorf("objects %v, want %v", got, want)
	}
	reportAll(t, "engine-discovery", checkObjects(objs, knownFlag, rules))
	ds := ofKind[*appsv1.DaemonSet](objs)[0]
	sa := ofKind[*corev1.ServiceAccount](objs)[0]
	if !*ds.Spec.Template.Spec.AutomountServiceAccountToken || !*sa.AutomountServiceAccountToken {
		t.Errorf("engine-discovery must mount the token")
	}
	if !slices.Contains(ds.Spec.Template.Spec.Containers[0].Args, "--engine.kubernetes") {
		t.Errorf("engine-discovery must turn on --engine.kubernetes")
	}
	acceptedByBinary(t, ds.Spec.Template.Spec.Containers[0].Args)
}

// TestKustomizeAttributionKubernetes renders an overlay with the attribution component, alone and
// with engine discovery.
func TestKustomizeAttributionKubernetes(t *testing.T) {
	for _, components := range [][]string{{"attribution-kubernetes"}, {"engine-discovery", "attribution-kubernetes"}} {
		dir := t.TempDir()
		abs := func(p string) string { r, _ := filepath.Rel(dir, filepath.Join(root, "deploy", p)); return r }
		var comps []string
		for _, c := range components {
			comps = append(comps, abs("kubernetes/components/"+c))
		}
		k := fmt.Sprintf("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [%s]\ncomponents: [%s]\n",
			abs("kubernetes"), strings.Join(comps, ", "))
		if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(k), 0o644); err != nil {
			t.Fatal(err)
		}
		objs := mustDecode(t, strings.Join(components, "+"), kustomizeBuild(t, dir, false))
		reportAll(t, strings.Join(components, "+"), checkObjects(objs, knownFlag, rules))
		ds := ofKind[*appsv1.DaemonSet](objs)[0]
		args := ds.Spec.Template.Spec.Containers[0].Args
		if !slices.Contains(args, "--attribution.pods") || !slices.Contains(args, "--attribution.dra") {
			t.Errorf("%v: the component must turn on --attribution.pods and --attribution.dra: %v", components, args)
		}
		if !*ds.Spec.Template.Spec.AutomountServiceAccountToken {
			t.Errorf("%v: the token is not mounted", components)
		}
		acceptedByBinary(t, args)
	}
}

// TestKubernetesFiles decodes every file under deploy/kubernetes strictly, whether or not a
// kustomization lists it: manifests against the API types, kustomizations against kustomize's.
func TestKubernetesFiles(t *testing.T) {
	n := 0
	err := filepath.WalkDir("kubernetes", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if ext := filepath.Ext(path); ext != ".yaml" && ext != ".yml" {
			t.Errorf("%s: unexpected file", path)
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		n++
		if d.Name() == "kustomization.yaml" {
			var k kustypes.Kustomization
			if err := unmarshalStrict(b, &k); err != nil {
				t.Errorf("%s: %v", path, err)
			}
			return nil
		}
		if _, err := decodeAll(b); err != nil {
			t.Errorf("%s: %v", path, err)
		}
		return nil
	})
	if err != nil || n < 8 {
		t.Fatalf("walked %d files: %v", n, err)
	}
}

// The checks themselves must be able to fail.

func TestStrictDecodingRejectsUnknownFields(t *testing.T) {
	b, err := os.ReadFile("kubernetes/base/daemonset.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := decodeAll(b); err != nil {
		t.Fatalf("the unmodified DaemonSet: %v", err)
	}
	for name, mutated := range map[string]string{
		"unknown field":     strings.Replace(string(b), "hostPID: true", "hostPID: true\n      hostPid: true", 1),
		"misspelt field":    strings.Replace(string(b), "readOnly: true", "readonly: true", 1),
		"duplicate field":   strings.Replace(string(b), "hostPID: true", "hostPID: true\n      hostPID: false", 1),
		"wrong type":        strings.Replace(string(b), "hostPID: true", "hostPID: sure", 1),
		"unknown kind":      strings.Replace(string(b), "kind: DaemonSet", "kind: DaemonSett", 1),
		"wrong api version": strings.Replace(string(b), "apiVersion: apps/v1", "apiVersion: extensions/v1beta1", 1),
	} {
		if mutated == string(b) {
			t.Fatalf("%s: the mutation did not apply", name)
		}
		if _, err := decodeAll([]byte(mutated)); err == nil {
			t.Errorf("%s: decoded without error", name)
		}
	}
	sm, _ := os.ReadFile("kubernetes/prometheus-operator/servicemonitor.yaml")
	if _, err := decodeAll(bytes.Replace(sm, []byte("honorLabels: true"), []byte("honourLabels: true"), 1)); err == nil {
		t.Errorf("ServiceMonitor with honourLabels decoded without error")
	}
}

func TestInvariantsCatchMutations(t *testing.T) {
	base := func() []object {
		return mustDecode(t, "base", kustomizeBuild(t, "kubernetes/prometheus-operator", false))
	}
	if errs := checkObjects(base(), knownFlag, rules); len(errs) > 0 {
		t.Fatalf("the unmodified objects: %v", errors.Join(errs...))
	}
	for name, mutate := range map[string]func(objs []object){
		"hostPID off": func(o []object) { ofKind[*appsv1.DaemonSet](o)[0].Spec.Template.Spec.HostPID = false },
		"pod-resources read-write": func(o []object) {
			c := &ofKind[*appsv1.DaemonSet](o)[0].Spec.Template.Spec.Containers[0]
			for i := range c.VolumeMounts {
				if c.VolumeMounts[i].MountPath == "/var/lib/kubelet/pod-resources" {
					c.VolumeMounts[i].ReadOnly = false
				}
			}
		},
		"unknown flag": func(o []object) {
			c := &ofKind[*appsv1.DaemonSet](o)[0].Spec.Template.Spec.Containers[0]
			c.Args = append(c.Args, "--collector.gpu.nvml-libary=/x")
		},
		"bool flag with a value": func(o []object) {
			c := &ofKind[*appsv1.DaemonSet](o)[0].Spec.Template.Spec.Containers[0]
			c.Args = append(c.Args, "--collector.gpu.pcie-throughput=true")
		},
		"sysfs flag off the mount": func(o []object) {
			c := &ofKind[*appsv1.DaemonSet](o)[0].Spec.Template.Spec.Containers[0]
			c.Args = slices.DeleteFunc(c.Args, func(a string) bool { return strings.HasPrefix(a, "--path.sysfs") })
		},
		"engine discovery without RBAC": func(o []object) {
			c := &ofKind[*appsv1.DaemonSet](o)[0].Spec.Template.Spec.Containers[0]
			c.Args = append(c.Args, "--engine.kubernetes")
		},
		"DRA attribution without RBAC": func(o []object) {
			c := &ofKind[*appsv1.DaemonSet](o)[0].Spec.Template.Spec.Containers[0]
			c.Args = append(c.Args, "--attribution.dra")
		},
		"pods attribution without RBAC": func(o []object) {
			c := &ofKind[*appsv1.DaemonSet](o)[0].Spec.Template.Spec.Containers[0]
			c.Args = append(c.Args, "--attribution.pods")
		},
		"memory limit below the RSS": func(o []object) {
			ofKind[*appsv1.DaemonSet](o)[0].Spec.Template.Spec.Containers[0].Resources.Limits[corev1.ResourceMemory] = resource.MustParse("32Mi")
		},
		"no resources": func(o []object) {
			ofKind[*appsv1.DaemonSet](o)[0].Spec.Template.Spec.Containers[0].Resources = corev1.ResourceRequirements{}
		},
		"extra capability": func(o []object) {
			sc := ofKind[*appsv1.DaemonSet](o)[0].Spec.Template.Spec.Containers[0].SecurityContext
			sc.Capabilities.Add = append(sc.Capabilities.Add, "SYS_ADMIN")
		},
		"honorLabels off": func(o []object) {
			ofKind[*monitoringv1.ServiceMonitor](o)[0].Spec.Endpoints[0].HonorLabels = false
		},
		"no node relabeling": func(o []object) {
			ofKind[*monitoringv1.ServiceMonitor](o)[0].Spec.Endpoints[0].RelabelConfigs = nil
		},
		"edited rule": func(o []object) {
			ofKind[*monitoringv1.PrometheusRule](o)[0].Spec.Groups[0].Rules[0].Labels = map[string]string{"x": "y"}
		},
		"service selects nothing": func(o []object) {
			ofKind[*corev1.Service](o)[0].Spec.Selector = map[string]string{"app": "other"}
		},
	} {
		objs := base()
		mutate(objs)
		if errs := checkObjects(objs, knownFlag, rules); len(errs) == 0 {
			t.Errorf("%s: not caught", name)
		}
	}
}

func TestParseHelp(t *testing.T) {
	f := knownFlag["web.listen-address"]
	if !f.repeatable || f.def != ":9836" || f.bool {
		t.Errorf("web.listen-address parsed as %+v", f)
	}
	if f := knownFlag["collector.gpu"]; !f.bool {
		t.Errorf("collector.gpu parsed as %+v", f)
	}
	if f := knownFlag["path.sysfs"]; f.def != "/sys" {
		t.Errorf("path.sysfs parsed as %+v", f)
	}
	// Wrapped descriptions that start with a flag name are not flags; a placeholder is no default.
	got := parseHelp([]byte("      --remote-write.url=REMOTE-WRITE.URL ...  \n" +
		"                                 Push to the\n" +
		"                                 --remote-write.url endpoints.\n" +
		"                                 --help-long and\n" +
		"  -h, --[no-]help                Show help.\n"))
	if len(got) != 2 || !got["remote-write.url"].repeatable || got["remote-write.url"].hasDefault || !got["help"].bool {
		t.Errorf("parseHelp: %+v", got)
	}
}
