package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/textparse"
)

// Where expfmt and Prometheus's own parser disagree on whether a page is
// valid, the collector does as Prometheus does. These are the rejections of
// expfmt that Prometheus does not make (a page expfmt accepts and
// Prometheus rejects is checked against Prometheus's parser itself).
var expfmtOnlyRejections = []string{
	"second HELP line",                       // Prometheus takes a repeated HELP
	"second TYPE line",                       // ... a repeated TYPE
	"TYPE reported after samples",            // ... a TYPE after the family's samples
	"metadata for metric",                    // OpenMetrics: ... metadata after samples
	"unexpected end of input stream",         // ... a last line without its newline
	"invalid metric name in comment",         // ... "#HELP x" without a space: a comment
	"unknown metric type",                    // ... "#TYPE x y" without a space: a comment
	"unescaped new-line",                     // ... a newline inside a quoted name or value
	"unexpected end of label value",          // ... labels without a comma between them
	"expected integer as timestamp",          // ... blanks after the value
	"invalid escape sequence",                // ... an unknown escape (kept as written)
	"negative bucket population",             // ... a negative bucket (the collector drops that histogram)
	"negative count for histogram",           // ... a negative count (idem)
	"negative or NaN",                        // OpenMetrics: idem, and NaN
	"expected float as value for 'le' label", // ... an le that is not a number (not a bucket)
	"expected float as value for 'quantile'", // ... a quantile that is not a number
	"invalid bucket bound",                   // OpenMetrics: idem
	"invalid quantile",                       // OpenMetrics: idem
	"missing le label",                       // OpenMetrics: a _bucket without le
	"missing quantile label",                 // OpenMetrics: a summary sample without quantile
	"missing required suffix",                // OpenMetrics: a sample named like its family without the type's suffix
	"interleaved metric family",              // OpenMetrics: a family's samples apart
	"counter value must not be negative",     // OpenMetrics: a negative counter
	"invalid count",                          // OpenMetrics: a summary count that is not whole
	"invalid sum",                            // OpenMetrics: a negative or NaN sum
	"negative quantile value",                // OpenMetrics
	"missing _total value",                   // OpenMetrics: a counter with only _created
	"exemplar not allowed",                   // OpenMetrics: exemplars Prometheus ignores
	"invalid created timestamp",              // OpenMetrics: a _created that is not a timestamp
	"unsupported metric type",                // OpenMetrics: info and stateset
	"unexpected carriage return",             // OpenMetrics: a HELP ending in \r
	"unit ",                                  // OpenMetrics: UNIT rules Prometheus checks its own way
	"second UNIT line",                       // OpenMetrics
	"duplicate label",                        // both reject; expfmt may say so before Prometheus's own message
	"invalid label value",                    // both reject invalid UTF-8; the messages differ
}

func expfmtOnly(page []byte, err error) bool {
	// Prometheus's lexer ends the page at a NUL byte.
	if bytes.IndexByte(page, 0) >= 0 {
		return true
	}
	for _, s := range expfmtOnlyRejections {
		if strings.Contains(err.Error(), s) {
			return true
		}
	}
	return false
}

// prometheusAccepts runs Prometheus's parser alone over the page, with the
// checks of its scrape loop (a metric name, valid names and values).
func prometheusAccepts(page []byte, format pageFormat) error {
	b := append(page[:len(page):len(page)], '\n')[:len(page)]
	var p textparse.Parser
	if format == formatOpenMetrics {
		p = textparse.NewOpenMetricsParser(b, labels.NewSymbolTable())
	} else {
		p = textparse.NewPromParser(b, labels.NewSymbolTable(), false)
	}
	var lset labels.Labels
	for {
		et, err := p.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if et != textparse.EntrySeries {
			continue
		}
		p.Labels(&lset)
		if !lset.Has(model.MetricNameLabel) || !lset.IsValid(model.UTF8Validation) {
			return fmt.Errorf("invalid series %s", lset)
		}
		if n, dup := lset.HasDuplicateLabelNames(); dup {
			return fmt.Errorf("label %s twice", n)
		}
	}
}

// duplicateSeries reports whether two sample lines of the page are the same
// series (or a line cannot be told apart), each line read by expfmt alone:
// a page with duplicates is normalised by both paths, but expfmt keeps the
// last _count of a histogram where Prometheus keeps the first, so such pages
// are compared on the invariants only (TestDuplicateSeriesKeepFirst covers them).
func duplicateSeries(page []byte, format pageFormat) bool {
	seen := map[string]bool{}
	for _, line := range bytes.Split(page, []byte("\n")) {
		t := bytes.TrimLeft(line, " \t")
		if len(t) == 0 || t[0] == '#' {
			continue
		}
		// Read as a text line first: expfmt's OpenMetrics grammar is slow.
		alone := append(append([]byte{}, line...), '\n')
		fams, err := oracleParse(alone, formatText)
		if err != nil && format == formatOpenMetrics {
			fams, err = oracleParse(append(alone, "# EOF\n"...), format)
		}
		if err != nil || len(fams) != 1 || len(fams[0].Metric) != 1 {
			return true
		}
		var ls []string
		for _, lp := range fams[0].Metric[0].Label {
			ls = append(ls, lp.GetName()+"="+lp.GetValue())
		}
		sort.Strings(ls)
		k := fams[0].GetName() + "{" + strings.Join(ls, "\xff")
		if seen[k] {
			return true
		}
		seen[k] = true
	}
	return false
}

// commentedMetadata finds a "#TYPE" or "#HELP" without a blank after the
// hash: expfmt reads it as metadata, Prometheus as a comment, so the two
// read the page's families differently though both accept it.
var commentedMetadata = regexp.MustCompile(`(?m)^[ \t]*#(HELP|TYPE)`)

