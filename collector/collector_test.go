package collector

import (
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
)

type funcCollector func(ch chan<- prometheus.Metric) error

func (f funcCollector) Update(ch chan<- prometheus.Metric) error { return f(ch) }

var okDesc = prometheus.NewDesc("llm_test_value", "A test value.", nil, nil)

func TestSetIsolatesFailures(t *testing.T) {
	set := NewSet(slog.New(slog.NewTextHandler(io.Discard, nil)), map[string]Collector{
		"ok": funcCollector(func(ch chan<- prometheus.Metric) error {
			ch <- prometheus.MustNewConstMetric(okDesc, prometheus.GaugeValue, 42)
			return nil
		}),
		"fails":  funcCollector(func(chan<- prometheus.Metric) error { return errors.New("boom") }),
		"panics": funcCollector(func(chan<- prometheus.Metric) error { panic("bug") }),
		"nodata": funcCollector(func(chan<- prometheus.Metric) error { return ErrNoData }),
	})
	expected := `
# HELP llm_exporter_collector_success Whether the collector's last scrape succeeded (1) or failed (0).
# TYPE llm_exporter_collector_success gauge
llm_exporter_collector_success{collector="fails"} 0
llm_exporter_collector_success{collector="nodata"} 1
llm_exporter_collector_success{collector="ok"} 1
llm_exporter_collector_success{collector="panics"} 0
# HELP llm_test_value A test value.
# TYPE llm_test_value gauge
llm_test_value 42
`
	if err := testutil.CollectAndCompare(set, strings.NewReader(expected), "llm_exporter_collector_success", "llm_test_value"); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(set, "llm_exporter_collector_duration_seconds"); n != 4 {
		t.Errorf("%d duration series, want one per collector", n)
	}
	if got := set.Names(); strings.Join(got, ",") != "fails,nodata,ok,panics" {
		t.Errorf("Names() = %v", got)
	}
}

func TestSamplesGrowAndWrite(t *testing.T) {
	desc := prometheus.NewDesc("llm_test_total", "A test counter.", []string{"device"}, nil)
	gdesc := prometheus.NewDesc("llm_test_gauge", "A test gauge.", []string{"device"}, nil)
	labels := prometheus.MakeLabelPairs(desc, []string{"mlx5_0"})
	s := NewSamples(1)
	ch := make(chan prometheus.Metric, 40)
	for i := 0; i < 20; i++ {
		s.Send(ch, desc, prometheus.CounterValue, float64(i), labels)
	}
	s.Send(ch, gdesc, prometheus.GaugeValue, 7, labels)
	close(ch)
	if s.Len() != 21 {
		t.Fatalf("Len() = %d, want 21", s.Len())
	}
	i := 0
	for m := range ch {
		var out dto.Metric
		if err := m.Write(&out); err != nil {
			t.Fatal(err)
		}
		if i < 20 {
			if m.Desc() != desc || out.GetCounter().GetValue() != float64(i) {
				t.Errorf("metric %d = %v", i, &out)
			}
		} else if out.GetGauge().GetValue() != 7 {
			t.Errorf("gauge = %v", &out)
		}
		if len(out.Label) != 1 || out.Label[0].GetValue() != "mlx5_0" {
			t.Errorf("labels = %v", out.Label)
		}
		i++
	}
}

func TestSetLogsPersistentFailureOnce(t *testing.T) {
	var logs strings.Builder
	fail := true
	set := NewSet(slog.New(slog.NewTextHandler(&logs, nil)), map[string]Collector{
		"flaky": funcCollector(func(chan<- prometheus.Metric) error {
			if fail {
				return errors.New("no driver")
			}
			return nil
		}),
	})
	for i := 0; i < 3; i++ {
		testutil.CollectAndCount(set)
	}
	fail = false
	testutil.CollectAndCount(set)
	if n := strings.Count(logs.String(), "collector failed"); n != 1 {
		t.Errorf("persistent failure logged %d times, want once:\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), "collector recovered") {
		t.Errorf("recovery not logged:\n%s", logs.String())
	}
}

func TestLogOnce(t *testing.T) {
	var logs strings.Builder
	l := NewLogOnce(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	for i := 0; i < 3; i++ {
		l.Log("mlx5_0/symbol_error", "cannot read")
	}
	l.Log("mlx5_1/symbol_error", "cannot read")
	if w, d := strings.Count(logs.String(), "level=WARN"), strings.Count(logs.String(), "level=DEBUG"); w != 2 || d != 2 {
		t.Errorf("%d warnings and %d debug lines, want 2 and 2:\n%s", w, d, logs.String())
	}
}
