package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/textparse"
)

// Limits bound what one page may cost, as the limits of a Prometheus scrape
// config do; zero is no limit. A page over a limit fails as a whole.
type Limits struct {
	Samples          int // samples on the page (--engine.sample-limit)
	Labels           int // labels of one series, its name included (--engine.label-limit)
	LabelNameLength  int // bytes of one label name (--engine.label-name-length-limit)
	LabelValueLength int // bytes of one label value (--engine.label-value-length-limit)
}

// famType is a family's type as the page declares it.
type famType uint8

const (
	typeNone           famType = iota // HELP only so far: typed by its first sample
	typeUntyped                       // untyped (text) / unknown (OpenMetrics), or no TYPE line
	typeCounter                       //
	typeGauge                         //
	typeHistogram                     //
	typeGaugeHistogram                // OpenMetrics gaugehistogram
	typeSummary                       //
	typeInfo                          // OpenMetrics info
	typeStateset                      // OpenMetrics stateset
)

func typeOf(t model.MetricType) famType {
	switch t {
	case model.MetricTypeCounter:
		return typeCounter
	case model.MetricTypeGauge:
		return typeGauge
	case model.MetricTypeHistogram:
		return typeHistogram
	case model.MetricTypeGaugeHistogram:
		return typeGaugeHistogram
	case model.MetricTypeSummary:
		return typeSummary
	case model.MetricTypeInfo:
		return typeInfo
	case model.MetricTypeStateset:
		return typeStateset
	}
	return typeUntyped
}

func (t famType) histogramLike() bool { return t == typeHistogram || t == typeGaugeHistogram }

// role is what one sample line contributes to its source series.
type role uint8

const (
	roleNone     role = iota // belongs to the series but carries nothing usable
	roleValue                // counter, gauge or untyped value
	roleCount                // histogram / summary _count
	roleSum                  // histogram / summary _sum
	roleBucket               // histogram bucket (le)
	roleQuantile             // summary quantile
	roleCreated              // OpenMetrics _created: ignored
)

// famEntry is one family name of a target's pages, kept across pages. Its
// type and samples are valid for the page of its epoch only.
type famEntry struct {
	name    string
	epoch   uint32       // the page in which typ and metrics are valid
	typ     famType      // the type this page gives it
	metrics []*srcMetric // source series of this page, in order of first appearance
	used    uint32       // last page that referred to it, for eviction
	created uint32       // the page that added it
	dead    bool         // evicted: entries holding it must look the name up again
	pass    passFamily   // the passthrough's view of it
}

func (f *famEntry) live(epoch uint32) bool { return f.epoch == epoch }

func (f *famEntry) touch(epoch uint32) {
	if f.epoch != epoch {
		f.epoch = epoch
		f.typ = typeNone
		f.metrics = f.metrics[:0]
	}
	f.used = epoch
}

// use marks a family as referred to by this page.
func (ps *pageState) use(f *famEntry) {
	if f.used != ps.epoch {
		f.used = ps.epoch
		ps.famSeen++
	}
}

// bound is one bucket (le) or quantile of a source series.
type bound struct {
	at, value float64
}

// srcMetric is one source series in the sense of the exposition format: a
// counter, gauge or untyped sample, or a whole histogram or summary (its
// buckets or quantiles, _count and _sum). It is interned per target and its
// values are those of the page of its epoch.
type srcMetric struct {
	fam     *famEntry
	typ     famType        // the type it was read as
	labels  []labels.Label // sorted, without __name__, le (histograms) and quantile (summaries)
	epoch   uint32
	used    uint32
	created uint32
	dead    bool // forgotten: entries holding it must look it up again

	hasValue, hasCount, hasSum bool
	value, count, sum          float64
	bounds                     []bound // buckets or quantiles in page order

	checked uint32 // the page whose validity is in valid
	valid   bool
	invalid bool // counted as invalid this page

	norm normCache // the normaliser's view of it
	pass passCache // the passthrough's view of it
}

func (s *srcMetric) label(name string) (string, bool) {
	i := sort.Search(len(s.labels), func(i int) bool { return s.labels[i].Name >= name })
	if i < len(s.labels) && s.labels[i].Name == name {
		return s.labels[i].Value, true
	}
	return "", false
}

