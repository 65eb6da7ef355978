package engine

import (
	"math"
	"strconv"
	"strings"

	dto "github.com/prometheus/client_model/go"
)

// Label positions of a normalised series; the extra label of the family
// (stage, queue, finished_reason) comes last when the family has one.
const (
	lEngine = iota
	lModel
	lRole
	lDPRank
	lTPRank
	lNamespace
	lPod
	lContainer
	lExtra
	numLabels
)

// baseLabelNames are the labels of every normalised family, in order.
var baseLabelNames = []string{"engine", "model", "role", "dp_rank", "tp_rank", "namespace", "pod", "container"}

// JoinLabels are what a target contributes to its series: where it runs and,
// for what the page does not say itself, its role, model and DP rank.
// Unknown is the empty string.
type JoinLabels struct {
	Namespace, Pod, Container string
	Role, Model, DPRank       string
	Engine                    string // "sglang" | "vllm"; empty: detected from the page
}

// bucket is one finite histogram bucket.
type bucket struct {
	upper float64
	count uint64
}

// series is one normalised series, accumulated from one or more source series.
type series struct {
	fam    *family
	labels [numLabels]string
	rank   [3]int64 // (tp, pp, ep) of the source series kept

	value   float64 // counter / gauge
	count   uint64  // histogram
	sum     float64
	buckets []bucket
}

// normaliser turns the families of one page into normalised series. It is
// reused from scrape to scrape of a target; not safe for concurrent use.
type normaliser struct {
	index  map[string]*dto.MetricFamily
	groups map[string]*series
	out    []*series
	key    strings.Builder
}

func newNormaliser() *normaliser {
	return &normaliser{index: map[string]*dto.MetricFamily{}, groups: map[string]*series{}}
}

// normalise maps the families of one page through the table. Series that
// differ only by a rank label (tp_rank, pp_rank, moe_ep_rank) are the TP
// duplicates of one DP group: only the lowest rank's is kept. Series that
// differ by a label the schema drops are summed. The result is valid until
// the next call.
func (n *normaliser) normalise(fams []*dto.MetricFamily, join *JoinLabels) []*series {
	clear(n.index)
	clear(n.groups)
	n.out = n.out[:0]
	for _, f := range fams {
		name := f.GetName()
		n.index[name] = f
		// OpenMetrics names a counter family without its _total suffix.
		if f.GetType() == dto.MetricType_COUNTER && !strings.HasSuffix(name, "_total") {
			n.index[name+"_total"] = f
		}
	}
	for i := range table {
		row := &table[i]
		for _, src := range row.sources {
			f := n.index[src]
			if f == nil || !row.out.kind.accepts(f.GetType()) {
				continue
			}
			n.addFamily(row, src, f, join)
			break
		}
	}
	return n.out
}

func (n *normaliser) addFamily(row *mapping, src string, f *dto.MetricFamily, join *JoinLabels) {
	engine := join.Engine
	if engine == "" {
		engine, _, _ = strings.Cut(src, ":")
	}
	for _, m := range f.Metric {
		if m == nil {
			continue
		}
		var s series
		s.fam = row.out
		s.labels[lEngine] = engine
		s.labels[lModel] = join.Model
		s.labels[lRole] = join.Role
		s.labels[lDPRank] = join.DPRank
		s.labels[lNamespace] = join.Namespace
		s.labels[lPod] = join.Pod
		s.labels[lContainer] = join.Container
		s.labels[lExtra] = row.extraValue
		keep := row.whereLabel == ""
		tp := ""
		for _, lp := range m.Label {
			name, value := lp.GetName(), lp.GetValue()
			switch name {
			case srcModel:
				if value != "" {
					s.labels[lModel] = value
				}
			case srcEngineType:
				if value != "" {
					s.labels[lRole] = value
				}
			case srcDPRank, srcEngineIdx:
				if value != "" {
					s.labels[lDPRank] = value
				}
			case srcTPRank:
				tp = value
				s.rank[0] = parseRank(value)
			case srcPPRank:
				s.rank[1] = parseRank(value)
			case srcEPRank:
				s.rank[2] = parseRank(value)
			}
			if row.extraFrom != "" && name == row.extraFrom {
				s.labels[lExtra] = value
			}
			if name == row.whereLabel && value == row.whereValue {
				keep = true
			}
		}
		if !keep {
			continue
		}
		if row.out.kind == kindGauge {
			s.labels[lTPRank] = tp
		}
		if !s.read(m) {
			continue
		}
		n.merge(&s)
	}
}

// read takes the value(s) of a source series; false when it has none usable.
func (s *series) read(m *dto.Metric) bool {
	switch s.fam.kind {
	case kindHistogram:
		h := m.Histogram
		if h == nil {
			return false
		}
		s.count = h.GetSampleCount()
		s.sum = h.GetSampleSum()
		s.buckets = make([]bucket, 0, len(h.Bucket))
		for _, b := range h.Bucket {
			ub := b.GetUpperBound()
			if b == nil || math.IsInf(ub, 0) || math.IsNaN(ub) {
				continue
			}
			// Bounds must increase: a repeated or out-of-order one ("1" after "01") is dropped.
			if k := len(s.buckets); k > 0 && ub <= s.buckets[k-1].upper {
				continue
			}
			s.buckets = append(s.buckets, bucket{ub, b.GetCumulativeCount()})
		}
		return true
	default:
		switch {
		case m.Counter != nil:
			s.value = m.Counter.GetValue()
		case m.Gauge != nil:
			s.value = m.Gauge.GetValue()
		case m.Untyped != nil:
			s.value = m.Untyped.GetValue()
		default:
			return false
		}
		return true
	}
}

// merge adds s to its group: a lower rank replaces, an equal rank adds up
// (series that differ by a dropped label), a higher rank is a duplicate.
func (n *normaliser) merge(s *series) {
	n.key.Reset()
	n.key.WriteString(s.fam.name)
	for i, v := range s.labels {
		if i == lTPRank {
			continue
		}
		n.key.WriteByte(0xff)
		n.key.WriteString(v)
	}
	key := n.key.String()
	g := n.groups[key]
	if g == nil {
		c := *s
		n.groups[key] = &c
		n.out = append(n.out, &c)
		return
	}
	switch compareRank(s.rank, g.rank) {
	case -1:
		*g = *s
	case 0:
		g.add(s)
	}
}

func (g *series) add(s *series) {
	if g.fam.kind != kindHistogram {
		g.value += s.value
		return
	}
	g.count += s.count
	g.sum += s.sum
	for _, b := range s.buckets {
		found := false
		for i := range g.buckets {
			if g.buckets[i].upper == b.upper {
				g.buckets[i].count += b.count
				found = true
				break
			}
		}
		if !found {
			g.buckets = append(g.buckets, b)
		}
	}
}

func compareRank(a, b [3]int64) int {
	for i := range a {
		switch {
		case a[i] < b[i]:
			return -1
		case a[i] > b[i]:
			return 1
		}
	}
	return 0
}

// parseRank reads a rank label; an unparsable one sorts after every number.
func parseRank(v string) int64 {
	r, err := strconv.ParseInt(v, 10, 64)
	if err != nil || r < 0 {
		return math.MaxInt64
	}
	return r
}
