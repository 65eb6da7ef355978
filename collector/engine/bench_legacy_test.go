package engine

// The collector's path before it streamed pages through textparse, kept for
// the cost benchmark it is measured against: expfmt's family trees, the
// normaliser that walked them, and client_golang's const metrics.

import (
	"context"
	"errors"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// bucket is one finite histogram bucket.
type legacyBucket struct {
	upper float64
	count uint64
}

// series is one normalised series, accumulated from one or more source series.
type legacySeries struct {
	fam    *family
	labels [numLabels]string
	rank   [3]int64 // (tp, pp, ep) of the source series kept

	value   float64 // counter / gauge
	count   uint64  // histogram
	sum     float64
	buckets []legacyBucket
}

// normaliser turns the families of one page into normalised series. It is
// reused from scrape to scrape of a target; not safe for concurrent use.
type legacyNormaliser struct {
	index  map[string]*dto.MetricFamily
	groups map[string]*legacySeries
	out    []*legacySeries
	key    strings.Builder
}

func newLegacyNormaliser() *legacyNormaliser {
	return &legacyNormaliser{index: map[string]*dto.MetricFamily{}, groups: map[string]*legacySeries{}}
}

// normalise maps the families of one page through the table. Series that
// differ only by a rank label (tp_rank, pp_rank, moe_ep_rank) are the TP
// duplicates of one DP group: only the lowest rank's is kept. Series that
// differ by a label the schema drops are summed. The result is valid until
// the next call.
func (n *legacyNormaliser) normalise(fams []*dto.MetricFamily, join *JoinLabels) []*legacySeries {
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
		if row.split != splitNone || (row.unless != "" && n.index[row.unless] != nil) {
			continue // not in the path this one stands for
		}
		for _, src := range row.sources {
			f := n.index[src]
			if f == nil || !row.out.kind.accepts(oracleType(f.GetType())) {
				continue
			}
			n.addFamily(row, src, f, join)
			break
		}
	}
	return n.out
}

func (n *legacyNormaliser) addFamily(row *mapping, src string, f *dto.MetricFamily, join *JoinLabels) {
	engine := join.Engine
	if engine == "" {
		engine, _, _ = strings.Cut(src, ":")
	}
	for _, m := range f.Metric {
		if m == nil {
			continue
		}
		var s legacySeries
		s.fam = row.out
		s.labels[lEngine] = engine
		s.labels[lModel] = join.Model
		s.labels[lRole] = join.Role
		s.labels[lDPRank] = join.DPRank
		s.labels[lNamespace] = join.Namespace
		s.labels[lPod] = join.Pod
		s.labels[lContainer] = join.Container
		for j, r := range row.extra {
			s.labels[lExtra+j] = r.value
		}
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
				s.rank[0] = legacyParseRank(value)
			case srcPPRank:
				s.rank[1] = legacyParseRank(value)
			case srcEPRank:
				s.rank[2] = legacyParseRank(value)
			}
			for j, r := range row.extra {
				if r.from != "" && name == r.from {
					s.labels[lExtra+j] = value
				}
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
		s.value = row.convert(s.value)
		n.merge(&s)
	}
}