// rawEntry is what the parse of one series' bytes, as the page prints them,
// yields; a steady page finds every line here and parses no labels.
type rawEntry struct {
	key    string // the series' bytes, its key in pageState.raw
	name   string
	labels []labels.Label // every label but __name__, sorted
	le, q  float64        // parsed le / quantile, NaN when absent or not a number
	hasLE  bool
	hasQ   bool

	exact, base *famEntry // the family of the name, and of the name without its suffix
	suffix      string    // the suffix base was cut at ("" when none)

	rfam *famEntry // the resolution src was made for
	rtyp famType
	src  *srcMetric
	role role

	seen, created uint32
}

// pageState is what a target keeps from page to page: the interned series,
// families and the parser's scratch space. One scrape at a time uses it.
type pageState struct {
	epoch uint32
	raw   map[string]*rawEntry
	seq   []*rawEntry // the entries of the last page in the order it printed them
	fams  map[string]*famEntry
	srcs  map[string]*srcMetric
	order []*famEntry // families in order of first appearance on this page
	cur   *famEntry   // OpenMetrics: the family of the last metadata or sample line
	lset  labels.Labels
	st    *labels.SymbolTable
	key   []byte

	// Per page results.
	engine              string // from the first sglang: / vllm: family
	duplicates          int
	entries             int // lines of the page the parser returned
	passVals, passHists int // how many passthrough series of each kind the largest page had
	// Distinct entries this page used: when every one was, a sweep has nothing to do.
	rawSeen, srcSeen, famSeen int
}

func newPageState() *pageState {
	return &pageState{
		raw:  map[string]*rawEntry{},
		fams: map[string]*famEntry{},
		srcs: map[string]*srcMetric{},
		st:   labels.NewSymbolTable(),
	}
}

// errLimit marks a page over one of the limits.
type errLimit struct {
	reason string
	msg    string
}

func (e *errLimit) Error() string { return e.msg }

// ctxCheckEvery is how many entries are parsed between two looks at the
// scrape's context: an abandoned scrape stops within that many lines.
const ctxCheckEvery = 256

// parse reads one page into the target's interned source series. On error the
// page contributes nothing; ctx ending stops it within ctxCheckEvery lines.
func (ps *pageState) parse(ctx context.Context, b []byte, format pageFormat, lim Limits) error {
	ps.epoch++
	if ps.epoch == 0 {
		ps.epoch = 1
	}
	ps.order = ps.order[:0]
	ps.cur = nil
	ps.engine = ""
	ps.duplicates = 0
	ps.rawSeen, ps.srcSeen, ps.famSeen = 0, 0, 0
	var p textparse.Parser
	if format == formatOpenMetrics {
		p = textparse.NewOpenMetricsParser(b, ps.st)
	} else {
		p = textparse.NewPromParser(b, ps.st, false)
	}
	err := ps.run(ctx, p, format, lim)
	if err != nil {
		clear(ps.seq)
		ps.seq = ps.seq[:0]
	}
	ps.sweep(err == nil)
	return err
}

func (ps *pageState) run(ctx context.Context, p textparse.Parser, format pageFormat, lim Limits) error {
	samples := 0
	defer func() {
		// Entries past this page's end are not its: forget them.
		if samples < len(ps.seq) {
			clear(ps.seq[samples:])
			ps.seq = ps.seq[:samples]
		}
	}()
	for ps.entries = 0; ; ps.entries++ {
		if ps.entries%ctxCheckEvery == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		et, err := p.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		switch et {
		case textparse.EntryType:
			name, t := p.Type()
			f := ps.family(unquoteName(name))
			ps.use(f)
			f.touch(ps.epoch)
			f.typ = typeOf(t)
			ps.cur = f
		case textparse.EntryHelp:
			name, _ := p.Help()
			f := ps.family(unquoteName(name))
			ps.use(f)
			f.touch(ps.epoch)
			ps.cur = f
		case textparse.EntryUnit:
			name, _ := p.Unit()
			f := ps.family(unquoteName(name))
			ps.use(f)
			f.touch(ps.epoch)
			ps.cur = f
		case textparse.EntrySeries:
			samples++
			if lim.Samples > 0 && samples > lim.Samples {
				return &errLimit{reasonSampleLimit, fmt.Sprintf("more than %d samples (--engine.sample-limit)", lim.Samples)}
			}
			met, _, v := p.Series()
			// A steady page prints its series in the same order as last
			// time: try the entry at this position before the map.
			var e *rawEntry
			if k := samples - 1; k < len(ps.seq) && ps.seq[k].key == string(met) {
				e = ps.seq[k]
			} else {
				e = ps.raw[string(met)]
			}
			if e == nil {
				if e, err = ps.newRaw(p, met, lim); err != nil {
					return err
				}
			}
			if e.seen != ps.epoch {
				e.seen = ps.epoch
				ps.rawSeen++
			}
			if k := samples - 1; k < len(ps.seq) {
				ps.seq[k] = e
			} else {
				ps.seq = append(ps.seq, e)
			}
			ps.add(e, v, format)
		case textparse.EntryHistogram:
			// Native histograms come only in the protobuf format, which is never asked for.
			return errors.New("native histogram in a text page")
		}
	}
}

