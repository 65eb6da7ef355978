package gpu

import (
	"time"

	"github.com/alecthomas/kingpin/v2"
)

// Flags are the operator's knobs for this collector.
type Flags struct {
	libraryPath    *string
	pcieThroughput *bool
	xidEvents      *bool
	gpm            *bool
	gpmInterval    *time.Duration
	gpmPerLink     *bool
}

// AddFlags registers --collector.gpu.* on app.
func AddFlags(app *kingpin.Application) *Flags {
	return &Flags{
		libraryPath: app.Flag("collector.gpu.nvml-library",
			"Path of libnvidia-ml.so.1; empty uses the dynamic loader's search path.").Default("").String(),
		pcieThroughput: app.Flag("collector.gpu.pcie-throughput",
			"Collect PCIe TX/RX throughput; NVML samples 20 ms per direction per GPU inside the call, so it slows every scrape.").Default("false").Bool(),
		xidEvents: app.Flag("collector.gpu.xid-events",
			"Watch NVML events for XID errors in the background.").Default("true").Bool(),
		gpm: app.Flag("collector.gpu.gpm",
			"Sample NVML GPM profiling metrics (SM, tensor, FP pipe and DRAM activity, PCIe and NVLink bytes; Hopper and newer, driver R520+) in the background.").Default("true").Bool(),
		gpmInterval: app.Flag("collector.gpu.gpm-interval",
			"Interval between two GPM samples of a GPU; the metrics are computed between consecutive samples (at least 100ms).").Default("1s").Duration(),
		gpmPerLink: app.Flag("collector.gpu.gpm-nvlink-per-link",
			"Also export GPM NVLink bytes per link (18 links x 2 directions per H100), not only the total.").Default("false").Bool(),
	}
}

// Config returns the collector configuration the flags describe.
func (f *Flags) Config() Config {
	return Config{LibraryPath: *f.libraryPath, PCIeThroughput: *f.pcieThroughput, XIDEvents: *f.xidEvents,
		GPM: *f.gpm, GPMInterval: *f.gpmInterval, GPMNVLinkPerLink: *f.gpmPerLink}
}
