package engine

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// docPath is the engine's metrics reference, a part of the binary's metrics
// reference (docs/metrics*.md).
const docPath = "../../docs/metrics-engine.md"

// TestDocsListEveryMapping keeps the engine's metrics reference and the table in
// step: every (family, source) row of the table is documented and every
// documented mapping is in the table; every family and self-metric has its row.
func TestDocsListEveryMapping(t *testing.T) {
	b, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	documented := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `(llm_engine_[a-z0-9_]+)` \\| `((?:sglang|vllm):[a-z0-9_]+)` \\|").FindAllStringSubmatch(doc, -1) {
		documented[m[1]+" <- "+m[2]] = true
	}
	inTable := map[string]bool{}
	for _, row := range table {
		for _, src := range row.sources {
			k := "llm_engine_" + row.out.name + " <- " + src
			inTable[k] = true
			if !documented[k] {
				t.Errorf("mapping %s is not documented in %s", k, docPath)
			}
		}
	}
	for k := range documented {
		if !inTable[k] {
			t.Errorf("%s documents mapping %s, which the table lacks", docPath, k)
		}
	}
	rows := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `(llm_engine_[a-z0-9_]+)` \\| (gauge|counter|histogram) \\|").FindAllStringSubmatch(doc, -1) {
		rows[m[1]+" "+m[2]] = true
	}
	typeName := map[kind]string{kindGauge: "gauge", kindCounter: "counter", kindHistogram: "histogram"}
	for _, f := range families {
		if k := "llm_engine_" + f.name + " " + typeName[f.kind]; !rows[k] {
			t.Errorf("family %s has no row in %s", k, docPath)
		}
	}
	c, err := New(Config{}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{c.upDesc.String(), c.durationDesc.String(), c.errorsDesc.String(), c.droppedDesc.String(), c.renamedDesc.String()} {
		name := regexp.MustCompile(`fqName: "([a-z_]+)"`).FindStringSubmatch(d)[1]
		if !strings.Contains(doc, "| `"+name+"` |") {
			t.Errorf("self-metric %s has no row in %s", name, docPath)
		}
	}
	// Every reason of every counter, and the passthrough's reserved prefixes.
	for _, r := range append(append(reasons[:], dropReasons[:]...), renameReasons[:]...) {
		if !strings.Contains(doc, "`"+r+"`") {
			t.Errorf("reason %s is not documented in %s", r, docPath)
		}
	}
	for _, p := range ReservedPrefixes {
		if !strings.Contains(doc, "`"+p+"`") {
			t.Errorf("reserved prefix %s is not documented in %s", p, docPath)
		}
	}
}
