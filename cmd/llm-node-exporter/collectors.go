package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/llm-node-exporter/llm-node-exporter/attribution"
	"github.com/llm-node-exporter/llm-node-exporter/collector"
	"github.com/llm-node-exporter/llm-node-exporter/collector/engine"
	"github.com/llm-node-exporter/llm-node-exporter/collector/gpu"
	"github.com/llm-node-exporter/llm-node-exporter/collector/infiniband"
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

// build constructs the enabled collectors and the attribution cache that
// labels them; a bad collector flag stops start-up. The returned function
// starts the background work, each part in its own goroutine and returning
// at once: the engine targets' watchers, and the attribution refreshes (the
// first at once, then periodically) until ctx ends. Nothing waits for them:
// series are unlabelled until the first refresh has finished.
func (f *collectorFlags) build(paths collector.Paths, logger *slog.Logger) (*collector.Set, func(ctx context.Context), error) {
	cache := f.attribution.newCache(paths, logger)
	enabled := map[string]collector.Collector{}
	var gpuCollector *gpu.Collector
	if *f.enabled["gpu"] {
		cfg := f.gpu.Config()
		if cache != nil {
			cfg.Attributor = cache.GPUAttributor()
		}
		gpuCollector = gpu.New(cfg, logger.With("collector", "gpu"))
		enabled["gpu"] = gpuCollector
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
	if *f.enabled["engine"] {
		cfg, err := f.engine.Config()
		if err != nil {
			return nil, nil, err
		}
		if cfg.Enabled() {
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
		interval := *f.attribution.interval
		starts = append(starts, func(ctx context.Context) {
			began := time.Now()
			cache.Refresh(ctx)
			logger.Info("first attribution refresh finished", "duration", time.Since(began))
			select {
			case <-time.After(interval):
				cache.Run(ctx)
			case <-ctx.Done():
			}
		})
	}
	start := func(ctx context.Context) {
		for _, s := range starts {
			go s(ctx)
		}
	}
	return collector.NewSet(logger, enabled), start, nil
}