// sameOutput compares two normalised pages as sets of series.
func sameOutput(a, b []outSeries) error {
	key := func(o outSeries) string { return o.fam.name + "{" + strings.Join(o.labels[:], ",") }
	sortOut := func(s []outSeries) []outSeries {
		s = append([]outSeries{}, s...)
		sort.Slice(s, func(i, j int) bool { return key(s[i]) < key(s[j]) })
		return s
	}
	a, b = sortOut(a), sortOut(b)
	if len(a) != len(b) {
		return fmt.Errorf("%d series, want %d:\n%s\nwant\n%s", len(a), len(b), dumpOut(a), dumpOut(b))
	}
	same := func(x, y float64) bool {
		return math.Float64bits(x) == math.Float64bits(y) || (math.IsNaN(x) && math.IsNaN(y))
	}
	for i := range a {
		x, y := a[i], b[i]
		if key(x) != key(y) || !same(x.value, y.value) || x.count != y.count || !same(x.sum, y.sum) ||
			len(x.bounds) != len(y.bounds) || len(x.counts) != len(y.counts) {
			return fmt.Errorf("series %d differs:\n%s\nwant\n%s", i, dumpOut(a[i:i+1]), dumpOut(b[i:i+1]))
		}
		for j := range x.bounds {
			if x.bounds[j] != y.bounds[j] || x.counts[j] != y.counts[j] {
				return fmt.Errorf("series %d differs in its buckets:\n%s\nwant\n%s", i, dumpOut(a[i:i+1]), dumpOut(b[i:i+1]))
			}
		}
	}
	return nil
}

func dumpOut(s []outSeries) string {
	var b strings.Builder
	for _, o := range s {
		fmt.Fprintf(&b, "  %s%q value=%v count=%d sum=%v bounds=%v counts=%v\n", o.fam.name, o.labels, o.value, o.count, o.sum, o.bounds, o.counts)
	}
	return b.String()
}

// differential runs one page through the collector and through the oracle.
func differential(t *testing.T, page []byte, format pageFormat) {
	t.Helper()
	join := JoinLabels{Namespace: "ns", Pod: "pod", Container: "c", Role: "unified"}
	s := runPage(page, format, join, Limits{}, nil)
	fams, oerr := oracleParse(page, format)
	switch {
	case s.err != nil && oerr != nil:
		return // the same rejection
	case s.err != nil:
		// The collector rejects what expfmt accepts: only where Prometheus does.
		if perr := prometheusAccepts(page, format); perr == nil {
			t.Fatalf("the collector rejects a page expfmt and Prometheus accept: %v", s.err)
		}
		return
	case oerr != nil:
		if !expfmtOnly(page, oerr) {
			t.Fatalf("the collector accepts a page expfmt rejects (%v)", oerr)
		}
		if perr := prometheusAccepts(page, format); perr != nil {
			t.Fatalf("the collector accepts a page Prometheus rejects (%v)", perr)
		}
		checkInvariants(t, s.out)
		return
	}
	checkInvariants(t, s.out)
	if duplicateSeries(page, format) || commentedMetadata.Match(page) {
		return
	}
	want := oracleNormalise(fams, join)
	if err := sameOutput(s.out, want.out); err != nil {
		t.Fatalf("normalised output differs from the oracle's: %v", err)
	}
	if s.n.invalid != want.invalid || s.n.unmergedBuckets != want.unmergedBuckets || s.n.loraDropped != want.loraDropped {
		t.Fatalf("counted %d invalid histograms, %d unmerged buckets and %d LoRA series over the limit, the oracle %d, %d and %d",
			s.n.invalid, s.n.unmergedBuckets, s.n.loraDropped, want.invalid, want.unmergedBuckets, want.loraDropped)
	}
	// The same page again, on the state the first one left: a steady target.
	again := runPage(page, format, join, Limits{}, s)
	if again.err != nil {
		t.Fatalf("second read: %v", again.err)
	}
	if err := sameOutput(again.out, want.out); err != nil {
		t.Fatalf("normalised output of the same page read again differs: %v", err)
	}
}

// FuzzDifferential requires the streaming path and expfmt (with the oracle
// normaliser) to give the same normalised output, or the same rejection, on
// every page; where they disagree on validity, the collector must side with
// Prometheus's own parser.
func FuzzDifferential(f *testing.F) {
	for _, seed := range fuzzSeeds(f) {
		f.Add(seed.page, seed.openMetrics)
	}
	f.Fuzz(func(t *testing.T, page []byte, openMetrics bool) {
		format := formatText
		if openMetrics {
			format = formatOpenMetrics
			// expfmt's OpenMetrics parser is an ABNF grammar whose cost grows
			// with the square of a line: keep fuzzed pages to a size it reads
			// (TestDifferentialFixtures compares whole OpenMetrics pages).
			if len(page) > 512 || longestLine(page) > 128 {
				return
			}
		}
		differential(t, page, format)
	})
}

func longestLine(b []byte) int {
	n := 0
	for _, l := range bytes.Split(b, []byte("\n")) {
		n = max(n, len(l))
	}
	return n
}

// Every real-shaped page of testdata, whole, through both paths.
func TestDifferentialFixtures(t *testing.T) {
	for _, seed := range fuzzSeedsWhole(t) {
		format := formatText
		if seed.openMetrics {
			format = formatOpenMetrics
		}
		t.Run(seed.name, func(t *testing.T) {
			s := runPage(seed.page, format, JoinLabels{}, Limits{}, nil)
			if s.err != nil {
				t.Fatalf("rejected: %v", s.err)
			}
			if len(s.out) == 0 {
				t.Fatal("no normalised series")
			}
			differential(t, seed.page, format)
		})
	}
}

var _ = context.Background
