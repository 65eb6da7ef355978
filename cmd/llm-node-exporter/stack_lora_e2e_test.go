package main

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"
)

// checkLoRACanary: the LoRA canary view through Prometheus, on the stack's
// gateway pages (GAIE v0.3.0, v1.3.1, llm-d router v0.10.0, ASM) and the vLLM
// LoRA page of vllm-lora-0 (sql-lora-1 and sql-lora-2 running, tweet-summary-1
// waiting).
func checkLoRACanary(t *testing.T, p *promServer) {
	// The dashboard's key panel, its first query with $stable = sql-lora-1 and
	// $canary = sql-lora-2: where the two adapters run.
	var key string
	for _, q := range panelQueries(t, "../../dashboards/llm-lora-canary.json") {
		if strings.HasPrefix(q.title, "$canary against $stable") {
			key = q.expr
			break
		}
	}
	if key == "" {
		t.Fatal("llm-lora-canary.json: no panel \"$canary against $stable ...\"")
	}
	key = grafanaVars(strings.NewReplacer("$stable", "sql-lora-1", "$canary", "sql-lora-2").Replace(key))
	var got []string
	waitFor(t, 20*time.Second, "the key LoRA canary panel lists the adapters' pods", func() bool {
		got = got[:0]
		for _, s := range p.query(t, key) {
			got = append(got, fmt.Sprintf("%s %s on %s", s.Metric["adapter"], s.Metric["state"], s.Metric["pod"]))
		}
		sort.Strings(got)
		return len(got) > 0
	})
	if want := "sql-lora-1 running on vllm-lora-0,sql-lora-2 running on vllm-lora-0"; strings.Join(got, ",") != want {
		t.Errorf("%s: %q, want %q", key, got, want)
	}

	// Running requests per virtual model: 17 on each of the three endpoint
	// pickers, the llm-d router's twice-printed gauge counted once (68 if not).
	for _, c := range []struct{ q, want string }{
		{`namespace_model:llm_gateway_requests_running:sum{namespace="llm", model_name="sql-assistant"}`, "51"},
		{`namespace_model:llm_gateway_requests_running:sum{namespace="llm", model_name="tweet-summary"}`, "12"},
		// Per adapter: the llm-d router only (14 + 3 of its 17).
		{`namespace_model_adapter:llm_gateway_requests_running:sum{namespace="llm", adapter="sql-lora-2"}`, "3"},
		// One stable adapter per virtual model, one canary for sql-assistant.
		{`count(namespace_model_adapter:llm_gateway_release:info{release="stable"})`, "2"},
		{`count(namespace_model_adapter:llm_gateway_release:info{release="canary", model_name="sql-assistant"})`, "1"},
		// Both latency comparisons and the error one, for that canary.
		{`count({__name__=~"namespace_model_adapter:llm_gateway_.+:(ratio_to_stable|ratio_rate1m_minus_stable)"})`, "3"},
		{`namespace_adapter:llm_engine_lora_adapter_pods:count{namespace="llm", adapter="tweet-summary-1", state="waiting"}`, "1"},
	} {
		p.waitQuery(t, c.q, c.q+" = "+c.want, func(s []promSeries) bool {
			return len(s) == 1 && fmt.Sprint(s[0].Value[1]) == c.want
		})
	}

	// tweet-summary-1 waits on vllm-lora-0 and runs nowhere: the alert fires
	// (its `for:` shortened), and for no adapter that runs.
	waitFor(t, 30*time.Second, "LLMLoRAAdapterNotRunning firing for tweet-summary-1", func() bool {
		for _, m := range p.firing(t, "LLMLoRAAdapterNotRunning") {
			if m["adapter"] == "tweet-summary-1" && m["namespace"] == "llm" {
				return true
			}
		}
		return false
	})
	for _, m := range p.firing(t, "LLMLoRAAdapterNotRunning") {
		if m["adapter"] != "tweet-summary-1" {
			t.Errorf("LLMLoRAAdapterNotRunning firing for %v, which runs", m)
		}
	}
}
