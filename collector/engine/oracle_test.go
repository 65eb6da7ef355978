package engine

// The oracle of the differential tests: a page read by prometheus/common's
// expfmt into dto.MetricFamily trees, as the collector did before it parsed
// with Prometheus's textparse, and normalised by walking those trees. It is
// written apart from the streaming normaliser and shares only the table.

import (
	"bytes"
	"errors"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// oracleFormat asks expfmt for UTF-8 names, as a Prometheus server accepts them.
func oracleFormat(format pageFormat) expfmt.Format {
	if format == formatOpenMetrics {
		return expfmt.FmtOpenMetrics_1_0_0 + "; escaping=allow-utf-8"
	}
	return expfmt.FmtText + "; escaping=allow-utf-8"
}

// oracleParse decodes a whole page with expfmt.
func oracleParse(page []byte, format pageFormat) ([]*dto.MetricFamily, error) {
	dec := expfmt.NewDecoder(bytes.NewReader(page), oracleFormat(format))
	var fams []*dto.MetricFamily
	for {
		f := &dto.MetricFamily{}
		err := dec.Decode(f)
		if errors.Is(err, io.EOF) {
			// The text decoder hands families out of a map: give them in name order.
			sort.Slice(fams, func(i, j int) bool { return fams[i].GetName() < fams[j].GetName() })
			return fams, nil
		}
		if err != nil {
			return nil, err
		}
		fams = append(fams, f)
	}
}

func oracleType(t dto.MetricType) famType {
	switch t {
	case dto.MetricType_COUNTER:
		return typeCounter
	case dto.MetricType_GAUGE:
		return typeGauge
	case dto.MetricType_HISTOGRAM:
		return typeHistogram
	case dto.MetricType_GAUGE_HISTOGRAM:
		return typeGaugeHistogram
	case dto.MetricType_SUMMARY:
		return typeSummary
	}
	return typeUntyped
}

// oracleMember is one source series as the oracle reads it from a dto.Metric.
type oracleMember struct {
	labels  map[string]string
	rank    [3]int64
	tp      string
	value   float64
	count   float64
	sum     float64
	buckets []bound
	// rawBuckets is how many finite buckets the source printed, before a
	// conversion left any out.
	rawBuckets int
}

type oracleGroup struct {
	fam     *family
	labels  [numLabels]string
	best    [3]int64
	members []oracleMember
	// A value the LoRA split set, added to the members'.
	fixed    bool
	fixedVal float64
}

// oracleResult is the normalised page and what the oracle counted.
type oracleResult struct {
	out             []outSeries
	invalid         int
	unmergedBuckets int
	loraDropped     int
}

// oracleNormalise applies the table to expfmt's families: for each row the
// first source family present with a fitting type; TP duplicates (rank
// labels) keep the lowest rank; series that differ by a dropped label are
// added up, histograms on the bounds they all share.
func oracleNormalise(fams []*dto.MetricFamily, join JoinLabels) oracleResult {
	var res oracleResult
	index := map[string]*dto.MetricFamily{}
	for _, f := range fams {
		index[f.GetName()] = f
	}
	for _, f := range fams {
		// A counter named without _total (OpenMetrics, or a text page so
		// written) stands for the name with it, unless a family has that name.
		if n := f.GetName() + "_total"; f.GetType() == dto.MetricType_COUNTER && !strings.HasSuffix(f.GetName(), "_total") && index[n] == nil {
			index[n] = f
		}
	}
	var groups []*oracleGroup
	byKey := map[string]*oracleGroup{}
	groupOf := func(fam *family, l [numLabels]string) *oracleGroup {
		key := fam.name + "\xff" + strings.Join(l[:], "\xff")
		g := byKey[key]
		if g == nil {
			g = &oracleGroup{fam: fam, labels: l}
			byKey[key] = g
			groups = append(groups, g)
		}
		return g
	}
	invalid := map[*dto.Metric]bool{}
	for i := range table {
		row := &table[i]
		var f *dto.MetricFamily
		var src string
		for _, s := range row.sources {
			if c := index[s]; c != nil && row.out.kind.accepts(oracleType(c.GetType())) {
				f, src = c, s
				break
			}
		}
		if f == nil {
			continue
		}
		if c := index[row.unless]; row.unless != "" && c != nil && len(c.Metric) > 0 && row.out.kind.accepts(oracleType(c.GetType())) {
			continue
		}
		if row.split != splitNone {
			res.loraDropped += oracleSplit(row, f, src, join, groupOf)
			continue
		}
		for _, m := range f.Metric {
			om, ok := oracleRead(f, m)
			if !ok {
				if f.GetType() == dto.MetricType_HISTOGRAM && !invalid[m] {
					invalid[m] = true
					res.invalid++
				}
				continue
			}
			if row.whereLabel != "" && om.labels[row.whereLabel] != row.whereValue {
				continue
			}
			if row.dropNaN && f.GetType() != dto.MetricType_HISTOGRAM && math.IsNaN(om.value) {
				continue
			}
			om = oracleConvert(om, row)
			g := groupOf(row.out, oracleLabels(row, src, om.labels, join))
			switch c := compareRank(om.rank, g.best); {
			case len(g.members) == 0 || c < 0:
				g.best, g.members = om.rank, []oracleMember{om}
			case c == 0:
				g.members = append(g.members, om)
			}
		}
	}
	for _, g := range groups {
		o := outSeries{fam: g.fam, labels: g.labels}
		if g.fam.kind == kindGauge && len(g.members) > 0 {
			o.labels[lTPRank] = g.members[0].tp
		}
		if g.fam.kind != kindHistogram {
			if g.fixed {
				o.value = g.fixedVal
			}
			for _, m := range g.members {
				o.value += m.value
			}
			res.out = append(res.out, o)
			continue
		}
		// The bounds every member has.
		have := map[float64]int{}
		for _, m := range g.members {
			for _, b := range m.buckets {
				have[b.at]++
			}
		}
		for at, n := range have {
			if n == len(g.members) {
				o.bounds = append(o.bounds, at)
			}
		}
		sort.Float64s(o.bounds)
		o.counts = make([]uint64, len(o.bounds))
		for _, m := range g.members {
			o.count += uint64(m.count)
			o.sum += m.sum
			for _, b := range m.buckets {
				if j := sort.SearchFloat64s(o.bounds, b.at); j < len(o.bounds) && o.bounds[j] == b.at {
					o.counts[j] += uint64(b.value)
				}
			}
			res.unmergedBuckets += m.rawBuckets - len(o.bounds)
		}
		if len(o.bounds) == 0 {
			o.bounds, o.counts = nil, []uint64{}
		}
		res.out = append(res.out, o)
	}
	return res
}

// oracleRead takes one dto.Metric's labels and value(s); false when it has
// none the normaliser can use. A histogram must have a count, whole
// non-negative counts, and cumulative finite buckets never above the count.
func oracleRead(f *dto.MetricFamily, m *dto.Metric) (oracleMember, bool) {
	om := oracleMember{labels: map[string]string{}}
	for _, lp := range m.Label {
		om.labels[lp.GetName()] = lp.GetValue()
	}
	if v, ok := om.labels[srcTPRank]; ok {
		om.tp, om.rank[0] = v, parseRank(v)
	}
	if v, ok := om.labels[srcPPRank]; ok {
		om.rank[1] = parseRank(v)
	}
	if v, ok := om.labels[srcEPRank]; ok {
		om.rank[2] = parseRank(v)
	}
	whole := func(v float64) bool { return v >= 0 && v <= 1<<53 && v == math.Trunc(v) }
	switch f.GetType() {
	case dto.MetricType_HISTOGRAM:
		h := m.Histogram
		if h == nil || (h.SampleCount == nil && h.SampleCountFloat == nil) {
			return om, false
		}
		om.count = float64(h.GetSampleCount())
		if h.SampleCountFloat != nil {
			om.count = h.GetSampleCountFloat()
		}
		om.sum = h.GetSampleSum()
		if !whole(om.count) {
			return om, false
		}
		seen := map[float64]bool{}
		for _, b := range h.Bucket {
			at := b.GetUpperBound()
			if seen[at] || math.IsNaN(at) {
				continue // a bound printed again: the first is kept
			}
			seen[at] = true
			v := float64(b.GetCumulativeCount())
			if b.CumulativeCountFloat != nil {
				v = b.GetCumulativeCountFloat()
			}
			if math.IsInf(at, 0) {
				continue
			}
			if !whole(v) {
				return om, false
			}
			om.buckets = append(om.buckets, bound{at, v})
		}
		sort.SliceStable(om.buckets, func(i, j int) bool { return om.buckets[i].at < om.buckets[j].at })
		om.rawBuckets = len(om.buckets)
		prev := 0.0
		for _, b := range om.buckets {
			if b.value < prev || b.value > om.count {
				return om, false
			}
			prev = b.value
		}
		return om, true
	default:
		switch {
		case m.Counter != nil && m.Counter.Value != nil:
			om.value = m.Counter.GetValue()
		case m.Gauge != nil:
			om.value = m.Gauge.GetValue()
		case m.Untyped != nil:
			om.value = m.Untyped.GetValue()
		default:
			return om, false
		}
		return om, true
	}
}

// oracleLabels are the labels of a source series under row: the target's,
// overridden by the page's model, role and DP rank, and the row's extras.
func oracleLabels(row *mapping, src string, labels map[string]string, join JoinLabels) [numLabels]string {
	var l [numLabels]string
	l[lEngine] = join.Engine
	if l[lEngine] == "" {
		l[lEngine], _, _ = strings.Cut(src, ":")
	}
	l[lModel], l[lRole], l[lDPRank] = join.Model, join.Role, join.DPRank
	l[lNamespace], l[lPod], l[lContainer] = join.Namespace, join.Pod, join.Container
	if v := labels[srcModel]; v != "" {
		l[lModel] = v
	}
	if v := labels[srcEngineType]; v != "" {
		l[lRole] = v
	}
	if v := labels[srcDPRank]; v != "" {
		l[lDPRank] = v
	} else if v := labels[srcEngineIdx]; v != "" {
		l[lDPRank] = v
	}
	for j, r := range row.extra {
		switch {
		case r.from == "":
			l[lExtra+j] = r.value
		case r.lower:
			l[lExtra+j] = strings.ToLower(labels[r.from])
		default:
			l[lExtra+j] = labels[r.from]
		}
	}
	return l
}

// oracleConvert puts a member in the family's unit: the value and the sum
// times mul over div, and each bucket's bound, leaving out a bound that
// becomes infinite or not above the one kept before it.
func oracleConvert(om oracleMember, row *mapping) oracleMember {
	conv := func(v float64) float64 {
		if row.mul != 0 {
			v = v * row.mul
		}
		if row.div != 0 {
			v = v / row.div
		}
		return v
	}
	if row.mul == 0 && row.div == 0 {
		return om
	}
	om.value, om.sum = conv(om.value), conv(om.sum)
	var kept []bound
	for _, b := range om.buckets {
		c := conv(b.at)
		if math.IsInf(c, 0) || math.IsNaN(c) || (len(kept) > 0 && c <= kept[len(kept)-1].at) {
			continue
		}
		kept = append(kept, bound{c, b.value})
	}
	om.buckets = kept
	return om
}

// oracleSplit is vLLM's lora_requests_info for the oracle: per identity
// (the labels without the adapter ones) the series with the highest value,
// then either its max_lora as a value or one series of value 1 per adapter
// and state, running ones first, each state by adapter name, at most
// DefaultLoRAAdapterLimit of them. It returns how many it left out.
func oracleSplit(row *mapping, f *dto.MetricFamily, src string, join JoinLabels, groupOf func(*family, [numLabels]string) *oracleGroup) int {
	type pick struct {
		labels [numLabels]string
		value  float64
		lora   map[string]string
	}
	var picks []*pick
	for _, m := range f.Metric {
		om, ok := oracleRead(f, m)
		if !ok || math.IsNaN(om.value) {
			continue
		}
		l := oracleLabels(row, src, om.labels, join)
		var p *pick
		for _, q := range picks {
			if q.labels == l {
				p = q
			}
		}
		switch {
		case p == nil:
			picks = append(picks, &pick{l, om.value, om.labels})
		case om.value > p.value:
			p.value, p.lora = om.value, om.labels
		}
	}
	set := func(l [numLabels]string, v float64) {
		if g := groupOf(row.out, l); !g.fixed {
			g.fixed, g.fixedVal = true, v
		}
	}
	if row.split == splitLoRAMax {
		for _, p := range picks {
			v, err := strconv.ParseFloat(strings.TrimSpace(p.lora["max_lora"]), 64)
			if err == nil && !math.IsNaN(v) && !math.IsInf(v, 0) && v >= 0 {
				set(p.labels, v)
			}
		}
		return 0
	}
	type entry struct {
		state   int
		adapter string
		labels  [numLabels]string
	}
	seen := map[[numLabels]string]bool{}
	var entries []entry
	for _, p := range picks {
		for state, list := range []string{p.lora["running_lora_adapters"], p.lora["waiting_lora_adapters"]} {
			for _, a := range strings.Split(list, ",") {
				if a = strings.TrimSpace(a); a == "" {
					continue
				}
				l := p.labels
				l[lExtra], l[lExtra+1] = a, [...]string{"running", "waiting"}[state]
				if !seen[l] {
					seen[l] = true
					entries = append(entries, entry{state, a, l})
				}
			}
		}
	}
	sort.Slice(entries, func(i, j int) bool {
		a, b := entries[i], entries[j]
		if a.state != b.state {
			return a.state < b.state
		}
		if a.adapter != b.adapter {
			return a.adapter < b.adapter
		}
		for k := range a.labels {
			if a.labels[k] != b.labels[k] {
				return a.labels[k] < b.labels[k]
			}
		}
		return false
	})
	dropped := 0
	for i, e := range entries {
		if i >= DefaultLoRAAdapterLimit {
			dropped++
			continue
		}
		set(e.labels, 1)
	}
	return dropped
}
