package infiniband

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/llm-node-exporter/llm-node-exporter/collector"
)

const fixture = "../../testdata/sys"

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// adapter exposes a Collector as a prometheus.Collector, as collector.Set does.
type adapter struct{ c collector.Collector }

func (a adapter) Describe(chan<- *prometheus.Desc) {}
func (a adapter) Collect(ch chan<- prometheus.Metric) {
	if err := a.c.Update(ch); err != nil && !errors.Is(err, collector.ErrNoData) {
		panic(err)
	}
}

func newFixtureCollector(t *testing.T, sysfs string, cfg Config) *Collector {
	t.Helper()
	return New(collector.Paths{Sysfs: sysfs}, cfg, quiet)
}

func gather(t *testing.T, c collector.Collector) []*dto.MetricFamily {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(adapter{c})
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	return mfs
}

// series indexes gathered samples by "name{device,port}" for assertions.
func series(mfs []*dto.MetricFamily) map[string]float64 {
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.Metric {
			var device, port, reason string
			for _, l := range m.Label {
				switch l.GetName() {
				case "device":
					device = l.GetValue()
				case "port":
					port = l.GetValue()
				case "reason":
					reason = l.GetValue()
				}
			}
			key := mf.GetName() + "{" + device + "," + port
			if reason != "" {
				key += "," + reason
			}
			key += "}"
			switch {
			case m.Counter != nil:
				out[key] = m.Counter.GetValue()
			case m.Gauge != nil:
				out[key] = m.Gauge.GetValue()
			}
		}
	}
	return out
}

func TestPortStateRateAndInfo(t *testing.T) {
	c := newFixtureCollector(t, fixture, Config{DeviceInclude: regexp.MustCompile(`^mlx5_[389]$`)})
	expected := `
# HELP llm_infiniband_state_id Logical state of the port (1 DOWN, 2 INIT, 3 ARMED, 4 ACTIVE, 5 ACTIVE_DEFER).
# TYPE llm_infiniband_state_id gauge
llm_infiniband_state_id{device="mlx5_3",link_layer="InfiniBand",port="1"} 1
llm_infiniband_state_id{device="mlx5_8",link_layer="Ethernet",port="1"} 4
llm_infiniband_state_id{device="mlx5_9",link_layer="Ethernet",port="1"} 4
# HELP llm_infiniband_physical_state_id Physical state of the port (1 Sleep, 2 Polling, 3 Disabled, 4 PortConfigurationTraining, 5 LinkUp, 6 LinkErrorRecovery, 7 PhyTest).
# TYPE llm_infiniband_physical_state_id gauge
llm_infiniband_physical_state_id{device="mlx5_3",link_layer="InfiniBand",port="1"} 3
llm_infiniband_physical_state_id{device="mlx5_8",link_layer="Ethernet",port="1"} 5
llm_infiniband_physical_state_id{device="mlx5_9",link_layer="Ethernet",port="1"} 5
# HELP llm_infiniband_rate_bytes_per_second Current signalling rate of the port in bytes per second.
# TYPE llm_infiniband_rate_bytes_per_second gauge
llm_infiniband_rate_bytes_per_second{device="mlx5_3",link_layer="InfiniBand",port="1"} 1.25e+09
llm_infiniband_rate_bytes_per_second{device="mlx5_8",link_layer="Ethernet",port="1"} 2.5e+10
llm_infiniband_rate_bytes_per_second{device="mlx5_9",link_layer="Ethernet",port="1"} 2.5e+10
# HELP llm_infiniband_info Static facts about the port and its HCA; value is always 1.
# TYPE llm_infiniband_info gauge
llm_infiniband_info{board_id="MT_0000000838",device="mlx5_3",firmware_version="28.39.1002",hca_type="MT4129",link_layer="InfiniBand",netdev="ibp5cs0",node_guid="a088:c203:0003:1e30",pci_address="0000:5c:00.0",port="1"} 1
llm_infiniband_info{board_id="MT_0000000838",device="mlx5_8",firmware_version="28.39.1002",hca_type="MT4129",link_layer="Ethernet",netdev="ens12f0np0",node_guid="a088:c203:0008:1e80",pci_address="0000:a1:00.0",port="1"} 1
llm_infiniband_info{board_id="MT_0000000838",device="mlx5_9",firmware_version="28.39.1002",hca_type="MT4129",link_layer="Ethernet",netdev="ens12f1np1",node_guid="a088:c203:0009:1e90",pci_address="0000:a1:00.1",port="1"} 1
`
	err := testutil.CollectAndCompare(adapter{c}, strings.NewReader(expected),
		"llm_infiniband_state_id", "llm_infiniband_physical_state_id", "llm_infiniband_rate_bytes_per_second", "llm_infiniband_info")
	if err != nil {
		t.Fatal(err)
	}
}

