package main

import (
	"flag"
	"fmt"
)

// The exporter's and the inference gateway's series, in the shapes and label sets they serve
// (docs/metrics.md, docs/metrics-engine.md, docs/schema.md; the gateway's names and labels as in
// collector/engine/testdata/real/llm-d-router-v0.10.0-epp.txt and asm-proxy.txt). Only the families
// some rule of the seeds profile reads are written: the others the exporter serves would add index
// entries under names no rule selects, not samples to any evaluation.

var (
	gpus            = flag.Int("gpus", 8, "GPUs per node (llm-node-exporter), split evenly between the node's engine pods, one DP rank per GPU; the node's first -gpus HCAs are paired with them")
	vllmEvery       = flag.Int("vllm-every", 4, "every n-th P/D app is served by vLLM in the exporter's series (NIXL connector, LoRA adapters); 0: none")
	loraAdapters    = flag.Int("lora-adapters", 4, "LoRA adapters per vLLM engine pod")
	epps            = flag.Int("epps", 3, "inference-gateway endpoint pickers per namespace (llm-d router v0.10.0: llm_d_epp_* and inference_objective_* both)")
	gatewayModels   = flag.Int("gateway-models", 2, "virtual models per endpoint picker")
	gatewayAdapters = flag.Int("gateway-adapters", 3, "adapters (target models) per virtual model: one stable, the others canaries")
)

type expPod struct{ ns, name, node, role, app string }

// attribution is the label set the exporter puts on a GPU's (and its paired HCA's) series: the pod
// and rank using it, empty strings when none.
func attribution(p *expPod, engine string, rank int) []string {
	if p == nil {
		return []string{"namespace", "", "pod", "", "container", "", "engine", "", "role", "", "dp_rank", "", "tp_rank", ""}
	}
	return []string{"namespace", p.ns, "pod", p.name, "container", "engine", "engine", engine, "role", p.role, "dp_rank", fmt.Sprint(rank), "tp_rank", "0"}
}

func kv(base []string, more ...string) []string { return append(append([]string{}, base...), more...) }

func fillExporter(g *gen, pods []expPod) error {
	onNode := map[string][]*expPod{}
	appIndex := map[string]int{}
	for i := range pods {
		onNode[pods[i].node] = append(onNode[pods[i].node], &pods[i])
		if _, ok := appIndex[pods[i].app]; !ok {
			var a int
			fmt.Sscanf(pods[i].app, "app%d", &a)
			appIndex[pods[i].app] = a
		}
	}
	engineOf := func(p *expPod) string {
		if *vllmEvery > 0 && appIndex[p.app]%*vllmEvery == *vllmEvery-1 {
			return "vllm"
		}
		return "sglang"
	}
	add := func(kvs []string, v func(int) float64) error { return g.add(lbls(kvs...), v) }
	for n := 0; n < *nodes; n++ {
		node := fmt.Sprintf("node-%03d", n)
		scrape := []string{"region", "r0", "job", "llm-node-exporter", "instance", node + ":9836", "node", node}
		ps := onNode[node]
		perPod := *gpus
		if len(ps) > 0 {
			perPod = max(1, *gpus/len(ps))
		}
		linkLayer := "InfiniBand"
		if n%2 == 1 {
			linkLayer = "Ethernet"
		}
		// GPUs, and the HCA paired with each (same PCIe switch): attributed to the rank using the GPU.
		for d := 0; d < max(*gpus, *hcas); d++ {
			var p *expPod
			rank := 0
			if len(ps) > 0 && d < *gpus && d/perPod < len(ps) {
				p, rank = ps[d/perPod], d%perPod
			}
			engine := ""
			if p != nil {
				engine = engineOf(p)
			}
			attr := attribution(p, engine, rank)
			if d < *gpus {
				gl := kv(scrape, append([]string{"gpu", fmt.Sprint(d), "uuid", fmt.Sprintf("GPU-%08x-%04x", n, d)}, attr...)...)
				u := 0.3 + 0.6*float64((n+d)%5)/4
				for _, m := range []struct {
					name string
					v    float64
				}{
					{"llm_gpu_up", 1}, {"llm_gpu_utilization_ratio", 1}, {"llm_gpu_power_watts", 300 + 400*u}, {"llm_gpu_memory_used_bytes", 120e9},
				} {
					if err := add(kv(gl, "__name__", m.name), gauge(m.v)); err != nil {
						return err
					}
				}
				if err := add(kv(gl, "__name__", "llm_gpu_info", "name", "NVIDIA H200", "pci_bus_id", fmt.Sprintf("00000000:%02X:00.0", 0x18+d*0x10), "driver_version", "570.133.20", "cuda_version", "12.8", "mig_mode", "disabled"), gauge(1)); err != nil {
					return err
				}
				for _, m := range []struct {
					name string
					v    float64
				}{{"llm_gpu_tensor_active_ratio", 0.5 * u}, {"llm_gpu_dram_bandwidth_utilization_ratio", 0.7 * u}, {"llm_gpu_sm_active_ratio", u}} {
					if err := add(kv(gl, "__name__", m.name, "gpu_instance", ""), gauge(m.v)); err != nil {
						return err
					}
				}
				if p != nil {
					if err := add(kv(gl, "__name__", "llm_rank_info"), gauge(1)); err != nil {
						return err
					}
				}
			}
			if d >= *hcas {
				continue
			}
			// RDMA port d inherits the workload of GPU d (same PCIe switch): the attribution and gpu.
			gpu := ""
			if p != nil {
				gpu = fmt.Sprint(d)
			}
			pl := kv(scrape, append([]string{"device", fmt.Sprintf("mlx5_%d", d), "port", "1", "link_layer", linkLayer, "gpu", gpu}, attr...)...)
			if err := fillPort(g, pl, float64(1+d%4)); err != nil {
				return err
			}
		}
		// The node's front-end / storage port: no GPU, no pod.
		if err := fillPort(g, kv(scrape, append([]string{"device", "mlx5_bond_0", "port", "1", "link_layer", "Ethernet", "gpu", ""}, attribution(nil, "", 0)...)...), 0.2); err != nil {
			return err
		}
		// The engines the exporter reads on the node: per (pod, DP rank).
		for _, p := range ps {
			if err := fillEngine(g, scrape, p, engineOf(p), perPod); err != nil {
				return err
			}
		}
	}
	return nil
}

