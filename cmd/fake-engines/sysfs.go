package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// The data and packet counters of the InfiniBand / RoCE ports that advanceSysfs
// moves. The *_data counters count 4-byte words, as the kernel's do.
var trafficCounters = []string{
	"counters/port_rcv_data", "counters/port_xmit_data",
	"counters/port_rcv_packets", "counters/port_xmit_packets",
	"counters_ext/port_rcv_data_64", "counters_ext/port_xmit_data_64",
	"counters_ext/port_rcv_packets_64", "counters_ext/port_xmit_packets_64",
}

// wordsPerSecond is the traffic of the n-th port (in glob order): 5, 10, 15 or
// 20 GB/s (in 4-byte words), so that pods differ on a graph.
func wordsPerSecond(n int) float64 { return 1.25e9 * float64(1+n%4) }

// advanceSysfs adds elapsed seconds of traffic to the data and packet counters
// of every port under root (a copy of a sysfs tree) that is ACTIVE: a DOWN port
// carries nothing. Packets are 4 KiB (1024 words). Files that do not hold a
// number (the fixture's broken ones) are left alone. Files are replaced by a rename from
// root (outside the counter directories the exporter lists), so a reader never
// sees half a number.
func advanceSysfs(root string, elapsed time.Duration) error {
	ports, err := filepath.Glob(filepath.Join(root, "class/infiniband/*/ports/*"))
	if err != nil {
		return err
	}
	tmp := filepath.Join(root, ".counter.tmp")
	for n, port := range ports {
		state, err := os.ReadFile(filepath.Join(port, "state"))
		if err != nil || !strings.Contains(string(state), "ACTIVE") {
			continue
		}
		words := wordsPerSecond(n) * elapsed.Seconds()
		for _, c := range trafficCounters {
			add := words
			if strings.Contains(c, "packets") {
				add = words / 1024
			}
			if err := addToCounter(filepath.Join(port, c), tmp, uint64(add)); err != nil {
				return err
			}
		}
	}
	return nil
}

// addToCounter adds d to the number in file, written first to tmp; a missing
// or non-numeric file is skipped.
func addToCounter(file, tmp string, d uint64) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil
	}
	v, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return nil
	}
	if err := os.WriteFile(tmp, fmt.Appendf(nil, "%d\n", v+d), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, file)
}
