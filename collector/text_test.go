package collector

import (
	"bytes"
	"context"
	"log/slog"
	"math"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// textGauge is a gauge that writes itself as text.
type textGauge struct {
	desc  *prometheus.Desc
	fam   *TextFamily
	pairs []*dto.LabelPair
	text  SeriesLabels
	v     float64
}

func newTextGauge(name, help string, v float64, kv ...string) *textGauge {
	var pairs []*dto.LabelPair
	for i := 0; i < len(kv); i += 2 {
		pairs = append(pairs, &dto.LabelPair{Name: &kv[i], Value: &kv[i+1]})
	}
	return &textGauge{desc: prometheus.NewDesc(name, help, nil, nil), fam: NewTextFamily(name, help, dto.MetricType_GAUGE),
		pairs: pairs, text: NewSeriesLabels(pairs), v: v}
}

func (g *textGauge) Desc() *prometheus.Desc { return g.desc }
func (g *textGauge) Write(out *dto.Metric) error {
	out.Label, out.Gauge = g.pairs, &dto.Gauge{Value: &g.v}
	return nil
}
func (g *textGauge) TextFamily() *TextFamily              { return g.fam }
func (g *textGauge) TextLabels() ([]*dto.LabelPair, bool) { return g.pairs, g.text.OK() }
func (g *textGauge) AppendText(dst []byte) []byte         { return AppendValue(dst, g.fam, g.text, g.v) }

// sends is a collector of fixed metrics.
type sends []prometheus.Metric

func (s sends) Update(ch chan<- prometheus.Metric) error {
	for _, m := range s {
		ch <- m
	}
	return nil
}

var plainDesc = prometheus.NewDesc("m_plain", "Plain.", []string{"k"}, nil)

// page writes a TextGatherer's gather as the /metrics handler does.
func textGatherPage(t *testing.T, s *Set) (string, *TextPage) {
	t.Helper()
	tg := s.TextGatherer(context.Background())
	mfs, err := tg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	p := tg.Text()
	if mfs, err = p.Resolve(mfs); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	enc := expfmt.NewEncoder(&b, expfmt.NewFormat(expfmt.TypeTextPlain))
	p.Write(&b, mfs, enc.Encode, nil, func(err error) bool {
		if err != nil {
			t.Error(err)
		}
		return false
	})
	return b.String(), p
}

func dtoPage(t *testing.T, s *Set) string {
	t.Helper()
	mfs, err := s.Gatherer(context.Background()).Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	enc := expfmt.NewEncoder(&b, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}

// TestTextGathererWritesTextMetrics: the set's TextMetrics are not
// gathered into messages but written by themselves, in their place among
// the families, and the page is the one the registry and expfmt make.
func TestTextGathererWritesTextMetrics(t *testing.T) {
	s := NewSet(slog.New(slog.DiscardHandler), map[string]Collector{
		"a": sends{
			newTextGauge("m_text", "Text \\ help\nline.", 2, "a", "x", "b", "2"),
			newTextGauge("m_text", "Text \\ help\nline.", math.NaN(), "a", "y\"\n\\", "b", "1"),
			newTextGauge("m_text", "Text \\ help\nline.", math.Inf(-1), "a", "x", "b", "1"),
			newTextGauge("a_text", "First.", 1e-7),
			prometheus.MustNewConstMetric(plainDesc, prometheus.GaugeValue, 3, "v"),
		},
	})
	tg := s.TextGatherer(context.Background())
	mfs, err := tg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if strings.HasSuffix(mf.GetName(), "_text") {
			t.Errorf("%s gathered into messages", mf.GetName())
		}
	}
	if n := tg.Text().Len(); n != 4 {
		t.Errorf("%d text metrics, want 4", n)
	}
	got, _ := textGatherPage(t, s)
	// The durations differ between the two collections: compare the rest.
	strip := func(p string) string {
		var keep []string
		for _, l := range strings.Split(p, "\n") {
			if !strings.HasPrefix(l, "llm_exporter_collector_duration_seconds{") {
				keep = append(keep, l)
			}
		}
		return strings.Join(keep, "\n")
	}
	if want := dtoPage(t, s); strip(got) != strip(want) {
		t.Errorf("text path:\n%s\ndto path:\n%s", got, want)
	}
	if !strings.HasPrefix(got, "# HELP a_text First.\n# TYPE a_text gauge\na_text 1e-07\n") {
		t.Errorf("families out of order:\n%s", got)
	}
}

// TestTextPageKeepsFamiliesWhole: a family a plain metric also belongs to,
// or one of whose metrics cannot be written as text, is gathered whole from
// Write: never split across the two paths, never written twice.
func TestTextPageKeepsFamiliesWhole(t *testing.T) {
	s := NewSet(slog.New(slog.DiscardHandler), map[string]Collector{
		"a": sends{
			newTextGauge("m_plain", "Plain.", 1, "k", "text"),
			newTextGauge("m_odd", "Odd.", 1, "k", "fine"),
			newTextGauge("m_odd", "Odd.", 2, "k.dotted", "a name the text path does not write"),
			newTextGauge("m_ok", "OK.", 3),
		},
		"b": sends{prometheus.MustNewConstMetric(plainDesc, prometheus.GaugeValue, 3, "dto")},
	})
	got, p := textGatherPage(t, s)
	if n := p.Len(); n != 1 {
		t.Errorf("%d metrics written as text, want 1 (m_ok)", n)
	}
	for _, fam := range []string{"m_plain", "m_odd", "m_ok"} {
		if n := strings.Count(got, "# TYPE "+fam+" "); n != 1 {
			t.Errorf("family %s: %d TYPE lines:\n%s", fam, n, got)
		}
	}
	for _, want := range []string{`m_plain{k="dto"} 3`, `m_plain{k="text"} 1`, `m_odd{k="fine"} 1`, "m_ok 3"} {
		if !strings.Contains(got, want+"\n") {
			t.Errorf("page lacks %s:\n%s", want, got)
		}
	}
	p.Release()
	if p.Len() != 0 {
		t.Error("released page not empty")
	}
}

// TestTextGathererKeepsEveryFormatsSeries: the dto Gatherer of the same set
// (protobuf scrapes, push mode) still gathers the TextMetrics.
func TestTextGathererKeepsEveryFormatsSeries(t *testing.T) {
	s := NewSet(slog.New(slog.DiscardHandler), map[string]Collector{"a": sends{newTextGauge("m_text", "T.", 1)}})
	mfs, err := s.Gatherer(context.Background()).Gather()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, mf := range mfs {
		found = found || mf.GetName() == "m_text"
	}
	if !found {
		t.Error("the dto path lost the text metric")
	}
}

// TestAppendFloatAsExpfmt: values are spelled as expfmt spells them.
func TestAppendFloatAsExpfmt(t *testing.T) {
	for _, v := range []float64{0, 1, -1, math.NaN(), math.Inf(1), math.Inf(-1), 1e-300, 1.7976931348623157e308,
		0.1, 1e21, 123456789012, -0.0, 5e-324, 3.14159} {
		vv := v
		mf := &dto.MetricFamily{Name: ptr("x"), Type: dto.MetricType_GAUGE.Enum(), Metric: []*dto.Metric{{Gauge: &dto.Gauge{Value: &vv}}}}
		var b bytes.Buffer
		if _, err := expfmt.MetricFamilyToText(&b, mf); err != nil {
			t.Fatal(err)
		}
		want := strings.TrimPrefix(b.String(), "# TYPE x gauge\nx ")
		if got := string(AppendFloat(nil, v)) + "\n"; got != want {
			t.Errorf("%v: %q, expfmt %q", v, got, want)
		}
	}
}

func ptr(s string) *string { return &s }