// TestEveryCounterFile checks, against the fixture files themselves, that each
// known counter file of every port is exported once, in base units, with the
// 64-bit counters_ext/ value winning over counters/ where both exist.
func TestEveryCounterFile(t *testing.T) {
	got := series(gather(t, newFixtureCollector(t, fixture, Config{})))
	devices, err := os.ReadDir(filepath.Join(fixture, "class/infiniband"))
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, dev := range devices {
		portDir := filepath.Join(fixture, "class/infiniband", dev.Name(), "ports/1")
		want := map[string]float64{}
		for _, d := range counterDirs {
			files, _ := os.ReadDir(filepath.Join(portDir, d.dir))
			for _, f := range files {
				src, ok := d.sources[f.Name()]
				if !ok {
					continue
				}
				key := "llm_infiniband_" + counterMetrics[src.metric].name + "{" + dev.Name() + ",1}"
				if _, done := want[key]; done {
					continue // counters_ext/ came first
				}
				raw, err := os.ReadFile(filepath.Join(portDir, d.dir, f.Name()))
				if err != nil {
					want[key] = -1 // unreadable: must be absent
					continue
				}
				v, err := strconv.ParseUint(string(bytes.TrimSpace(raw)), 10, 64)
				if err != nil {
					want[key] = -1
					continue
				}
				want[key] = float64(v) * src.scale
			}
		}
		for key, w := range want {
			g, present := got[key]
			switch {
			case w < 0 && present:
				t.Errorf("%s exported as %g although its file is broken", key, g)
			case w >= 0 && !present:
				t.Errorf("%s missing", key)
			case w >= 0 && g != w:
				t.Errorf("%s = %g, want %g", key, g, w)
			}
			checked++
		}
	}
	if checked < 10*30 {
		t.Fatalf("only %d counters checked; fixture not read?", checked)
	}
	// Spot-check the ×4 and the counters_ext/ preference against raw numbers.
	ext := readUint(t, filepath.Join(fixture, "class/infiniband/mlx5_0/ports/1/counters_ext/port_xmit_data_64"))
	legacy := readUint(t, filepath.Join(fixture, "class/infiniband/mlx5_0/ports/1/counters/port_xmit_data"))
	if ext == legacy {
		t.Fatal("fixture must give counters_ext/ and counters/ different values")
	}
	if g := got["llm_infiniband_port_data_transmitted_bytes_total{mlx5_0,1}"]; g != float64(ext)*4 {
		t.Errorf("mlx5_0 transmitted bytes = %g, want 4 × counters_ext %d", g, ext)
	}
	noExt := readUint(t, filepath.Join(fixture, "class/infiniband/mlx5_7/ports/1/counters/port_xmit_data"))
	if g := got["llm_infiniband_port_data_transmitted_bytes_total{mlx5_7,1}"]; g != float64(noExt)*4 {
		t.Errorf("mlx5_7 (no counters_ext) transmitted bytes = %g, want 4 × counters %d", g, noExt)
	}
}

