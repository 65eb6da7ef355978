package discovery

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The pod annotations users already set for Prometheus' kubernetes_sd.
const (
	annScrape = "prometheus.io/scrape"
	annPort   = "prometheus.io/port"
	annPath   = "prometheus.io/path"
	annScheme = "prometheus.io/scheme"
)

// The pod fields discovery reads; the JSON decoder drops everything else.
type pod struct {
	Metadata podMeta   `json:"metadata"`
	Spec     podSpec   `json:"spec"`
	Status   podStatus `json:"status"`
}

type podMeta struct {
	Namespace         string            `json:"namespace"`
	Name              string            `json:"name"`
	UID               string            `json:"uid,omitempty"`
	ResourceVersion   string            `json:"resourceVersion,omitempty"`
	DeletionTimestamp *string           `json:"deletionTimestamp,omitempty"`
	Annotations       map[string]string `json:"annotations,omitempty"`
}

type podSpec struct {
	NodeName   string         `json:"nodeName"`
	Containers []podContainer `json:"containers"`
}

type podContainer struct {
	Name  string          `json:"name"`
	Ports []containerPort `json:"ports,omitempty"`
}

type containerPort struct {
	ContainerPort int    `json:"containerPort"`
	Protocol      string `json:"protocol,omitempty"`
}

type podStatus struct {
	Phase                 string            `json:"phase"`
	PodIP                 string            `json:"podIP,omitempty"`
	ContainerStatuses     []containerStatus `json:"containerStatuses,omitempty"`
	InitContainerStatuses []containerStatus `json:"initContainerStatuses,omitempty"`
}

type containerStatus struct {
	Name        string `json:"name"`
	ContainerID string `json:"containerID,omitempty"` // containerd://<id>, cri-o://<id>, docker://<id>
}

// Pod is what attribution needs of one pod of the node.
type Pod struct {
	UID, Namespace, Name string
	// Containers maps the bare container ids (the runtime prefix removed, as
	// in a cgroup path) of the pod's running containers to their names.
	Containers map[string]string
}

// podsPath is the pods collection.
const podsPath = "/api/v1/pods"

// Pods lists and then watches the pods of one node (get, list and watch on
// pods, nothing more) and serves them two ways: the annotated engine pods as
// scrape targets, to whoever subscribed with OnTargets, and every pod by UID
// for attribution's cgroup path. It keeps only these few fields of each pod.
type Pods struct {
	node string
	w    *watcher

	mu      sync.Mutex
	byKey   map[string]*pod // namespace/name
	byUID   map[string]Pod
	subs    []func([]Target)
	targets map[string]Target // by namespace/name, the target pods only
	last    []Target          // as last sent to subscribers
	logger  *slog.Logger
}

// NewPods makes the watcher of the pods of node; nothing is read until Start.
func NewPods(client *Client, node string, logger *slog.Logger) *Pods {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	p := &Pods{node: node, logger: logger, byKey: map[string]*pod{}, byUID: map[string]Pod{}, targets: map[string]Target{}}
	p.w = newWatcher(client, "pods", "spec.nodeName="+node, p, logger, podsPath)
	return p
}

// Start runs the list+watch in the background until ctx ends; calls after
// the first do nothing, so every user of a shared Pods may call it.
func (p *Pods) Start(ctx context.Context) { p.w.start(ctx) }

// WaitSynced waits (at most timeout) for the first list of pods and says
// whether it came.
func (p *Pods) WaitSynced(ctx context.Context, timeout time.Duration) bool {
	return p.w.waitSynced(ctx, timeout)
}

// Status is the state of the list+watch.
func (p *Pods) Status() Status { return p.w.getStatus() }

// Node is the node whose pods are watched.
func (p *Pods) Node() string { return p.node }

// OnTargets registers f to receive the engine targets (sorted by URL) each
// time they change, and at once with the current ones.
func (p *Pods) OnTargets(f func([]Target)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.subs = append(p.subs, f)
	if p.last != nil {
		f(p.last)
	}
}

// ByUID returns the pod with this UID, as of the last list or event.
func (p *Pods) ByUID(uid string) (Pod, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pd, ok := p.byUID[uid]
	return pd, ok
}

// ByName returns the pod with this namespace and name.
func (p *Pods) ByName(namespace, name string) (Pod, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pd, ok := p.byKey[namespace+"/"+name]
	if !ok {
		return Pod{}, false
	}
	return podOf(pd), true
}