func fillPort(g *gen, pl []string, f float64) error {
	for _, m := range []struct {
		name string
		rate float64
	}{
		{"llm_infiniband_port_data_received_bytes_total", 4e9}, {"llm_infiniband_port_data_transmitted_bytes_total", 4.4e9},
		{"llm_infiniband_port_packets_received_total", 1e6}, {"llm_infiniband_port_packets_transmitted_total", 1.1e6},
		{"llm_infiniband_port_transmit_wait_total", 1e4},
		// hw_counters (mlx5: RoCE congestion control and retransmission).
		{"llm_infiniband_np_cnp_packets_sent_total", 20}, {"llm_infiniband_rp_cnp_packets_handled_total", 20},
		{"llm_infiniband_np_ecn_marked_roce_packets_received_total", 25}, {"llm_infiniband_out_of_sequence_packets_received_total", 1},
		{"llm_infiniband_roce_adp_retransmits_total", 0.5}, {"llm_infiniband_out_of_buffer_drops_total", 0.1},
	} {
		if err := g.add(lbls(kv(pl, "__name__", m.name)...), counter(m.rate*f*15)); err != nil {
			return err
		}
	}
	if err := g.add(lbls(kv(pl, "__name__", "llm_infiniband_rate_bytes_per_second")...), gauge(5e10)); err != nil {
		return err
	}
	return g.add(lbls(kv(pl, "__name__", "llm_infiniband_state_id")...), gauge(4))
}

