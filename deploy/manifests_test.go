// Package deploy validates the deployment manifests: deploy/kubernetes (rendered through kustomize's
// krusty, as `kubectl kustomize` does) and the Helm chart deploy/helm/llm-node-exporter (rendered by
// a real helm built from this module's go.mod), decoded strictly against the Kubernetes and
// Prometheus Operator API types, and checked for the invariants the exporter depends on.
package deploy

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// object is one decoded manifest.
type object struct {
	kind, name string
	obj        any
}

// newObject returns an empty typed object for an apiVersion and kind, or nil for a kind that
// has no business in these manifests.
func newObject(apiVersion, kind string) any {
	switch apiVersion + "/" + kind {
	case "v1/Namespace":
		return &corev1.Namespace{}
	case "v1/ServiceAccount":
		return &corev1.ServiceAccount{}
	case "v1/Service":
		return &corev1.Service{}
	case "apps/v1/DaemonSet":
		return &appsv1.DaemonSet{}
	case "rbac.authorization.k8s.io/v1/ClusterRole":
		return &rbacv1.ClusterRole{}
	case "rbac.authorization.k8s.io/v1/ClusterRoleBinding":
		return &rbacv1.ClusterRoleBinding{}
	case "monitoring.coreos.com/v1/ServiceMonitor":
		return &monitoringv1.ServiceMonitor{}
	case "monitoring.coreos.com/v1/PodMonitor":
		return &monitoringv1.PodMonitor{}
	case "monitoring.coreos.com/v1/PrometheusRule":
		return &monitoringv1.PrometheusRule{}
	}
	return nil
}

var docSeparator = regexp.MustCompile(`(?m)^---\s*$`)

// decodeAll splits a multi-document YAML stream and decodes every document strictly (unknown or
// duplicate fields are errors) into its API type.
func decodeAll(stream []byte) ([]object, error) {
	var out []object
	for i, doc := range docSeparator.Split(string(stream), -1) {
		var probe map[string]any
		if err := yaml.Unmarshal([]byte(doc), &probe); err != nil {
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		if len(probe) == 0 {
			continue // comments only
		}
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal([]byte(doc), &tm); err != nil {
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		obj := newObject(tm.APIVersion, tm.Kind)
		if obj == nil {
			return nil, fmt.Errorf("document %d: unexpected apiVersion %q kind %q", i, tm.APIVersion, tm.Kind)
		}
		if err := unmarshalStrict([]byte(doc), obj); err != nil {
			return nil, fmt.Errorf("document %d (%s): %w", i, tm.Kind, err)
		}
		name := ""
		if m, ok := obj.(metav1.Object); ok {
			name = m.GetName()
			if name == "" {
				return nil, fmt.Errorf("document %d (%s): no metadata.name", i, tm.Kind)
			}
		}
		out = append(out, object{kind: tm.Kind, name: name, obj: obj})
	}
	return out, nil
}

// unmarshalStrict decodes as the API server does in strict field validation: duplicate YAML keys,
// unknown fields and fields whose case differs from the API's (Go's encoding/json would accept
// "hostPid" for hostPID) are errors.
func unmarshalStrict(y []byte, obj any) error {
	j, err := yaml.YAMLToJSONStrict(y)
	if err != nil {
		return err
	}
	strict, err := kjson.UnmarshalStrict(j, obj)
	if err != nil {
		return err
	}
	return errors.Join(strict...)
}

func ofKind[T any](objs []object) []T {
	var out []T
	for _, o := range objs {
		if t, ok := o.obj.(T); ok {
			out = append(out, t)
		}
	}
	return out
}

// flag is one flag of the binary as `--help-long` prints it.
type flag struct {
	name       string
	bool       bool // --[no-]name
	repeatable bool
	def        string
	hasDefault bool
}

// A flag's line is indented by 2 to 6 spaces; its wrapped description (which may start with a
// flag name too) by more than 20.
var helpLine = regexp.MustCompile(`^ {1,8}(?:-\w, )?--(\[no-\])?([a-z0-9][a-z0-9.-]*[a-z0-9])(?:=("(?:[^"\\]|\\.)*"|\S+))?( \.\.\.)?(?:\s|$)`)

// parseHelp reads the flags of `llm-node-exporter --help-long`.
func parseHelp(out []byte) map[string]flag {
	flags := map[string]flag{}
	for line := range strings.SplitSeq(string(out), "\n") {
		m := helpLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		f := flag{name: m[2], bool: m[1] != "", repeatable: m[4] != ""}
		// A flag without a default shows a placeholder: --remote-write.url=REMOTE-WRITE.URL.
		if m[3] != "" && m[3] != strings.ToUpper(f.name) {
			f.hasDefault = true
			f.def = strings.Trim(m[3], `"`)
		}
		flags[f.name] = f
	}
	return flags
}

// builtinFlags are kingpin's own, not configuration.
var builtinFlags = []string{"help", "help-long", "help-man", "version", "completion-bash", "completion-script-bash", "completion-script-zsh"}

// parseArg splits "--name=value", "--name" and "--no-name".
func parseArg(arg string) (name, value string, hasValue, negated bool, err error) {
	if !strings.HasPrefix(arg, "--") {
		return "", "", false, false, fmt.Errorf("argument %q is not a long flag", arg)
	}
	name, value, hasValue = strings.Cut(strings.TrimPrefix(arg, "--"), "=")
	return name, value, hasValue, false, nil
}

// checkArgs checks every argument against the binary's flags: known, booleans without a value,
// values on the others, no non-repeatable flag twice. It returns the flags given.
func checkArgs(args []string, known map[string]flag) (map[string][]string, []error) {
	var errs []error
	given := map[string][]string{}
	for _, a := range args {
		name, value, hasValue, _, err := parseArg(a)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		f, ok := known[name]
		if !ok && strings.HasPrefix(name, "no-") {
			if f, ok = known[strings.TrimPrefix(name, "no-")]; ok && f.bool && !hasValue {
				given[f.name] = append(given[f.name], "false")
				continue
			}
			ok = false
		}
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("argument %q: the binary has no flag --%s", a, name))
			continue
		case f.bool && hasValue:
			errs = append(errs, fmt.Errorf("argument %q: boolean flags take no value (--%s / --no-%s)", a, name, name))
		case !f.bool && !hasValue:
			errs = append(errs, fmt.Errorf("argument %q: --%s needs =value", a, name))
		}
		if !f.repeatable && len(given[name]) > 0 {
			errs = append(errs, fmt.Errorf("argument %q: --%s given twice and is not repeatable", a, name))
		}
		if f.bool {
			value = "true"
		}
		given[name] = append(given[name], value)
	}
	return given, errs
}

