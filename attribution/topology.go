package attribution

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// minSwitchDepth is the number of leading path elements two PCI functions
// must share to be "under the same PCIe switch": the host bridge
// (pci0000:15), the root port (0000:15:01.0) and at least one switch port
// below it (0000:16:00.0).
const minSwitchDepth = 3

// NormalisePCIAddress turns a PCI address in any of the usual spellings into
// sysfs's: NVML's "00000000:1A:00.0" (8-digit domain, upper case), the
// legacy "0000:1a:00.0", or "1a:00.0" without a domain all become
// "0000:1a:00.0". Domains above 0xffff (VMD) keep all their digits. ok is
// false when s is not a PCI address.
func NormalisePCIAddress(s string) (addr string, ok bool) {
	parts := strings.Split(s, ":")
	var domain, bus, devfn string
	switch len(parts) {
	case 3:
		domain, bus, devfn = parts[0], parts[1], parts[2]
	case 2:
		domain, bus, devfn = "0", parts[0], parts[1]
	default:
		return "", false
	}
	dev, fn, found := strings.Cut(devfn, ".")
	if !found || len(domain) == 0 || len(domain) > 8 || len(bus) == 0 || len(bus) > 2 || len(dev) == 0 || len(dev) > 2 || len(fn) != 1 {
		return "", false
	}
	d, err1 := strconv.ParseUint(domain, 16, 32)
	b, err2 := strconv.ParseUint(bus, 16, 8)
	v, err3 := strconv.ParseUint(dev, 16, 8)
	f, err4 := strconv.ParseUint(fn, 8, 8)
	if err1 != nil || err2 != nil || err3 != nil || err4 != nil || v > 0x1f {
		return "", false
	}
	return fmt.Sprintf("%04x:%02x:%02x.%d", d, b, v, f), true
}

// isPCIAddress says whether s is a PCI address as sysfs spells it.
func isPCIAddress(s string) bool {
	n, ok := NormalisePCIAddress(s)
	return ok && n == s
}

// pciChain resolves a sysfs device path (a bus/pci/devices or
// class/infiniband/<dev>/device symlink) into its chain in the devices tree,
// host bridge first: [pci0000:15 0000:15:01.0 0000:16:00.0 0000:17:00.0
// 0000:18:00.0]. Elements after the last PCI function (an auxiliary device
// of a scalable function) are dropped, so such a device sits at its PCI
// parent.
func pciChain(devRoot, link string) ([]string, error) {
	real, err := filepath.EvalSymlinks(link)
	if err != nil {
		return nil, err
	}
	rel, err := filepath.Rel(devRoot, real)
	if err != nil || rel == "." || strings.HasPrefix(rel, "..") {
		return nil, fmt.Errorf("%s resolves to %s, outside %s", link, real, devRoot)
	}
	elems := strings.Split(filepath.ToSlash(rel), "/")
	if !strings.HasPrefix(elems[0], "pci") {
		return nil, fmt.Errorf("%s is not in a PCI hierarchy (%s)", link, rel)
	}
	n := 1
	for n < len(elems) && isPCIAddress(elems[n]) {
		n++
	}
	if n < 2 {
		return nil, fmt.Errorf("%s has no PCI function (%s)", link, rel)
	}
	return elems[:n], nil
}

func commonPrefix(a, b []string) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}

// RDMADevice is an RDMA device (mlx5_0) with its PCI function and the GPU it
// is paired with by PCIe topology.
type RDMADevice struct {
	Name       string // mlx5_0
	PCIAddress string // 0000:18:00.0; "" when its device link does not resolve into a PCI tree
	GPUBusID   string // the paired GPU's normalised bus id, "" when none
}

// PairRDMADevices lists the RDMA devices under <sysfs>/class/infiniband and
// pairs each with the GPU (by bus id, any spelling NormalisePCIAddress takes)
// nearest to it in the PCIe tree under <sysfs>/devices:
//
//   - nearness is the number of leading elements the two device paths share
//     (the longest common prefix below the host bridge);
//   - the shared part must reach below the root port, i.e. both sit under the
//     same PCIe switch; a GPU that only shares the root complex or the root
//     port is not paired (this is also what happens in VMs whose PCI tree is
//     flat);
//   - when two or more GPUs are equally near, the device is not paired:
//     GPUBusID stays "", never a guess.
//
// Several RDMA devices may pair with the same GPU (two ports, two functions
// of one card). The result is sorted by name. A GPU missing from sysfs is
// left out of the pairing; an error is returned only when the infiniband
// class directory cannot be read.
func PairRDMADevices(sysfs string, gpuBusIDs []string) ([]RDMADevice, error) {
	devRoot, err := filepath.EvalSymlinks(filepath.Join(sysfs, "devices"))
	if err != nil {
		return nil, err
	}
	type gpu struct {
		bus   string
		chain []string
	}
	var gpus []gpu
	seen := make(map[string]bool, len(gpuBusIDs))
	for _, id := range gpuBusIDs {
		bus, ok := NormalisePCIAddress(id)
		if !ok || seen[bus] {
			continue
		}
		seen[bus] = true
		chain, err := pciChain(devRoot, filepath.Join(sysfs, "bus", "pci", "devices", bus))
		if err != nil {
			continue
		}
		gpus = append(gpus, gpu{bus, chain})
	}
	classDir := filepath.Join(sysfs, "class", "infiniband")
	entries, err := os.ReadDir(classDir)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, nil // no RDMA devices on this node
		}
		return nil, err
	}
	out := make([]RDMADevice, 0, len(entries))
	for _, e := range entries {
		d := RDMADevice{Name: e.Name()}
		chain, err := pciChain(devRoot, filepath.Join(classDir, e.Name(), "device"))
		if err == nil {
			d.PCIAddress = chain[len(chain)-1]
			best, n := 0, 0
			for _, g := range gpus {
				switch l := commonPrefix(chain, g.chain); {
				case l > best:
					best, n, d.GPUBusID = l, 1, g.bus
				case l == best:
					n++
				}
			}
			if best < minSwitchDepth || n != 1 {
				d.GPUBusID = ""
			}
		}
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}