func fillEngine(g *gen, scrape []string, p *expPod, engine string, ranks int) error {
	les := []string{"0.01", "0.05", "0.1", "0.5", "1", "5", "+Inf"}
	shape := []float64{0.05, 0.2, 0.5, 0.8, 0.95, 0.99, 1}
	connector := "sglang"
	if engine == "vllm" {
		connector = "nixl"
	}
	stages := []string{"prefill_bootstrap", "prefill_waiting", "prefill_forward", "prefill_transfer_kv_cache"}
	if p.role == "decode" {
		stages = []string{"decode_prepare", "decode_bootstrap", "decode_waiting", "decode_transferred"}
	}
	if engine == "vllm" {
		stages = []string{p.role}
	}
	for d := 0; d < ranks; d++ {
		base := kv(scrape, "namespace", p.ns, "pod", p.name, "container", "engine", "engine", engine, "model", "glm", "role", p.role, "dp_rank", fmt.Sprint(d))
		// Counters and histograms once per (pod, DP rank), tp_rank=""; gauges with the kept rank's.
		per := kv(base, "tp_rank", "")
		gau := kv(base, "tp_rank", "0")
		n := float64(2 + d%5)
		add := func(kvs []string, v func(int) float64) error { return g.add(lbls(kvs...), v) }
		hist := func(name string, extra []string, rate, mean float64, buckets bool) error {
			l := kv(per, extra...)
			if buckets {
				for k, le := range les {
					if err := add(kv(l, "__name__", name+"_bucket", "le", le), counter(rate*shape[k])); err != nil {
						return err
					}
				}
			}
			if err := add(kv(l, "__name__", name+"_sum"), counter(rate*mean)); err != nil {
				return err
			}
			return add(kv(l, "__name__", name+"_count"), counter(rate))
		}
		// The latency histograms' buckets are served too; no rule reads them (the per-stage and
		// request-time rules read _sum and _count), so they are left out.
		for _, st := range stages {
			if err := hist("llm_engine_stage_latency_seconds", []string{"stage", st}, n, 0.2, false); err != nil {
				return err
			}
		}
		for _, h := range []string{"llm_engine_time_to_first_token_seconds", "llm_engine_inter_token_latency_seconds", "llm_engine_e2e_request_latency_seconds", "llm_engine_queue_time_seconds"} {
			if err := hist(h, nil, n, 0.3, false); err != nil {
				return err
			}
		}
		// KV transfer: SGLang records it on prefill (and bootstrap on both), vLLM's NIXL on decode.
		if (connector == "sglang" && p.role == "prefill") || (connector == "nixl" && p.role == "decode") {
			if err := hist("llm_engine_kv_transfer_seconds", []string{"connector", connector}, n, 0.05, true); err != nil {
				return err
			}
			if err := hist("llm_engine_kv_transfer_bytes", []string{"connector", connector}, n, 2e8, false); err != nil {
				return err
			}
		}
		for _, m := range []struct {
			name string
			rate float64
		}{
			{"llm_engine_requests_total", n}, {"llm_engine_requests_aborted_total", 0.01 * n}, {"llm_engine_requests_retracted_total", 0.001 * n},
			{"llm_engine_prompt_tokens_total", 1000 * n}, {"llm_engine_generation_tokens_total", 200 * n},
			{"llm_engine_estimated_flops_per_gpu_total", 4e14 * 15},
		} {
			if err := add(kv(per, "__name__", m.name), counter(m.rate)); err != nil {
				return err
			}
		}
		if connector == "sglang" {
			for _, m := range []string{"llm_engine_kv_transfer_failures_total", "llm_engine_bootstrap_failures_total"} {
				if err := add(kv(per, "__name__", m), counter(0.001*n)); err != nil {
					return err
				}
			}
			for _, st := range []string{"bootstrap", "transfer"} {
				if err := add(kv(per, "__name__", "llm_engine_kv_transfer_timeouts_total", "connector", "sglang", "stage", st), counter(0.001*n)); err != nil {
					return err
				}
			}
		} else {
			m := "llm_engine_kv_transfer_failed_transfers_total"
			if p.role == "prefill" {
				m = "llm_engine_kv_transfer_expired_requests_total"
			} else if err := add(kv(per, "__name__", "llm_engine_kv_transfer_failed_notifications_total", "connector", "nixl"), counter(0.001*n)); err != nil {
				return err
			}
			if err := add(kv(per, "__name__", m, "connector", "nixl"), counter(0.001*n)); err != nil {
				return err
			}
		}
		for _, m := range []string{"llm_engine_requests_running", "llm_engine_requests_waiting", "llm_engine_kv_cache_usage_ratio"} {
			if err := add(kv(gau, "__name__", m), gauge(float64(1+d%7))); err != nil {
				return err
			}
		}
		if engine == "sglang" {
			queues := []string{"prefill_bootstrap", "prefill_inflight"}
			if p.role == "decode" {
				queues = []string{"decode_prealloc", "decode_transfer"}
			}
			for _, q := range queues {
				if err := add(kv(gau, "__name__", "llm_engine_pd_queue_requests", "queue", q), gauge(3)); err != nil {
					return err
				}
			}
		} else {
			for a := 0; a < *loraAdapters; a++ {
				state := "running"
				if a%2 == 1 {
					state = "waiting"
				}
				if err := add(kv(gau, "__name__", "llm_engine_lora_adapters", "adapter", fmt.Sprintf("glm-lora-%d", a), "state", state), gauge(1)); err != nil {
					return err
				}
			}
			if err := add(kv(gau, "__name__", "llm_engine_lora_max_adapters"), gauge(8)); err != nil {
				return err
			}
		}
	}
	return nil
}

