package engine

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sort"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
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

// NewKubernetesClient returns a client from the kubeconfig file, or the
// in-cluster configuration when path is empty.
func NewKubernetesClient(kubeconfig string) (kubernetes.Interface, error) {
	var cfg *rest.Config
	var err error
	if kubeconfig != "" {
		cfg, err = clientcmd.BuildConfigFromFlags("", kubeconfig)
	} else {
		cfg, err = rest.InClusterConfig()
	}
	if err != nil {
		return nil, err
	}
	cfg.UserAgent = "llm-node-exporter"
	return kubernetes.NewForConfig(cfg)
}

// kubeDiscovery watches the pods of one node (a field selector on
// spec.nodeName: the API server sends nothing else) and turns the annotated
// ones into targets. It needs get, list and watch on pods, nothing more.
type kubeDiscovery struct {
	client   kubernetes.Interface
	node     string
	logger   *slog.Logger
	informer cache.SharedIndexInformer
	update   func([]Target)
}

func newKubeDiscovery(client kubernetes.Interface, node string, logger *slog.Logger, update func([]Target)) *kubeDiscovery {
	selector := fields.OneTermEqualSelector("spec.nodeName", node).String()
	lw := &cache.ListWatch{
		ListFunc: func(opts metav1.ListOptions) (runtime.Object, error) {
			opts.FieldSelector = selector
			return client.CoreV1().Pods(metav1.NamespaceAll).List(context.Background(), opts)
		},
		WatchFunc: func(opts metav1.ListOptions) (watch.Interface, error) {
			opts.FieldSelector = selector
			return client.CoreV1().Pods(metav1.NamespaceAll).Watch(context.Background(), opts)
		},
	}
	d := &kubeDiscovery{client: client, node: node, logger: logger, update: update}
	// The wrapper tells the reflector whether the client streams lists
	// (watch-list); a fake clientset does not.
	d.informer = cache.NewSharedIndexInformer(cache.ToListWatcherWithWatchListSemantics(lw, client), &corev1.Pod{}, 0, cache.Indexers{})
	refresh := func(any) { d.refresh() }
	_, _ = d.informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    refresh,
		UpdateFunc: func(_, _ any) { d.refresh() },
		DeleteFunc: refresh,
	})
	return d
}

// run starts the informer and waits for its first list (at most syncTimeout).
func (d *kubeDiscovery) run(ctx context.Context) {
	go d.informer.Run(ctx.Done())
	syncCtx, cancel := context.WithTimeout(ctx, syncTimeout)
	defer cancel()
	if !cache.WaitForCacheSync(syncCtx.Done(), d.informer.HasSynced) {
		d.logger.Error("engine discovery: pods of the node not listed yet; continuing in the background", "node", d.node)
		return
	}
	d.refresh()
}

// refresh recomputes the targets from the informer's store.
func (d *kubeDiscovery) refresh() {
	var out []Target
	for _, obj := range d.informer.GetStore().List() {
		pod, ok := obj.(*corev1.Pod)
		if !ok {
			continue
		}
		if pod.Spec.NodeName != d.node {
			continue // the field selector already says so; a fake or old API server may not
		}
		t, ok, err := podTarget(pod)
		if err != nil {
			d.logger.Debug("engine discovery: pod skipped", "namespace", pod.Namespace, "pod", pod.Name, "err", err)
		}
		if ok {
			out = append(out, t)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].URL < out[j].URL })
	d.update(out)
}

// podTarget is the target of an annotated, running pod: pod IP, the port and
// path of its annotations, and namespace / pod / container (the container
// that declares the port, else the first one).
func podTarget(pod *corev1.Pod) (Target, bool, error) {
	if pod.Annotations[annScrape] != "true" {
		return Target{}, false, nil
	}
	if pod.Status.Phase != corev1.PodRunning || pod.Status.PodIP == "" || pod.DeletionTimestamp != nil {
		return Target{}, false, nil
	}
	container := ""
	if len(pod.Spec.Containers) > 0 {
		container = pod.Spec.Containers[0].Name
	}
	portText := pod.Annotations[annPort]
	var port int
	if portText == "" {
		// Without the annotation, the only TCP port the pod declares, if it declares one.
		var found []int
		for _, c := range pod.Spec.Containers {
			for _, p := range c.Ports {
				if p.Protocol == "" || p.Protocol == corev1.ProtocolTCP {
					found = append(found, int(p.ContainerPort))
					container = c.Name
				}
			}
		}
		if len(found) != 1 {
			return Target{}, false, fmt.Errorf("no %s annotation and %d declared TCP ports", annPort, len(found))
		}
		port = found[0]
	} else {
		p, err := strconv.Atoi(portText)
		if err != nil || p <= 0 || p > 65535 {
			return Target{}, false, fmt.Errorf("%s %q", annPort, portText)
		}
		port = p
		for _, c := range pod.Spec.Containers {
			for _, cp := range c.Ports {
				if int(cp.ContainerPort) == port {
					container = c.Name
				}
			}
		}
	}
	scheme := pod.Annotations[annScheme]
	if scheme == "" {
		scheme = "http"
	}
	path := pod.Annotations[annPath]
	if path == "" {
		path = "/metrics"
	}
	u, err := checkURL(scheme + "://" + net.JoinHostPort(pod.Status.PodIP, strconv.Itoa(port)) + path)
	if err != nil {
		return Target{}, false, err
	}
	return Target{URL: u, Labels: JoinLabels{Namespace: pod.Namespace, Pod: pod.Name, Container: container}}, true, nil
}
