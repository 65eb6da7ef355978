package gpu

import "github.com/alecthomas/kingpin/v2"

// Flags are the operator's knobs for this collector.
type Flags struct {
	libraryPath    *string
	pcieThroughput *bool
	xidEvents      *bool
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
	}
}

// Config returns the collector configuration the flags describe.
func (f *Flags) Config() Config {
	return Config{LibraryPath: *f.libraryPath, PCIeThroughput: *f.pcieThroughput, XIDEvents: *f.xidEvents}
}