// checkDaemonSet checks what the exporter needs of its pod: see docs/install.md.
func checkDaemonSet(ds *appsv1.DaemonSet, known map[string]flag) []error {
	var errs []error
	fail := func(format string, a ...any) {
		errs = append(errs, fmt.Errorf("DaemonSet %s: "+format, append([]any{ds.Name}, a...)...))
	}
	spec := ds.Spec.Template.Spec
	if !spec.HostPID {
		fail("hostPID must be true (NVML reports host PIDs)")
	}
	if ds.Spec.Selector == nil {
		fail("no selector")
	} else if sel, err := metav1.LabelSelectorAsSelector(ds.Spec.Selector); err != nil || sel.Empty() {
		fail("bad selector: %v", err)
	} else if !matches(ds.Spec.Selector.MatchLabels, ds.Spec.Template.Labels) {
		fail("selector %v does not match the pod labels %v", ds.Spec.Selector.MatchLabels, ds.Spec.Template.Labels)
	}
	if !slices.ContainsFunc(spec.Tolerations, func(t corev1.Toleration) bool { return t.Key == "nvidia.com/gpu" }) {
		fail("no toleration for the nvidia.com/gpu taint")
	}
	if len(spec.NodeSelector) == 0 && spec.Affinity == nil {
		fail("neither nodeSelector nor affinity: it would land on every node")
	}
	if len(spec.Containers) != 1 {
		fail("want 1 container, got %d", len(spec.Containers))
		return errs
	}
	c := spec.Containers[0]
	hostPaths := map[string]string{}
	for _, v := range spec.Volumes {
		if v.HostPath != nil {
			hostPaths[v.Name] = v.HostPath.Path
		}
	}
	mounts := map[string]corev1.VolumeMount{} // by host path
	for _, m := range c.VolumeMounts {
		if hp, ok := hostPaths[m.Name]; ok {
			if !m.ReadOnly {
				fail("host path %s is mounted read-write at %s", hp, m.MountPath)
			}
			mounts[hp] = m
		}
	}
	for _, hp := range []string{"/sys", "/proc", "/var/lib/kubelet/pod-resources"} {
		if _, ok := mounts[hp]; !ok {
			fail("the host's %s is not mounted", hp)
		}
	}

	given, argErrs := checkArgs(c.Args, known)
	for _, e := range argErrs {
		fail("%v", e)
	}
	wantPath := func(flag, hostPath, suffix string) {
		m, ok := mounts[hostPath]
		if !ok {
			return
		}
		if got := given[flag]; len(got) != 1 || got[0] != m.MountPath+suffix {
			fail("--%s is %v, want the mount of the host's %s: %s", flag, got, hostPath, m.MountPath+suffix)
		}
	}
	wantPath("path.sysfs", "/sys", "")
	wantPath("path.procfs", "/proc", "")
	if m, ok := mounts["/var/lib/kubelet/pod-resources"]; ok {
		sock := given["attribution.kubelet-socket"]
		def := known["attribution.kubelet-socket"].def
		if len(sock) == 0 {
			sock = []string{def}
		}
		if !strings.HasPrefix(sock[0], m.MountPath+"/") {
			fail("the kubelet socket %s is not under the pod-resources mount %s", sock[0], m.MountPath)
		}
	}

	port := int32(0)
	for _, p := range c.Ports {
		if p.Name == "metrics" {
			port = p.ContainerPort
		}
	}
	listen := given["web.listen-address"]
	if len(listen) == 0 {
		listen = []string{known["web.listen-address"].def}
	}
	if port == 0 {
		fail("no container port named metrics")
	} else if !strings.HasSuffix(listen[0], fmt.Sprintf(":%d", port)) {
		fail("container port %d is not the port of --web.listen-address=%s", port, listen[0])
	}
	for name, p := range map[string]*corev1.Probe{"liveness": c.LivenessProbe, "readiness": c.ReadinessProbe} {
		if p == nil || p.HTTPGet == nil || p.HTTPGet.Port.String() != "metrics" {
			fail("%s probe must be an httpGet on the metrics port", name)
		}
	}

	for _, res := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if q, ok := c.Resources.Requests[res]; !ok || q.IsZero() {
			fail("no %s request", res)
		}
	}
	// RSS is ~60 MB (docs/push.md): a smaller request or limit would get it evicted or OOM-killed.
	if q := c.Resources.Requests[corev1.ResourceMemory]; q.Cmp(resource.MustParse("64Mi")) < 0 {
		fail("memory request %v: want at least 64Mi (RSS is ~60 MB)", &q)
	}
	if q, ok := c.Resources.Limits[corev1.ResourceMemory]; !ok || q.Cmp(resource.MustParse("128Mi")) < 0 {
		fail("memory limit %v: want one, at least 128Mi (RSS is ~60 MB)", c.Resources.Limits.Memory())
	}

	sc := c.SecurityContext
	if sc == nil {
		fail("no container securityContext")
	} else {
		if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
			fail("readOnlyRootFilesystem must be true")
		}
		if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			fail("allowPrivilegeEscalation must be false")
		}
		if sc.Privileged != nil && *sc.Privileged {
			fail("must not be privileged")
		}
		if sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
			fail("capabilities must drop ALL")
		} else {
			for _, a := range sc.Capabilities.Add {
				if a != "SYS_PTRACE" {
					fail("capability %s added: only SYS_PTRACE is needed", a)
				}
			}
		}
	}

	env := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		env[e.Name] = e
	}
	if e := env["NODE_NAME"]; e.ValueFrom == nil || e.ValueFrom.FieldRef == nil || e.ValueFrom.FieldRef.FieldPath != "spec.nodeName" {
		fail("NODE_NAME must come from the downward API (spec.nodeName)")
	}
	if spec.RuntimeClassName == nil && (env["NVIDIA_VISIBLE_DEVICES"].Value == "" || !strings.Contains(env["NVIDIA_DRIVER_CAPABILITIES"].Value, "utility")) {
		fail("neither runtimeClassName nor NVIDIA_VISIBLE_DEVICES + NVIDIA_DRIVER_CAPABILITIES=utility: NVML would not be injected")
	}
	return errs
}

