package mixin

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/promql/promqltest"
)

// loraRules renders the LoRA canary rules with the config overrides given (jsonnet object body) and
// returns their expressions by record name.
func loraRules(t *testing.T, overrides string) map[string]string {
	t.Helper()
	raw := evalJsonnet(t, `local m = (import 'mixin.libsonnet') + { _config+:: { `+overrides+` } };
[r for g in m.prometheusRules.groups if g.name == 'llm-lora-canary.rules' for r in g.rules]`)
	var rules []struct{ Record, Expr string }
	if err := json.Unmarshal([]byte(raw), &rules); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, r := range rules {
		out[r.Record] = r.Expr
	}
	return out
}

// Which adapter is stable and which are canaries, in both modes of loraReleaseBy, on one virtual
// model with three adapters: sql-lora 5/s, sql-lora-next 9/s (the busiest, and named as a canary)
// and sql-lora-old 1/s. And the canary comparison finds one stable adapter per model in both (no
// many-to-many match although two adapters do not match the canary regex).
func TestLoRAReleaseModes(t *testing.T) {
	const load = `load 1m
  namespace_model_adapter:llm_gateway_requests:rate1m{cluster="c", namespace="n", model_name="sql", adapter="sql-lora"} 5x70
  namespace_model_adapter:llm_gateway_requests:rate1m{cluster="c", namespace="n", model_name="sql", adapter="sql-lora-next"} 9x70
  namespace_model_adapter:llm_gateway_requests:rate1m{cluster="c", namespace="n", model_name="sql", adapter="sql-lora-old"} 1x70
  namespace_model_adapter:llm_gateway_request_errors:ratio_rate1m{cluster="c", namespace="n", model_name="sql", adapter="sql-lora"} 0.01x70
  namespace_model_adapter:llm_gateway_request_errors:ratio_rate1m{cluster="c", namespace="n", model_name="sql", adapter="sql-lora-next"} 0.04x70
  namespace_model_adapter:llm_gateway_request_errors:ratio_rate1m{cluster="c", namespace="n", model_name="sql", adapter="sql-lora-old"} 0.02x70
`
	for _, c := range []struct {
		mode, overrides string
		releases        []string
		// error-ratio differences against the stable adapter, per canary
		diffs []string
	}{
		// The busiest is stable, every other adapter a canary.
		{"traffic", `loraReleaseBy: 'traffic'`,
			[]string{"sql-lora canary", "sql-lora-next stable", "sql-lora-old canary"},
			[]string{"sql-lora - sql-lora-next = -0.03", "sql-lora-old - sql-lora-next = -0.02"}},
		// The name decides the canary; the busiest of the rest (sql-lora, 5/s) is stable and
		// sql-lora-old is neither.
		{"regex", `loraReleaseBy: 'regex', loraCanaryAdapterRegex: '.+-next'`,
			[]string{"sql-lora stable", "sql-lora-next canary"},
			[]string{"sql-lora-next - sql-lora = 0.03"}},
	} {
		t.Run(c.mode, func(t *testing.T) {
			rules := loraRules(t, c.overrides)
			st := promqltest.LoadedStorage(t, load)
			engine := promqltest.NewTestEngine(t, false, 5*time.Minute, 50_000_000)
			ts := time.Unix(3600, 0)
			res, err := instant(engine, st, rules["namespace_model_adapter:llm_gateway_release:info"], ts)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for k := range res {
				got = append(got, labelOf(k, "adapter")+" "+labelOf(k, "release"))
			}
			sort.Strings(got)
			if strings.Join(got, ",") != strings.Join(c.releases, ",") {
				t.Errorf("releases %v, want %v", got, c.releases)
			}
			// The comparison reads the recorded release series: give it the one just computed.
			var load2 strings.Builder
			load2.WriteString(load)
			for k := range res {
				fmt.Fprintf(&load2, "  namespace_model_adapter:llm_gateway_release:info{cluster=\"c\", namespace=\"n\", model_name=\"sql\", adapter=%q, release=%q} 1x70\n", labelOf(k, "adapter"), labelOf(k, "release"))
			}
			st2 := promqltest.LoadedStorage(t, load2.String())
			diff, err := instant(engine, st2, rules["namespace_model_adapter:llm_gateway_request_errors:ratio_rate1m_minus_stable"], ts)
			if err != nil {
				t.Fatal(err)
			}
			got = got[:0]
			for k, v := range diff {
				got = append(got, fmt.Sprintf("%s - %s = %.2f", labelOf(k, "adapter"), labelOf(k, "stable_adapter"), v))
			}
			sort.Strings(got)
			if strings.Join(got, ",") != strings.Join(c.diffs, ",") {
				t.Errorf("error-ratio differences %v, want %v", got, c.diffs)
			}
		})
	}
}

// labelOf reads one label's value from a label set as promql's Labels.String() prints it.
func labelOf(labels, name string) string {
	for _, sep := range []string{"{", ", "} {
		if i := strings.Index(labels, sep+name+`="`); i >= 0 {
			rest := labels[i+len(sep)+len(name)+2:]
			return rest[:strings.Index(rest, `"`)]
		}
	}
	return ""
}
