package main

import (
	"strings"
	"testing"
)

// The synthetic cluster must give every rule of the exporter-side, KV-fabric, MFU, gateway and
// LoRA groups series to record: a group evaluated on nothing would be timed as free.
func TestEveryExporterAndGatewayRuleRecords(t *testing.T) {
	*nodes, *apps, *enginePods, *ksmPods, *hours = 8, 4, 16, 80, 0.05
	*mixinDir, *rulesFile = "../..", "../../../profiles/seeds/rules/llm-node-exporter.rules.yaml"
	b, err := newBench()
	if err != nil {
		t.Fatal(err)
	}
	defer b.close()
	b.backfill()
	costs, err := b.measure()
	if err != nil {
		t.Fatal(err)
	}
	covered := func(name string) bool {
		for _, p := range []string{"llm-exporter-", "llm-kv-", "llm-gpu-peak-flops", "llm-gateway-", "llm-lora-canary", "llm-engine-lora", "llm-fabric"} {
			if strings.HasPrefix(name, p) {
				return true
			}
		}
		return false
	}
	n := 0
	for _, c := range costs {
		if !covered(c.name) {
			continue
		}
		n++
		if c.empty > 0 {
			t.Errorf("%s: %d of %d rules record nothing", c.name, c.empty, c.rules)
		}
		if c.samples == 0 && c.name != "llm-gpu-peak-flops.rules" {
			t.Errorf("%s: loads no samples", c.name)
		}
	}
	if n != 18 {
		t.Errorf("%d groups checked, want 18 (the seeds profile's exporter, fabric, gateway and LoRA groups)", n)
	}
}
