package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"time"
)

// The pod annotations users already set for Prometheus' kubernetes_sd.
const (
	annScrape = "prometheus.io/scrape"
	annPort   = "prometheus.io/port"
	annPath   = "prometheus.io/path"
	annScheme = "prometheus.io/scheme"
)

// syncTimeout bounds how long Start waits for the first list of pods.
const syncTimeout = 10 * time.Second

// The pod fields discovery reads; the JSON decoder drops everything else.
type pod struct {
	Metadata podMeta   `json:"metadata"`
	Spec     podSpec   `json:"spec"`
	Status   podStatus `json:"status"`
}

type podMeta struct {
	Namespace         string            `json:"namespace"`
	Name              string            `json:"name"`
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
	Phase string `json:"phase"`
	PodIP string `json:"podIP,omitempty"`
}

type podList struct {
	Metadata struct {
		ResourceVersion string `json:"resourceVersion"`
		Continue        string `json:"continue"`
	} `json:"metadata"`
	Items []pod `json:"items"`
}

// watchEvent is one line of a watch stream; Object is a pod, or a Status for
// an ERROR.
type watchEvent struct {
	Type   string          `json:"type"`
	Object json.RawMessage `json:"object"`
}

type apiStatus struct {
	Code    int    `json:"code"`
	Reason  string `json:"reason"`
	Message string `json:"message"`
}

// Defaults of the list+watch loop.
const (
	listPageSize    = 250
	listTimeout     = time.Minute
	watchMinSeconds = 300 // the API server ends each watch after 5 to 10 minutes
	backoffMin      = time.Second
	backoffMax      = 30 * time.Second
)

// kubeDiscovery lists and then watches the pods of one node (a field selector
// on spec.nodeName: the API server sends nothing else) and turns the
// annotated ones into targets. It needs get, list and watch on pods, nothing
// more. It keeps only the targets, not the pods.
type kubeDiscovery struct {
	client   *KubeClient
	node     string
	selector string
	logger   *slog.Logger
	update   func([]Target)

	pageSize               int // pods per list page
	backoffMin, backoffMax time.Duration

	// Owned by the loop goroutine.
	targets map[string]Target // by namespace/name, the target pods only
	last    []Target          // as last sent to update
}

func newKubeDiscovery(client *KubeClient, node string, logger *slog.Logger, update func([]Target)) *kubeDiscovery {
	return &kubeDiscovery{
		client:   client,
		node:     node,
		selector: "spec.nodeName=" + node,
		logger:   logger,
		update:   update,
		targets:  map[string]Target{},

		pageSize:   listPageSize,
		backoffMin: backoffMin,
		backoffMax: backoffMax,
	}
}

// run starts the list+watch loop and waits for its first list (at most
// syncTimeout); the loop goes on in the background until ctx ends.
func (d *kubeDiscovery) run(ctx context.Context) {
	synced := make(chan struct{})
	go d.loop(ctx, synced)
	t := time.NewTimer(syncTimeout)
	defer t.Stop()
	select {
	case <-synced:
	case <-ctx.Done():
	case <-t.C:
		d.logger.Error("engine discovery: pods of the node not listed yet; continuing in the background", "node", d.node)
	}
}

// loop lists the pods, then watches from the list's resourceVersion for as
// long as it can: a watch that ends is resumed from the last version seen, a
// 410 Gone (the version is too old) lists again, and errors are retried with
// capped exponential backoff and jitter.
func (d *kubeDiscovery) loop(ctx context.Context, synced chan struct{}) {
	backoff := d.backoffMin
	fails := 0
	wait := func(err error, what string) bool {
		fails++
		level := slog.LevelWarn
		if fails == 1 {
			level = slog.LevelInfo // a single dropped watch is routine
		}
		if fails >= 5 {
			level = slog.LevelError
		}
		d.logger.Log(ctx, level, "engine discovery: "+what+" failed; retrying", "node", d.node, "err", err, "in", backoff.Round(time.Millisecond))
		sleep := backoff/2 + rand.N(backoff/2+1)
		backoff = min(2*backoff, d.backoffMax)
		t := time.NewTimer(sleep)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
			return true
		}
	}
	ok := func() { backoff, fails = d.backoffMin, 0 }
	for ctx.Err() == nil {
		rv, err := d.list(ctx)
		if err != nil {
			if ctx.Err() != nil || !wait(err, "list of pods") {
				return
			}
			continue
		}
		if synced != nil {
			close(synced)
			synced = nil
		}
		ok()
		for ctx.Err() == nil {
			var events int
			rv, events, err = d.watch(ctx, rv)
			if ctx.Err() != nil {
				return
			}
			if isGone(err) {
				d.logger.Debug("engine discovery: resourceVersion expired; listing again", "node", d.node)
				if events == 0 && !wait(err, "watch of pods") { // not at once: the list just said this version
					return
				}
				break
			}
			if err == nil && events == 0 {
				err = errors.New("watch ended without any event")
			}
			if err != nil {
				if !wait(err, "watch of pods") {
					return
				}
				var se *statusError
				if errors.As(err, &se) || errors.Is(err, errWatchError) {
					break // the API server refused the watch: list again
				}
				continue
			}
			ok()
		}
	}
}

