// promtool tests of the KV-transfer-against-fabric and MFU recording rules (rules/kv-fabric), values
// hand-computed in the comments. Node n1: an SGLang prefill pod with DP ranks 0 (GPUs 0, 1) and 1
// (GPUs 2, 3), a vLLM NIXL decode pod with DP ranks 0 (GPUs 4, 6) and 1 (GPU 5); the RDMA port
// mlx5_i is paired with GPU i and carries its attribution; mlx5_3 is DOWN; mlx5_8 belongs to no pod.
// chat-prefill-9 reports KV transfers but has no GPU attributed. One step = 15s, counters grow
// linearly, so every rate is exact.
{
  local c = $._config,
  local cl = c.clusterLabel,
  local steps = 40,
  local lbl(o) = '{' + std.join(', ', ['%s="%s"' % [k, o[k]] for k in std.objectFields(o)]) + '}',
  local gauge(name, labels, v) = { series: name + lbl(labels), values: '%sx%d' % [v, steps] },
  // A counter growing by perSecond every second (15 * perSecond per step).
  local counter(name, labels, perSecond) = { series: name + lbl(labels), values: '0+%sx%d' % [std.toString(perSecond * 15), steps] },
  local near(q, v) = { eval_time: '10m', expr: 'count(abs((%s) - %s) <= 1e-9 * %s)' % [q, v, v], exp_samples: [{ labels: '{}', value: 1 }] },
  local exact(q, labels, v) = [{ eval_time: '10m', expr: 'group without () (%s)' % q, exp_samples: [{ labels: labels, value: 1 }] }, near(q, v)],
  local count(q, n) = { eval_time: '10m', expr: 'count(%s) or vector(0)' % q, exp_samples: [{ labels: '{}', value: n }] },

  local ex = { [cl]: 'r1', [c.nodeLabel]: 'n1', job: 'llm-node-exporter', instance: 'n1:9836' },
  local pods = {
    prefill: { namespace: 'ns1', pod: 'chat-prefill-0', container: 'engine', engine: 'sglang', role: 'prefill' },
    decode: { namespace: 'ns1', pod: 'chat-decode-0', container: 'engine', engine: 'vllm', role: 'decode' },
    none: { namespace: '', pod: '', container: '', engine: '', role: '' },
  },
  // gpu, pod, dp_rank, tp_rank, GPU name
  local gpus = [
    ['0', 'prefill', '0', '0', 'NVIDIA H100 80GB HBM3'],
    ['1', 'prefill', '0', '1', 'NVIDIA H100 80GB HBM3'],
    ['2', 'prefill', '1', '0', 'NVIDIA H100 80GB HBM3'],
    ['3', 'prefill', '1', '1', 'NVIDIA H100 80GB HBM3'],
    ['4', 'decode', '0', '0', 'NVIDIA H20'],
    ['6', 'decode', '0', '1', 'NVIDIA H20'],
    ['5', 'decode', '1', '0', 'NVIDIA X9000'],  // not in the peak table
  ],
  local gpuL(g) = ex + pods[g[1]] { gpu: g[0], uuid: 'GPU-' + g[0], dp_rank: g[2], tp_rank: g[3] },
  local gpuSeries = std.flattenArrays([
    [
      gauge('llm_rank_info', gpuL(g), 1),
      gauge('llm_gpu_info', ex + pods[g[1]] { gpu: g[0], uuid: 'GPU-' + g[0], dp_rank: g[2], name: g[4], pci_bus_id: '0000:1%s:00.0' % g[0], driver_version: '570.86.15' }, 1),
    ]
    for g in gpus
  ]),

  // device, GPU row (or null: no pod), state, line rate B/s, tx B/s, rx B/s, CNP sent/s, CNP handled/s,
  // ECN marked/s, out of sequence/s, retransmits/s
  local ports = [
    ['mlx5_0', gpus[0], 4, 5e10, 2e9, 1e8, 100, 0, 0, 0, 0],
    ['mlx5_1', gpus[1], 4, 5e10, 2e9, 1e8, 300, 0, 0, 0, 0],
    ['mlx5_2', gpus[2], 4, 5e10, 1e9, 1e8, 0, 0, 0, 5, 0],
    ['mlx5_3', gpus[3], 1, 1.25e9, 0, 0, 0, 0, 0, 0, 1],
    ['mlx5_4', gpus[4], 4, 5e10, 1e8, 3e9, 0, 50, 200, 0, 0],
    ['mlx5_6', gpus[5], 4, 5e10, 1e8, 1e9, 0, 0, 0, 0, 0],
    ['mlx5_5', gpus[6], 4, 5e10, 1e8, 1.5e9, 0, 0, 0, 0, 0],
    ['mlx5_8', null, 4, 2.5e10, 7e9, 7e9, 9000, 9000, 9000, 9000, 9000],
  ],
  local portL(pt) = ex + (if pt[1] == null then pods.none { dp_rank: '', tp_rank: '', gpu: '' } else gpuL(pt[1])) { device: pt[0], port: '1', link_layer: 'Ethernet' },
  local portSeries = std.flattenArrays([
    [
      gauge('llm_infiniband_state_id', portL(pt), pt[2]),
      gauge('llm_infiniband_rate_bytes_per_second', portL(pt), pt[3]),
      counter('llm_infiniband_port_data_transmitted_bytes_total', portL(pt), pt[4]),
      counter('llm_infiniband_port_data_received_bytes_total', portL(pt), pt[5]),
      counter('llm_infiniband_np_cnp_packets_sent_total', portL(pt), pt[6]),
      counter('llm_infiniband_rp_cnp_packets_handled_total', portL(pt), pt[7]),
      counter('llm_infiniband_np_ecn_marked_roce_packets_received_total', portL(pt), pt[8]),
      counter('llm_infiniband_out_of_sequence_packets_received_total', portL(pt), pt[9]),
      counter('llm_infiniband_roce_adp_retransmits_total', portL(pt), pt[10]),
    ]
    for pt in ports
  ]),

  local engL(pod, dp, extra={}) = ex + pods[pod] { model: 'glm', dp_rank: dp, tp_rank: '' } + extra,
  local sg = { connector: 'sglang' },
  local nixl = { connector: 'nixl' },
  local les = ['0.01', '0.05', '0.1', '0.5', '1', '+Inf'],
  // Transfers per second at or below each bound: 2, 6, 8, 9, 10, 10; 0.5 s of transfer time per second.
  local perLe = [2, 6, 8, 9, 10, 10],
  local engineSeries = [
    // SGLang: the logging rank's shard, 5e8 and 4e8 B/s; 2 GPUs per rank.
    counter('llm_engine_kv_transfer_bytes_sum', engL('prefill', '0', sg), 5e8),
    counter('llm_engine_kv_transfer_bytes_sum', engL('prefill', '1', sg), 4e8),
    counter('llm_engine_kv_transfer_bytes_sum', engL('prefill', '0', sg) { pod: 'chat-prefill-9' }, 5e8),
    // NIXL: every TP rank's transfers pooled, 2.4e9 and 6e8 B/s.
    counter('llm_engine_kv_transfer_bytes_sum', engL('decode', '0', nixl), 2.4e9),
    counter('llm_engine_kv_transfer_bytes_sum', engL('decode', '1', nixl), 6e8),
  ] + [
    counter('llm_engine_kv_transfer_seconds_bucket', engL('prefill', '0', sg { le: les[i] }), perLe[i])
    for i in std.range(0, 5)
  ] + [
    counter('llm_engine_kv_transfer_seconds_sum', engL('prefill', '0', sg), 0.5),
    counter('llm_engine_kv_transfer_seconds_count', engL('prefill', '0', sg), 10),
    // Errors.
    counter('llm_engine_kv_transfer_failed_transfers_total', engL('decode', '0', nixl), 0.2),
    counter('llm_engine_kv_transfer_failed_transfers_total', engL('decode', '1', nixl), 0.1),
    counter('llm_engine_kv_transfer_failed_notifications_total', engL('decode', '0', nixl), 0),
    counter('llm_engine_kv_transfer_failures_total', engL('prefill', '0'), 0.3),
    counter('llm_engine_kv_transfer_failures_total', engL('prefill', '1'), 0.1),
    counter('llm_engine_kv_transfer_timeouts_total', engL('prefill', '', sg { model: '', stage: 'transfer' }), 0.1),
    counter('llm_engine_kv_transfer_timeouts_total', engL('prefill', '', sg { model: '', stage: 'bootstrap' }), 0.05),
    counter('llm_engine_bootstrap_failures_total', engL('prefill', '0'), 0.02),
    // FLOPs per GPU: 0.4 and 0.3 of an H100's 989.5 TFLOP/s, 0.2 of an H20's 148; decode rank 1's GPU
    // is not in the table.
    counter('llm_engine_estimated_flops_per_gpu_total', engL('prefill', '0'), 0.4 * 989.5e12),
    counter('llm_engine_estimated_flops_per_gpu_total', engL('prefill', '1'), 0.3 * 989.5e12),
    counter('llm_engine_estimated_flops_per_gpu_total', engL('decode', '0'), 0.2 * 148e12),
    counter('llm_engine_estimated_flops_per_gpu_total', engL('decode', '1'), 1e13),
  ],

  local R(pod, dp) = 'pod="%s", dp_rank="%s"' % [pod, dp],
  local P = 'chat-prefill-0',
  local D = 'chat-decode-0',

  'kv-fabricTest':: {
    rule_files: [$._paths.rules],
    evaluation_interval: c.rateWindow,
    group_eval_order: [g.name for g in $.prometheusRules.groups],
    tests: [{
      name: 'KV transfer against the fabric and MFU per DP rank, hand-computed',
      interval: '15s',
      input_series: gpuSeries + portSeries + engineSeries,
      promql_expr_test: std.flattenArrays([if std.isArray(x) then x else [x] for x in [
        // Line rate of the ACTIVE ports per rank: prefill dp0 mlx5_0 + mlx5_1 = 2 x 5e10; dp1 mlx5_2
        // only (mlx5_3 is DOWN); the unattributed mlx5_8 belongs to no rank: 4 ranks in all.
        exact('namespace_pod_dp_rank:llm_infiniband_rate_bytes_per_second:sum{%s}' % R(P, '0'),
              '{dp_rank="0", namespace="ns1", pod="chat-prefill-0", %s="r1", role="prefill"}' % cl,
              1e11),
        near('namespace_pod_dp_rank:llm_infiniband_rate_bytes_per_second:sum{%s}' % R(P, '1'), 5e10),
        near('namespace_pod_dp_rank:llm_infiniband_rate_bytes_per_second:sum{%s}' % R(D, '0'), 1e11),
        count('namespace_pod_dp_rank:llm_infiniband_rate_bytes_per_second:sum', 4),
        // Bytes per rank: prefill dp0 sends 2e9 + 2e9, receives 1e8 + 1e8.
        near('namespace_pod_dp_rank:llm_infiniband_port_data_transmitted_bytes:rate1m{%s}' % R(P, '0'), 4e9),
        near('namespace_pod_dp_rank:llm_infiniband_port_data_received_bytes:rate1m{%s}' % R(P, '0'), 2e8),
        // In the KV direction: prefill dp1 sends 1e9 + 0 (not its 1e8 received); decode dp0 receives
        // 3e9 + 1e9 (not its 2e8 sent).
        near('namespace_pod_dp_rank:llm_infiniband_port_data_kv_direction_bytes:rate1m{%s}' % R(P, '1'), 1e9),
        exact('namespace_pod_dp_rank:llm_infiniband_port_data_kv_direction_bytes:rate1m{%s}' % R(D, '0'),
              '{dp_rank="0", namespace="ns1", pod="chat-decode-0", %s="r1", role="decode"}' % cl,
              4e9),
        // Congestion of the paired ports: prefill dp0 CNPs sent 100 + 300; decode dp0 CNPs handled 50
        // and ECN-marked packets 200; prefill dp1 out-of-sequence 5 (mlx5_2) and retransmits 1 (the
        // DOWN mlx5_3 still counts what it counted).
        near('namespace_pod_dp_rank:llm_infiniband_np_cnp_packets_sent:rate1m{%s}' % R(P, '0'), 400),
        near('namespace_pod_dp_rank:llm_infiniband_rp_cnp_packets_handled:rate1m{%s}' % R(D, '0'), 50),
        near('namespace_pod_dp_rank:llm_infiniband_np_ecn_marked_roce_packets_received:rate1m{%s}' % R(D, '0'), 200),
        near('namespace_pod_dp_rank:llm_infiniband_out_of_sequence_packets_received:rate1m{%s}' % R(P, '1'), 5),
        near('namespace_pod_dp_rank:llm_infiniband_roce_adp_retransmits:rate1m{%s}' % R(P, '1'), 1),
        count('namespace_pod_dp_rank:llm_infiniband_np_cnp_packets_sent:rate1m', 4),
        // KV bytes per rank: SGLang's shard x the rank's 2 GPUs, 5e8 x 2 and 4e8 x 2; NIXL's pooled sum
        // as it is, 2.4e9 (not x 2) and 6e8. chat-prefill-9 has no GPUs, so no TP size: absent.
        exact('namespace_pod_dp_rank:llm_engine_kv_transfer_bytes:rate1m{%s}' % R(P, '0'),
              '{connector="sglang", dp_rank="0", engine="sglang", namespace="ns1", pod="chat-prefill-0", %s="r1", role="prefill"}' % cl,
              1e9),
        near('namespace_pod_dp_rank:llm_engine_kv_transfer_bytes:rate1m{%s}' % R(P, '1'), 8e8),
        exact('namespace_pod_dp_rank:llm_engine_kv_transfer_bytes:rate1m{%s}' % R(D, '0'),
              '{connector="nixl", dp_rank="0", engine="vllm", namespace="ns1", pod="chat-decode-0", %s="r1", role="decode"}' % cl,
              2.4e9),
        near('namespace_pod_dp_rank:llm_engine_kv_transfer_bytes:rate1m{%s}' % R(D, '1'), 6e8),
        count('namespace_pod_dp_rank:llm_engine_kv_transfer_bytes:rate1m', 4),
        // Share of the line rate: 1e9 / 1e11, 8e8 / 5e10, 2.4e9 / 1e11, 6e8 / 5e10.
        exact('namespace_pod_dp_rank:llm_engine_kv_transfer_line_rate:ratio_rate1m{%s}' % R(P, '0'),
              '{connector="sglang", dp_rank="0", engine="sglang", namespace="ns1", pod="chat-prefill-0", %s="r1", role="prefill"}' % cl,
              0.01),
        near('namespace_pod_dp_rank:llm_engine_kv_transfer_line_rate:ratio_rate1m{%s}' % R(P, '1'), 0.016),
        near('namespace_pod_dp_rank:llm_engine_kv_transfer_line_rate:ratio_rate1m{%s}' % R(D, '0'), 0.024),
        near('namespace_pod_dp_rank:llm_engine_kv_transfer_line_rate:ratio_rate1m{%s}' % R(D, '1'), 0.012),
        // KV bytes over the ports' bytes in the KV direction: 1e9 / 4e9, 8e8 / 1e9, 2.4e9 / 4e9, 6e8 / 1.5e9.
        near('namespace_pod_dp_rank:llm_engine_kv_transfer_hca_bytes:ratio_rate1m{%s}' % R(P, '0'), 0.25),
        near('namespace_pod_dp_rank:llm_engine_kv_transfer_hca_bytes:ratio_rate1m{%s}' % R(P, '1'), 0.8),
        near('namespace_pod_dp_rank:llm_engine_kv_transfer_hca_bytes:ratio_rate1m{%s}' % R(D, '0'), 0.6),
        near('namespace_pod_dp_rank:llm_engine_kv_transfer_hca_bytes:ratio_rate1m{%s}' % R(D, '1'), 0.4),
        // Transfer time of prefill dp0: 10 transfers/s, mean 0.5 / 10; p99 (rank 9.9) in (0.5, 1] with
        // 9 below and 1 inside: 0.5 + 0.5 x 0.9; p50 (rank 5) in (0.01, 0.05] with 2 below and 4 inside:
        // 0.01 + 0.04 x 3 / 4.
        near('namespace_pod_dp_rank:llm_engine_kv_transfer_seconds_count:rate1m{%s}' % R(P, '0'), 10),
        near('namespace_pod_dp_rank:llm_engine_kv_transfer_seconds:mean1m{%s}' % R(P, '0'), 0.05),
        exact('namespace_pod_dp_rank_quantile:llm_engine_kv_transfer_seconds:histogram_quantile{quantile="0.99"}',
              '{connector="sglang", dp_rank="0", engine="sglang", namespace="ns1", pod="chat-prefill-0", quantile="0.99", %s="r1", role="prefill"}' % cl,
              0.95),
        near('namespace_pod_dp_rank_quantile:llm_engine_kv_transfer_seconds:histogram_quantile{quantile="0.5", %s}' % R(P, '0'), 0.04),
        // Errors per pod and kind: NIXL failed transfers 0.2 + 0.1 over the decode ranks; SGLang failed
        // requests 0.3 + 0.1, given connector="sglang"; timeouts by stage; failed bootstraps.
        exact('namespace_pod:llm_engine_kv_transfer_errors:rate1m{reason="failed_transfer"}',
              '{connector="nixl", engine="vllm", namespace="ns1", pod="chat-decode-0", reason="failed_transfer", %s="r1", role="decode"}' % cl,
              0.3),
        exact('namespace_pod:llm_engine_kv_transfer_errors:rate1m{reason="failed_request"}',
              '{connector="sglang", engine="sglang", namespace="ns1", pod="chat-prefill-0", reason="failed_request", %s="r1", role="prefill"}' % cl,
              0.4),
        near('namespace_pod:llm_engine_kv_transfer_errors:rate1m{reason="timeout", stage="transfer"}', 0.1),
        near('namespace_pod:llm_engine_kv_transfer_errors:rate1m{reason="timeout", stage="bootstrap"}', 0.05),
        near('namespace_pod:llm_engine_kv_transfer_errors:rate1m{reason="bootstrap_failure", connector="sglang"}', 0.02),
        { eval_time: '10m', expr: 'namespace_pod:llm_engine_kv_transfer_errors:rate1m{reason="failed_notification"}', exp_samples: [{ labels: 'namespace_pod:llm_engine_kv_transfer_errors:rate1m{connector="nixl", engine="vllm", namespace="ns1", pod="chat-decode-0", reason="failed_notification", %s="r1", role="decode"}' % cl, value: 0 }] },
        // The peak table: H100 SXM 1,979 TFLOP/s with sparsity, halved.
        exact('name:llm_gpu_peak_flops_per_second:dense{name="NVIDIA H100 80GB HBM3"}', '{name="NVIDIA H100 80GB HBM3"}', 9.895e14),
        // Each rank's peak, from its GPUs' names: prefill H100, decode dp0 H20; decode dp1's GPU has no
        // entry: 3 ranks.
        exact('namespace_pod_dp_rank:llm_gpu_peak_flops_per_second:avg{%s}' % R(P, '0'),
              '{dp_rank="0", namespace="ns1", pod="chat-prefill-0", %s="r1"}' % cl,
              9.895e14),
        near('namespace_pod_dp_rank:llm_gpu_peak_flops_per_second:avg{%s}' % R(D, '0'), 1.48e14),
        count('namespace_pod_dp_rank:llm_gpu_peak_flops_per_second:avg', 3),
        // MFU: 0.4, 0.3, 0.2 as written into the FLOP rates; decode dp1 has none.
        near('namespace_pod_dp_rank:llm_engine_estimated_flops_per_gpu:rate1m{%s}' % R(D, '1'), 1e13),
        exact('namespace_pod_dp_rank:llm_engine_mfu:ratio_rate1m{%s}' % R(P, '0'),
              '{dp_rank="0", engine="sglang", model="glm", namespace="ns1", pod="chat-prefill-0", %s="r1", role="prefill"}' % cl,
              0.4),
        near('namespace_pod_dp_rank:llm_engine_mfu:ratio_rate1m{%s}' % R(P, '1'), 0.3),
        near('namespace_pod_dp_rank:llm_engine_mfu:ratio_rate1m{%s}' % R(D, '0'), 0.2),
        count('namespace_pod_dp_rank:llm_engine_mfu:ratio_rate1m', 3),
      ]]),
    }],
  },
}
