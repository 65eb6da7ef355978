package remotewrite

import (
	"math"
	"slices"
	"strconv"
	"strings"

	prompb "buf.build/gen/go/prometheus/prometheus/protocolbuffers/go"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/encoding/protowire"
)

// StaleNaN is Prometheus's staleness marker: a sample with this exact NaN
// value tells the receiver that the series ended (model/value.StaleNaN in the
// prometheus module).
const staleNaNBits uint64 = 0x7ff0000000000002

// StaleNaN returns the staleness marker value.
func StaleNaN() float64 { return math.Float64frombits(staleNaNBits) }

// IsStaleNaN reports whether v is the staleness marker.
func IsStaleNaN(v float64) bool { return math.Float64bits(v) == staleNaNBits }

// series is one labelled time series, interned between collections so that
// queued samples share their labels.
type series struct {
	key    string
	labels []*prompb.Label // sorted by name, __name__ and external labels included
	// size bounds the encoded size of one sample of the series alone in a
	// request: its TimeSeries with the labels and one Sample.
	size int
	// The WAL's id of the series and the segment that last declared it
	// (guarded by the WAL's lock).
	walID  uint64
	walSeg uint64
}

// maxSampleSize bounds an encoded prompb.Sample with its tag and length:
// a double (1+8) and a varint timestamp (1+10), framed (1+1).
const maxSampleSize = 2 + 9 + 11

// newSeries interns the labels ls, sorted by name.
func newSeries(key string, ls []pair) *series {
	s := &series{key: key, labels: make([]*prompb.Label, len(ls))}
	n := 0
	for i, l := range ls {
		s.labels[i] = &prompb.Label{Name: l.name, Value: l.value}
		m := protowire.SizeBytes(len(l.name)) + protowire.SizeBytes(len(l.value)) + 2 // two tags
		n += 1 + protowire.SizeBytes(m)
	}
	n += maxSampleSize
	s.size = 1 + protowire.SizeBytes(n)
	return s
}

// seriesKey is the interning key of sorted labels.
func seriesKey(key []byte, ls []pair) []byte {
	for _, l := range ls {
		key = append(key, l.name...)
		key = append(key, 0xff)
		key = append(key, l.value...)
		key = append(key, 0xfe)
	}
	return key
}

// sample is one value of a series; the timestamp is its unit's.
type sample struct {
	s *series
	v float64
}

// converter turns gathered metric families into samples, interning series:
// labels are allocated only for a series not seen in the last collection.
type converter struct {
	external []pair // sorted by name
	known    map[string]*series
	buf      []pair
	key      []byte
}

type pair struct{ name, value string }

func newConverter(external map[string]string) *converter {
	c := &converter{known: map[string]*series{}}
	for n, v := range external {
		if v != "" {
			c.external = append(c.external, pair{n, v})
		}
	}
	slices.SortFunc(c.external, func(a, b pair) int { return strings.Compare(a.name, b.name) })
	return c
}

// convert appends the samples of mfs to out; cur receives every series seen.
// Classic histograms and summaries become their _bucket/quantile, _sum and
// _count series, as Prometheus would store them after a scrape; native
// histogram buckets are not sent.
func (c *converter) convert(mfs []*dto.MetricFamily, cur map[string]*series, out []sample) []sample {
	for _, mf := range mfs {
		name := mf.GetName()
		for _, m := range mf.Metric {
			switch mf.GetType() {
			case dto.MetricType_COUNTER:
				out = c.add(cur, out, name, m, "", "", m.GetCounter().GetValue())
			case dto.MetricType_GAUGE:
				out = c.add(cur, out, name, m, "", "", m.GetGauge().GetValue())
			case dto.MetricType_UNTYPED:
				out = c.add(cur, out, name, m, "", "", m.GetUntyped().GetValue())
			case dto.MetricType_SUMMARY:
				s := m.GetSummary()
				for _, q := range s.Quantile {
					out = c.add(cur, out, name, m, "quantile", formatFloat(q.GetQuantile()), q.GetValue())
				}
				out = c.add(cur, out, name+"_sum", m, "", "", s.GetSampleSum())
				out = c.add(cur, out, name+"_count", m, "", "", float64(s.GetSampleCount()))
			case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM:
				h := m.GetHistogram()
				inf := false
				for _, b := range h.Bucket {
					if math.IsInf(b.GetUpperBound(), 1) {
						inf = true
					}
					out = c.add(cur, out, name+"_bucket", m, "le", formatFloat(b.GetUpperBound()), float64(b.GetCumulativeCount()))
				}
				if !inf {
					out = c.add(cur, out, name+"_bucket", m, "le", "+Inf", float64(h.GetSampleCount()))
				}
				out = c.add(cur, out, name+"_sum", m, "", "", h.GetSampleSum())
				out = c.add(cur, out, name+"_count", m, "", "", float64(h.GetSampleCount()))
			}
		}
	}
	return out
}

func formatFloat(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "+Inf"
	case math.IsInf(f, -1):
		return "-Inf"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// add appends one sample of the series name{m's labels, extraName=extraValue,
// external labels the series does not carry itself}.
func (c *converter) add(cur map[string]*series, out []sample, name string, m *dto.Metric, extraName, extraValue string, v float64) []sample {
	ls := append(c.buf[:0], pair{"__name__", name})
	for _, lp := range m.Label {
		if lp.GetValue() == "" {
			continue // an empty label is no label
		}
		ls = append(ls, pair{lp.GetName(), lp.GetValue()})
	}
	if extraName != "" {
		ls = append(ls, pair{extraName, extraValue})
	}
	own := len(ls)
	for _, e := range c.external {
		dup := false
		for _, l := range ls[:own] {
			if l.name == e.name {
				dup = true
				break
			}
		}
		if !dup {
			ls = append(ls, e)
		}
	}
	slices.SortFunc(ls, func(a, b pair) int { return strings.Compare(a.name, b.name) })
	c.buf = ls
	key := seriesKey(c.key[:0], ls)
	c.key = key
	s, ok := c.known[string(key)]
	if !ok {
		s = newSeries(string(key), ls)
	}
	cur[s.key] = s
	return append(out, sample{s: s, v: v})
}
