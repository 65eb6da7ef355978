package remotewrite

import (
	"math"
	"sort"
	"strconv"
	"strings"

	prompb "buf.build/gen/go/prometheus/prometheus/protocolbuffers/go"
	dto "github.com/prometheus/client_model/go"
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
}

// sample is one value of a series; the timestamp is its unit's.
type sample struct {
	s *series
	v float64
}

// converter turns gathered metric families into samples, interning series.
type converter struct {
	external []*prompb.Label // sorted by name
	known    map[string]*series
	buf      []*prompb.Label
	key      strings.Builder
}

func newConverter(external map[string]string) *converter {
	c := &converter{known: map[string]*series{}}
	for n, v := range external {
		if v != "" {
			c.external = append(c.external, &prompb.Label{Name: n, Value: v})
		}
	}
	sort.Slice(c.external, func(i, j int) bool { return c.external[i].Name < c.external[j].Name })
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
	ls := c.buf[:0]
	ls = append(ls, &prompb.Label{Name: "__name__", Value: name})
	for _, lp := range m.Label {
		if lp.GetValue() == "" {
			continue // an empty label is no label
		}
		ls = append(ls, &prompb.Label{Name: lp.GetName(), Value: lp.GetValue()})
	}
	if extraName != "" {
		ls = append(ls, &prompb.Label{Name: extraName, Value: extraValue})
	}
	own := len(ls)
	for _, e := range c.external {
		dup := false
		for _, l := range ls[:own] {
			if l.Name == e.Name {
				dup = true
				break
			}
		}
		if !dup {
			ls = append(ls, e)
		}
	}
	sort.Slice(ls, func(i, j int) bool { return ls[i].Name < ls[j].Name })
	c.key.Reset()
	for _, l := range ls {
		c.key.WriteString(l.Name)
		c.key.WriteByte(0xff)
		c.key.WriteString(l.Value)
		c.key.WriteByte(0xfe)
	}
	key := c.key.String()
	c.buf = ls
	s, ok := c.known[key]
	if !ok {
		s = &series{key: key, labels: append([]*prompb.Label(nil), ls...)}
		c.known[key] = s
	}
	cur[key] = s
	return append(out, sample{s: s, v: v})
}