func readUint(t *testing.T, path string) uint64 {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	v, err := strconv.ParseUint(string(bytes.TrimSpace(raw)), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestFixtureFaultsCostOnlyTheirValue: the EISDIR, N/A and garbage files of the
// fixture each lose one value and count one error; their ports keep the rest.
func TestFixtureFaultsCostOnlyTheirValue(t *testing.T) {
	c := newFixtureCollector(t, fixture, Config{})
	got := series(gather(t, c))
	for _, tc := range []struct{ missing, kept, errKey string }{
		{"llm_infiniband_port_errors_received_total{mlx5_5,1}", "llm_infiniband_symbol_error_total{mlx5_5,1}", "llm_infiniband_read_errors_total{mlx5_5,1,io_error}"},
		{"llm_infiniband_symbol_error_total{mlx5_6,1}", "llm_infiniband_port_errors_received_total{mlx5_6,1}", "llm_infiniband_read_errors_total{mlx5_6,1,not_available}"},
		{"llm_infiniband_out_of_sequence_packets_received_total{mlx5_9,1}", "llm_infiniband_np_cnp_packets_sent_total{mlx5_9,1}", "llm_infiniband_read_errors_total{mlx5_9,1,invalid_value}"},
	} {
		if _, ok := got[tc.missing]; ok {
			t.Errorf("%s exported from a broken file", tc.missing)
		}
		if _, ok := got[tc.kept]; !ok {
			t.Errorf("%s lost: a broken sibling file cost more than its own value", tc.kept)
		}
		if got[tc.errKey] != 1 {
			t.Errorf("%s = %g, want 1", tc.errKey, got[tc.errKey])
		}
	}
	// Errors are counters: a second scrape counts them again.
	got = series(gather(t, c))
	if v := got["llm_infiniband_read_errors_total{mlx5_5,1,io_error}"]; v != 2 {
		t.Errorf("read errors after two scrapes = %g, want 2", v)
	}
	// Exactly the three faults, nothing else.
	n := 0
	for k := range got {
		if strings.HasPrefix(k, "llm_infiniband_read_errors_total") {
			n++
		}
	}
	if n != 3 {
		t.Errorf("%d read_errors series, want 3", n)
	}
}

func TestLinkLayerOnEveryPortSeries(t *testing.T) {
	mfs := gather(t, newFixtureCollector(t, fixture, Config{}))
	ports := map[string]string{}
	for _, mf := range mfs {
		if mf.GetName() == "llm_infiniband_read_errors_total" {
			continue
		}
		for _, m := range mf.Metric {
			labels := map[string]string{}
			for _, l := range m.Label {
				labels[l.GetName()] = l.GetValue()
			}
			ll, ok := labels["link_layer"]
			if !ok || (ll != "InfiniBand" && ll != "Ethernet") {
				t.Fatalf("%s%v: link_layer %q", mf.GetName(), labels, ll)
			}
			ports[labels["device"]+"/"+labels["port"]] = ll
		}
	}
	if len(ports) != 10 {
		t.Fatalf("ports = %v, want all 10 fixture ports", ports)
	}
	if ports["mlx5_8/1"] != "Ethernet" || ports["mlx5_0/1"] != "InfiniBand" {
		t.Errorf("link layers = %v", ports)
	}
}

func TestLint(t *testing.T) {
	problems, err := testutil.CollectAndLint(adapter{newFixtureCollector(t, fixture, Config{})})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
}

func TestDeviceFilters(t *testing.T) {
	c := newFixtureCollector(t, fixture, Config{
		DeviceInclude: regexp.MustCompile(`^mlx5_[0-3]$`),
		DeviceExclude: regexp.MustCompile(`^mlx5_2$`),
	})
	devices := map[string]bool{}
	for k := range series(gather(t, c)) {
		if strings.HasPrefix(k, "llm_infiniband_state_id{") {
			devices[strings.SplitN(strings.TrimPrefix(k, "llm_infiniband_state_id{"), ",", 2)[0]] = true
		}
	}
	if len(devices) != 3 || !devices["mlx5_0"] || !devices["mlx5_1"] || !devices["mlx5_3"] {
		t.Errorf("devices = %v, want mlx5_0, mlx5_1, mlx5_3", devices)
	}
}

func TestNoInfinibandClassIsNoData(t *testing.T) {
	c := newFixtureCollector(t, t.TempDir(), Config{})
	ch := make(chan prometheus.Metric, 10)
	if err := c.Update(ch); !errors.Is(err, collector.ErrNoData) {
		t.Fatalf("Update on a node without RDMA devices = %v, want ErrNoData", err)
	}
	if len(ch) != 0 {
		t.Errorf("%d metrics from a node without RDMA devices", len(ch))
	}
}

// faultReader wraps the real reader and fails or mutates chosen paths, to
// reproduce what a fixture file cannot: EINVAL from a ConnectX-7 in switch
// mode, or a port removed while it is being read.
type faultReader struct {
	sysReader
	readFault func(path string) error
}

func (f faultReader) ReadFile(path, buf []byte) (int, error) {
	if err := f.readFault(string(bytes.TrimRight(path, "\x00"))); err != nil {
		return 0, err
	}
	return f.sysReader.ReadFile(path, buf)
}

func TestEINVALCostsOnlyThatValue(t *testing.T) {
	r := faultReader{sysReader: newOSReader(), readFault: func(path string) error {
		if strings.HasSuffix(path, "mlx5_2/ports/1/counters/port_xmit_wait") {
			return syscall.EINVAL
		}
		return nil
	}}
	c := newWithReader(collector.Paths{Sysfs: fixture}, Config{}, quiet, r)
	got := series(gather(t, c))
	if _, ok := got["llm_infiniband_port_transmit_wait_total{mlx5_2,1}"]; ok {
		t.Error("value exported despite EINVAL")
	}
	if _, ok := got["llm_infiniband_port_data_received_bytes_total{mlx5_2,1}"]; !ok {
		t.Error("EINVAL on one counter cost the port's other counters")
	}
	if got["llm_infiniband_read_errors_total{mlx5_2,1,io_error}"] != 1 {
		t.Errorf("EINVAL not counted as io_error: %v", got["llm_infiniband_read_errors_total{mlx5_2,1,io_error}"])
	}
}

func TestPortVanishingMidScrape(t *testing.T) {
	sysfs := copyFixture(t)
	var once sync.Once
	portDir := filepath.Join(sysfs, "class/infiniband/mlx5_4/ports/1")
	target, err := filepath.EvalSymlinks(portDir)
	if err != nil {
		t.Fatal(err)
	}
	r := faultReader{sysReader: newOSReader(), readFault: func(path string) error {
		if strings.HasSuffix(path, "mlx5_4/ports/1/counters/port_xmit_wait") {
			once.Do(func() { os.RemoveAll(target) })
		}
		return nil
	}}
	c := newWithReader(collector.Paths{Sysfs: sysfs}, Config{}, quiet, r)
	got := series(gather(t, c))
	for k := range got {
		if strings.Contains(k, "{mlx5_4,1}") {
			t.Errorf("vanished port still exported: %s", k)
		}
	}
	if got["llm_infiniband_read_errors_total{mlx5_4,1,vanished}"] != 1 {
		t.Error("vanished port not counted")
	}
	if _, ok := got["llm_infiniband_port_data_received_bytes_total{mlx5_5,1}"]; !ok {
		t.Error("a vanished port cost the ports after it")
	}
	// The next scrape no longer sees the port at all and carries on.
	got = series(gather(t, c))
	if _, ok := got["llm_infiniband_state_id{mlx5_4,1}"]; ok {
		t.Error("removed port reappeared")
	}
}

func copyFixture(t *testing.T) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "sys")
	if out, err := runCommand("cp", "-a", fixture, dst); err != nil {
		t.Fatalf("cp: %v: %s", err, out)
	}
	return dst
}

