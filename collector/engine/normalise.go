package engine

import (
	"math"
	"strconv"
	"strings"
)

// Label positions of a normalised series; the extra labels of the family
// (stage, queue, finished_reason, ...) come last, in the family's order.
const (
	lEngine = iota
	lModel
	lRole
	lDPRank
	lTPRank
	lNamespace
	lPod
	lContainer
	lExtra                        // the first extra label
	numLabels = lExtra + maxExtra // every position
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

// outSeries is one normalised series of a page.
type outSeries struct {
	fam    *family
	labels [numLabels]string

	value  float64   // counter / gauge
	count  uint64    // histogram
	sum    float64   // histogram
	bounds []float64 // histogram: finite upper bounds, increasing; shared, never written
	counts []uint64  // histogram: cumulative count of each bound; valid until the next page

	g *group // where the output caches of the series live
}

// group is one normalised series across pages: the source series that feed
// it on the current page, and what its exposition can reuse.
type group struct {
	fam    *family
	labels [numLabels]string // tp_rank left empty: it is not part of the identity
	epoch  uint32
	used   uint32
	dead   bool

	best    [3]int64
	members []member
	// A value a split row gave the series on this page (vLLM's LoRA
	// adapters), added to the members'.
	fixed    bool
	fixedVal float64

	// Exposition caches (engine.go).
	expo groupExpo
}

// member is one source series of a group, read through its row (the unit
// conversion).
type member struct {
	s   *srcMetric
	row *mapping
}

// normLink is a source series' cached group for one table row.
type normLink struct {
	row int
	g   *group
}

// normCache is what the normaliser keeps on a source series.
type normCache struct {
	ranked bool
	rank   [3]int64 // (tp, pp, ep); an unparsable rank sorts after every number
	tp     string
	links  []normLink
}

// normaliser turns the source series of a page into normalised series. It
// is kept per target; one scrape at a time uses it.
type normaliser struct {
	groups  map[string]*group
	touched []*group
	out     []outSeries
	key     []byte
	scratch []float64
	slab    []uint64  // this page's bucket counts, valid until the next page
	lists   [][]bound // merge: each member's buckets in the family's unit
	conv    []bound   // merge: storage of the converted ones
	lora    loraState // the LoRA split's scratch space (lora.go)
	// loraLimit is the most llm_engine_lora_adapters series one page yields.
	loraLimit int

	// Per page counts.
	invalid, unmergedBuckets, loraDropped int
}

func newNormaliser() *normaliser {
	return &normaliser{groups: map[string]*group{}, loraLimit: DefaultLoRAAdapterLimit}
}

// rowsOf lists, per source family name, the table rows it can feed.
var rowsOf = func() map[string][]int {
	m := map[string][]int{}
	for i, row := range table {
		for _, src := range row.sources {
			m[src] = append(m[src], i)
		}
	}
	return m
}()

// source finds the family a row's source name stands for on this page: the
// family of that name, else (OpenMetrics names a counter without its _total)
// the counter family of the name without _total.
func (ps *pageState) source(name string) *famEntry {
	if f := ps.fams[name]; f != nil && f.live(ps.epoch) && len(f.metrics) > 0 {
		return f
	}
	if n := len(name) - len("_total"); n > 0 && name[n:] == "_total" {
		if f := ps.fams[name[:n]]; f != nil && f.live(ps.epoch) && len(f.metrics) > 0 && f.typ == typeCounter {
			return f
		}
	}
	return nil
}

// normalise maps the page through the table. For each row only the first
// source present on the page is read. Source series that differ only by a
// rank label (tp_rank, pp_rank, moe_ep_rank) are the TP duplicates of one
// DP group: only the lowest rank's are kept. Series that differ by a label
// the schema drops are added up; histograms exactly, on the bounds they all
// have. The result is valid until the next call.
func (n *normaliser) normalise(ps *pageState, join *JoinLabels) []outSeries {
	n.touched = n.touched[:0]
	n.out = n.out[:0]
	n.invalid, n.unmergedBuckets, n.loraDropped = 0, 0, 0
	n.slab = n.slab[:0]
	ep := ps.epoch
	for i := range table {
		row := &table[i]
		f, srcName := ps.rowSource(row)
		if f == nil {
			continue
		}
		if row.unless != "" && ps.present(row.unless, row.out.kind) {
			continue
		}
		if row.split != splitNone {
			n.split(row, srcName, f, join, ep)
			continue
		}
		for _, s := range f.metrics {
			if !row.out.kind.accepts(s.typ) || !n.usable(s, ep) {
				continue
			}
			if row.whereLabel != "" {
				if v, _ := s.label(row.whereLabel); v != row.whereValue {
					continue
				}
			}
			if row.dropNaN && math.IsNaN(s.value) {
				continue
			}
			g := n.groupOf(i, row, srcName, s, join)
			n.touch(g, ep)
			switch {
			case len(g.members) == 0 || compareRank(s.norm.rank, g.best) < 0:
				g.best = s.norm.rank
				g.members = append(g.members[:0], member{s, row})
			case compareRank(s.norm.rank, g.best) == 0:
				g.members = append(g.members, member{s, row})
			}
		}
	}
	for _, g := range n.touched {
		n.out = append(n.out, n.merge(g))
	}
	return n.out
}

// rowSource finds the family a row reads on this page: its first source
// present with a type the row's family accepts.
func (ps *pageState) rowSource(row *mapping) (*famEntry, string) {
	for _, s := range row.sources {
		if c := ps.source(s); c != nil && row.out.kind.accepts(c.typ) {
			return c, s
		}
	}
	return nil, ""
}

// present reports whether the page prints family name with a type k accepts.
func (ps *pageState) present(name string, k kind) bool {
	c := ps.source(name)
	return c != nil && k.accepts(c.typ)
}

// touch makes g part of this page's output.
func (n *normaliser) touch(g *group, ep uint32) {
	if g.epoch != ep {
		g.epoch = ep
		g.members = g.members[:0]
		g.fixed, g.fixedVal = false, 0
		n.touched = append(n.touched, g)
	}
	g.used = ep
}

// usable reports whether a source series has a value the normaliser can
// use; a histogram must be valid (see validHistogram), else it is counted.
func (n *normaliser) usable(s *srcMetric, ep uint32) bool {
	if !s.typ.histogramLike() {
		return s.hasValue
	}
	if s.checked != ep {
		s.checked = ep
		s.valid = validHistogram(s, true)
		if !s.valid {
			s.invalid = true
			n.invalid++
		}
	}
	return s.valid
}

// maxCount is the largest count a histogram may carry: every integer up to
// it is exact in a float64.
const maxCount = 1 << 53

func isCount(v float64) bool { return v >= 0 && v <= maxCount && v == math.Trunc(v) }

// validHistogram sorts the buckets of a source histogram by bound and
// reports whether it can be served: a _count, and counts that are whole
// non-negative numbers; cumulative also asks that the buckets never
// decrease and never exceed the count.
func validHistogram(s *srcMetric, cumulative bool) bool {
	sortBounds(s.bounds)
	if !s.hasCount || !isCount(s.count) {
		return false
	}
	prev := 0.0
	for _, b := range s.bounds {
		if math.IsInf(b.at, 0) {
			continue
		}
		if !isCount(b.value) {
			return false
		}
		if cumulative && (b.value < prev || b.value > s.count) {
			return false
		}
		prev = b.value
	}
	return true
}

// sortBounds sorts by bound; pages print them in order, so this is one pass.
func sortBounds(b []bound) {
	for i := 1; i < len(b); i++ {
		for j := i; j > 0 && b[j].at < b[j-1].at; j-- {
			b[j], b[j-1] = b[j-1], b[j]
		}
	}
}

// groupOf returns the group of source series s under row i, from s's cache
// when it has it.
func (n *normaliser) groupOf(i int, row *mapping, srcName string, s *srcMetric, join *JoinLabels) *group {
	c := &s.norm
	if !c.ranked {
		c.ranked = true
		c.rank = [3]int64{}
		if v, ok := s.label(srcTPRank); ok {
			c.tp, c.rank[0] = v, parseRank(v)
		}
		if v, ok := s.label(srcPPRank); ok {
			c.rank[1] = parseRank(v)
		}
		if v, ok := s.label(srcEPRank); ok {
			c.rank[2] = parseRank(v)
		}
	}
	for _, l := range c.links {
		if l.row == i && !l.g.dead {
			return l.g
		}
	}
	g := n.groupAt(row.out, n.labelsOf(row, srcName, s, join))
	c.links = append(c.links, normLink{i, g})
	return g
}

// labelsOf computes the labels of source series s under row: the page's
// model, role and DP rank over the target's, and the row's extra labels.
func (n *normaliser) labelsOf(row *mapping, srcName string, s *srcMetric, join *JoinLabels) [numLabels]string {
	var labels [numLabels]string
	labels[lEngine] = join.Engine
	if labels[lEngine] == "" {
		labels[lEngine] = srcName[:max(0, indexByte(srcName, ':'))]
	}
	labels[lModel] = join.Model
	labels[lRole] = join.Role
	labels[lDPRank] = join.DPRank
	labels[lNamespace] = join.Namespace
	labels[lPod] = join.Pod
	labels[lContainer] = join.Container
	if v, _ := s.label(srcModel); v != "" {
		labels[lModel] = v
	}
	if v, _ := s.label(srcEngineType); v != "" {
		labels[lRole] = v
	}
	// SGLang's dp_rank wins over vLLM's engine index when a page has both.
	if v, _ := s.label(srcEngineIdx); v != "" {
		labels[lDPRank] = v
	}
	if v, _ := s.label(srcDPRank); v != "" {
		labels[lDPRank] = v
	}
	for j, r := range row.extra {
		if j >= len(row.out.extra) {
			break
		}
		v := r.value
		if r.from != "" {
			v, _ = s.label(r.from)
			if r.lower {
				v = strings.ToLower(v)
			}
		}
		labels[lExtra+j] = v
	}
	return labels
}

// groupAt returns the group of family f with these labels, creating it.
func (n *normaliser) groupAt(f *family, labels [numLabels]string) *group {
	k := append(n.key[:0], byte(familyIndex[f]))
	for _, v := range labels {
		k = append(k, 0xff)
		k = append(k, v...)
	}
	n.key = k
	g := n.groups[string(k)]
	if g == nil || g.dead {
		g = &group{fam: f, labels: labels}
		n.groups[string(k)] = g
	}
	return g
}

func indexByte(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return -1
}

// familyIndex numbers the families for the group keys.
var familyIndex = func() map[*family]int {
	m := map[*family]int{}
	for i, f := range families {
		m[f] = i
	}
	return m
}()

// merge computes a group's series from its members: a counter or gauge adds
// their values up; a histogram keeps only the bounds every member has, and
// counts the buckets that leaves out. Values, sums and bounds are converted
// to the family's unit first.
func (n *normaliser) merge(g *group) outSeries {
	o := outSeries{fam: g.fam, labels: g.labels, g: g}
	if g.fam.kind == kindGauge && len(g.members) > 0 {
		o.labels[lTPRank] = g.members[0].s.norm.tp
	}
	if g.fam.kind != kindHistogram {
		if g.fixed {
			o.value = g.fixedVal
		}
		for _, m := range g.members {
			o.value += m.row.convert(m.s.value)
		}
		return o
	}
	n.lists, n.conv = n.lists[:0], n.conv[:0]
	for _, m := range g.members {
		n.lists = append(n.lists, n.bucketsOf(m))
	}
	bounds := n.scratch[:0]
	for _, b := range n.lists[0] {
		if math.IsInf(b.at, 0) {
			continue
		}
		shared := true
		for _, l := range n.lists[1:] {
			if !hasBound(l, b.at) {
				shared = false
				break
			}
		}
		if shared {
			bounds = append(bounds, b.at)
		}
	}
	for _, m := range g.members {
		finite := 0
		for _, b := range m.s.bounds {
			if !math.IsInf(b.at, 0) {
				finite++
			}
		}
		n.unmergedBuckets += finite - len(bounds)
	}
	n.scratch = bounds
	o.bounds = g.expo.sharedBounds(bounds)
	if cap(n.slab)-len(n.slab) < len(o.bounds) {
		// Earlier series keep the old slab; the next page starts on this one.
		n.slab = make([]uint64, 0, max(2*cap(n.slab), len(o.bounds), 64))
	}
	start := len(n.slab)
	n.slab = n.slab[:start+len(o.bounds)]
	o.counts = n.slab[start : start+len(o.bounds) : start+len(o.bounds)]
	clear(o.counts)
	for k, m := range g.members {
		o.count += uint64(m.s.count)
		o.sum += m.row.convert(m.s.sum)
		j := 0
		for _, b := range n.lists[k] {
			if j < len(o.bounds) && b.at == o.bounds[j] {
				o.counts[j] += uint64(b.value)
				j++
			}
		}
	}
	return o
}

// bucketsOf returns a member's buckets with their bounds in the family's
// unit, in increasing order. A bound the conversion makes infinite, or no
// greater than the one before it (two bounds too close to tell apart once
// converted), is left out; the first of equal ones is kept.
func (n *normaliser) bucketsOf(m member) []bound {
	if m.row.mul == 0 && m.row.div == 0 {
		return m.s.bounds
	}
	start := len(n.conv)
	for _, b := range m.s.bounds {
		if math.IsInf(b.at, 0) {
			continue
		}
		c := m.row.convert(b.at)
		if math.IsInf(c, 0) || math.IsNaN(c) || (len(n.conv) > start && c <= n.conv[len(n.conv)-1].at) {
			continue
		}
		n.conv = append(n.conv, bound{c, b.value})
	}
	return n.conv[start:len(n.conv):len(n.conv)]
}

func hasBound(b []bound, at float64) bool {
	for _, x := range b {
		if x.at == at {
			return true
		}
	}
	return false
}

// sweep forgets the groups the last successful page did not feed.
func (n *normaliser) sweep(ep uint32) {
	for k, g := range n.groups {
		if g.used != ep {
			g.dead = true
			delete(n.groups, k)
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