var errWatchError = errors.New("ERROR event")

// list replaces the targets with those of a fresh list (paginated) and returns
// the list's resourceVersion.
func (d *kubeDiscovery) list(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, listTimeout)
	defer cancel()
	targets := map[string]Target{}
	q := url.Values{"fieldSelector": {d.selector}, "limit": {strconv.Itoa(d.pageSize)}}
	for {
		resp, err := d.client.get(ctx, "/api/v1/pods", q)
		if err != nil {
			return "", err
		}
		var l podList
		err = json.NewDecoder(resp.Body).Decode(&l)
		resp.Body.Close()
		if err != nil {
			return "", fmt.Errorf("list of pods: %w", err)
		}
		for i := range l.Items {
			d.apply(targets, &l.Items[i], false)
		}
		if l.Metadata.Continue == "" {
			d.targets = targets
			d.publish()
			return l.Metadata.ResourceVersion, nil
		}
		q.Set("continue", l.Metadata.Continue)
	}
}

// watch follows the pods from resourceVersion rv until the API server ends the
// watch (after timeoutSeconds), the connection drops or ctx ends; it returns
// the last resourceVersion seen and how many events came. A 410 Gone, as the
// answer or as an ERROR event, is a *statusError for which isGone is true.
func (d *kubeDiscovery) watch(ctx context.Context, rv string) (string, int, error) {
	timeout := watchMinSeconds + rand.N(watchMinSeconds+1)
	// The API server ends the watch itself; the deadline only guards against
	// a connection that went silent.
	ctx, cancel := context.WithTimeout(ctx, time.Duration(timeout)*time.Second+30*time.Second)
	defer cancel()
	q := url.Values{
		"fieldSelector":       {d.selector},
		"watch":               {"1"},
		"resourceVersion":     {rv},
		"allowWatchBookmarks": {"true"},
		"timeoutSeconds":      {strconv.Itoa(timeout)},
	}
	resp, err := d.client.get(ctx, "/api/v1/pods", q)
	if err != nil {
		return rv, 0, err
	}
	defer resp.Body.Close()
	dec := json.NewDecoder(resp.Body)
	events := 0
	for {
		var ev watchEvent
		if err := dec.Decode(&ev); err != nil {
			if errors.Is(err, io.EOF) {
				return rv, events, nil
			}
			return rv, events, fmt.Errorf("watch of pods: %w", err)
		}
		events++
		switch ev.Type {
		case "ADDED", "MODIFIED", "DELETED", "BOOKMARK":
			var p pod
			if err := json.Unmarshal(ev.Object, &p); err != nil {
				return rv, events, fmt.Errorf("watch of pods: %s event: %w", ev.Type, err)
			}
			if p.Metadata.ResourceVersion != "" {
				rv = p.Metadata.ResourceVersion
			}
			if ev.Type == "BOOKMARK" {
				continue
			}
			if d.apply(d.targets, &p, ev.Type == "DELETED") {
				d.publish()
			}
		case "ERROR":
			var st apiStatus
			_ = json.Unmarshal(ev.Object, &st)
			if st.Code == http.StatusGone {
				return rv, events, &statusError{code: st.Code, msg: st.Message}
			}
			return rv, events, fmt.Errorf("%w: %d %s: %s", errWatchError, st.Code, st.Reason, st.Message)
		default:
			d.logger.Debug("engine discovery: unknown watch event", "type", ev.Type)
		}
	}
}

// apply records the pod's target in targets (or removes it: deleted, or no
// longer a target) and reports whether targets changed.
func (d *kubeDiscovery) apply(targets map[string]Target, p *pod, deleted bool) bool {
	key := p.Metadata.Namespace + "/" + p.Metadata.Name
	old, had := targets[key]
	var t Target
	ok := false
	// The field selector already says so; an old or odd API server may not.
	if !deleted && p.Spec.NodeName == d.node {
		var err error
		t, ok, err = podTarget(p)
		if err != nil {
			d.logger.Debug("engine discovery: pod skipped", "namespace", p.Metadata.Namespace, "pod", p.Metadata.Name, "err", err)
		}
	}
	if !ok {
		delete(targets, key)
		return had
	}
	targets[key] = t
	return !had || !sameTarget(old, t)
}

func sameTarget(a, b Target) bool {
	return a.URL == b.URL && a.Labels == b.Labels
}

// publish sends the targets, sorted by URL, when they differ from the last sent.
func (d *kubeDiscovery) publish() {
	out := make([]Target, 0, len(d.targets))
	for _, t := range d.targets {
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].URL < out[j].URL })
	if d.last != nil && slices.EqualFunc(out, d.last, sameTarget) {
		return
	}
	d.last = out
	d.update(out)
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
	return Target{URL: u, Labels: JoinLabels{Namespace: p.Metadata.Namespace, Pod: p.Metadata.Name, Container: container}}, true, nil
}
