package collector

import (
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/model"
)

// TextMetric is a metric that can also write itself in the Prometheus text
// format, so that a scrape in that format serves it without building a
// dto.Metric for it and without client_golang's gathering and encoding. What
// it writes is what the text encoder writes of the metric Write yields: the
// two are drawn from the same values, and Write stays the way every other
// format (protobuf, push) gets it.
//
// A family is written whole by one path: every metric of a family that one
// TextMetric belongs to must be a TextMetric of the same TextFamily, and
// their series must be distinct (a producer checks that itself; the
// registry's duplicate check does not run on the text path).
type TextMetric interface {
	prometheus.Metric
	// TextFamily is the family the metric belongs to.
	TextFamily() *TextFamily
	// TextLabels are the label pairs Write sets, sorted by name, and
	// whether the metric can be written as text (else its family is
	// gathered from Write, as any other).
	TextLabels() ([]*dto.LabelPair, bool)
	// AppendText appends the metric's sample lines.
	AppendText(dst []byte) []byte
}

// TextFamily is a family's name, help and type, with its HELP and TYPE lines
// rendered once.
type TextFamily struct {
	Name   string
	Help   string
	Type   dto.MetricType
	header string
	ok     bool
}

var (
	escaper       = strings.NewReplacer("\\", `\\`, "\n", `\n`)
	quotedEscaper = strings.NewReplacer("\\", `\\`, "\n", `\n`, "\"", `\"`)
)

// NewTextFamily returns a family of a counter, gauge, untyped or histogram
// metric; one of another type, or a name that the text format would need to
// quote or escape, is never written as text.
func NewTextFamily(name, help string, typ dto.MetricType) *TextFamily {
	f := &TextFamily{Name: name, Help: help, Type: typ}
	var t string
	switch typ {
	case dto.MetricType_COUNTER:
		t = "counter"
	case dto.MetricType_GAUGE:
		t = "gauge"
	case dto.MetricType_UNTYPED:
		t = "untyped"
	case dto.MetricType_HISTOGRAM:
		t = "histogram"
	}
	f.ok = t != "" && model.LegacyValidation.IsValidMetricName(name)
	f.header = "# HELP " + name + " " + escaper.Replace(help) + "\n# TYPE " + name + " " + t + "\n"
	return f
}

// SeriesLabels is a series' label pairs rendered for the text format, once
// (immutable): `a="x",b="y"`, values escaped as the text encoder escapes them.
type SeriesLabels struct {
	text string
	ok   bool
}

// NewSeriesLabels renders pairs, sorted by name. They are not renderable
// (and the registry would reject them or rename them) when a name is not a
// legacy label name, two names repeat, or a value is not UTF-8.
func NewSeriesLabels(pairs []*dto.LabelPair) SeriesLabels {
	var b strings.Builder
	ok := true
	for i, p := range pairs {
		n, v := p.GetName(), p.GetValue()
		if !model.LegacyValidation.IsValidLabelName(n) || !utf8.ValidString(v) || (i > 0 && pairs[i-1].GetName() >= n) {
			ok = false
		}
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(n)
		b.WriteString(`="`)
		quotedEscaper.WriteString(&b, v)
		b.WriteByte('"')
	}
	return SeriesLabels{text: b.String(), ok: ok}
}

// OK reports whether the labels can be written as text.
func (l SeriesLabels) OK() bool { return l.ok }

// AppendFloat appends f as the text encoder writes it.
func AppendFloat(dst []byte, f float64) []byte {
	switch {
	case f == 1:
		return append(dst, '1')
	case f == 0:
		return append(dst, '0')
	case f == -1:
		return append(dst, "-1"...)
	case math.IsNaN(f):
		return append(dst, "NaN"...)
	case math.IsInf(f, +1):
		return append(dst, "+Inf"...)
	case math.IsInf(f, -1):
		return append(dst, "-Inf"...)
	}
	return strconv.AppendFloat(dst, f, 'g', -1, 64)
}

func appendLine(dst []byte, name, suffix string, l SeriesLabels, v float64) []byte {
	dst = append(dst, name...)
	dst = append(dst, suffix...)
	if l.text != "" {
		dst = append(dst, '{')
		dst = append(dst, l.text...)
		dst = append(dst, '}')
	}
	dst = append(dst, ' ')
	dst = AppendFloat(dst, v)
	return append(dst, '\n')
}

func appendBucket(dst []byte, name string, l SeriesLabels, le, v float64) []byte {
	dst = append(dst, name...)
	dst = append(dst, "_bucket{"...)
	if l.text != "" {
		dst = append(dst, l.text...)
		dst = append(dst, ',')
	}
	dst = append(dst, `le="`...)
	dst = AppendFloat(dst, le)
	dst = append(dst, `"} `...)
	dst = AppendFloat(dst, v)
	return append(dst, '\n')
}

// AppendValue appends the sample line of a counter, gauge or untyped series.
func AppendValue(dst []byte, f *TextFamily, l SeriesLabels, v float64) []byte {
	return appendLine(dst, f.Name, "", l, v)
}

// AppendHistogramValues appends the lines of a classic histogram given by
// its count, sum and finite buckets as the text encoder writes its message:
// the buckets, +Inf (the count) unless bounds has it, the sum and the count.
func AppendHistogramValues(dst []byte, f *TextFamily, l SeriesLabels, count uint64, sum float64, bounds []float64, counts []uint64) []byte {
	infSeen := false
	for i, le := range bounds {
		dst = appendBucket(dst, f.Name, l, le, float64(counts[i]))
		if math.IsInf(le, +1) {
			infSeen = true
		}
	}
	if !infSeen {
		dst = appendBucket(dst, f.Name, l, math.Inf(+1), float64(count))
	}
	dst = appendLine(dst, f.Name, "_sum", l, sum)
	return appendLine(dst, f.Name, "_count", l, float64(count))
}

