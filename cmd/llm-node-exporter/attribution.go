package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/llm-node-exporter/llm-node-exporter/attribution"
	"github.com/llm-node-exporter/llm-node-exporter/collector"
	"github.com/llm-node-exporter/llm-node-exporter/collector/gpu"
)

// attributionFlags configure the background cache that labels GPU and
// InfiniBand series with the pod, engine, role and ranks using them.
type attributionFlags struct {
	enabled        *bool
	kubelet        *bool
	socket         *string
	interval       *time.Duration
	resourcePrefix *[]string
}

func addAttributionFlags(app *kingpin.Application) *attributionFlags {
	return &attributionFlags{
		enabled: app.Flag("attribution",
			"Label GPU and InfiniBand series with namespace, pod, container, engine, role, dp_rank, tp_rank (and gpu on ports).").
			Default("true").Bool(),
		kubelet: app.Flag("attribution.kubelet",
			"Ask the kubelet pod-resources API which pod holds each GPU; off outside Kubernetes.").Default("true").Bool(),
		socket: app.Flag("attribution.kubelet-socket", "Kubelet pod-resources socket.").
			Default(attribution.DefaultKubeletSocket).String(),
		interval: app.Flag("attribution.refresh-interval",
			"How often the attribution cache is refreshed in the background (never on the scrape path).").
			Default("15s").Duration(),
		resourcePrefix: app.Flag("attribution.gpu-resource-prefix",
			"Extended-resource name prefixes whose devices are GPUs (repeatable; MIG resources included).").
			Default("nvidia.com/").Strings(),
	}
}

// newCache builds the attribution cache, or nil when attribution is off.
func (f *attributionFlags) newCache(paths collector.Paths, logger *slog.Logger) *attribution.Cache {
	if !*f.enabled {
		return nil
	}
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
			kubelet = client
		}
	}
	return attribution.New(attribution.Config{
		Sysfs:    paths.Sysfs,
		Procfs:   paths.Procfs,
		Interval: *f.interval,
		Logger:   logger.With("component", "attribution"),
	}, nil, kubelet)
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
			out = append(out, attribution.GPU{Index: d.Index, UUID: d.UUID, PCIBusID: d.BusID, PIDs: d.PIDs})
		}
		return out, nil
	})
}
