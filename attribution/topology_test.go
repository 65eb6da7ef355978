package attribution

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// fixtureGPUs are the bus ids NVML reports on the fixture node (testdata/sys,
// made by testdata/make-sysfs.sh): GPU i sits on the HCA's bus + 1 under the
// same switch.
var fixtureGPUs = []string{
	"00000000:19:00.0", "00000000:3B:00.0", "00000000:4C:00.0", "00000000:5D:00.0",
	"00000000:9B:00.0", "00000000:BB:00.0", "00000000:CC:00.0", "00000000:DD:00.0",
}

func TestNormalisePCIAddress(t *testing.T) {
	tests := []struct{ in, want string }{
		{"00000000:19:00.0", "0000:19:00.0"},
		{"00000000:BB:00.0", "0000:bb:00.0"},
		{"0000:18:00.0", "0000:18:00.0"},
		{"18:00.1", "0000:18:00.1"},
		{"00010000:01:00.0", "10000:01:00.0"},
		{"0000:18:1f.7", "0000:18:1f.7"},
		{"", ""},
		{"GPU-0c9f5e5a-1d2b-4c3d-8e9f-0a1b2c3d4e5f", ""},
		{"0000:18:00", ""},
		{"0000:18:20.0", ""},
		{"0000:18:00.8", ""},
		{"0000:118:00.0", ""},
		{"000000000:18:00.0", ""},
		{"0:0:0:0.0", ""},
		{"0000:zz:00.0", ""},
	}
	for _, tc := range tests {
		got, ok := NormalisePCIAddress(tc.in)
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("NormalisePCIAddress(%q) = %q, %v; want %q", tc.in, got, ok, tc.want)
		}
	}
}

func TestPairRDMADevicesFixture(t *testing.T) {
	got, err := PairRDMADevices("../testdata/sys", fixtureGPUs)
	if err != nil {
		t.Fatal(err)
	}
	want := []RDMADevice{
		{"mlx5_0", "0000:18:00.0", "0000:19:00.0"},
		{"mlx5_1", "0000:3a:00.0", "0000:3b:00.0"},
		{"mlx5_2", "0000:4b:00.0", "0000:4c:00.0"},
		{"mlx5_3", "0000:5c:00.0", "0000:5d:00.0"},
		{"mlx5_4", "0000:9a:00.0", "0000:9b:00.0"},
		{"mlx5_5", "0000:ba:00.0", "0000:bb:00.0"},
		{"mlx5_6", "0000:cb:00.0", "0000:cc:00.0"},
		{"mlx5_7", "0000:dc:00.0", "0000:dd:00.0"},
		// The RoCE card under root port pci0000:a0 has no GPU under its switch.
		{"mlx5_8", "0000:a1:00.0", ""},
		{"mlx5_9", "0000:a1:00.1", ""},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("PairRDMADevices =\n%v\nwant\n%v", got, want)
	}

	// Without GPUs nothing pairs; a GPU NVML reports but sysfs lacks is ignored.
	got, err = PairRDMADevices("../testdata/sys", []string{"00000000:07:00.0", "bogus"})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range got {
		if d.GPUBusID != "" {
			t.Errorf("%s paired with %s without its GPU", d.Name, d.GPUBusID)
		}
	}
}

// pciTree builds a sysfs devices tree in a temp dir: each path is a chain of
// elements under devices/, the last one a PCI function that gets a
// bus/pci/devices link; an "ib:NAME" suffix element makes it an RDMA device.
func pciTree(t *testing.T, paths ...string) string {
	t.Helper()
	sys := t.TempDir()
	for _, p := range paths {
		elems := strings.Split(p, "/")
		var rdma string
		if last := elems[len(elems)-1]; strings.HasPrefix(last, "ib:") {
			rdma, elems = last[3:], elems[:len(elems)-1]
		}
		dir := filepath.Join(append([]string{sys, "devices"}, elems...)...)
		mk(t, os.MkdirAll(dir, 0o755))
		addr := elems[len(elems)-1]
		link := filepath.Join(sys, "bus", "pci", "devices", addr)
		mk(t, os.MkdirAll(filepath.Dir(link), 0o755))
		rel, _ := filepath.Rel(filepath.Dir(link), dir)
		mk(t, os.Symlink(rel, link))
		if rdma != "" {
			ibdir := filepath.Join(dir, "infiniband", rdma)
			mk(t, os.MkdirAll(ibdir, 0o755))
			mk(t, os.Symlink("../../../"+addr, filepath.Join(ibdir, "device")))
			cls := filepath.Join(sys, "class", "infiniband", rdma)
			mk(t, os.MkdirAll(filepath.Dir(cls), 0o755))
			rel, _ := filepath.Rel(filepath.Dir(cls), ibdir)
			mk(t, os.Symlink(rel, cls))
		}
	}
	return sys
}

