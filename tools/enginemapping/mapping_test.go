package main

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

const (
	tablePath = "../../" + defaultTable
	outPath   = "../../" + defaultOut
)

// The rules pack's copy of the table is what the table says today: a row added
// to or changed in collector/engine/table.go without `make generate` fails here.
func TestCommittedMappingUpToDate(t *testing.T) {
	if err := run(tablePath, outPath, true); err != nil {
		t.Fatal(err)
	}
}

// Facts of the real table that the rules pack relies on, read back through the
// generator (so that a parser bug losing a field shows).
func TestParseRealTable(t *testing.T) {
	src, err := os.ReadFile(tablePath)
	if err != nil {
		t.Fatal(err)
	}
	m, err := Parse(tablePath, src)
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]Row{}
	var success []Row
	for _, r := range m.Rows {
		for _, s := range r.Sources {
			rows[s] = r
			if s == "vllm:request_success_total" {
				success = append(success, r)
			}
		}
	}
	if r := rows["vllm:time_per_output_token_seconds"]; r.Family != "inter_token_latency_seconds" {
		t.Errorf("vllm:time_per_output_token_seconds feeds %q, want inter_token_latency_seconds", r.Family)
	}
	if r := rows["vllm:request_prefill_time_seconds"]; r.Family != "stage_latency_seconds" || r.ExtraValue != "prefill" {
		t.Errorf("vllm:request_prefill_time_seconds: %+v, want stage_latency_seconds with stage prefill", r)
	}
	// vLLM's finished requests feed the request counter by reason and the aborted one.
	if len(success) != 2 || success[0].ExtraFrom != "finished_reason" || success[1].Family != "requests_aborted_total" ||
		success[1].WhereLabel != "finished_reason" || success[1].WhereValue != "abort" {
		t.Errorf("vllm:request_success_total rows: %+v", success)
	}
	fams := map[string]Family{}
	for _, f := range m.Families {
		fams[f.Name] = f
	}
	if f := fams["stage_latency_seconds"]; f.Kind != "histogram" || f.Extra != "stage" || !f.Contract {
		t.Errorf("stage_latency_seconds: %+v, want a contract histogram with extra label stage", f)
	}
	if f := fams["prefix_cache_hit_ratio"]; f.Kind != "gauge" || f.Contract {
		t.Errorf("prefix_cache_hit_ratio: %+v, want a gauge outside the contract", f)
	}
}

const miniTable = `package engine

var (
	famA = &family{"a_seconds", kindHistogram, "A.", ""} // contract
	famB = &family{"b_total", kindCounter, "B.", "reason"}
)

var families = []*family{famA, famB}

var table = []mapping{
	{out: famA, sources: []string{"sglang:a_seconds", "vllm:a_seconds"}},
	{out: famB, sources: []string{"vllm:b_total"}, extraFrom: "reason"},
	{out: famB, sources: []string{"vllm:c_total"}, whereLabel: "x", whereValue: "y", extraValue: "c"},
}
`

// A row added to the table reaches the JSON with every field.
func TestParseNewRows(t *testing.T) {
	m, err := Parse("mini.go", []byte(miniTable))
	if err != nil {
		t.Fatal(err)
	}
	want := &Mapping{
		Generated: generatedNote,
		Families: []Family{
			{Name: "a_seconds", Kind: "histogram", Contract: true},
			{Name: "b_total", Kind: "counter", Extra: "reason"},
		},
		Rows: []Row{
			{Family: "a_seconds", Sources: []string{"sglang:a_seconds", "vllm:a_seconds"}},
			{Family: "b_total", Sources: []string{"vllm:b_total"}, ExtraFrom: "reason"},
			{Family: "b_total", Sources: []string{"vllm:c_total"}, ExtraValue: "c", WhereLabel: "x", WhereValue: "y"},
		},
	}
	if !reflect.DeepEqual(m, want) {
		t.Errorf("got %+v\nwant %+v", m, want)
	}
}

// A field the generator does not understand is an error, not a silently dropped fact.
func TestParseUnknownField(t *testing.T) {
	src := strings.Replace(miniTable, `extraFrom: "reason"}`, `extraFrom: "reason", scale: 2}`, 1)
	_, err := Parse("mini.go", []byte(src))
	if err == nil || !strings.Contains(err.Error(), "unknown mapping field scale") {
		t.Fatalf("err = %v, want unknown mapping field scale", err)
	}
}
