package engine

import (
	"hash/maphash"
	"math"
	"slices"
	"sort"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/llm-node-exporter/llm-node-exporter/collector"
)

// The collector's series are its own prometheus.Metric types: their label
// pairs are built once per series and reused by every scrape (the registry
// treats a written metric's labels as immutable), and one scrape's values
// are never written again once handed out, so concurrent scrapes can share
// them.

// valueMetric is a counter, gauge or untyped sample. It writes itself in
// the text format (collector.TextMetric) from the labels and value Write
// hands out; the value's message is made only when a registry asks for it
// (a protobuf scrape, push mode), so the text path allocates none.
type valueMetric struct {
	*seriesKey
	vt prometheus.ValueType
	v  float64
}

// seriesKey is what one series' metrics share across scrapes: its Desc,
// text family, label pairs and their text. It is never changed once made:
// a series whose labels or family change gets a new one.
type seriesKey struct {
	desc   *prometheus.Desc
	fam    *collector.TextFamily
	labels []*dto.LabelPair
	text   collector.SeriesLabels
	hash   uint64 // a normalised series' identity, for send's check across targets
}

func newSeriesKey(desc *prometheus.Desc, fam *collector.TextFamily, pairs []*dto.LabelPair) *seriesKey {
	return &seriesKey{desc: desc, fam: fam, labels: pairs, text: collector.NewSeriesLabels(pairs)}
}

func (k *seriesKey) Desc() *prometheus.Desc { return k.desc }

func (k *seriesKey) TextFamily() *collector.TextFamily { return k.fam }

func (k *seriesKey) TextLabels() ([]*dto.LabelPair, bool) { return k.labels, k.text.OK() }

func (m *valueMetric) Write(out *dto.Metric) error {
	out.Label = m.labels
	switch m.vt {
	case prometheus.CounterValue:
		b := &counterBox{v: m.v}
		b.c.Value = &b.v
		out.Counter = &b.c
	case prometheus.GaugeValue:
		b := &gaugeBox{v: m.v}
		b.g.Value = &b.v
		out.Gauge = &b.g
	default:
		b := &untypedBox{v: m.v}
		b.u.Value = &b.v
		out.Untyped = &b.u
	}
	return nil
}

func (m *valueMetric) AppendText(dst []byte) []byte {
	return collector.AppendValue(dst, m.fam, m.text, m.v)
}

// The value messages with their value, one allocation each.
type counterBox struct {
	c dto.Counter
	v float64
}

type gaugeBox struct {
	g dto.Gauge
	v float64
}

type untypedBox struct {
	u dto.Untyped
	v float64
}

// histMetric is a classic histogram. It keeps the values only: the text
// path writes them as they are, and a message is built when a registry asks
// (protobuf scrapes, push), so a histogram that changed costs its counts,
// not a message per bucket.
type histMetric struct {
	*seriesKey
	h *histValues
}

func (m *histMetric) AppendText(dst []byte) []byte {
	return collector.AppendHistogramValues(dst, m.fam, m.text, m.h.count, m.h.sum, m.h.bounds, m.h.counts)
}

func (m *histMetric) Write(out *dto.Metric) error {
	out.Label = m.labels
	out.Histogram = m.h.message()
	return nil
}

// histValues is one histogram as read: count, sum and its finite buckets
// (+Inf is the count). Never changed once built: a scrape still writing the
// last collection may hold it.
type histValues struct {
	count  uint64
	sum    float64
	bounds []float64
	counts []uint64

	once sync.Once // the message, built on the first Write only
	msg  *dto.Histogram
}

type histBox struct {
	h     dto.Histogram
	count uint64
	sum   float64
}

type bucketBox struct {
	b     dto.Bucket
	at    float64
	count uint64
}

// message returns the histogram's message, built once: scrapes sharing a
// collection write its metrics concurrently, and an unchanged histogram is
// the same values from scrape to scrape.
func (v *histValues) message() *dto.Histogram {
	v.once.Do(v.build)
	return v.msg
}

func (v *histValues) build() {
	hb := &histBox{count: v.count, sum: v.sum}
	hb.h.SampleCount, hb.h.SampleSum = &hb.count, &hb.sum
	if n := len(v.bounds); n > 0 {
		boxes := make([]bucketBox, n)
		ptrs := make([]*dto.Bucket, n)
		for i := range boxes {
			b := &boxes[i]
			b.at, b.count = v.bounds[i], v.counts[i]
			b.b.UpperBound, b.b.CumulativeCount = &b.at, &b.count
			ptrs[i] = &b.b
		}
		hb.h.Bucket = ptrs
	}
	v.msg = &hb.h
}

