package gpu

import (
	"github.com/NVIDIA/go-nvml/pkg/nvml"
)

// DeviceProcesses is what attribution needs of one GPU: its identity and the
// host PIDs of the compute processes (the inference engines) running on it.
type DeviceProcesses struct {
	Index int
	UUID  string
	BusID string // NVML's form, e.g. 00000000:18:00.0
	PIDs  []int
}

// Devices lists the GPUs and their compute processes for the attribution
// cache's background refresh. It shares Update's lock (NVML handles are
// re-created on re-initialisation), initialises NVML if needed so the first
// refresh at start-up sees the GPUs, and returns nothing, without error, when
// NVML cannot be had: a CPU node is not an attribution failure.
func (c *Collector) Devices() ([]DeviceProcesses, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ensureInit() != nil {
		return nil, nil // Update reports NVML's absence
	}
	count, ret := c.lib.DeviceGetCount()
	if ret != nvml.SUCCESS {
		return nil, errorFor("nvmlDeviceGetCount", ret)
	}
	out := make([]DeviceProcesses, 0, count)
	for i := 0; i < count; i++ {
		dev, ret := c.lib.DeviceGetHandleByIndex(i)
		if ret != nvml.SUCCESS {
			continue // a lost GPU: Update reports it
		}
		d := DeviceProcesses{Index: i}
		if d.UUID, ret = dev.GetUUID(); ret != nvml.SUCCESS {
			continue
		}
		if pci, ret := dev.GetPciInfo(); ret == nvml.SUCCESS {
			d.BusID = busID(pci)
		}
		if procs, ret := dev.GetComputeRunningProcesses(); ret == nvml.SUCCESS {
			for _, p := range procs {
				d.PIDs = append(d.PIDs, int(p.Pid))
			}
		}
		out = append(out, d)
	}
	return out, nil
}

type nvmlError struct {
	call string
	ret  nvml.Return
}

func (e nvmlError) Error() string { return e.call + ": " + nvml.ErrorString(e.ret) }

func errorFor(call string, ret nvml.Return) error { return nvmlError{call, ret} }
