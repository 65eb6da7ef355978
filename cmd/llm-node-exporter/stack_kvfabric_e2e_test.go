package main

// The KV-transfer-against-fabric and MFU records (mixin/rules/kv-fabric.libsonnet) through
// Prometheus, on the stack of stack_e2e_test.go: the SGLang 0.5.18 P/D prefill page serves DP rank 1
// of sglang-prefill-0, whose GPU 1 (a fake H100) is paired with mlx5_1; the vLLM NIXL decode page
// serves vllm-pd-decode-0, which holds no GPU. The pages are static, so every rate is 0: the records
// are asserted by their label sets, and by value where the value is not a rate.

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"
)

func checkKVFabricRecords(t *testing.T, p *promServer) {
	// The longest chains: rank_info (GPM group) -> KV bytes -> share of the line rate; GPU info ->
	// rank peak -> MFU.
	waitFor(t, 30*time.Second, "KV share of the line rate and MFU recorded", func() bool {
		return len(p.query(t, `namespace_pod_dp_rank:llm_engine_kv_transfer_line_rate:ratio_rate1m`)) > 0 &&
			len(p.query(t, `namespace_pod_dp_rank:llm_engine_mfu:ratio_rate1m`)) > 0
	})
	sglangRank1 := "connector=sglang,dp_rank=1,engine=sglang,namespace=llm,pod=sglang-prefill-0,role=prefill"
	for _, c := range []struct {
		q    string
		want []string // label sets without __name__, sorted
		val  string   // the value of every series, "" for any
	}{
		// SGLang's shard times the rank's one GPU; NIXL per decode rank without any GPU.
		{`namespace_pod_dp_rank:llm_engine_kv_transfer_bytes:rate1m`, []string{
			sglangRank1,
			"connector=nixl,dp_rank=0,engine=vllm,namespace=llm,pod=vllm-pd-decode-0,role=decode",
			"connector=nixl,dp_rank=1,engine=vllm,namespace=llm,pod=vllm-pd-decode-0,role=decode",
		}, "0"},
		// Only a rank with GPUs and ports is compared with the fabric.
		{`namespace_pod_dp_rank:llm_engine_kv_transfer_line_rate:ratio_rate1m`, []string{sglangRank1}, "0"},
		{`namespace_pod_dp_rank:llm_engine_kv_transfer_hca_bytes:ratio_rate1m`, []string{sglangRank1}, ""},
		{`namespace_pod_dp_rank_quantile:llm_engine_kv_transfer_seconds:histogram_quantile{quantile="0.99",pod="sglang-prefill-0"}`, []string{"connector=sglang,dp_rank=1,engine=sglang,namespace=llm,pod=sglang-prefill-0,quantile=0.99,role=prefill"}, ""},
		{`count(namespace_pod_dp_rank_quantile:llm_engine_kv_transfer_seconds:histogram_quantile{quantile="0.99",pod="vllm-pd-decode-0"})`, []string{""}, "2"},
		// 400 Gb/s of mlx5_1, in bytes; prefill rank 3's only port, mlx5_3, is DOWN: no line rate.
		{`namespace_pod_dp_rank:llm_infiniband_rate_bytes_per_second:sum{pod="sglang-prefill-0",dp_rank="1"}`, []string{"dp_rank=1,namespace=llm,pod=sglang-prefill-0,role=prefill"}, "50000000000"},
		{`count(namespace_pod_dp_rank:llm_infiniband_rate_bytes_per_second:sum{pod="sglang-prefill-0"})`, []string{""}, "3"},
		// In the KV direction: transmitted on prefill, received on decode, every rank with a port.
		{`count by (role) (namespace_pod_dp_rank:llm_infiniband_port_data_kv_direction_bytes:rate1m)`, []string{"role=decode", "role=prefill"}, "4"},
		{`count(namespace_pod_dp_rank:llm_infiniband_out_of_sequence_packets_received:rate1m)`, []string{""}, "8"},
		// Errors per pod and kind.
		{`namespace_pod:llm_engine_kv_transfer_errors:rate1m{pod="vllm-pd-decode-0"}`, []string{
			"connector=nixl,engine=vllm,namespace=llm,pod=vllm-pd-decode-0,reason=expired_request,role=decode",
			"connector=nixl,engine=vllm,namespace=llm,pod=vllm-pd-decode-0,reason=failed_notification,role=decode",
			"connector=nixl,engine=vllm,namespace=llm,pod=vllm-pd-decode-0,reason=failed_transfer,role=decode",
		}, "0"},
		{`namespace_pod:llm_engine_kv_transfer_errors:rate1m{pod="sglang-pd-prefill-1",reason="timeout"}`, []string{
			"connector=sglang,engine=sglang,namespace=llm,pod=sglang-pd-prefill-1,reason=timeout,role=prefill,stage=bootstrap",
			"connector=sglang,engine=sglang,namespace=llm,pod=sglang-pd-prefill-1,reason=timeout,role=prefill,stage=transfer",
		}, "0"},
		{`namespace_pod:llm_engine_kv_transfer_errors:rate1m{pod="sglang-prefill-0",reason="bootstrap_failure"}`, []string{
			"connector=sglang,engine=sglang,namespace=llm,pod=sglang-prefill-0,reason=bootstrap_failure,role=prefill",
		}, "0"},
		// MFU: the fake NVML's "NVIDIA H100 80GB HBM3" (H100 SXM, 1,979 TFLOP/s with sparsity, halved)
		// for each of the 8 ranks; the 0.5.18 page's FLOP counter on prefill rank 1.
		{`name:llm_gpu_peak_flops_per_second:dense{name="NVIDIA H100 80GB HBM3"}`, []string{"name=NVIDIA H100 80GB HBM3"}, "989500000000000"},
		{`count(namespace_pod_dp_rank:llm_gpu_peak_flops_per_second:avg == 989500000000000)`, []string{""}, "8"},
		{`namespace_pod_dp_rank:llm_engine_mfu:ratio_rate1m`, []string{
			"dp_rank=1,engine=sglang,model=Qwen/Qwen3-235B-A22B-Instruct-2507,namespace=llm,pod=sglang-prefill-0,role=prefill",
		}, "0"},
	} {
		res := p.query(t, c.q)
		var got []string
		for _, s := range res {
			m := map[string]string{}
			for k, v := range s.Metric {
				if k != "__name__" {
					m[k] = v
				}
			}
			got = append(got, labelSet(m))
			if v := fmt.Sprint(s.Value[1]); c.val != "" && v != c.val {
				t.Errorf("%s: %s = %s, want %s", c.q, labelSet(m), v, c.val)
			}
		}
		sort.Strings(got)
		want := append([]string(nil), c.want...)
		sort.Strings(want)
		if strings.Join(got, " | ") != strings.Join(want, " | ") {
			t.Errorf("%s:\n got  %v\n want %v", c.q, got, want)
		}
	}
}
