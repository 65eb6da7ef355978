package attribution

import (
	"fmt"
	"strings"
)

// DRADriver says how to recognise the GPUs among a DRA driver's devices:
// the attribute of a device that holds its GPU or MIG UUID and, for devices
// without a UUID of their own (dynamic MIG partitions, created when a claim
// is prepared), the attribute that holds the parent GPU's UUID.
type DRADriver struct {
	Name                string // gpu.nvidia.com
	UUIDAttribute       string // uuid
	ParentUUIDAttribute string // parentUUID; "" for none
}

// DefaultDRADrivers is NVIDIA's DRA driver for GPUs, whose ResourceSlices
// carry "uuid" on full GPUs and MIG devices, and "parentUUID" on MIG devices.
var DefaultDRADrivers = []DRADriver{{Name: "gpu.nvidia.com", UUIDAttribute: "uuid", ParentUUIDAttribute: "parentUUID"}}

// ParseDRADriver reads DRIVER[=UUID_ATTRIBUTE[,PARENT_UUID_ATTRIBUTE]], e.g.
// "gpu.nvidia.com=uuid,parentUUID"; the UUID attribute defaults to "uuid".
func ParseDRADriver(s string) (DRADriver, error) {
	name, attrs, _ := strings.Cut(s, "=")
	d := DRADriver{Name: strings.TrimSpace(name), UUIDAttribute: "uuid"}
	if d.Name == "" || strings.ContainsAny(d.Name, " /,") {
		return DRADriver{}, fmt.Errorf("DRA driver %q: want DRIVER[=UUID_ATTRIBUTE[,PARENT_UUID_ATTRIBUTE]]", s)
	}
	if attrs != "" {
		parts := strings.Split(attrs, ",")
		if len(parts) > 2 {
			return DRADriver{}, fmt.Errorf("DRA driver %q: at most two attributes (the UUID's and the parent UUID's)", s)
		}
		for i, p := range parts {
			p = strings.TrimSpace(p)
			if p == "" {
				return DRADriver{}, fmt.Errorf("DRA driver %q: empty attribute name", s)
			}
			if i == 0 {
				d.UUIDAttribute = p
			} else {
				d.ParentUUIDAttribute = p
			}
		}
	}
	return d, nil
}

// String formats d as ParseDRADriver reads it.
func (d DRADriver) String() string {
	s := d.Name + "=" + d.UUIDAttribute
	if d.ParentUUIDAttribute != "" {
		s += "," + d.ParentUUIDAttribute
	}
	return s
}

// pciBusIDAttribute is the standard attribute of a PCI device (KEP 5297),
// which NIC DRA drivers publish: such a device attributes its RDMA devices.
const pciBusIDAttribute = "resource.kubernetes.io/pciBusID"

func isGPUUUID(s string) bool { return strings.HasPrefix(s, "GPU-") || strings.HasPrefix(s, "MIG-") }
