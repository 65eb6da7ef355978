package engine

import (
	"math"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// passJoinLabels are added to every passthrough series; a page's own label
// of the same name is kept as exported_<name>, as Prometheus does.
var passJoinLabels = []string{"namespace", "pod", "container"}

// maxPassDescs bounds the cache of passthrough descriptors.
const maxPassDescs = 16384

// sendPassthrough re-exports every family of the page under its own name
// with the join labels added. A family whose type differs from the one
// already sent under that name by another target is skipped: one engine
// version's page must not fail the whole exposition.
func (c *Collector) sendPassthrough(ch chan<- prometheus.Metric, st *targetState, seen map[uint64]struct{}, types map[string]dto.MetricType) {
	join := []string{st.target.Labels.Namespace, st.target.Labels.Pod, st.target.Labels.Container}
	var names, values []string
	for _, f := range st.fams {
		name := f.GetName()
		typ := f.GetType()
		var vt prometheus.ValueType
		switch typ {
		case dto.MetricType_COUNTER:
			vt = prometheus.CounterValue
			if !strings.HasSuffix(name, "_total") {
				name += "_total" // OpenMetrics names the family without it
			}
		case dto.MetricType_GAUGE:
			vt = prometheus.GaugeValue
		case dto.MetricType_UNTYPED:
			vt = prometheus.UntypedValue
		case dto.MetricType_HISTOGRAM, dto.MetricType_SUMMARY:
		default:
			continue // gauge histograms have no classic exposition
		}
		if strings.HasPrefix(name, "llm_") {
			continue // never shadow the exporter's own families
		}
		if t, ok := types[name]; ok && t != typ {
			continue
		}
		types[name] = typ
		for _, m := range f.Metric {
			if m == nil {
				continue
			}
			names, values = names[:0], values[:0]
			for _, lp := range m.Label {
				n := lp.GetName()
				for _, j := range passJoinLabels {
					if n == j {
						n = "exported_" + n
						break
					}
				}
				names = append(names, n)
				values = append(values, lp.GetValue())
			}
			names = append(names, passJoinLabels...)
			values = append(values, join...)
			if !c.fresh(seen, name, append(append([]string{}, names...), values...)) {
				continue
			}
			desc := c.passDesc(name, names)
			var metric prometheus.Metric
			var err error
			switch typ {
			case dto.MetricType_HISTOGRAM:
				h := m.Histogram
				if h == nil {
					continue
				}
				buckets := make(map[float64]uint64, len(h.Bucket))
				for _, b := range h.Bucket {
					if ub := b.GetUpperBound(); !math.IsInf(ub, +1) && !math.IsNaN(ub) {
						buckets[ub] = b.GetCumulativeCount()
					}
				}
				metric, err = prometheus.NewConstHistogram(desc, h.GetSampleCount(), h.GetSampleSum(), buckets, values...)
			case dto.MetricType_SUMMARY:
				s := m.Summary
				if s == nil {
					continue
				}
				q := make(map[float64]float64, len(s.Quantile))
				for _, x := range s.Quantile {
					q[x.GetQuantile()] = x.GetValue()
				}
				metric, err = prometheus.NewConstSummary(desc, s.GetSampleCount(), s.GetSampleSum(), q, values...)
			default:
				var v float64
				switch {
				case m.Counter != nil:
					v = m.Counter.GetValue()
				case m.Gauge != nil:
					v = m.Gauge.GetValue()
				case m.Untyped != nil:
					v = m.Untyped.GetValue()
				default:
					continue
				}
				metric, err = prometheus.NewConstMetric(desc, vt, v, values...)
			}
			if err == nil {
				ch <- metric
			}
		}
	}
}

// passDesc returns the (cached) descriptor of a passthrough family with these labels.
func (c *Collector) passDesc(name string, labels []string) *prometheus.Desc {
	key := name + "\xff" + strings.Join(labels, "\xff")
	if d, ok := c.passDescs[key]; ok {
		return d
	}
	if len(c.passDescs) >= maxPassDescs {
		clear(c.passDescs)
	}
	d := prometheus.NewDesc(name, "Passthrough of the engine's "+name+" with the join labels added.", append([]string{}, labels...), nil)
	c.passDescs[key] = d
	return d
}