// read takes the value(s) of a source series; false when it has none usable.
func (s *legacySeries) read(m *dto.Metric) bool {
	switch s.fam.kind {
	case kindHistogram:
		h := m.Histogram
		if h == nil {
			return false
		}
		s.count = h.GetSampleCount()
		s.sum = h.GetSampleSum()
		s.buckets = make([]legacyBucket, 0, len(h.Bucket))
		for _, b := range h.Bucket {
			ub := b.GetUpperBound()
			if b == nil || math.IsInf(ub, 0) || math.IsNaN(ub) {
				continue
			}
			// Bounds must increase: a repeated or out-of-order one ("1" after "01") is dropped.
			if k := len(s.buckets); k > 0 && ub <= s.buckets[k-1].upper {
				continue
			}
			s.buckets = append(s.buckets, legacyBucket{ub, b.GetCumulativeCount()})
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
func (n *legacyNormaliser) merge(s *legacySeries) {
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
	switch legacyCompareRank(s.rank, g.rank) {
	case -1:
		*g = *s
	case 0:
		g.add(s)
	}
}

func (g *legacySeries) add(s *legacySeries) {
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

func legacyCompareRank(a, b [3]int64) int {
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
func legacyParseRank(v string) int64 {
	r, err := strconv.ParseInt(v, 10, 64)
	if err != nil || r < 0 {
		return math.MaxInt64
	}
	return r
}

// legacyLimitedReader fails once more than n bytes were read.
type legacyLimitedReader struct {
	r io.Reader
	n int64
}

func (l *legacyLimitedReader) Read(p []byte) (int, error) {
	if l.n <= 0 {
		var one [1]byte
		k, err := l.r.Read(one[:])
		if k > 0 {
			return 0, errTooLarge
		}
		return 0, err
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	k, err := l.r.Read(p)
	l.n -= int64(k)
	return k, err
}

// legacyScrape fetches one page and decodes it into metric families with expfmt.
func legacyScrape(ctx context.Context, client *http.Client, url string, limit int64) ([]*dto.MetricFamily, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", acceptHeader)
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer func() {
		_, _ = io.CopyN(io.Discard, resp.Body, 4096)
		_ = resp.Body.Close()
	}()
	dec := expfmt.NewDecoder(&legacyLimitedReader{r: resp.Body, n: limit}, expfmt.ResponseFormat(resp.Header))
	var fams []*dto.MetricFamily
	for {
		f := &dto.MetricFamily{}
		err := dec.Decode(f)
		if errors.Is(err, io.EOF) {
			return fams, nil
		}
		if err != nil {
			return nil, err
		}
		fams = append(fams, f)
	}
}

// legacyCollector is the engine collector's scrape as it was: every target
// fetched and decoded concurrently, then normalised into const metrics.
type legacyCollector struct {
	client *http.Client
	tgts   []Target
	norms  []*legacyNormaliser
	descs  map[*family]*prometheus.Desc
}

func newLegacyCollector(tgts []Target) *legacyCollector {
	c := &legacyCollector{
		client: &http.Client{Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 2}},
		tgts:   tgts,
		descs:  map[*family]*prometheus.Desc{},
	}
	for range tgts {
		c.norms = append(c.norms, newLegacyNormaliser())
	}
	for _, f := range families {
		c.descs[f] = prometheus.NewDesc("llm_engine_"+f.name, f.help, normalisedNames(f), nil)
	}
	return c
}

func (c *legacyCollector) Update(ch chan<- prometheus.Metric) error {
	fams := make([][]*dto.MetricFamily, len(c.tgts))
	var wg sync.WaitGroup
	for i, t := range c.tgts {
		wg.Add(1)
		go func(i int, url string) {
			defer wg.Done()
			fams[i], _ = legacyScrape(context.Background(), c.client, url, DefaultBodyLimit)
		}(i, t.URL)
	}
	wg.Wait()
	for i, t := range c.tgts {
		join := t.Labels
		for _, s := range c.norms[i].normalise(fams[i], &join) {
			desc := c.descs[s.fam]
			labels := s.labels[:lExtra+len(s.fam.extra)]
			switch s.fam.kind {
			case kindHistogram:
				buckets := make(map[float64]uint64, len(s.buckets))
				for _, b := range s.buckets {
					buckets[b.upper] = b.count
				}
				if m, err := prometheus.NewConstHistogram(desc, s.count, s.sum, buckets, labels...); err == nil {
					ch <- m
				}
			case kindCounter:
				ch <- prometheus.MustNewConstMetric(desc, prometheus.CounterValue, s.value, labels...)
			default:
				ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, s.value, labels...)
			}
		}
	}
	return nil
}

var _ = math.Inf
var _ = strings.Cut