// replace implements store.
func (p *Pods) replace(items []json.RawMessage) error {
	pods := make(map[string]*pod, len(items))
	for _, raw := range items {
		var pd pod
		if err := json.Unmarshal(raw, &pd); err != nil {
			return err
		}
		pods[pd.Metadata.Namespace+"/"+pd.Metadata.Name] = &pd
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.byKey, p.byUID, p.targets = map[string]*pod{}, map[string]Pod{}, map[string]Target{}
	for _, pd := range pods {
		p.applyLocked(pd, false)
	}
	p.publishLocked()
	return nil
}

// apply implements store.
func (p *Pods) apply(typ string, raw json.RawMessage) error {
	var pd pod
	if err := json.Unmarshal(raw, &pd); err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.applyLocked(&pd, typ == "DELETED") {
		p.publishLocked()
	}
	return nil
}

// applyLocked records the pod (or removes it: deleted, or not on this node)
// and reports whether the targets changed.
func (p *Pods) applyLocked(pd *pod, deleted bool) bool {
	key := pd.Metadata.Namespace + "/" + pd.Metadata.Name
	if old, had := p.byKey[key]; had {
		delete(p.byUID, old.Metadata.UID)
		delete(p.byKey, key)
	}
	// The field selector already says so; an old or odd API server may not.
	here := !deleted && pd.Spec.NodeName == p.node
	if here {
		p.byKey[key] = pd
		if pd.Metadata.UID != "" {
			p.byUID[pd.Metadata.UID] = podOf(pd)
		}
	}
	old, had := p.targets[key]
	var t Target
	ok := false
	if here {
		var err error
		t, ok, err = podTarget(pd)
		if err != nil {
			p.logger.Debug("engine discovery: pod skipped", "namespace", pd.Metadata.Namespace, "pod", pd.Metadata.Name, "err", err)
		}
	}
	if !ok {
		delete(p.targets, key)
		return had
	}
	p.targets[key] = t
	return !had || !sameTarget(old, t)
}

func podOf(pd *pod) Pod {
	out := Pod{UID: pd.Metadata.UID, Namespace: pd.Metadata.Namespace, Name: pd.Metadata.Name}
	for _, list := range [][]containerStatus{pd.Status.ContainerStatuses, pd.Status.InitContainerStatuses} {
		for _, cs := range list {
			id := cs.ContainerID
			if i := strings.Index(id, "://"); i >= 0 {
				id = id[i+3:]
			}
			if id == "" {
				continue
			}
			if out.Containers == nil {
				out.Containers = map[string]string{}
			}
			out.Containers[strings.ToLower(id)] = cs.Name
		}
	}
	return out
}

func sameTarget(a, b Target) bool {
	return a.URL == b.URL && a.Labels == b.Labels
}

// publishLocked sends the targets, sorted by URL, when they differ from the last sent.
func (p *Pods) publishLocked() {
	out := make([]Target, 0, len(p.targets))
	for _, t := range p.targets {
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].URL < out[j].URL })
	if p.last != nil && slices.EqualFunc(out, p.last, sameTarget) {
		return
	}
	p.last = out
	for _, f := range p.subs {
		f(out)
	}
}

// podTarget is the target of an annotated, running pod: pod IP, the port and
// path of its annotations, and namespace / pod / container (the container
// that declares the port, else the first one).
func podTarget(p *pod) (Target, bool, error) {
	ann := p.Metadata.Annotations
	if ann[annScrape] != "true" {
		return Target{}, false, nil
	}
	if p.Status.Phase != "Running" || p.Status.PodIP == "" || p.Metadata.DeletionTimestamp != nil {
		return Target{}, false, nil
	}
	container := ""
	if len(p.Spec.Containers) > 0 {
		container = p.Spec.Containers[0].Name
	}
	portText := ann[annPort]
	var port int
	if portText == "" {
		// Without the annotation, the only TCP port the pod declares, if it declares one.
		var found []int
		for _, c := range p.Spec.Containers {
			for _, cp := range c.Ports {
				if cp.Protocol == "" || cp.Protocol == "TCP" {
					found = append(found, cp.ContainerPort)
					container = c.Name
				}
			}
		}
		if len(found) != 1 {
			return Target{}, false, fmt.Errorf("no %s annotation and %d declared TCP ports", annPort, len(found))
		}
		port = found[0]
	} else {
		n, err := strconv.Atoi(portText)
		if err != nil || n <= 0 || n > 65535 {
			return Target{}, false, fmt.Errorf("%s %q", annPort, portText)
		}
		port = n
		for _, c := range p.Spec.Containers {
			for _, cp := range c.Ports {
				if cp.ContainerPort == port {
					container = c.Name
				}
			}
		}
	}
	scheme := ann[annScheme]
	if scheme == "" {
		scheme = "http"
	}
	path := ann[annPath]
	if path == "" {
		path = "/metrics"
	}
	u, err := checkURL(scheme + "://" + net.JoinHostPort(p.Status.PodIP, strconv.Itoa(port)) + path)
	if err != nil {
		return Target{}, false, err
	}
	return Target{URL: u, Labels: Labels{Namespace: p.Metadata.Namespace, Pod: p.Metadata.Name, Container: container}}, true, nil
}
