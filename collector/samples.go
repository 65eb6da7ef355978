package collector

import (
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Samples hands out prometheus.Metric values from one allocation per scrape
// instead of one constMetric (plus label pairs) per series: an 8-port node has
// hundreds of counters and the scrape path should not feed the GC for each.
// Label pairs are supplied by the caller, already sorted by name, and are
// typically cached per device across scrapes (see prometheus.MakeLabelPairs).
//
// A Samples must not be reused after the scrape that filled it: the gathered
// dto.Metric values point into it until they are encoded.
type Samples struct {
	chunk []sample
	sent  int
}

// NewSamples returns a batch with room for n metrics; it grows if needed.
func NewSamples(n int) *Samples {
	return &Samples{chunk: make([]sample, 0, n)}
}

// Send adds a metric to the batch and sends it on ch.
func (s *Samples) Send(ch chan<- prometheus.Metric, desc *prometheus.Desc, typ prometheus.ValueType, value float64, labels []*dto.LabelPair) {
	if len(s.chunk) == cap(s.chunk) {
		// Start a new chunk; metrics already sent keep pointing into the old one.
		s.chunk = make([]sample, 0, max(2*cap(s.chunk), 16))
	}
	s.chunk = s.chunk[:len(s.chunk)+1]
	m := &s.chunk[len(s.chunk)-1]
	m.desc, m.typ, m.value, m.labels = desc, typ, value, labels
	// Point the value holders at the value now, so Write only reads: the
	// same metric may be written by overlapping scrapes sharing a collection.
	m.counter.Value = &m.value
	m.gauge.Value = &m.value
	s.sent++
	ch <- m
}

// Len is the number of metrics sent; callers use it to size the next
// scrape's batch so that a steady scrape is one allocation.
func (s *Samples) Len() int { return s.sent }

type sample struct {
	desc   *prometheus.Desc
	typ    prometheus.ValueType
	value  float64
	labels []*dto.LabelPair
	// Embedded so Write allocates nothing.
	counter dto.Counter
	gauge   dto.Gauge
}

func (m *sample) Desc() *prometheus.Desc { return m.desc }

func (m *sample) Write(out *dto.Metric) error {
	out.Label = m.labels
	switch m.typ {
	case prometheus.CounterValue:
		out.Counter = &m.counter
	case prometheus.GaugeValue:
		out.Gauge = &m.gauge
	default:
		out.Untyped = &dto.Untyped{Value: &m.value}
	}
	return nil
}