func mk(t *testing.T, err error) {
	t.Helper()
	if err != nil && !os.IsExist(err) {
		t.Fatal(err)
	}
}

func TestPairRDMADevicesTopologies(t *testing.T) {
	const sw = "pci0000:10/0000:10:01.0/0000:11:00.0" // root bus, root port, switch upstream port
	sys := pciTree(t,
		// Switch 1: an HCA and two GPUs on its downstream ports: equally near, not paired.
		sw+"/0000:12:00.0/0000:13:00.0/ib:mlx5_0",
		sw+"/0000:12:01.0/0000:14:00.0",
		sw+"/0000:12:02.0/0000:15:00.0",
		// Switch 2 with a nested switch: the HCA and GPU A share the nested
		// switch, GPU B only the outer one: A is nearer.
		"pci0000:20/0000:20:01.0/0000:21:00.0/0000:22:00.0/0000:23:00.0/0000:24:00.0/0000:25:00.0/ib:mlx5_1",
		"pci0000:20/0000:20:01.0/0000:21:00.0/0000:22:00.0/0000:23:00.0/0000:24:01.0/0000:26:00.0",
		"pci0000:20/0000:20:01.0/0000:21:00.0/0000:22:01.0/0000:27:00.0",
		// An HCA alone under its root port, a GPU under another root port of the same root complex.
		"pci0000:30/0000:30:01.0/0000:31:00.0/ib:mlx5_2",
		"pci0000:30/0000:30:02.0/0000:32:00.0",
		// A flat (VM-like) bus: HCA and GPU directly on the host bridge.
		"pci0000:40/0000:40:05.0/ib:mlx5_3",
		"pci0000:40/0000:40:06.0",
	)
	gpus := []string{"00000000:14:00.0", "00000000:15:00.0", "00000000:26:00.0", "00000000:27:00.0", "00000000:32:00.0", "00000000:40:06.0"}
	got, err := PairRDMADevices(sys, gpus)
	if err != nil {
		t.Fatal(err)
	}
	want := []RDMADevice{
		{"mlx5_0", "0000:13:00.0", ""},
		{"mlx5_1", "0000:25:00.0", "0000:26:00.0"},
		{"mlx5_2", "0000:31:00.0", ""},
		{"mlx5_3", "0000:40:05.0", ""},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("PairRDMADevices =\n%v\nwant\n%v", got, want)
	}

	// With only one of switch 1's GPUs known to NVML, the pairing is unique.
	got, err = PairRDMADevices(sys, []string{"0000:15:00.0", "0000:15:00.0"})
	if err != nil {
		t.Fatal(err)
	}
	if got[0].GPUBusID != "0000:15:00.0" {
		t.Errorf("mlx5_0 with one GPU under its switch: paired with %q", got[0].GPUBusID)
	}

	// A sysfs root without devices/ (a wrong --path.sysfs) is an error.
	if _, err := PairRDMADevices(t.TempDir(), gpus); err == nil {
		t.Error("no devices/ under the sysfs root: no error")
	}
	// No infiniband class: no devices, no error.
	empty := pciTree(t, "pci0000:50/0000:50:01.0")
	got, err = PairRDMADevices(empty, gpus)
	if err != nil || len(got) != 0 {
		t.Errorf("no infiniband class: %v, %v", got, err)
	}
}
