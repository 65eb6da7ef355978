package gpu

import (
	"fmt"
	"sort"
	"sync"
	"testing"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock/server"
)

// migNode is the mock DGX H100 with GPU 1 in MIG mode: a MIG device exists
// for each GPU instance created on it (by CreateGpuInstance, as a DRA driver
// does at run time), with compute process 5000 + its instance id.
func migNode(t *testing.T) (*server.Server, func() nvml.GpuInstance) {
	s := mockNode()
	d := device(s, 1)
	if ret, _ := d.SetMigMode(nvml.DEVICE_MIG_ENABLE); ret != nvml.SUCCESS {
		t.Fatalf("SetMigMode: %v", ret)
	}
	var mu sync.Mutex
	migs := func() []nvml.GpuInstanceInfo {
		d.RLock()
		defer d.RUnlock()
		var out []nvml.GpuInstanceInfo
		for gi := range d.GpuInstances {
			out = append(out, gi.Info)
		}
		sort.Slice(out, func(i, j int) bool { return out[i].Id < out[j].Id })
		return out
	}
	d.GetMaxMigDeviceCountFunc = func() (int, nvml.Return) { return 7, nvml.SUCCESS }
	d.GetMigDeviceHandleByIndexFunc = func(i int) (nvml.Device, nvml.Return) {
		mu.Lock()
		defer mu.Unlock()
		gis := migs()
		if i >= len(gis) {
			return nil, nvml.ERROR_NOT_FOUND
		}
		id := int(gis[i].Id)
		return &mock.Device{
			GetUUIDFunc: func() (string, nvml.Return) {
				return fmt.Sprintf("MIG-0000000%d-aaaa-bbbb-cccc-dddddddddddd", id), nvml.SUCCESS
			},
			GetGpuInstanceIdFunc: func() (int, nvml.Return) { return id, nvml.SUCCESS },
			GetComputeRunningProcessesFunc: func() ([]nvml.ProcessInfo, nvml.Return) {
				return []nvml.ProcessInfo{{Pid: uint32(5000 + id)}}, nvml.SUCCESS
			},
		}, nvml.SUCCESS
	}
	create := func() nvml.GpuInstance {
		info, ret := d.GetGpuInstanceProfileInfo(nvml.GPU_INSTANCE_PROFILE_1_SLICE)
		if ret != nvml.SUCCESS {
			t.Fatalf("GetGpuInstanceProfileInfo: %v", ret)
		}
		gi, ret := d.CreateGpuInstance(&info)
		if ret != nvml.SUCCESS {
			t.Fatalf("CreateGpuInstance: %v", ret)
		}
		return gi
	}
	return s, create
}

// MIG devices are listed from NVML at every call, with their GPU instance
// and compute processes: one created at run time appears, one destroyed goes.
func TestDevicesListMIG(t *testing.T) {
	s, create := migNode(t)
	c := NewWithInterface(s, Config{}, quiet)
	defer c.Close()
	devs, err := c.Devices()
	if err != nil || len(devs) != 8 {
		t.Fatalf("Devices() = %d, %v", len(devs), err)
	}
	if len(devs[1].MIGs) != 0 || len(devs[0].MIGs) != 0 {
		t.Errorf("MIG devices before any was created: %+v", devs[1].MIGs)
	}
	first := create()
	create()
	devs, _ = c.Devices()
	want := []MIGProcesses{
		{UUID: "MIG-00000000-aaaa-bbbb-cccc-dddddddddddd", GPUInstance: 0, PIDs: []int{5000}},
		{UUID: "MIG-00000001-aaaa-bbbb-cccc-dddddddddddd", GPUInstance: 1, PIDs: []int{5001}},
	}
	if fmt.Sprint(devs[1].MIGs) != fmt.Sprint(want) {
		t.Errorf("GPU 1 MIG devices %+v, want %+v", devs[1].MIGs, want)
	}
	if len(devs[0].MIGs) != 0 {
		t.Errorf("GPU 0, MIG off, lists %+v", devs[0].MIGs)
	}
	d := device(s, 1)
	d.Lock()
	delete(d.GpuInstances, first.(*server.GpuInstance))
	d.Unlock()
	devs, _ = c.Devices()
	if len(devs[1].MIGs) != 1 || devs[1].MIGs[0].GPUInstance != 1 {
		t.Errorf("after destroying GPU instance 0: %+v", devs[1].MIGs)
	}
}

// A driver without the MIG listing functions lists no MIG devices (and never
// calls what it lacks).
func TestDevicesWithoutMIGSymbols(t *testing.T) {
	s, create := migNode(t)
	create()
	s.LookupSymbolFunc = func(sym string) error {
		if sym == "nvmlDeviceGetMigDeviceHandleByIndex" {
			return fmt.Errorf("%s: undefined symbol", sym)
		}
		return nil
	}
	device(s, 1).GetMigDeviceHandleByIndexFunc = func(int) (nvml.Device, nvml.Return) {
		t.Error("called a function the driver lacks")
		return nil, nvml.ERROR_FUNCTION_NOT_FOUND
	}
	c := NewWithInterface(s, Config{}, quiet)
	defer c.Close()
	devs, err := c.Devices()
	if err != nil || len(devs) != 8 || len(devs[1].MIGs) != 0 {
		t.Errorf("Devices() = %+v, %v", devs, err)
	}
}
