package mixin

import (
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// nvmlName: a product name as NVML prints it (nvmlDeviceGetName, nvidia-smi --query-gpu=name):
// "NVIDIA " then the model, letters, digits, spaces and hyphens, no surrounding or doubled blanks.
var nvmlName = regexp.MustCompile(`^NVIDIA [A-Z][A-Za-z0-9]*(?:[ -][A-Za-z0-9]+)*$`)

type peakEntry struct {
	FLOPS  float64 `json:"flops"`
	Source string  `json:"source"`
}

func peakTable(t *testing.T, snippet string) map[string]peakEntry {
	t.Helper()
	var table map[string]peakEntry
	if err := json.Unmarshal([]byte(evalJsonnet(t, snippet)), &table); err != nil {
		t.Fatal(err)
	}
	return table
}

// checkPeakTable returns what is wrong with the table's entries.
func checkPeakTable(table map[string]peakEntry) []string {
	var bad []string
	seen := map[string]string{}
	for name, e := range table {
		if !nvmlName.MatchString(name) {
			bad = append(bad, name+": not an NVML product name")
		}
		// One GPU written twice (another case or spacing) would be two entries NVML never tells apart.
		key := strings.ToLower(strings.Join(strings.Fields(name), " "))
		if other, ok := seen[key]; ok {
			bad = append(bad, name+": the same GPU as "+other)
		}
		seen[key] = name
		// Dense BF16/FP16 tensor peaks of data-centre GPUs lie between a T4-class 65 TFLOP/s and a few
		// PFLOP/s; outside that, a unit (TFLOP/s written as FLOP/s) or a sparsity figure slipped in.
		if e.FLOPS < 5e13 || e.FLOPS > 1e16 {
			bad = append(bad, name+": peak "+strconv.FormatFloat(e.FLOPS, 'g', -1, 64)+" FLOP/s out of range")
		}
		if !strings.HasPrefix(e.Source, "https://www.nvidia.com/") && !strings.HasPrefix(e.Source, "NVIDIA ") {
			bad = append(bad, name+": source "+strconv.Quote(e.Source)+" is not an NVIDIA datasheet")
		}
	}
	return bad
}

// The peak FLOPS table of _config is well formed, and the rendered rules carry exactly its entries,
// one static series per GPU name with the table's value.
func TestGPUPeakFLOPSTable(t *testing.T) {
	table := peakTable(t, `(import 'config.libsonnet')._config.gpuPeakFLOPS`)
	if len(table) < 10 {
		t.Fatalf("%d entries", len(table))
	}
	for _, b := range checkPeakTable(table) {
		t.Error(b)
	}
	// The fake NVML of the tests and the names the rules pack is documented with are in it.
	for _, name := range []string{"NVIDIA H100 80GB HBM3", "NVIDIA H200", "NVIDIA H20", "NVIDIA B200", "NVIDIA A100-SXM4-80GB", "NVIDIA L40S"} {
		if _, ok := table[name]; !ok {
			t.Errorf("no entry for %q", name)
		}
	}
	for _, prof := range profiles {
		got := map[string]float64{}
		for path, groups := range ruleFiles(t, render(t)) {
			if path != prof.rules() {
				continue
			}
			for _, g := range groups.Groups {
				for _, r := range g.Rules {
					if r.Record != "name:llm_gpu_peak_flops_per_second:dense" {
						continue
					}
					v, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimPrefix(r.Expr, "vector("), ")"), 64)
					if err != nil {
						t.Errorf("%s: %s: %v", prof.name, r.Expr, err)
					}
					if _, dup := got[r.Labels["name"]]; dup {
						t.Errorf("%s: %q recorded twice", prof.name, r.Labels["name"])
					}
					got[r.Labels["name"]] = v
				}
			}
		}
		if len(got) != len(table) {
			t.Errorf("%s: %d static peak series, %d table entries", prof.name, len(got), len(table))
		}
		for name, e := range table {
			if got[name] != e.FLOPS {
				t.Errorf("%s: %q recorded as %g, the table says %g", prof.name, name, got[name], e.FLOPS)
			}
		}
	}
}

// The check finds each kind of mistake.
func TestGPUPeakFLOPSTableCheckFindsMistakes(t *testing.T) {
	for _, c := range []struct {
		name  string
		entry peakEntry
	}{
		{"H100 80GB HBM3", peakEntry{9.895e14, "https://www.nvidia.com/en-us/data-center/h100/"}},         // no NVIDIA prefix
		{"NVIDIA H100 80GB HBM3 ", peakEntry{9.895e14, "https://www.nvidia.com/en-us/data-center/h100/"}}, // trailing blank
		{"NVIDIA H100 80GB HBM3", peakEntry{989.5, "https://www.nvidia.com/en-us/data-center/h100/"}},     // TFLOP/s
		{"NVIDIA H100 80GB HBM3", peakEntry{1.979e17, "https://www.nvidia.com/en-us/data-center/h100/"}},  // out of range
		{"NVIDIA H100 80GB HBM3", peakEntry{9.895e14, ""}},                                                // no source
		{"NVIDIA H100 80GB HBM3", peakEntry{9.895e14, "https://example.com/h100-benchmarks"}},             // not NVIDIA's
	} {
		if bad := checkPeakTable(map[string]peakEntry{c.name: c.entry}); len(bad) == 0 {
			t.Errorf("%q %+v: no mistake found", c.name, c.entry)
		}
	}
	if bad := checkPeakTable(map[string]peakEntry{
		"NVIDIA H200":  {9.895e14, "https://www.nvidia.com/en-us/data-center/h200/"},
		"NVIDIA  h200": {9.895e14, "https://www.nvidia.com/en-us/data-center/h200/"},
	}); len(bad) == 0 {
		t.Error("one GPU written twice: no mistake found")
	}
	if bad := checkPeakTable(map[string]peakEntry{"NVIDIA A100-SXM4-80GB": {3.12e14, "NVIDIA A100 Tensor Core GPU datasheet"}}); len(bad) != 0 {
		t.Errorf("a good entry: %v", bad)
	}
}
