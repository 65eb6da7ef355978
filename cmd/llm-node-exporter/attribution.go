package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/llm-node-exporter/llm-node-exporter/attribution"
	"github.com/llm-node-exporter/llm-node-exporter/collector"
	"github.com/llm-node-exporter/llm-node-exporter/collector/gpu"
	"github.com/llm-node-exporter/llm-node-exporter/discovery"
)

// attributionFlags configure the background cache that labels GPU and
// InfiniBand series with the pod, engine, role and ranks using them.
type attributionFlags struct {
	enabled        *bool
	kubelet        *bool
	socket         *string
	interval       *time.Duration
	procTimeout    *time.Duration
	resourcePrefix *[]string
	pods           *bool
	dra            *bool
	draDrivers     *[]string
	engineTargets  *bool
	podUIDLabel    *bool
	claimLabels    *bool
}

func addAttributionFlags(app *kingpin.Application) *attributionFlags {
	return &attributionFlags{
		enabled: app.Flag("attribution",
			"Label GPU and InfiniBand series with namespace, pod, container, engine, role, dp_rank, tp_rank (and gpu on ports).").
			Default("true").Bool(),
		kubelet: app.Flag("attribution.kubelet",
			"Ask the kubelet pod-resources API which pod holds each GPU (device plugins and DRA claims); off outside Kubernetes.").Default("true").Bool(),
		socket: app.Flag("attribution.kubelet-socket", "Kubelet pod-resources socket.").
			Default(attribution.DefaultKubeletSocket).String(),
		interval: app.Flag("attribution.refresh-interval",
			"How often the attribution cache is refreshed in the background (never on the scrape path).").
			Default("15s").Duration(),
		procTimeout: app.Flag("attribution.proc-timeout",
			"Deadline of each /proc file read; a process whose files do not answer in time is skipped and counted.").
			Default(attribution.DefaultProcReadTimeout.String()).Duration(),
		resourcePrefix: app.Flag("attribution.gpu-resource-prefix",
			"Extended-resource name prefixes whose devices are GPUs (repeatable; MIG resources included).").
			Default("nvidia.com/").Strings(),
		pods: app.Flag("attribution.pods",
			"Name the pod of a GPU's compute processes from their cgroup's pod UID through the API server (this node's pods: list and watch on pods), for GPUs no device list names; node and credentials as --engine.node-name, --engine.kubeconfig.").
			Default("false").Bool(),
		dra: app.Flag("attribution.dra",
			"Resolve the devices of DRA claims to GPUs through this node's ResourceSlices (list and watch on resourceslices.resource.k8s.io); node and credentials as --engine.node-name, --engine.kubeconfig.").
			Default("false").Bool(),
		draDrivers: app.Flag("attribution.dra-driver",
			"DRA driver whose devices are GPUs, repeatable: DRIVER[=UUID_ATTRIBUTE[,PARENT_UUID_ATTRIBUTE]].").
			Default(attribution.DefaultDRADrivers[0].String()).Strings(),
		engineTargets: app.Flag("attribution.engine-targets",
			"Give --engine.target endpoints without a pod label the namespace, pod, container, engine and role of the process listening on their port.").
			Default("true").Bool(),
		podUIDLabel: app.Flag("attribution.label.pod-uid",
			"Also label GPU, port and rank series with pod_uid, for joins with kubelet and cAdvisor series.").Default("false").Bool(),
		claimLabels: app.Flag("attribution.label.claim",
			"Also label GPU, port and rank series with claim_namespace and claim_name, the DRA ResourceClaim holding the device.").Default("false").Bool(),
	}
}

// kubernetes is the API-server side shared by engine discovery and
// attribution: one client and one watch of the node's pods.
type kubernetes struct {
	node   string
	client *discovery.Client
	pods   *discovery.Pods
	slices *discovery.ResourceSlices
}

// attributionCache is the cache and what it needs started and closed.
type attributionCache struct {
	cache   *attribution.Cache
	kubelet *attribution.PodResourcesClient
}

// newCache builds the attribution cache, or nil when attribution is off.
// targets are the static engine targets to label from their listener.
func (f *attributionFlags) newCache(paths collector.Paths, kube *kubernetes, targets []string, logger *slog.Logger) (*attributionCache, error) {
	if !*f.enabled {
		return nil, nil
	}
	if *f.procTimeout <= 0 {
		return nil, fmt.Errorf("--attribution.proc-timeout must be positive, got %s", *f.procTimeout)
	}
	cfg := attribution.Config{
		Sysfs:           paths.Sysfs,
		Procfs:          paths.Procfs,
		Interval:        *f.interval,
		ProcReadTimeout: *f.procTimeout,
		Logger:          logger.With("component", "attribution"),
		Labels:          attribution.LabelOptions{PodUID: *f.podUIDLabel, Claim: *f.claimLabels},
	}
	for _, s := range *f.draDrivers {
		d, err := attribution.ParseDRADriver(s)
		if err != nil {
			return nil, fmt.Errorf("--attribution.dra-driver: %w", err)
		}
		cfg.Drivers = append(cfg.Drivers, d)
	}
	if *f.pods {
		cfg.Pods = kube.pods
	}
	if *f.dra {
		cfg.Slices = kube.slices
	}
	if *f.engineTargets {
		cfg.Targets = targets
	}
	out := &attributionCache{}
	var kubelet attribution.AllocationLister
	if *f.kubelet {
		socket := *f.socket
		if socket == attribution.DefaultKubeletSocket {
			// The default is the host's: under --path.rootfs when the host is mounted there.
			socket = paths.Root(socket)
		}
		client, err := attribution.NewPodResourcesClient(attribution.PodResourcesConfig{
			Socket:              socket,
			GPUResourcePrefixes: *f.resourcePrefix,
		})
		if err != nil {
			logger.Warn("kubelet pod-resources unavailable; pod labels come from process cgroups only", "err", err)
		} else {
			kubelet, out.kubelet = client, client
		}
	}
	out.cache = attribution.New(cfg, nil, kubelet)
	return out, nil
}

// usesPods and usesDRA say whether attribution reads this node's pods and
// ResourceSlices from the API server.
func (f *attributionFlags) usesPods() bool { return *f.enabled && *f.pods }
func (f *attributionFlags) usesDRA() bool  { return *f.enabled && *f.dra }

// needsKubernetes says whether attribution uses the API server.
func (f *attributionFlags) needsKubernetes() bool { return f.usesPods() || f.usesDRA() }

// start refreshes the cache in the background from now on (nothing waits for
// the first refresh: the server serves at once, unattributed series until
// it is done) and closes the pod-resources connection when ctx ends.
func (a *attributionCache) start(ctx context.Context) {
	go func() {
		a.cache.Run(ctx)
		if a.kubelet != nil {
			_ = a.kubelet.Close()
		}
	}()
}

// gpuLister feeds the cache from the gpu collector's NVML handles.
func gpuLister(c *gpu.Collector) attribution.GPULister {
	return attribution.GPUListerFunc(func(context.Context) ([]attribution.GPU, error) {
		devs, err := c.Devices()
		if err != nil {
			return nil, err
		}
		out := make([]attribution.GPU, 0, len(devs))
		for _, d := range devs {
			g := attribution.GPU{Index: d.Index, UUID: d.UUID, PCIBusID: d.BusID, PIDs: d.PIDs}
			for _, m := range d.MIGs {
				g.MIGs = append(g.MIGs, attribution.MIGDevice{UUID: m.UUID, GPUInstance: m.GPUInstance, PIDs: m.PIDs})
			}
			out = append(out, g)
		}
		return out, nil
	})
}
