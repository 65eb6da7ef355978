package selfmetrics

import (
	"os"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/procfs"
)

func TestParseStat(t *testing.T) {
	b, err := os.ReadFile("testdata/stat")
	if err != nil {
		t.Fatal(err)
	}
	// A command with a space and a ')' of its own; fields 14, 15, 23, 24
	// of the line, counted by hand.
	got, err := parseStat(b)
	if err != nil {
		t.Fatal(err)
	}
	want := procStat{utime: 1234, stime: 567, vsize: 1514242048, rssPages: 19307}
	if got != want {
		t.Errorf("parseStat = %+v, want %+v", got, want)
	}
	for _, bad := range []string{"", "4242 (x", "4242 (x) S 1 2", "4242 (x) S 1 4242 4242 0 -1 4194560 9021 0 0 0 12a4 567 0 0 20 0 14 0 6 1 1"} {
		if _, err := parseStat([]byte(bad)); err == nil {
			t.Errorf("parseStat(%q): no error", bad)
		}
	}
}

func TestParseNetstatOctets(t *testing.T) {
	b, err := os.ReadFile("testdata/netstat")
	if err != nil {
		t.Fatal(err)
	}
	in, out, err := parseNetstatOctets(b)
	if err != nil {
		t.Fatal(err)
	}
	if in != 98765432101 || out != 12345678901 {
		t.Errorf("in, out = %v, %v; want 98765432101, 12345678901", in, out)
	}
	for _, bad := range []string{"", "IpExt: InOctets OutOctets\n", "IpExt: InOctets OutOctets\nIpExt: 1\n", "IpExt: InOctets\nIpExt: 1\n", "IpExt: InOctets OutOctets\nIpExt: 1 x\n"} {
		if _, _, err := parseNetstatOctets([]byte(bad)); err == nil {
			t.Errorf("parseNetstatOctets(%q): no error", bad)
		}
	}
}

// The series are those of client_golang's process collector, read here
// against procfs's own parse of the same files.
func TestCollectAgainstProcfs(t *testing.T) {
	p, err := procfs.Self()
	if err != nil {
		t.Skip("no procfs:", err)
	}
	before, err := p.Stat()
	if err != nil {
		t.Fatal(err)
	}
	netBefore, err := p.Netstat()
	if err != nil {
		t.Fatal(err)
	}
	limits, err := p.Limits()
	if err != nil {
		t.Fatal(err)
	}
	c := NewProcessCollector()
	if problems, err := testutil.CollectAndLint(c); err != nil || len(problems) > 0 {
		t.Fatalf("lint: %v %v", err, problems)
	}
	got := map[string]float64{}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		m := mf.GetMetric()[0]
		got[mf.GetName()] = value(m)
	}
	if len(got) != 9 {
		t.Fatalf("%d series, want 9: %v", len(got), got)
	}
	start, _ := before.StartTime()
	after, err := p.Stat()
	if err != nil {
		t.Fatal(err)
	}
	check := func(name string, ok bool) {
		t.Helper()
		if !ok {
			t.Errorf("%s = %v (procfs: stat %+v, limits %+v)", name, got[name], before, limits)
		}
	}
	check("process_start_time_seconds", got["process_start_time_seconds"] == start)
	check("process_cpu_seconds_total", got["process_cpu_seconds_total"] >= before.CPUTime() && got["process_cpu_seconds_total"] <= after.CPUTime())
	check("process_max_fds", got["process_max_fds"] == float64(limits.OpenFiles))
	check("process_virtual_memory_max_bytes", got["process_virtual_memory_max_bytes"] == float64(limits.AddressSpace))
	check("process_virtual_memory_bytes", got["process_virtual_memory_bytes"] > 0)
	check("process_resident_memory_bytes", got["process_resident_memory_bytes"] > 0)
	check("process_open_fds", got["process_open_fds"] >= 3)
	check("process_network_receive_bytes_total", got["process_network_receive_bytes_total"] >= *netBefore.InOctets)
	check("process_network_transmit_bytes_total", got["process_network_transmit_bytes_total"] >= *netBefore.OutOctets)
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.GetCounter().GetValue()
	case m.Gauge != nil:
		return m.GetGauge().GetValue()
	}
	return -1
}

// The names and help texts are client_golang's, so dashboards of its
// process series read ours.
func TestSameSeriesAsClientGolang(t *testing.T) {
	ours, theirs := prometheus.NewRegistry(), prometheus.NewRegistry()
	ours.MustRegister(NewProcessCollector())
	theirs.MustRegister(prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	describe := func(r *prometheus.Registry) string {
		mfs, err := r.Gather()
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for _, mf := range mfs {
			b.WriteString(mf.GetName() + " " + mf.GetType().String() + " " + mf.GetHelp() + "\n")
		}
		return b.String()
	}
	if o, c := describe(ours), describe(theirs); o != c {
		t.Errorf("ours:\n%s\nclient_golang's:\n%s", o, c)
	}
}
