package engine

import (
	"hash/maphash"
	"math"
	"slices"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/llm-node-exporter/llm-node-exporter/collector"
)

// passJoinLabels are added to every passthrough series; a page's own label
// of the same name is kept as exported_<name>, as Prometheus does.
var passJoinLabels = []string{"namespace", "pod", "container"}

// ReservedPrefixes are the name prefixes of the exporter's own families: its
// llm_* series, and the Go runtime, process and promhttp metrics of its own
// /metrics. An engine family starting with one is passed through as
// exported_<name>, so that it never collides with the exporter's.
var ReservedPrefixes = []string{"llm_", "process_", "go_", "promhttp_"}

// exportedPrefix is what Prometheus prepends to a label that clashes with a
// target label; the passthrough uses it for clashing family names too.
const exportedPrefix = "exported_"

func reserved(name string) bool {
	for _, p := range ReservedPrefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// passFamily is the passthrough's view of a family name.
type passFamily struct {
	typ     famType // the type the rest was computed for; typeNone: not yet
	name    string  // the name it is served under
	renamed bool    // the engine's name clashed with the exporter's
	skip    bool    // not representable (gauge histograms)
	vt      prometheus.ValueType
	desc    *prometheus.Desc
	text    *collector.TextFamily
}

func (f *famEntry) passOf() *passFamily {
	p := &f.pass
	if p.typ == f.typ && p.desc != nil || p.typ == f.typ && p.skip {
		return p
	}
	*p = passFamily{typ: f.typ, name: f.name}
	switch f.typ {
	case typeCounter:
		p.vt = prometheus.CounterValue
		if !strings.HasSuffix(p.name, "_total") {
			p.name += "_total" // OpenMetrics names the family without it
		}
	case typeInfo:
		p.vt = prometheus.GaugeValue
		if !strings.HasSuffix(p.name, "_info") {
			p.name += "_info" // OpenMetrics names the family without it
		}
	case typeGauge, typeStateset:
		p.vt = prometheus.GaugeValue
	case typeUntyped, typeNone:
		p.vt = prometheus.UntypedValue
	case typeHistogram, typeSummary:
	default:
		p.skip = true // gauge histograms have no classic exposition
		return p
	}
	if reserved(p.name) {
		p.name = exportedPrefix + p.name
		p.renamed = true
	}
	help := "Passthrough of the engine's " + p.name + " with the join labels added."
	p.desc = prometheus.NewDesc(p.name, help, nil, nil)
	typ := dto.MetricType_UNTYPED
	switch {
	case f.typ == typeHistogram:
		typ = dto.MetricType_HISTOGRAM
	case f.typ == typeSummary:
		typ = dto.MetricType_SUMMARY // not written as text: summaryMetric is no TextMetric
	case p.vt == prometheus.CounterValue:
		typ = dto.MetricType_COUNTER
	case p.vt == prometheus.GaugeValue:
		typ = dto.MetricType_GAUGE
	}
	p.text = collector.NewTextFamily(p.name, help, typ)
	return p
}

// passCache is what the passthrough keeps on a source series.
type passCache struct {
	built   bool
	skip    bool // a label the exposition cannot carry (a name starting with __)
	renamed bool // a page label was renamed exported_<name>
	pairs   []*dto.LabelPair
	key     *seriesKey // with the family's Desc it was made for
	hash    uint64
	name    string // the family name the hash was computed with
	hist    histExpo
}

// passItem is one passthrough series of a page.
type passItem struct {
	metric prometheus.Metric
	name   string
	typ    famType
	hash   uint64
}

// passCounts are the passthrough's per page counts.
type passCounts struct {
	familyRenamed, labelRenamed, skipped, invalid int
}

// passthrough re-exports every source series of the page under its own name
// with the target's namespace, pod and container added (those of them that
// are not empty, as target labels are). Values are copied into this page's
// own storage: the items stay valid after the next page.
func passthrough(ps *pageState, join *JoinLabels, seed maphash.Seed, items []passItem) ([]passItem, passCounts) {
	var c passCounts
	targetLabels := [...]string{join.Namespace, join.Pod, join.Container}
	var floats []float64
	var uints []uint64
	// The page's metrics, in two slabs sized by the last page.
	vals := make([]valueMetric, 0, ps.passVals)
	hists := make([]histMetric, 0, ps.passHists)
	defer func() { ps.passVals, ps.passHists = max(ps.passVals, len(vals)), max(ps.passHists, len(hists)) }()
	for _, f := range ps.order {
		pf := f.passOf()
		if pf.skip {
			continue
		}
		for _, s := range f.metrics {
			if s.typ != f.typ {
				continue
			}
			pc := &s.pass
			if !pc.built || pc.name != pf.name {
				buildPassLabels(pc, s, targetLabels[:], pf.name, seed)
			}
			if pc.skip {
				c.skipped++
				continue
			}
			var m prometheus.Metric
			switch f.typ {
			case typeHistogram:
				if !validHistogram(s, false) {
					if !s.invalid {
						c.invalid++
					}
					continue
				}
				floats, uints = floats[:0], uints[:0]
				for _, b := range s.bounds {
					if !isInf(b.at) {
						floats = append(floats, b.at)
						uints = append(uints, uint64(b.value))
					}
				}
				hists = append(hists, histMetric{pc.keyFor(pf), pc.hist.written(uint64(s.count), s.sum, floats, uints)})
				m = &hists[len(hists)-1]
			case typeSummary:
				if s.hasCount && !isCount(s.count) {
					c.invalid++
					continue
				}
				sortBounds(s.bounds)
				m = &summaryMetric{desc: pf.desc, labels: pc.pairs, s: summaryDTO(uint64(s.count), s.sum, s.bounds)}
			default:
				if !s.hasValue {
					continue
				}
				vals = append(vals, valueMetric{pc.keyFor(pf), pf.vt, s.value})
				m = &vals[len(vals)-1]
			}
			if pf.renamed {
				c.familyRenamed++
			}
			if pc.renamed {
				c.labelRenamed++
			}
			items = append(items, passItem{metric: m, name: pf.name, typ: f.typ, hash: pc.hash})
		}
	}
	return items, c
}

func isInf(f float64) bool { return math.IsInf(f, 0) }

// keyFor returns the series' key for its family as it is now (its type,
// hence its Desc, may change under the same name).
func (pc *passCache) keyFor(pf *passFamily) *seriesKey {
	if pc.key == nil || pc.key.desc != pf.desc {
		pc.key = newSeriesKey(pf.desc, pf.text, pc.pairs)
	}
	return pc.key
}

// buildPassLabels computes a source series' passthrough label pairs: the
// page's labels, empty ones left out (Prometheus treats them as absent), a
// page label that clashes with a target label renamed exported_<name> (and
// again while that name is taken, as Prometheus does), then the target labels.
func buildPassLabels(pc *passCache, s *srcMetric, targetLabels []string, name string, seed maphash.Seed) {
	*pc = passCache{built: true, name: name, hist: pc.hist}
	var names, values []string
	taken := func(n string) bool {
		for i, t := range passJoinLabels {
			if t == n && targetLabels[i] != "" {
				return true
			}
		}
		v, _ := s.label(n)
		return v != ""
	}
	for _, l := range s.labels {
		if l.Value == "" {
			continue
		}
		if strings.HasPrefix(l.Name, "__") {
			pc.skip = true
			return
		}
		n := l.Name
		for i, t := range passJoinLabels {
			if t == n && targetLabels[i] != "" {
				n = exportedPrefix + n
				for taken(n) || slices.Contains(names, n) {
					n = exportedPrefix + n
				}
				pc.renamed = true
			}
		}
		names = append(names, n)
		values = append(values, l.Value)
	}
	for i, t := range passJoinLabels {
		if targetLabels[i] != "" {
			names = append(names, t)
			values = append(values, targetLabels[i])
		}
	}
	pc.pairs = labelPairs(names, values)
	pc.hash = seriesHash(seed, name, pc.pairs)
}
