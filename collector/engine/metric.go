package engine

import (
	"hash/maphash"
	"slices"
	"sort"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// The collector's series are its own prometheus.Metric types: their label
// pairs are built once per series and reused by every scrape (the registry
// treats a written metric's labels as immutable), and one scrape's values
// are never written again once handed out, so concurrent scrapes can share
// them.

// valueMetric is a counter, gauge or untyped sample.
type valueMetric struct {
	desc   *prometheus.Desc
	labels []*dto.LabelPair
	vt     prometheus.ValueType
	value  float64
}

func (m *valueMetric) Desc() *prometheus.Desc { return m.desc }

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

func (m *valueMetric) Write(out *dto.Metric) error {
	out.Label = m.labels
	switch m.vt {
	case prometheus.CounterValue:
		b := &counterBox{v: m.value}
		b.c.Value = &b.v
		out.Counter = &b.c
	case prometheus.GaugeValue:
		b := &gaugeBox{v: m.value}
		b.g.Value = &b.v
		out.Gauge = &b.g
	default:
		b := &untypedBox{v: m.value}
		b.u.Value = &b.v
		out.Untyped = &b.u
	}
	return nil
}

// histMetric is a classic histogram; +Inf is its count.
type histMetric struct {
	desc   *prometheus.Desc
	labels []*dto.LabelPair
	count  uint64
	sum    float64
	bounds []float64 // increasing, finite; shared and never written
	counts []uint64  // cumulative; this scrape's, never written again
}

func (m *histMetric) Desc() *prometheus.Desc { return m.desc }

type histBox struct {
	h     dto.Histogram
	count uint64
	sum   float64
}

func (m *histMetric) Write(out *dto.Metric) error {
	out.Label = m.labels
	b := &histBox{count: m.count, sum: m.sum}
	b.h.SampleCount, b.h.SampleSum = &b.count, &b.sum
	if n := len(m.bounds); n > 0 {
		buckets := make([]dto.Bucket, n)
		ptrs := make([]*dto.Bucket, n)
		for i := range buckets {
			buckets[i].UpperBound = &m.bounds[i]
			buckets[i].CumulativeCount = &m.counts[i]
			ptrs[i] = &buckets[i]
		}
		b.h.Bucket = ptrs
	}
	out.Histogram = &b.h
	return nil
}

// summaryMetric is a summary (passthrough only).
type summaryMetric struct {
	desc      *prometheus.Desc
	labels    []*dto.LabelPair
	count     uint64
	sum       float64
	quantiles []float64 // increasing; shared and never written
	values    []float64 // this scrape's
}

func (m *summaryMetric) Desc() *prometheus.Desc { return m.desc }

type summaryBox struct {
	s     dto.Summary
	count uint64
	sum   float64
}

func (m *summaryMetric) Write(out *dto.Metric) error {
	out.Label = m.labels
	b := &summaryBox{count: m.count, sum: m.sum}
	b.s.SampleCount, b.s.SampleSum = &b.count, &b.sum
	if n := len(m.quantiles); n > 0 {
		qs := make([]dto.Quantile, n)
		ptrs := make([]*dto.Quantile, n)
		for i := range qs {
			qs[i].Quantile = &m.quantiles[i]
			qs[i].Value = &m.values[i]
			ptrs[i] = &qs[i]
		}
		b.s.Quantile = ptrs
	}
	out.Summary = &b.s
	return nil
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
	pairs  []*dto.LabelPair
	tp     string // the tp_rank the pairs were built with
	hash   uint64
	bounds []float64
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
	if f.extra == "" {
		return baseLabelNames
	}
	return append(append([]string{}, baseLabelNames...), f.extra)
}

// pairsOf returns the label pairs of a normalised series from its group's
// cache, rebuilding them when the kept tp_rank changed.
func (g *group) pairsOf(o *outSeries, seed maphash.Seed) ([]*dto.LabelPair, uint64) {
	e := &g.expo
	if e.pairs == nil || e.tp != o.labels[lTPRank] {
		names := normalisedNames(g.fam)
		values := make([]string, len(names))
		copy(values, o.labels[:len(names)])
		e.pairs = labelPairs(names, values)
		e.tp = o.labels[lTPRank]
		e.hash = seriesHash(seed, "llm_engine_"+g.fam.name, e.pairs)
	}
	return e.pairs, e.hash
}
