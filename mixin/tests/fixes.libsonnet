// promtool tests with hand-computed values (derivations in the comments) for the fixes and for the
// rules no seed panel covers: request-weighted means, TP de-duplication, the P/D true TTFT estimate,
// the burn-rate ratios, the load balancer split, HCA attribution and the (b) contract rules.
{
  local c = $._config,
  local cl = c.clusterLabel,
  local nl = c.nodeLabel,
  local fixture = (import 'fixture.libsonnet')(c),
  local lb = c.sources.loadBalancer,
  local nodeExporter = c.sources.nodeExporterInfiniBand,
  local near(q, v) = { eval_time: '10m', expr: 'count(abs((%s) - %s) <= 1e-9 * %s)' % [q, v, v], exp_samples: [{ labels: '{}', value: 1 }] },
  local counter(name, labels, inc) = { series: name + '{' + std.join(', ', ['%s="%s"' % [k, labels[k]] for k in std.objectFields(labels)]) + '}', values: '0+%sx40' % inc },
  local gauge(name, labels, v) = counter(name, labels, 0) { values: '%sx40' % v },
  local exL = { [cl]: 'r1', job: 'llm-node-exporter', namespace: 'ns1', pod: 'chat-decode-0', container: 'engine', role: 'decode', model: 'glm', engine: 'sglang', tp_rank: '' },
  local gpuL = { [cl]: 'r1', job: 'llm-node-exporter', namespace: 'ns1', pod: 'chat-decode-0', container: 'engine', [nl]: 'n3' },
  local extra = [
    counter('llm_engine_time_to_first_token_seconds_sum', exL { dp_rank: '0' }, 2),
    counter('llm_engine_time_to_first_token_seconds_count', exL { dp_rank: '0' }, 4),
    counter('llm_engine_time_to_first_token_seconds_sum', exL { dp_rank: '1' }, 1),
    counter('llm_engine_time_to_first_token_seconds_count', exL { dp_rank: '1' }, 6),
    gauge('llm_gpu_utilization_ratio', gpuL { gpu: '0', uuid: 'GPU-0' }, 0.5),
    gauge('llm_gpu_utilization_ratio', gpuL { gpu: '1', uuid: 'GPU-1' }, 0.7),
    // A vLLM page that serves a metric under its current and its deprecated name.
    counter('vllm:inter_token_latency_seconds_sum', renL, 1),
    counter('vllm:time_per_output_token_seconds_sum', renL, 1),
    gauge('vllm:kv_cache_usage_perc', renL, 0.4),
    gauge('vllm:gpu_cache_usage_perc', renL, 0.4),
  ],
  local renL = { [cl]: 'r1', namespace: 'ns1', job: 'ns1/rename-vllm', pod: 'rename-vllm-0', model_name: 'm' },
  local P = '%s="r1", namespace="ns1", app="chat"' % cl,

  fixesTest:: {
    rule_files: [$._paths.rules],
    evaluation_interval: c.rateWindow,
    group_eval_order: [g.name for g in $.prometheusRules.groups],
    tests: [{
      name: 'fixes and rules without a seed panel, hand-computed',
      interval: '15s',
      input_series: fixture.series + extra,
      promql_expr_test: [
        // prefill_bootstrap, prefill job: ranks (pod0,dp0) n=4 m=0.05, (pod0,dp1) n=5 m=0.08,
        // (pod1,dp0) n=6 m=0.12, (pod1,dp1) idle. Request-weighted: (0.2+0.4+0.72)/15 = 0.088.
        near('namespace_job:engine_stage_latency_seconds:mean1m{%s, role="prefill", stage="prefill_bootstrap"}' % P, '0.088'),
        // ... while the seed's intended avg(rate(_sum)/rate(_count)) is NaN because of the idle rank.
        {
          eval_time: '10m',
          local seed = 'avg(rate(sglang:per_stage_req_latency_seconds_sum{job="ns1/chat-prefill", stage="prefill_bootstrap"}[1m]) / rate(sglang:per_stage_req_latency_seconds_count{job="ns1/chat-prefill", stage="prefill_bootstrap"}[1m]))',
          // x != x holds only for NaN.
          expr: 'count((%s) != (%s))' % [seed, seed],
          exp_samples: [{ labels: '{}', value: 1 }],
        },
        // Renamed metrics: a page serving both names counts once (rate() drops the names, so
        // a plain name regex made two series with one label set and failed the rule).
        near('namespace_pod:engine_inter_token_latency_seconds_sum:rate1m{pod="rename-vllm-0"}', '0.06666666666666667'),
        near('namespace_pod:engine_kv_cache_usage_ratio:sum{pod="rename-vllm-0"}', '0.4'),
        // TP de-duplication: chat-decode-0 exports decode_waiting from TP ranks 0,1 (DP0) and 2,3 (DP1);
        // requests per step 4+4+0+3 = 11 and 4+4+1+3 = 12, counted once: 23/15 per second.
        near('namespace_pod:engine_stage_latency_seconds_count:rate1m{pod="chat-decode-0", stage="decode_waiting"}', '1.5333333333333334'),
        // P/D true TTFT: prefill stage means 0.088 + 0.18722222 + 0.28666667 + 0.38625 (bootstrap,
        // waiting, forward, transfer) + decode_waiting mean 0.5434 + decode ITL mean 6.11/135.
        near('namespace_app:engine_pd_true_ttft_seconds:mean1m{%s}' % P, '1.5367981481481483'),
        // Aborted ratio, decode job: (1.0 + 1.25) / (7 + 8) per step. Every window is a ratio of
        // sums of the recorded 1m rates; on raw counters it is the same ratio of increases.
      ] + [
        near('namespace_job:engine_requests_aborted:ratio_rate%s{job="ns1/chat-decode"}' % bw, '0.15')
        for bw in c.burnWindows
      ] + [
        near('sum(increase(sglang:num_aborted_requests_total{job="ns1/chat-decode"}[6h])) / sum(increase(sglang:num_requests_total{job="ns1/chat-decode"}[6h]))', '0.15'),
        // is_streaming: chat-prefill-0 serves 375 streaming and 125 other prompt tokens per step,
        // 500 / 15 per second in all ...
        near('namespace_pod:engine_prompt_tokens:rate1m{pod="chat-prefill-0"}', '33.333333333333336'),
        // ... which the seed's avg by (pod) halves (the mean of its two series).
        near('avg by (pod) (rate(sglang:prompt_tokens_total{pod="chat-prefill-0"}[1m]))', '16.666666666666668'),
        // Pod -> workload join.
        {
          eval_time: '10m',
          expr: 'node_namespace_workload_pod:llm_kube_pod_owner:relabel{pod="chat-decode-1"}',
          exp_samples: [{ labels: '{__name__="node_namespace_workload_pod:llm_kube_pod_owner:relabel", app="chat", namespace="ns1", %s="n3", pod="chat-decode-1", %s="r1", role="decode", workload="chat-decode", workload_type="deployment"}' % [nl, cl], value: 1 }],
        },
        // HCA attribution: chat-prefill-0 owns mlx5_0 of n1 (2 x 3e8 bytes per step sent).
        near('namespace_workload_pod:llm_infiniband_port_data_transmitted_bytes:rate1m{pod="chat-prefill-0"}', '4e7'),
        near('namespace_workload_pod:llm_infiniband_port_data_transmitted_bytes:rate1m{pod="other-0"}', '1.3333333333333334e7'),
        // Unattributed port mlx5_2 of n1: 5e7 bytes per step received.
        near('node:llm_infiniband_port_data_received_bytes:unattributed_rate1m{%s="n1"}' % nl, '3333333.3333333335'),
        // (b) engine contract: chat-decode-0 TTFT over both DP ranks (2+1)/(4+6).
        near('namespace_workload:llm_engine_time_to_first_token_seconds:mean1m{workload="chat-decode"}', '0.3'),
        // (b) GPU: mean utilisation of the pod's two GPUs.
        near('namespace_pod:llm_gpu_utilization_ratio:avg{pod="chat-decode-0"}', '0.6'),
      ] + (if !nodeExporter then [] else [
             // The node-level fallback gives chat-prefill-0 all of n1 (2e8 + 4e8 per step, other-0's
             // traffic included), and other-0 the same.
             near('namespace_workload_pod:node_infiniband_port_data_transmitted_bytes:node_rate1m{pod="chat-prefill-0"}', '4e7'),
             near('namespace_workload_pod:node_infiniband_port_data_transmitted_bytes:node_rate1m{pod="other-0"}', '4e7'),
           ]) + (if !lb then [] else [
                   // Load balancer: 7 endpoints, one inactive; 10.0.0.1:30000:0 watched by two LB replicas.
                   { eval_time: '10m', expr: 'count(pool_endpoint:glm_watched_endpoints:active)', exp_samples: [{ labels: '{}', value: 6 }] },
                   {
                     eval_time: '10m',
                     expr: 'pool_endpoint:glm_watched_endpoints:active{exported_endpoint="10.0.0.1:30000:0"}',
                     exp_samples: [{ labels: '{__name__="pool_endpoint:glm_watched_endpoints:active", dp_rank="0", endpoint_ip="10.0.0.1", endpoint_port="30000", exported_endpoint="10.0.0.1:30000:0", job="ns1/chat-lb", %s="r1"}' % cl, value: 2 }],
                   },
                   {
                     eval_time: '10m',
                     expr: 'pool_endpoint:glm_watched_endpoints:active{exported_endpoint="10.0.0.3:30001"}',
                     exp_samples: [{ labels: '{__name__="pool_endpoint:glm_watched_endpoints:active", endpoint_ip="10.0.0.3", endpoint_port="30001", exported_endpoint="10.0.0.3:30001", job="ns1/chat-lb", pool="p1;p2;p3;;;", %s="r1"}' % cl, value: 1 }],
                   },
                 ] + $.poolChecks),
    }],
  },
}
