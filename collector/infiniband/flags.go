package infiniband

import (
	"fmt"
	"regexp"
	"time"

	"github.com/alecthomas/kingpin/v2"
)

// Flags are the operator's knobs for this collector.
type Flags struct {
	deviceInclude, deviceExclude *string
	readTimeout                  *time.Duration
}

// AddFlags registers --collector.infiniband.* on app.
func AddFlags(app *kingpin.Application) *Flags {
	return &Flags{
		deviceInclude: app.Flag("collector.infiniband.device-include",
			"Regexp of RDMA devices to collect (e.g. '^mlx5_[0-7]$'); empty collects all.").Default("").String(),
		deviceExclude: app.Flag("collector.infiniband.device-exclude",
			"Regexp of RDMA devices to skip; applied after the include regexp.").Default("").String(),
		readTimeout: app.Flag("collector.infiniband.read-timeout",
			"Most a scrape waits, in total, for sysfs counter reads that make no progress (a hung HCA firmware), then a tenth of it per further such read; such a read is abandoned and its file skipped until it returns.").
			Default(DefaultReadTimeout.String()).Duration(),
	}
}

// Config compiles the flags; a bad regexp is a start-up error, not a silent match-all.
func (f *Flags) Config() (Config, error) {
	cfg := Config{ReadTimeout: *f.readTimeout}
	var err error
	if cfg.DeviceInclude, err = compileOptional(*f.deviceInclude); err != nil {
		return cfg, fmt.Errorf("--collector.infiniband.device-include: %w", err)
	}
	if cfg.DeviceExclude, err = compileOptional(*f.deviceExclude); err != nil {
		return cfg, fmt.Errorf("--collector.infiniband.device-exclude: %w", err)
	}
	if cfg.ReadTimeout <= 0 {
		return cfg, fmt.Errorf("--collector.infiniband.read-timeout must be positive, got %s", cfg.ReadTimeout)
	}
	return cfg, nil
}

func compileOptional(expr string) (*regexp.Regexp, error) {
	if expr == "" {
		return nil, nil
	}
	return regexp.Compile(expr)
}