// unquoteName reads a metadata line's metric name: the parser strips the
// quotes of a quoted (UTF-8) name but leaves its escapes.
func unquoteName(b []byte) []byte {
	for _, c := range b {
		if c == '\\' {
			return []byte(strings.NewReplacer(`\"`, "\"", `\\`, "\\", `\n`, "\n").Replace(string(b)))
		}
	}
	return b
}

func (ps *pageState) family(name []byte) *famEntry {
	f := ps.fams[string(name)]
	if f == nil {
		f = &famEntry{name: string(name), created: ps.epoch}
		ps.fams[f.name] = f
	}
	return f
}

// newRaw parses and checks the labels of series bytes not seen before, as
// Prometheus's scrape loop does: a name, valid names and values, no label
// twice, and the label limits.
func (ps *pageState) newRaw(p textparse.Parser, met []byte, lim Limits) (*rawEntry, error) {
	p.Labels(&ps.lset)
	e := &rawEntry{le: math.NaN(), q: math.NaN(), created: ps.epoch}
	n := ps.lset.Len()
	e.labels = make([]labels.Label, 0, n)
	var bad error
	prev := ""
	ps.lset.Range(func(l labels.Label) {
		if bad != nil {
			return
		}
		if l.Name == model.MetricNameLabel {
			e.name = l.Value
		} else {
			e.labels = append(e.labels, l)
		}
		switch {
		case !model.UTF8Validation.IsValidLabelName(l.Name) || !model.LabelValue(l.Value).IsValid():
			bad = fmt.Errorf("invalid label name or value in %q", met)
		case l.Name == prev:
			bad = fmt.Errorf("label %q twice in %q", l.Name, met)
		case lim.LabelNameLength > 0 && len(l.Name) > lim.LabelNameLength:
			bad = &errLimit{reasonLabelLimit, fmt.Sprintf("label name %.50q longer than %d bytes (--engine.label-name-length-limit)", l.Name, lim.LabelNameLength)}
		case lim.LabelValueLength > 0 && len(l.Value) > lim.LabelValueLength:
			bad = &errLimit{reasonLabelLimit, fmt.Sprintf("value of label %.50q longer than %d bytes (--engine.label-value-length-limit)", l.Name, lim.LabelValueLength)}
		}
		prev = l.Name
	})
	if bad != nil {
		return nil, bad
	}
	if e.name == "" || !model.UTF8Validation.IsValidMetricName(e.name) {
		return nil, fmt.Errorf("series %q has no valid metric name", met)
	}
	if lim.Labels > 0 && n > lim.Labels {
		return nil, &errLimit{reasonLabelLimit, fmt.Sprintf("series %.50q has %d labels, more than %d (--engine.label-limit)", e.name, n, lim.Labels)}
	}
	for _, l := range e.labels {
		switch l.Name {
		case model.BucketLabel:
			e.hasLE = true
			if f, err := parseFloat(l.Value); err == nil {
				e.le = f
			}
		case model.QuantileLabel:
			e.hasQ = true
			if f, err := parseFloat(l.Value); err == nil {
				e.q = f
			}
		}
	}
	e.link(ps)
	e.key = string(met)
	ps.raw[e.key] = e
	return e, nil
}

// parseFloat reads a number as the text format does (no hex floats, no underscores).
func parseFloat(s string) (float64, error) {
	if strings.ContainsAny(s, "pP_") {
		return 0, errors.New("unsupported character in float")
	}
	return strconv.ParseFloat(s, 64)
}

// suffixes a sample name may carry after its family's name.
var suffixes = []string{"_bucket", "_count", "_sum", "_total", "_created", "_gcount", "_gsum", "_info"}

// link points the entry at the families its name may belong to.
func (e *rawEntry) link(ps *pageState) {
	e.exact = ps.family([]byte(e.name))
	e.base, e.suffix = nil, ""
	for _, s := range suffixes {
		if len(e.name) > len(s) && strings.HasSuffix(e.name, s) {
			e.base = ps.family([]byte(e.name[:len(e.name)-len(s)]))
			e.suffix = s
			break
		}
	}
}