func matches(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// nodeRelabeling reports whether relabelings copy the pod's node name into a node label.
func nodeRelabeling(rcs []monitoringv1.RelabelConfig) bool {
	for _, rc := range rcs {
		if slices.Equal(rc.SourceLabels, []monitoringv1.LabelName{"__meta_kubernetes_pod_node_name"}) &&
			rc.TargetLabel == "node" && (rc.Action == "" || strings.EqualFold(rc.Action, "replace")) {
			return true
		}
	}
	return false
}

// checkObjects checks the objects of one rendering together: the DaemonSet, what selects it, and
// the monitors. It returns the errors found.
func checkObjects(objs []object, known map[string]flag, rules []*monitoringv1.PrometheusRule) []error {
	var errs []error
	dss := ofKind[*appsv1.DaemonSet](objs)
	if len(dss) != 1 {
		return []error{fmt.Errorf("want 1 DaemonSet, got %d", len(dss))}
	}
	ds := dss[0]
	errs = append(errs, checkDaemonSet(ds, known)...)
	podLabels := ds.Spec.Template.Labels

	sas := ofKind[*corev1.ServiceAccount](objs)
	if !slices.ContainsFunc(sas, func(sa *corev1.ServiceAccount) bool { return sa.Name == ds.Spec.Template.Spec.ServiceAccountName }) {
		errs = append(errs, fmt.Errorf("the DaemonSet's ServiceAccount %q is not among the objects", ds.Spec.Template.Spec.ServiceAccountName))
	}
	for _, crb := range ofKind[*rbacv1.ClusterRoleBinding](objs) {
		if len(crb.Subjects) != 1 || crb.Subjects[0].Name != ds.Spec.Template.Spec.ServiceAccountName || crb.Subjects[0].Namespace != ds.Namespace {
			errs = append(errs, fmt.Errorf("ClusterRoleBinding %s does not bind the DaemonSet's ServiceAccount %s/%s: %+v", crb.Name, ds.Namespace, ds.Spec.Template.Spec.ServiceAccountName, crb.Subjects))
		}
	}
	var args []string
	if cs := ds.Spec.Template.Spec.Containers; len(cs) > 0 {
		args = cs[0].Args
	}
	errs = append(errs, checkRBAC(objs, args, ds)...)

	var svcLabels map[string]string
	for _, svc := range ofKind[*corev1.Service](objs) {
		if svc.Spec.ClusterIP != corev1.ClusterIPNone {
			errs = append(errs, fmt.Errorf("Service %s: want headless (clusterIP None), got %q", svc.Name, svc.Spec.ClusterIP))
		}
		if !matches(svc.Spec.Selector, podLabels) {
			errs = append(errs, fmt.Errorf("Service %s: selector %v does not match the exporter's pods", svc.Name, svc.Spec.Selector))
		}
		if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Name != "metrics" || svc.Spec.Ports[0].Port != 9836 || svc.Spec.Ports[0].TargetPort.String() != "metrics" {
			errs = append(errs, fmt.Errorf("Service %s: want one port 9836 named metrics to the metrics port, got %+v", svc.Name, svc.Spec.Ports))
		}
		svcLabels = svc.Labels
	}
	for _, sm := range ofKind[*monitoringv1.ServiceMonitor](objs) {
		if svcLabels == nil || !matches(sm.Spec.Selector.MatchLabels, svcLabels) {
			errs = append(errs, fmt.Errorf("ServiceMonitor %s: selector %v does not select the Service (labels %v)", sm.Name, sm.Spec.Selector.MatchLabels, svcLabels))
		}
		if len(sm.Spec.Endpoints) == 0 {
			errs = append(errs, fmt.Errorf("ServiceMonitor %s: no endpoints", sm.Name))
		}
		for _, ep := range sm.Spec.Endpoints {
			if !ep.HonorLabels {
				errs = append(errs, fmt.Errorf("ServiceMonitor %s: honorLabels must be true (else pod becomes exported_pod)", sm.Name))
			}
			if !nodeRelabeling(ep.RelabelConfigs) {
				errs = append(errs, fmt.Errorf("ServiceMonitor %s: no relabeling of __meta_kubernetes_pod_node_name into node", sm.Name))
			}
			if ep.Port != "metrics" {
				errs = append(errs, fmt.Errorf("ServiceMonitor %s: want port metrics", sm.Name))
			}
		}
	}
	for _, pm := range ofKind[*monitoringv1.PodMonitor](objs) {
		if !matches(pm.Spec.Selector.MatchLabels, podLabels) {
			errs = append(errs, fmt.Errorf("PodMonitor %s: selector %v does not select the exporter's pods", pm.Name, pm.Spec.Selector.MatchLabels))
		}
		if len(pm.Spec.PodMetricsEndpoints) == 0 {
			errs = append(errs, fmt.Errorf("PodMonitor %s: no endpoints", pm.Name))
		}
		for _, ep := range pm.Spec.PodMetricsEndpoints {
			if !ep.HonorLabels {
				errs = append(errs, fmt.Errorf("PodMonitor %s: honorLabels must be true (else pod becomes exported_pod)", pm.Name))
			}
			if !nodeRelabeling(ep.RelabelConfigs) {
				errs = append(errs, fmt.Errorf("PodMonitor %s: no relabeling of __meta_kubernetes_pod_node_name into node", pm.Name))
			}
			if ep.Port == nil || *ep.Port != "metrics" {
				errs = append(errs, fmt.Errorf("PodMonitor %s: want port metrics", pm.Name))
			}
		}
	}
	// The PrometheusRules are the mixin's, unchanged.
	got := ofKind[*monitoringv1.PrometheusRule](objs)
	if len(got) > 0 && len(got) != len(rules) {
		errs = append(errs, fmt.Errorf("%d PrometheusRules rendered, deploy/prometheusrule has %d", len(got), len(rules)))
	}
	for _, pr := range got {
		i := slices.IndexFunc(rules, func(r *monitoringv1.PrometheusRule) bool { return r.Name == pr.Name })
		if i < 0 {
			errs = append(errs, fmt.Errorf("PrometheusRule %s is not one of deploy/prometheusrule", pr.Name))
			continue
		}
		a, _ := yaml.Marshal(pr.Spec)
		b, _ := yaml.Marshal(rules[i].Spec)
		if !bytes.Equal(a, b) || len(pr.Spec.Groups) == 0 {
			errs = append(errs, fmt.Errorf("PrometheusRule %s: spec differs from deploy/prometheusrule (or is empty)", pr.Name))
		}
	}
	return errs
}

// boolFlag is a kingpin bool flag's value in args: the last --name / --no-name wins.
func boolFlag(args []string, name string, def bool) bool {
	v := def
	for _, a := range args {
		switch a {
		case "--" + name, "--" + name + "=true":
			v = true
		case "--no-" + name, "--" + name + "=false":
			v = false
		}
	}
	return v
}

// apiReads are what the API server must grant for the flags that read it, and nothing more:
// resource (group/resource) -> the verbs allowed.
func apiReads(args []string) map[string][]string {
	need := map[string][]string{}
	attribution := boolFlag(args, "attribution", true)
	if boolFlag(args, "engine.kubernetes", false) || (attribution && boolFlag(args, "attribution.pods", false)) {
		need["/pods"] = []string{"get", "list", "watch"}
	}
	if attribution && boolFlag(args, "attribution.dra", false) {
		need["resource.k8s.io/resourceslices"] = []string{"list", "watch"}
	}
	return need
}

// checkRBAC: the ClusterRoles grant every read the flags need (with the token mounted), and no
// other; without such a flag there is no RBAC at all.
func checkRBAC(objs []object, args []string, ds *appsv1.DaemonSet) []error {
	var errs []error
	need := apiReads(args)
	granted := map[string]map[string]bool{}
	for _, cr := range ofKind[*rbacv1.ClusterRole](objs) {
		for _, r := range cr.Rules {
			for _, g := range r.APIGroups {
				for _, res := range r.Resources {
					key := g + "/" + res
					allowed, ok := need[key]
					if !ok {
						errs = append(errs, fmt.Errorf("ClusterRole %s grants %s, which no flag reads: %+v", cr.Name, key, r))
						continue
					}
					for _, v := range r.Verbs {
						if !slices.Contains(allowed, v) {
							errs = append(errs, fmt.Errorf("ClusterRole %s grants %s on %s: more than %v", cr.Name, v, key, allowed))
						}
						if granted[key] == nil {
							granted[key] = map[string]bool{}
						}
						granted[key][v] = true
					}
				}
			}
		}
	}
	for key := range need {
		if !granted[key]["list"] || !granted[key]["watch"] {
			errs = append(errs, fmt.Errorf("the flags read %s, which no ClusterRole lets the exporter list and watch", key))
		}
	}
	token := ds.Spec.Template.Spec.AutomountServiceAccountToken == nil || *ds.Spec.Template.Spec.AutomountServiceAccountToken
	roles := len(ofKind[*rbacv1.ClusterRole](objs))
	bindings := len(ofKind[*rbacv1.ClusterRoleBinding](objs))
	if len(need) > 0 && (!token || roles == 0 || bindings != roles) {
		errs = append(errs, fmt.Errorf("the flags read the API server without the token (%v) or a bound ClusterRole (%d roles, %d bindings)", token, roles, bindings))
	}
	if len(need) == 0 && roles+bindings > 0 {
		errs = append(errs, fmt.Errorf("RBAC granted without a flag that reads the API server"))
	}
	return errs
}