// TextPage is the text metrics of one scrape, by family.
type TextPage struct {
	all      *[]TextMetric // sorted by family name, then as the registry orders a family
	fams     []textFamily  // runs of all, by name
	fallback []prometheus.Metric
}

type textFamily struct {
	f  *TextFamily
	ms []TextMetric
}

var pagePool = sync.Pool{New: func() any { return new([]TextMetric) }}

// NewTextPage groups the metrics of chunks by family. A family that cannot
// be written as text whole (a type or help that differs between its
// metrics, one metric whose labels cannot be) is kept for Resolve to gather
// from Write. Release returns its storage when the page is written.
func NewTextPage(chunks ...[]TextMetric) *TextPage {
	p := &TextPage{all: pagePool.Get().(*[]TextMetric)}
	all := (*p.all)[:0]
	for _, c := range chunks {
		all = append(all, c...)
	}
	*p.all = all
	slices.SortFunc(all, compareMetrics)
	for i := 0; i < len(all); {
		f := all[i].TextFamily()
		ok := f.ok
		j := i
		for ; j < len(all); j++ {
			g := all[j].TextFamily()
			if g.Name != f.Name {
				break
			}
			if _, lok := all[j].TextLabels(); !lok || (g != f && (g.Help != f.Help || g.Type != f.Type)) {
				ok = false
			}
		}
		if ok {
			p.fams = append(p.fams, textFamily{f: f, ms: all[i:j]})
		} else {
			for _, m := range all[i:j] {
				p.fallback = append(p.fallback, m)
			}
		}
		i = j
	}
	return p
}

// Release hands the page's storage back; the page is empty after.
func (p *TextPage) Release() {
	if p.all == nil {
		return
	}
	clear(*p.all)
	*p.all = (*p.all)[:0]
	pagePool.Put(p.all)
	p.all, p.fams = nil, nil
}

// Len is the number of metrics the page writes as text.
func (p *TextPage) Len() int {
	n := 0
	for _, tf := range p.fams {
		n += len(tf.ms)
	}
	return n
}

// Resolve merges into mfs (sorted by name, as a Gatherer returns them) what
// the page cannot write as text: its families that cannot, and any family a
// metric of mfs also belongs to, so that no family is split across the two.
// What is merged is gathered from Write, with the registry's checks.
func (p *TextPage) Resolve(mfs []*dto.MetricFamily) ([]*dto.MetricFamily, error) {
	if len(mfs) > 0 {
		names := make(map[string]bool, len(mfs))
		for _, mf := range mfs {
			names[mf.GetName()] = true
		}
		p.fams = slices.DeleteFunc(p.fams, func(tf textFamily) bool {
			if names[tf.f.Name] {
				for _, m := range tf.ms {
					p.fallback = append(p.fallback, m)
				}
				return true
			}
			return false
		})
	}
	if len(p.fallback) == 0 {
		return mfs, nil
	}
	reg := prometheus.NewRegistry()
	if err := reg.Register(replay(p.fallback)); err != nil {
		return mfs, err
	}
	p.fallback = nil
	return prometheus.Gatherers{prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) { return mfs, nil }), reg}.Gather()
}

// replay sends metrics already collected.
type replay []prometheus.Metric

func (r replay) Describe(chan<- *prometheus.Desc) {}
func (r replay) Collect(ch chan<- prometheus.Metric) {
	for _, m := range r {
		ch <- m
	}
}

// Encoder writes one dto family; an error is the caller's to handle.
type Encoder func(*dto.MetricFamily) error

// Write writes mfs with enc and the page's families as text, in the order of
// their names as one Gatherer's page would have them, keeping only the
// families keep accepts (nil: all). An encoding error of one family is
// passed to onErr, which says whether to stop.
func (p *TextPage) Write(w io.Writer, mfs []*dto.MetricFamily, enc Encoder, keep func(string) bool, onErr func(error) bool) {
	i := 0
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	for _, mf := range mfs {
		for ; i < len(p.fams) && p.fams[i].f.Name < mf.GetName(); i++ {
			if keep == nil || keep(p.fams[i].f.Name) {
				if onErr(p.fams[i].write(w, bp)) {
					return
				}
			}
		}
		if keep != nil && !keep(mf.GetName()) {
			continue
		}
		if onErr(enc(mf)) {
			return
		}
	}
	for ; i < len(p.fams); i++ {
		if keep == nil || keep(p.fams[i].f.Name) {
			if onErr(p.fams[i].write(w, bp)) {
				return
			}
		}
	}
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 64<<10); return &b }}

// write writes the family.
func (tf *textFamily) write(w io.Writer, bp *[]byte) error {
	b := append((*bp)[:0], tf.f.header...)
	for _, m := range tf.ms {
		b = m.AppendText(b)
		if len(b) >= 32<<10 {
			if _, err := w.Write(b); err != nil {
				*bp = b[:0]
				return err
			}
			b = b[:0]
		}
	}
	_, err := w.Write(b)
	*bp = b[:0]
	return err
}

// compareMetrics orders metrics by family name, and those of a family as the
// registry does: by number of labels, then by label values in turn.
func compareMetrics(a, b TextMetric) int {
	if fa, fb := a.TextFamily(), b.TextFamily(); fa != fb {
		if c := strings.Compare(fa.Name, fb.Name); c != 0 {
			return c
		}
	}
	la, _ := a.TextLabels()
	lb, _ := b.TextLabels()
	if len(la) != len(lb) {
		return len(la) - len(lb)
	}
	for i := range la {
		if c := strings.Compare(la[i].GetValue(), lb[i].GetValue()); c != 0 {
			return c
		}
	}
	return 0
}