// resolve names the family and role of a sample. The text format follows
// the rules of the classic text parser: a family of exactly the name, then
// a summary or histogram the name is the _count, _sum (or _bucket) of, else
// an untyped family of its own. OpenMetrics finds the family whose type
// allows the name's suffix, the current one first.
func (e *rawEntry) resolve(ps *pageState, format pageFormat) (*famEntry, role) {
	if (e.exact != nil && e.exact.dead) || (e.base != nil && e.base.dead) {
		e.link(ps)
	}
	ep := ps.epoch
	if format == formatOpenMetrics {
		if c := ps.cur; c != nil && c.live(ep) {
			if r, ok := e.omRole(c); ok {
				return c, r
			}
		}
		if e.exact.live(ep) {
			if r, ok := e.omRole(e.exact); ok {
				return e.exact, r
			}
		}
		if e.base != nil && e.base.live(ep) {
			if r, ok := e.omRole(e.base); ok {
				return e.base, r
			}
		}
	} else {
		if e.exact.live(ep) {
			if e.exact.typ == typeNone {
				e.exact.typ = typeUntyped
			}
			return e.exact, e.textRole(e.exact.typ, "")
		}
		if b := e.base; b != nil && b.live(ep) {
			switch {
			case b.typ == typeSummary && (e.suffix == "_count" || e.suffix == "_sum"):
				return b, e.textRole(b.typ, e.suffix)
			case b.typ.histogramLike() && (e.suffix == "_count" || e.suffix == "_sum" || e.suffix == "_bucket"):
				return b, e.textRole(b.typ, e.suffix)
			}
		}
	}
	ps.use(e.exact)
	e.exact.touch(ep)
	e.exact.typ = typeUntyped
	return e.exact, roleValue
}

// textRole is the role of a text-format sample in a family of type t, the
// name carrying suffix after the family's name.
func (e *rawEntry) textRole(t famType, suffix string) role {
	switch {
	case t == typeSummary || t.histogramLike():
		switch suffix {
		case "_count":
			return roleCount
		case "_sum":
			return roleSum
		}
		if t == typeSummary && e.hasQ && !math.IsNaN(e.q) {
			return roleQuantile
		}
		if t.histogramLike() && e.hasLE && !math.IsNaN(e.le) {
			return roleBucket
		}
		return roleNone
	}
	return roleValue
}

// omRole is the role of an OpenMetrics sample in family f, if f's type
// allows the sample's name.
func (e *rawEntry) omRole(f *famEntry) (role, bool) {
	if !strings.HasPrefix(e.name, f.name) {
		return 0, false
	}
	s := e.name[len(f.name):]
	switch f.typ {
	case typeNone, typeUntyped, typeGauge, typeStateset:
		if s == "" {
			if f.typ == typeNone {
				f.typ = typeUntyped
			}
			return roleValue, true
		}
	case typeInfo:
		if s == "_info" {
			return roleValue, true
		}
	case typeCounter:
		switch s {
		case "_total":
			return roleValue, true
		case "_created":
			return roleCreated, true
		}
	case typeSummary:
		switch s {
		case "":
			if e.hasQ && !math.IsNaN(e.q) {
				return roleQuantile, true
			}
			return roleNone, true
		case "_count":
			return roleCount, true
		case "_sum":
			return roleSum, true
		case "_created":
			return roleCreated, true
		}
	case typeHistogram, typeGaugeHistogram:
		switch s {
		case "_bucket":
			if e.hasLE && !math.IsNaN(e.le) {
				return roleBucket, true
			}
			return roleNone, true
		case "_count":
			return roleCount, true
		case "_sum":
			return roleSum, true
		case "_created":
			return roleCreated, true
		case "_gcount":
			if f.typ == typeGaugeHistogram {
				return roleCount, true
			}
		case "_gsum":
			if f.typ == typeGaugeHistogram {
				return roleSum, true
			}
		}
	}
	return 0, false
}

