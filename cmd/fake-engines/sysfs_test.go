package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func readCounter(t *testing.T, file string) uint64 {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	v, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// Two seconds of traffic on a copy of the fixture node: mlx5_0 (the first
// port, 5 GB/s) gains 2.5e9 words and 2.5e9/1024 packets in both directions,
// in counters/ and counters_ext/; mlx5_1 (10 GB/s) twice that; the DOWN mlx5_3
// nothing; error counters and the fixture's broken files stay as they are.
func TestAdvanceSysfs(t *testing.T) {
	root := filepath.Join(t.TempDir(), "sys")
	if out, err := exec.Command("cp", "-a", "../../testdata/sys", root).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v: %s", err, out)
	}
	port := func(dev, file string) string {
		return filepath.Join(root, "class/infiniband", dev, "ports/1", file)
	}
	files := []string{
		port("mlx5_0", "counters_ext/port_rcv_data_64"), port("mlx5_0", "counters/port_xmit_data"),
		port("mlx5_0", "counters_ext/port_xmit_packets_64"), port("mlx5_1", "counters_ext/port_rcv_data_64"),
		port("mlx5_3", "counters_ext/port_rcv_data_64"), port("mlx5_0", "counters/port_rcv_errors"),
	}
	before := map[string]uint64{}
	for _, f := range files {
		before[f] = readCounter(t, f)
	}
	broken := port("mlx5_6", "counters/symbol_error")
	brokenBefore, _ := os.ReadFile(broken)

	if err := advanceSysfs(root, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	for i, want := range []uint64{2_500_000_000, 2_500_000_000, 2_441_406, 5_000_000_000, 0, 0} {
		if got := readCounter(t, files[i]) - before[files[i]]; got != want {
			t.Errorf("%s: +%d, want +%d", files[i], got, want)
		}
	}
	if b, _ := os.ReadFile(broken); string(b) != string(brokenBefore) {
		t.Errorf("%s: %q, want it left as %q", broken, b, brokenBefore)
	}
	if tmp, _ := filepath.Glob(filepath.Join(root, "class/infiniband/*/ports/*/*/*tmp*")); len(tmp) > 0 {
		t.Errorf("temporary files in the counter directories the exporter lists: %v", tmp)
	}
}