type fakeAttributor struct{}

func (fakeAttributor) LabelNames() []string { return []string{"namespace", "pod", "dp_rank"} }
func (fakeAttributor) AppendPortLabels(dst []string, device, port string) []string {
	if device == "mlx5_1" {
		return append(dst, "llm", "sglang-decode-0", "1")
	}
	return append(dst, "", "", "")
}

func TestAttributionLabels(t *testing.T) {
	c := newFixtureCollector(t, fixture, Config{Attributor: fakeAttributor{}, DeviceInclude: regexp.MustCompile(`^mlx5_[01]$`)})
	expected := `
# HELP llm_infiniband_state_id Logical state of the port (1 DOWN, 2 INIT, 3 ARMED, 4 ACTIVE, 5 ACTIVE_DEFER).
# TYPE llm_infiniband_state_id gauge
llm_infiniband_state_id{device="mlx5_0",dp_rank="",link_layer="InfiniBand",namespace="",pod="",port="1"} 4
llm_infiniband_state_id{device="mlx5_1",dp_rank="1",link_layer="InfiniBand",namespace="llm",pod="sglang-decode-0",port="1"} 4
`
	if err := testutil.CollectAndCompare(adapter{c}, strings.NewReader(expected), "llm_infiniband_state_id"); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(adapter{c}, "llm_infiniband_port_data_received_bytes_total"); n != 2 {
		t.Errorf("%d data series, want 2", n)
	}
}

// TestConcurrentScrapes: parallel scrapes (web.max-requests > 1) share the
// collector's caches; run with -race.
func TestConcurrentScrapes(t *testing.T) {
	c := newFixtureCollector(t, fixture, Config{})
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 5; j++ {
				if n := len(series(gather(t, c))); n < 400 {
					t.Errorf("scrape returned %d series", n)
				}
			}
		}()
	}
	wg.Wait()
}

func BenchmarkUpdate(b *testing.B) {
	c := New(collector.Paths{Sysfs: fixture}, Config{}, quiet)
	ch := make(chan prometheus.Metric, 1024)
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Update(ch); err != nil {
			b.Fatal(err)
		}
		for len(ch) > 0 {
			<-ch
		}
	}
}
