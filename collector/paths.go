package collector

import "path/filepath"

// Paths are the host filesystem roots the collectors read, overridable so the
// exporter can run in a container with the host mounted, or on fixtures.
type Paths struct {
	Sysfs  string
	Procfs string
	Rootfs string
}

// Sys joins elements under the sysfs root.
func (p Paths) Sys(elem ...string) string {
	return filepath.Join(append([]string{p.Sysfs}, elem...)...)
}

// Proc joins elements under the procfs root.
func (p Paths) Proc(elem ...string) string {
	return filepath.Join(append([]string{p.Procfs}, elem...)...)
}

// Root joins elements under the host root filesystem.
func (p Paths) Root(elem ...string) string {
	return filepath.Join(append([]string{p.Rootfs}, elem...)...)
}
