package engine

import "testing"

// Every family and row of the table is in its data view, with its labels,
// conversion and split: a field the view forgot would silently leave the
// rules pack with another table than the exporter's.
func TestTableView(t *testing.T) {
	m := Table()
	if len(m.Families) != len(families) || len(m.Rows) != len(table) {
		t.Fatalf("%d families and %d rows, want %d and %d", len(m.Families), len(m.Rows), len(families), len(table))
	}
	for i, r := range table {
		v := m.Rows[i]
		if v.Family != r.out.name || len(v.Sources) != len(r.sources) || len(v.Labels) != len(r.extra) ||
			v.Mul != r.mul || v.Div != r.div || v.Unless != r.unless || v.DropNaN != r.dropNaN ||
			v.WhereLabel != r.whereLabel || v.WhereValue != r.whereValue {
			t.Errorf("row %d (%s): view %+v", i, r.out.name, v)
		}
		if r.split != splitNone && v.Split == "" {
			t.Errorf("row %d (%s): split %d has no name in the view", i, r.out.name, r.split)
		}
	}
	byName := map[string]MappingRow{}
	for _, r := range m.Rows {
		for _, s := range r.Sources {
			byName[s] = r
		}
	}
	// Hand-checked facts the rules pack relies on.
	if r := byName["vllm:time_per_output_token_seconds"]; r.Family != "inter_token_latency_seconds" {
		t.Errorf("vllm:time_per_output_token_seconds feeds %q", r.Family)
	}
	if r := byName["vllm:request_prefill_time_seconds"]; r.Family != "stage_latency_seconds" || r.ExtraValue != "prefill" {
		t.Errorf("vllm:request_prefill_time_seconds: %+v", r)
	}
	if r := byName["sglang:fwd_occupancy"]; r.Div != 100 || !r.DropNaN {
		t.Errorf("sglang:fwd_occupancy: %+v, want ÷100 and NaN dropped", r)
	}
	if r := byName["vllm:lora_requests_info"]; r.Split == "" {
		t.Errorf("vllm:lora_requests_info: %+v, want a split", r)
	}
}
