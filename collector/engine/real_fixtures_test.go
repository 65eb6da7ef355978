package engine

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// realFixtureDir holds pages in the exact shape the engines and gateways
// print them; testdata/real/SOURCES.md says where each one comes from.
const realFixtureDir = "testdata/real"

// TestRealFixturesAreValidPages parses every page with the text parser the
// collector uses and checks what Prometheus would refuse or misread.
func TestRealFixturesAreValidPages(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(realFixtureDir, "*.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no pages in %s", realFixtureDir)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if err := checkPage(bytes.NewReader(b)); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestRealFixturesHaveSources keeps SOURCES.md and the pages in step: one
// section per page, no section without its page.
func TestRealFixturesHaveSources(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(realFixtureDir, "*.txt"))
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(filepath.Join(realFixtureDir, "SOURCES.md"))
	if err != nil {
		t.Fatal(err)
	}
	sections := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^## `([^`]+)`").FindAllStringSubmatch(string(src), -1) {
		sections[m[1]] = true
	}
	for _, f := range files {
		name := filepath.Base(f)
		if !sections[name] {
			t.Errorf("%s has no section in SOURCES.md", name)
		}
		delete(sections, name)
	}
	for name := range sections {
		t.Errorf("SOURCES.md describes %s, which is not in %s", name, realFixtureDir)
	}
}

// TestCheckPageRejects shows that each check fails on the page it is for.
func TestCheckPageRejects(t *testing.T) {
	const good = "# TYPE x histogram\n" +
		"x_bucket{le=\"1\"} 1\nx_bucket{le=\"2\"} 3\nx_bucket{le=\"+Inf\"} 4\nx_count 4\nx_sum 5\n" +
		"# TYPE y gauge\ny{a=\"1\"} 1\ny{a=\"2\"} 2\n"
	if err := checkPage(strings.NewReader(good)); err != nil {
		t.Fatalf("good page rejected: %v", err)
	}
	bad := map[string]string{
		"not text format":    "x{a=\"1\" 1\n",
		"empty page":         "# just a comment\n",
		"not cumulative":     "# TYPE x histogram\nx_bucket{le=\"1\"} 3\nx_bucket{le=\"2\"} 2\nx_bucket{le=\"+Inf\"} 3\nx_count 3\nx_sum 1\n",
		"bounds not sorted":  "# TYPE x histogram\nx_bucket{le=\"2\"} 1\nx_bucket{le=\"1\"} 1\nx_bucket{le=\"+Inf\"} 1\nx_count 1\nx_sum 1\n",
		"no +Inf bucket":     "# TYPE x histogram\nx_bucket{le=\"1\"} 1\nx_count 1\nx_sum 1\n",
		"count is not +Inf":  "# TYPE x histogram\nx_bucket{le=\"1\"} 1\nx_bucket{le=\"+Inf\"} 2\nx_count 3\nx_sum 1\n",
		"duplicate series":   "# TYPE y gauge\ny{a=\"1\"} 1\ny{a=\"1\"} 2\n",
		"negative counter":   "# TYPE c counter\nc -1\n",
		"non-finite counter": "# TYPE c counter\nc NaN\n",
	}
	for name, page := range bad {
		if err := checkPage(strings.NewReader(page)); err == nil {
			t.Errorf("%s: page accepted", name)
		}
	}
}

// checkPage decodes a text-format page as the collector does and checks
// that every histogram is well formed and no series appears twice.
func checkPage(r io.Reader) error {
	dec := expfmt.NewDecoder(r, expfmt.NewFormat(expfmt.TypeTextPlain))
	n := 0
	for {
		mf := &dto.MetricFamily{}
		err := dec.Decode(mf)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		n++
		if err := checkFamily(mf); err != nil {
			return fmt.Errorf("%s: %w", mf.GetName(), err)
		}
	}
	if n == 0 {
		return errors.New("no metric family on the page")
	}
	return nil
}

func checkFamily(mf *dto.MetricFamily) error {
	seen := map[string]bool{}
	for _, m := range mf.GetMetric() {
		key := labelKey(m)
		if seen[key] {
			return fmt.Errorf("series {%s} appears twice", key)
		}
		seen[key] = true
		switch mf.GetType() {
		case dto.MetricType_HISTOGRAM:
			if err := checkHistogram(m.GetHistogram()); err != nil {
				return fmt.Errorf("{%s}: %w", key, err)
			}
		case dto.MetricType_COUNTER:
			if v := m.GetCounter().GetValue(); math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
				return fmt.Errorf("{%s}: counter value %v", key, v)
			}
		}
	}
	return nil
}

// checkHistogram wants strictly increasing bounds ending in +Inf, cumulative
// counts, and a count equal to the +Inf bucket.
func checkHistogram(h *dto.Histogram) error {
	bs := h.GetBucket()
	if len(bs) == 0 {
		return errors.New("no buckets")
	}
	for i := 1; i < len(bs); i++ {
		if bs[i].GetUpperBound() <= bs[i-1].GetUpperBound() {
			return fmt.Errorf("bound %v after %v", bs[i].GetUpperBound(), bs[i-1].GetUpperBound())
		}
		if bs[i].GetCumulativeCount() < bs[i-1].GetCumulativeCount() {
			return fmt.Errorf("bucket le=%v holds %d, fewer than le=%v's %d", bs[i].GetUpperBound(),
				bs[i].GetCumulativeCount(), bs[i-1].GetUpperBound(), bs[i-1].GetCumulativeCount())
		}
	}
	last := bs[len(bs)-1]
	if !math.IsInf(last.GetUpperBound(), 1) {
		return fmt.Errorf("last bucket le=%v, not +Inf", last.GetUpperBound())
	}
	if last.GetCumulativeCount() != h.GetSampleCount() {
		return fmt.Errorf("+Inf bucket %d, count %d", last.GetCumulativeCount(), h.GetSampleCount())
	}
	return nil
}

func labelKey(m *dto.Metric) string {
	pairs := make([]string, 0, len(m.GetLabel()))
	for _, l := range m.GetLabel() {
		pairs = append(pairs, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
	}
	sort.Strings(pairs)
	return strings.Join(pairs, ",")
}