// fillGateway: per namespace -epps endpoint pickers of the llm-d router v0.10.0, which prints every
// request family under llm_d_epp_* and again under GAIE's inference_objective_* (other labels), per
// virtual model and adapter; per namespace one ASM LLM proxy, per adapter.
func fillGateway(g *gen) error {
	add := func(kvs []string, v func(int) float64) error { return g.add(lbls(kvs...), v) }
	durLe := []string{"0.005", "0.025", "0.05", "0.1", "0.2", "0.4", "0.6", "0.8", "1", "1.25", "1.5", "2", "3", "4", "5", "6", "8", "10", "15", "20", "30", "45", "60", "120", "180", "240", "300", "360", "480", "600", "900", "1200", "1800", "2700", "3600", "+Inf"}
	ttftLe := durLe[:24]
	ttftLe = append(append([]string{}, ttftLe...), "+Inf")
	frac := func(les []string, k int) float64 {
		if les[k] == "+Inf" {
			return 1
		}
		var x float64
		fmt.Sscan(les[k], &x)
		return 1 - 1/(1+x*x) // most requests under a few seconds
	}
	hist := func(name string, l []string, les []string, rate, mean float64) error {
		for k, le := range les {
			if err := add(kv(l, "__name__", name+"_bucket", "le", le), counter(rate*frac(les, k))); err != nil {
				return err
			}
		}
		if err := add(kv(l, "__name__", name+"_sum"), counter(rate*mean)); err != nil {
			return err
		}
		return add(kv(l, "__name__", name+"_count"), counter(rate))
	}
	for ns := 0; ns < 5; ns++ {
		namespace := fmt.Sprintf("ns%d", ns)
		var adapters []string
		for e := 0; e < *epps; e++ {
			scrape := []string{"region", "r0", "job", fmt.Sprintf("%s/epp-%d", namespace, e), "instance", fmt.Sprintf("10.2.%d.%d:9090", ns, e), "namespace", namespace}
			for m := 0; m < *gatewayModels; m++ {
				model := fmt.Sprintf("model-%d-%d", e, m)
				for a := 0; a < *gatewayAdapters; a++ {
					target := fmt.Sprintf("%s-lora-%d", model, a)
					adapters = append(adapters, target)
					rate := 10.0
					if a > 0 {
						rate = 1
					}
					ids := kv(scrape, "model_name", model, "target_model_name", target)
					epp := kv(ids, "fairness_id", "default-flow", "priority", "0")
					gaie := kv(ids, "priority", "0")
					for _, l := range [][]string{kv(epp, "__name__", "llm_d_epp_request_total"), kv(gaie, "__name__", "inference_objective_request_total")} {
						if err := add(l, counter(rate*15)); err != nil {
							return err
						}
					}
					for _, l := range [][]string{kv(epp, "__name__", "llm_d_epp_request_error_total", "error_code", "ModelServerError"), kv(gaie, "__name__", "inference_objective_request_error_total", "error_code", "ModelServerError")} {
						if err := add(l, counter(rate*0.15)); err != nil {
							return err
						}
					}
					if err := add(kv(epp, "__name__", "llm_d_epp_request_running"), gauge(rate)); err != nil {
						return err
					}
					if err := hist("llm_d_epp_request_duration_seconds", epp, durLe, rate*15, 2); err != nil {
						return err
					}
					if err := hist("inference_objective_request_duration_seconds", gaie, durLe, rate*15, 2); err != nil {
						return err
					}
					for _, st := range []string{"true", "false"} {
						if err := hist("llm_d_epp_request_ttft_seconds", kv(epp, "streaming", st), ttftLe, rate*7.5, 0.4); err != nil {
							return err
						}
					}
					// Token histograms: rules read _sum only; their buckets are left out.
					for _, t := range []struct{ epp, gaie string }{{"llm_d_epp_request_input_tokens", "inference_objective_input_tokens"}, {"llm_d_epp_request_output_tokens", "inference_objective_output_tokens"}} {
						for _, x := range []struct {
							name string
							l    []string
						}{{t.epp, epp}, {t.gaie, gaie}} {
							if err := add(kv(x.l, "__name__", x.name+"_sum"), counter(rate*15*500)); err != nil {
								return err
							}
							if err := add(kv(x.l, "__name__", x.name+"_count"), counter(rate*15)); err != nil {
								return err
							}
						}
					}
				}
				if err := add(kv(scrape, "__name__", "inference_objective_running_requests", "model_name", model), gauge(12)); err != nil {
					return err
				}
			}
		}
		for _, a := range adapters {
			for _, m := range []string{"asm_llm_proxy_prompt_tokens", "asm_llm_proxy_completion_tokens"} {
				if err := add([]string{"__name__", m, "region", "r0", "job", namespace + "/asm-llm-proxy", "instance", fmt.Sprintf("10.3.%d.1:15020", ns), "namespace", namespace, "llmproxy_model", a}, counter(7500)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