// add hands one sample to its source series.
func (ps *pageState) add(e *rawEntry, v float64, format pageFormat) {
	f, r := e.resolve(ps, format)
	if format == formatOpenMetrics {
		ps.cur = f
	}
	if ps.engine == "" {
		ps.engine = engineOf(f.name)
	}
	if f != e.rfam || f.typ != e.rtyp || e.src == nil || e.src.dead || e.src.fam != f {
		e.src = ps.srcMetric(f, e)
		e.rfam, e.rtyp = f, f.typ
	}
	e.role = r
	ps.use(e.exact)
	if e.base != nil {
		ps.use(e.base)
	}
	ps.use(f)
	s := e.src
	if s.epoch != ps.epoch {
		s.epoch = ps.epoch
		s.typ = f.typ
		s.hasValue, s.hasCount, s.hasSum = false, false, false
		s.value, s.count, s.sum = 0, 0, 0
		s.bounds = s.bounds[:0]
		s.checked, s.invalid = 0, false
		if len(f.metrics) == 0 {
			ps.order = append(ps.order, f)
		}
		f.metrics = append(f.metrics, s)
	}
	if s.used != ps.epoch {
		s.used = ps.epoch
		ps.srcSeen++
	}
	switch r {
	case roleValue:
		if s.hasValue {
			ps.duplicates++
			return
		}
		s.hasValue, s.value = true, v
	case roleCount:
		if s.hasCount {
			ps.duplicates++
			return
		}
		s.hasCount, s.count = true, v
	case roleSum:
		if s.hasSum {
			ps.duplicates++
			return
		}
		s.hasSum, s.sum = true, v
	case roleBucket, roleQuantile:
		at := e.le
		if r == roleQuantile {
			at = e.q
		}
		// Bounds come in increasing order: look back only when one does not.
		if k := len(s.bounds); k > 0 && at <= s.bounds[k-1].at {
			for _, b := range s.bounds {
				if b.at == at {
					ps.duplicates++
					return
				}
			}
		}
		s.bounds = append(s.bounds, bound{at, v})
	}
}

// srcMetric finds (or interns) the source series of e in family f: its
// labels without the name and, for histograms and summaries, without le or
// quantile.
func (ps *pageState) srcMetric(f *famEntry, e *rawEntry) *srcMetric {
	drop := ""
	switch {
	case f.typ.histogramLike():
		drop = model.BucketLabel
	case f.typ == typeSummary:
		drop = model.QuantileLabel
	}
	k := append(ps.key[:0], f.name...)
	k = append(k, 0xfe, byte(f.typ))
	for _, l := range e.labels {
		if l.Name == drop {
			continue
		}
		k = append(k, 0xff)
		k = append(k, l.Name...)
		k = append(k, 0xff)
		k = append(k, l.Value...)
	}
	ps.key = k
	if s := ps.srcs[string(k)]; s != nil && !s.dead && !s.fam.dead {
		return s
	}
	s := &srcMetric{fam: f, typ: f.typ, created: ps.epoch}
	if drop == "" {
		s.labels = e.labels
	} else {
		s.labels = make([]labels.Label, 0, len(e.labels))
		for _, l := range e.labels {
			if l.Name != drop {
				s.labels = append(s.labels, l)
			}
		}
	}
	ps.srcs[string(k)] = s
	return s
}

// sweep forgets what the last successful page did not print, so that the
// interned state follows the page; after a failed page it forgets only what
// that page added.
func (ps *pageState) sweep(ok bool) {
	ep := ps.epoch
	if !ok {
		for k, e := range ps.raw {
			if e.created == ep {
				delete(ps.raw, k)
			}
		}
		for k, s := range ps.srcs {
			if s.created == ep {
				s.dead = true
				delete(ps.srcs, k)
			}
		}
		for k, f := range ps.fams {
			if f.created == ep {
				f.dead = true
				delete(ps.fams, k)
			}
		}
		return
	}
	if ps.rawSeen < len(ps.raw) {
		for k, e := range ps.raw {
			if e.seen != ep {
				delete(ps.raw, k)
			}
		}
	}
	if ps.srcSeen < len(ps.srcs) {
		for k, s := range ps.srcs {
			if s.used != ep {
				s.dead = true
				delete(ps.srcs, k)
			}
		}
	}
	if ps.famSeen >= len(ps.fams) {
		return
	}
	for k, f := range ps.fams {
		if f.used != ep {
			f.dead = true
			delete(ps.fams, k)
		}
	}
	// Entries created by this page still point at families it may have evicted.
	for _, e := range ps.raw {
		if (e.exact != nil && e.exact.dead) || (e.base != nil && e.base.dead) {
			e.link(ps)
		}
	}
}

// engineOf names the engine from a family's prefix.
func engineOf(name string) string {
	switch {
	case strings.HasPrefix(name, "sglang:"):
		return "sglang"
	case strings.HasPrefix(name, "vllm:"):
		return "vllm"
	}
	return ""
}