// histExpo keeps a histogram's last values: unchanged, they are written
// again as they are; changed, the bounds are kept when they did not change.
type histExpo struct {
	last *histValues
}

// written returns the histogram's values (count, sum, finite buckets),
// sharing what did not change since the last scrape. bounds and counts may
// be the caller's scratch: they are copied.
func (e *histExpo) written(count uint64, sum float64, bounds []float64, counts []uint64) *histValues {
	l := e.last
	sameBounds := l != nil && slices.Equal(l.bounds, bounds)
	if sameBounds && l.count == count && math.Float64bits(l.sum) == math.Float64bits(sum) && slices.Equal(l.counts, counts) {
		return l
	}
	v := &histValues{count: count, sum: sum}
	if sameBounds {
		v.bounds = l.bounds
	} else if len(bounds) > 0 {
		v.bounds = slices.Clone(bounds)
	}
	if len(counts) > 0 {
		v.counts = slices.Clone(counts)
	}
	e.last = v
	return v
}

// summaryMetric is a summary (passthrough only), written as built.
type summaryMetric struct {
	desc   *prometheus.Desc
	labels []*dto.LabelPair
	s      *dto.Summary
}

func (m *summaryMetric) Desc() *prometheus.Desc { return m.desc }

func (m *summaryMetric) Write(out *dto.Metric) error {
	out.Label = m.labels
	out.Summary = m.s
	return nil
}

type summaryBox struct {
	s     dto.Summary
	count uint64
	sum   float64
}

// summaryDTO builds a summary message.
func summaryDTO(count uint64, sum float64, quantiles []bound) *dto.Summary {
	b := &summaryBox{count: count, sum: sum}
	b.s.SampleCount, b.s.SampleSum = &b.count, &b.sum
	if n := len(quantiles); n > 0 {
		qs := make([]dto.Quantile, n)
		vals := make([]float64, 2*n)
		ptrs := make([]*dto.Quantile, n)
		for i, q := range quantiles {
			vals[2*i], vals[2*i+1] = q.at, q.value
			qs[i].Quantile, qs[i].Value = &vals[2*i], &vals[2*i+1]
			ptrs[i] = &qs[i]
		}
		b.s.Quantile = ptrs
	}
	return &b.s
}

// labelPairs builds sorted label pairs from names and values.
func labelPairs(names, values []string) []*dto.LabelPair {
	pairs := make([]dto.LabelPair, len(names))
	out := make([]*dto.LabelPair, len(names))
	for i := range names {
		pairs[i].Name = &names[i]
		pairs[i].Value = &values[i]
		out[i] = &pairs[i]
	}
	sort.Slice(out, func(i, j int) bool { return *out[i].Name < *out[j].Name })
	return out
}

// seriesHash identifies a series by name and label pairs, for the check that
// two targets do not send the same one.
func seriesHash(seed maphash.Seed, name string, pairs []*dto.LabelPair) uint64 {
	var h maphash.Hash
	h.SetSeed(seed)
	h.WriteString(name)
	for _, p := range pairs {
		h.WriteByte(0xff)
		h.WriteString(*p.Name)
		h.WriteByte(0xfe)
		h.WriteString(*p.Value)
	}
	return h.Sum64()
}

// groupExpo is what the exposition of one normalised series keeps across
// scrapes.
type groupExpo struct {
	key    *seriesKey
	tp     string // the tp_rank the pairs were built with
	bounds []float64
	hist   histExpo
}

// sharedBounds returns the bounds the series had last time when they are
// the same, so a steady histogram allocates none.
func (e *groupExpo) sharedBounds(b []float64) []float64 {
	if len(b) == 0 {
		return nil
	}
	if !slices.Equal(e.bounds, b) {
		e.bounds = slices.Clone(b)
	}
	return e.bounds
}

// normalisedNames are the label names of a family's series, in the order of
// outSeries.labels.
func normalisedNames(f *family) []string {
	if len(f.extra) == 0 {
		return baseLabelNames
	}
	return append(append([]string{}, baseLabelNames...), f.extra...)
}

// pairsOf returns the label pairs of a normalised series from its group's
// cache, rebuilding them when the kept tp_rank changed.
func (g *group) keyOf(o *outSeries, seed maphash.Seed, desc *prometheus.Desc, fam *collector.TextFamily) *seriesKey {
	e := &g.expo
	if e.key == nil || e.tp != o.labels[lTPRank] {
		names := normalisedNames(g.fam)
		values := make([]string, len(names))
		copy(values, o.labels[:len(names)])
		pairs := labelPairs(names, values)
		e.key = newSeriesKey(desc, fam, pairs)
		e.key.hash = seriesHash(seed, "llm_engine_"+g.fam.name, pairs)
		e.tp = o.labels[lTPRank]
	}
	return e.key
}
