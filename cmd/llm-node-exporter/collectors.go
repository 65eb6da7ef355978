package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/alecthomas/kingpin/v2"

	"github.com/llm-node-exporter/llm-node-exporter/attribution"
	"github.com/llm-node-exporter/llm-node-exporter/collector"
	"github.com/llm-node-exporter/llm-node-exporter/collector/engine"
	"github.com/llm-node-exporter/llm-node-exporter/collector/gpu"
	"github.com/llm-node-exporter/llm-node-exporter/collector/infiniband"
	"github.com/llm-node-exporter/llm-node-exporter/discovery"
)

// collectorFlags holds --collector.<name> (and --no-collector.<name>) for
// every collector, plus each collector's own flags.
type collectorFlags struct {
	enabled     map[string]*bool
	infiniband  *infiniband.Flags
	gpu         *gpu.Flags
	engine      *engine.Flags
	attribution *attributionFlags
}

// collectorDefaults lists every collector and whether it runs by default.
var collectorDefaults = []struct {
	name    string
	enabled bool
	help    string
}{
	{"engine", true, "Inference engines' (SGLang, vLLM) /metrics normalised into llm_engine_*; runs when it has targets."},
	{"gpu", true, "NVIDIA GPU metrics and XID errors through NVML."},
	{"infiniband", true, "InfiniBand / RoCE port state and counters from sysfs."},
}

func addCollectorFlags(app *kingpin.Application) *collectorFlags {
	f := &collectorFlags{enabled: map[string]*bool{}}
	for _, c := range collectorDefaults {
		f.enabled[c.name] = app.Flag("collector."+c.name,
			fmt.Sprintf("Enable the %s collector (default: %t). %s", c.name, c.enabled, c.help)).
			Default(fmt.Sprint(c.enabled)).Bool()
	}
	f.infiniband = infiniband.AddFlags(app)
	f.gpu = gpu.AddFlags(app)
	f.engine = engine.AddFlags(app)
	f.attribution = addAttributionFlags(app)
	return f
}

// closers are what the exporter releases when it exits, after the last scrape
// and push: the gpu collector's NVML, and any other source that holds a
// resource (a client connection) adds its Close here. The last added is
// closed first.
type closers []func()

func (c *closers) add(close func()) { *c = append(*c, close) }

func (c *closers) closeAll() {
	for i := len(*c) - 1; i >= 0; i-- {
		(*c)[i]()
	}
}

// build constructs the enabled collectors and the attribution cache that
// labels them; a bad collector flag stops start-up. The returned function
// starts the background work without waiting for any of it but the first
// list of pods for engine discovery (bounded): the engine targets' watchers,
// the API-server watches, and the attribution cache's refreshes, until ctx
// ends. What build opens is added to release, closed by the caller on exit.
func (f *collectorFlags) build(paths collector.Paths, logger *slog.Logger, release *closers) (*collector.Set, func(ctx context.Context), error) {
	engineCfg, err := f.engine.Config()
	if err != nil && *f.enabled["engine"] {
		return nil, nil, err
	}
	var kube *kubernetes
	if (*f.enabled["engine"] && engineCfg.Kubernetes) || f.attribution.needsKubernetes() {
		if engineCfg.NodeName == "" {
			return nil, nil, fmt.Errorf("--attribution.pods, --attribution.dra and --engine.kubernetes need the node name (--engine.node-name or NODE_NAME)")
		}
		client, err := discovery.NewClient(engineCfg.Kubeconfig)
		if err != nil {
			return nil, nil, fmt.Errorf("kubernetes API: %w", err)
		}
		kl := logger.With("component", "kubernetes")
		kube = &kubernetes{node: engineCfg.NodeName, client: client,
			pods:   discovery.NewPods(client, engineCfg.NodeName, kl),
			slices: discovery.NewResourceSlices(client, engineCfg.NodeName, kl)}
	}
	// Static targets without a pod label: attribution finds their pod by
	// the process listening on their port.
	var unlabelled []string
	for _, t := range engineCfg.Targets {
		if t.Labels.Pod == "" {
			unlabelled = append(unlabelled, t.URL)
		}
	}
	ac, err := f.attribution.newCache(paths, kube, unlabelled, logger)
	if err != nil {
		return nil, nil, err
	}
	var cache *attribution.Cache
	if ac != nil {
		cache = ac.cache
	}
	enabled := map[string]collector.Collector{}
	var gpuCollector *gpu.Collector
	if *f.enabled["gpu"] {
		cfg := f.gpu.Config()
		if cache != nil {
			cfg.Attributor = cache.GPUAttributor()
		}
		gpuCollector = gpu.New(cfg, logger.With("collector", "gpu"))
		enabled["gpu"] = gpuCollector
		release.add(gpuCollector.Close)
	}
	if *f.enabled["infiniband"] {
		cfg, err := f.infiniband.Config()
		if err != nil {
			return nil, nil, err
		}
		if cache != nil {
			cfg.Attributor = cache.PortAttributor()
		}
		enabled["infiniband"] = infiniband.New(paths, cfg, logger.With("collector", "infiniband"))
	}
	var starts []func(context.Context)
	if kube != nil {
		// What attribution reads from the API server; engine discovery starts
		// the pods' watch itself (Start is idempotent).
		pods, slices := f.attribution.usesPods(), f.attribution.usesDRA()
		starts = append(starts, func(ctx context.Context) {
			if pods {
				kube.pods.Start(ctx)
			}
			if slices {
				kube.slices.Start(ctx)
			}
		})
	}
	if *f.enabled["engine"] {
		cfg := engineCfg
		if cfg.Enabled() {
			if kube != nil {
				cfg.KubeClient, cfg.Pods = kube.client, kube.pods
			}
			if cache != nil {
				cfg.Attributor = cache.TargetAttributor()
			}
			c, err := engine.New(cfg, logger.With("collector", "engine"))
			if err != nil {
				return nil, nil, err
			}
			enabled["engine"] = c
			starts = append(starts, c.Start)
		} else {
			logger.Info("engine collector has no targets (--engine.target, --engine.targets-file, --engine.kubernetes); not running")
		}
	}
	if cache != nil {
		if gpuCollector != nil {
			cache.SetGPULister(gpuLister(gpuCollector))
		}
		enabled["attribution"] = attribution.NewMetricsCollector(cache)
		// First, so that the first refresh runs while the rest starts.
		starts = append([]func(context.Context){ac.start}, starts...)
	}
	start := func(ctx context.Context) {
		for _, s := range starts {
			go s(ctx)
		}
	}
	return collector.NewSet(logger, enabled), start, nil
}
