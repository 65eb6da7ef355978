package main

import (
	"fmt"
	"log/slog"

	"github.com/alecthomas/kingpin/v2"

	"github.com/llm-node-exporter/llm-node-exporter/collector"
	"github.com/llm-node-exporter/llm-node-exporter/collector/gpu"
	"github.com/llm-node-exporter/llm-node-exporter/collector/infiniband"
)

// collectorFlags holds --collector.<name> (and --no-collector.<name>) for
// every collector, plus each collector's own flags.
type collectorFlags struct {
	enabled    map[string]*bool
	infiniband *infiniband.Flags
	gpu        *gpu.Flags
}

// collectorDefaults lists every collector and whether it runs by default.
var collectorDefaults = []struct {
	name    string
	enabled bool
	help    string
}{
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
	return f
}

// build constructs the enabled collectors; a bad collector flag stops start-up.
func (f *collectorFlags) build(paths collector.Paths, logger *slog.Logger) (*collector.Set, error) {
	enabled := map[string]collector.Collector{}
	if *f.enabled["infiniband"] {
		cfg, err := f.infiniband.Config()
		if err != nil {
			return nil, err
		}
		enabled["infiniband"] = infiniband.New(paths, cfg, logger.With("collector", "infiniband"))
	}
	if *f.enabled["gpu"] {
		enabled["gpu"] = gpu.New(f.gpu.Config(), logger.With("collector", "gpu"))
	}
	return collector.NewSet(logger, enabled), nil
}
