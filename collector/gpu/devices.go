package gpu

import (
	"errors"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
)

// DeviceProcesses is what attribution needs of one GPU: its identity, the
// host PIDs of the compute processes (the inference engines) running on it,
// and its MIG devices.
type DeviceProcesses struct {
	Index int
	UUID  string
	BusID string // NVML's form, e.g. 00000000:18:00.0
	PIDs  []int
	MIGs  []MIGProcesses // in MIG mode: its MIG devices as they are now
}

// MIGProcesses is one MIG device of a GPU: its UUID, GPU instance and the
// host PIDs of its compute processes. MIG devices are created and destroyed
// at run time (a DRA driver does so as claims come and go), so they are
// listed again at every call.
type MIGProcesses struct {
	UUID        string
	GPUInstance int // -1 when NVML does not say
	PIDs        []int
}

// migSymbols are the NVML functions listing MIG devices; a driver without
// them has no MIG devices to list.
var migSymbols = []string{"nvmlDeviceGetMigMode", "nvmlDeviceGetMaxMigDeviceCount", "nvmlDeviceGetMigDeviceHandleByIndex", "nvmlDeviceGetGpuInstanceId"}

// Devices lists the GPUs and their compute processes for the attribution
// cache's background refresh. It shares Update's lock (NVML handles are
// re-created on re-initialisation) and initialises NVML if needed so the first
// refresh at start-up sees the GPUs. When NVML cannot be had it returns
// nothing and no error on a node where it never answered (a CPU node is not an
// attribution failure), and an error where it did, so that the cache keeps the
// GPUs it last listed while NVML backs off.
func (c *Collector) Devices() ([]DeviceProcesses, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	count, err := c.deviceCount()
	if err != nil {
		if len(c.devices) == 0 && !errors.Is(err, errClosed) {
			return nil, nil // Update reports NVML's absence
		}
		return nil, err
	}
	mig := true
	for _, sym := range migSymbols {
		if c.lib.Extensions().LookupSymbol(sym) != nil {
			mig = false
		}
	}
	out := make([]DeviceProcesses, 0, count)
	for i := 0; i < count; i++ {
		if d, ok := c.deviceProcesses(i, mig); ok {
			out = append(out, d)
		}
	}
	return out, nil
}

// migDevices lists a GPU's MIG devices when it is in MIG mode. A MIG device
// that does not answer is left out: it is being destroyed.
func migDevices(dev nvml.Device) []MIGProcesses {
	if cur, _, ret := dev.GetMigMode(); ret != nvml.SUCCESS || cur != nvml.DEVICE_MIG_ENABLE {
		return nil
	}
	n, ret := dev.GetMaxMigDeviceCount()
	if ret != nvml.SUCCESS {
		return nil
	}
	var out []MIGProcesses
	for j := 0; j < n; j++ {
		m, ret := dev.GetMigDeviceHandleByIndex(j)
		if ret != nvml.SUCCESS {
			continue // NOT_FOUND: no MIG device at this index now
		}
		uuid, ret := m.GetUUID()
		if ret != nvml.SUCCESS {
			continue
		}
		md := MIGProcesses{UUID: uuid, GPUInstance: -1}
		if gi, ret := m.GetGpuInstanceId(); ret == nvml.SUCCESS {
			md.GPUInstance = gi
		}
		if procs, ret := m.GetComputeRunningProcesses(); ret == nvml.SUCCESS {
			for _, p := range procs {
				md.PIDs = append(md.PIDs, int(p.Pid))
			}
		}
		out = append(out, md)
	}
	return out
}

// deviceProcesses reads one GPU's identity and compute PIDs (and its MIG
// devices) and keeps them in the GPU's state. A GPU that does not answer (lost, or failing) is listed with what was last read of it, so
// that its series, llm_gpu_up=0 above all, keep their pod and rank labels
// while it is gone; a GPU never read is left out.
func (c *Collector) deviceProcesses(i int, mig bool) (DeviceProcesses, bool) {
	st := c.devices[i]
	last := func() (DeviceProcesses, bool) {
		if st == nil || st.uuid == "" {
			return DeviceProcesses{}, false
		}
		return DeviceProcesses{Index: i, UUID: st.uuid, BusID: st.busID, PIDs: st.pids}, true
	}
	dev, ret := c.lib.DeviceGetHandleByIndex(i)
	if ret != nvml.SUCCESS {
		return last()
	}
	d := DeviceProcesses{Index: i}
	if d.UUID, ret = dev.GetUUID(); ret != nvml.SUCCESS {
		return last()
	}
	if pci, ret := dev.GetPciInfo(); ret == nvml.SUCCESS {
		d.BusID = busID(pci)
	}
	if st == nil || st.uuid != d.UUID {
		// Not scraped yet, or another GPU at this index: remember it, so
		// that it keeps its identity and processes if it is lost before
		// the next scrape; the scrape reads the rest of its identity.
		st = &deviceState{uuid: d.UUID, busID: d.BusID, stale: true}
		c.devices[i] = st
	}
	if mig {
		d.MIGs = migDevices(dev)
	}
	procs, ret := dev.GetComputeRunningProcesses()
	if ret != nvml.SUCCESS {
		d.PIDs = st.pids
		return d, true
	}
	for _, p := range procs {
		d.PIDs = append(d.PIDs, int(p.Pid))
	}
	st.pids = d.PIDs
	return d, true
}

type nvmlError struct {
	call string
	ret  nvml.Return
}

func (e nvmlError) Error() string { return e.call + ": " + nvml.ErrorString(e.ret) }

func errorFor(call string, ret nvml.Return) error { return nvmlError{call, ret} }
