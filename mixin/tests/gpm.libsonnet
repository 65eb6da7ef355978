// promtool tests of the GPU profiling (GPM) recording rules, values hand-computed in the comments.
// Node n1 runs a prefill pod (2 DP ranks x TP 2 = GPUs 0-3) and a decode pod (DP rank 0 on GPU 4,
// DP rank 1 on MIG instances 1 and 2 of GPU 5 and on GPU 7); GPU 6 belongs to no pod. chat-decode-9 reports
// tokens but has no GPU attributed. One step = 15s, so every rate is exact.
{
  local c = $._config,
  local cl = c.clusterLabel,
  local steps = 40,
  local lbl(o) = '{' + std.join(', ', ['%s="%s"' % [k, o[k]] for k in std.objectFields(o)]) + '}',
  local gauge(name, labels, v) = { series: name + lbl(labels), values: '%sx%d' % [v, steps] },
  local counter(name, labels, inc) = { series: name + lbl(labels), values: '0+%sx%d' % [inc, steps] },
  local near(q, v) = { eval_time: '10m', expr: 'count(abs((%s) - %s) <= 1e-9 * %s)' % [q, v, v], exp_samples: [{ labels: '{}', value: 1 }] },
  // The label set of q's one series (group: value 1, so float rounding does not matter) and its value.
  local exact(q, labels, v) = [{ eval_time: '10m', expr: 'group without () (%s)' % q, exp_samples: [{ labels: labels, value: 1 }] }, near(q, v)],

  local ex = { [cl]: 'r1', [c.nodeLabel]: 'n1', job: 'llm-node-exporter', instance: 'n1:9836' },
  local pods = {
    prefill: { namespace: 'ns1', pod: 'chat-prefill-0', container: 'engine', engine: 'sglang', role: 'prefill' },
    decode: { namespace: 'ns1', pod: 'chat-decode-0', container: 'engine', engine: 'sglang', role: 'decode' },
    none: { namespace: '', pod: '', container: '', engine: '', role: '' },
  },
  // gpu, pod, dp_rank, tp_rank, gpu_instance, tensor_active, dram_bandwidth, sm_active
  local gpus = [
    ['0', 'prefill', '0', '0', '', 0.6, 0.3, 0.9],
    ['1', 'prefill', '0', '1', '', 0.8, 0.5, 0.95],
    ['2', 'prefill', '1', '0', '', 0.5, 0.2, 0.8],
    ['3', 'prefill', '1', '1', '', 0.7, 0.4, 0.85],
    ['4', 'decode', '0', '0', '', 0.1, 0.7, 0.9],
    ['5', 'decode', '1', '0', '1', 0.3, 0.5, 0.7],
    ['5', 'decode', '1', '0', '2', 0.0, 0.7, 0.9],
    ['6', 'none', '', '', '', 0.9, 0.9, 0.9],
    ['7', 'decode', '1', '1', '', 0.45, 0.9, 0.8],
  ],
  local gpuL(g) = ex + pods[g[1]] { gpu: g[0], uuid: 'GPU-' + g[0], dp_rank: g[2], tp_rank: g[3] },
  local gpmSeries = std.flattenArrays([
    [
      gauge('llm_gpu_tensor_active_ratio', gpuL(g) { gpu_instance: g[4] }, g[5]),
      gauge('llm_gpu_dram_bandwidth_utilization_ratio', gpuL(g) { gpu_instance: g[4] }, g[6]),
      gauge('llm_gpu_sm_active_ratio', gpuL(g) { gpu_instance: g[4] }, g[7]),
    ]
    for g in gpus
  ]),
  // llm_rank_info: one per GPU (GPU 5 once, whatever its MIG instances).
  local rankInfo = [gauge('llm_rank_info', gpuL(g), 1) for g in gpus if g[4] != '2'],
  local tok(pod, dp, inc) = counter('llm_engine_generation_tokens_total', ex + pods[pod] { model: 'glm', dp_rank: dp, tp_rank: '' }, inc),
  local engine = [
    tok('prefill', '0', 30),  // 2 tokens/s
    tok('prefill', '1', 60),  // 4 tokens/s
    tok('decode', '0', 150),  // 10 tokens/s
    tok('decode', '1', 300),  // 20 tokens/s
    counter('llm_engine_generation_tokens_total', ex + pods.decode { pod: 'chat-decode-9', model: 'glm', dp_rank: '0', tp_rank: '' }, 75),  // 5 tokens/s, no GPU
  ],
  local ksmBase = { [cl]: 'r1', job: 'kube-state-metrics', namespace: 'ns1' },
  local ksm = [
    gauge('kube_pod_owner', ksmBase { pod: p[0], owner_kind: 'ReplicaSet', owner_name: p[1], owner_is_controller: 'true' }, 1)
    for p in [['chat-prefill-0', 'chat-prefill-7f9c'], ['chat-decode-0', 'chat-decode-5b6d'], ['chat-decode-9', 'chat-decode-5b6d']]
  ] + [
    gauge('kube_replicaset_owner', ksmBase { replicaset: rs[0], owner_kind: 'Deployment', owner_name: rs[1], owner_is_controller: 'true' }, 1)
    for rs in [['chat-prefill-7f9c', 'chat-prefill'], ['chat-decode-5b6d', 'chat-decode']]
  ],

  local R(pod, dp) = 'pod="%s", dp_rank="%s"' % [pod, dp],

  gpmTest:: {
    rule_files: [$._paths.rules],
    evaluation_interval: c.rateWindow,
    group_eval_order: [g.name for g in $.prometheusRules.groups],
    tests: [{
      name: 'GPU profiling (GPM) recording rules, hand-computed',
      interval: '15s',
      input_series: gpmSeries + rankInfo + engine + ksm,
      promql_expr_test: std.flattenArrays([if std.isArray(x) then x else [x] for x in [
        // Tensor activity per DP rank = mean over its TP GPUs: prefill dp0 (0.6 + 0.8) / 2, dp1 (0.5 + 0.7) / 2.
        exact('namespace_pod_dp_rank:llm_gpu_tensor_active_ratio:avg{%s}' % R('chat-prefill-0', '0'),
              '{dp_rank="0", engine="sglang", namespace="ns1", pod="chat-prefill-0", %s="r1", role="prefill"}' % cl,
              0.7),
        near('namespace_pod_dp_rank:llm_gpu_tensor_active_ratio:avg{%s}' % R('chat-prefill-0', '1'), '0.6'),
        // MIG: GPU 5's instances averaged first, (0.3 + 0) / 2 = 0.15, then the rank's GPUs 5 and 7:
        // (0.15 + 0.45) / 2 = 0.3 (a flat mean over the three series would give 0.25).
        near('namespace_pod_dp_rank:llm_gpu_tensor_active_ratio:avg{%s}' % R('chat-decode-0', '1'), '0.3'),
        near('namespace_pod_dp_rank:llm_gpu_tensor_active_ratio:avg{%s}' % R('chat-decode-0', '0'), '0.1'),
        // The unattributed GPU 6 records nothing: 4 ranks in all.
        { eval_time: '10m', expr: 'count(namespace_pod_dp_rank:llm_gpu_tensor_active_ratio:avg)', exp_samples: [{ labels: '{}', value: 4 }] },
        // DRAM bandwidth per rank: prefill dp0 (0.3 + 0.5) / 2, decode dp1 ((0.5 + 0.7) / 2 + 0.9) / 2
        // (flat: 0.7).
        near('namespace_pod_dp_rank:llm_gpu_dram_bandwidth_utilization_ratio:avg{%s}' % R('chat-prefill-0', '0'), '0.4'),
        near('namespace_pod_dp_rank:llm_gpu_dram_bandwidth_utilization_ratio:avg{%s}' % R('chat-decode-0', '1'), '0.75'),
        near('namespace_pod_dp_rank:llm_gpu_sm_active_ratio:avg{%s}' % R('chat-prefill-0', '1'), '0.825'),
        // SM activity per pod: (0.9 + 0.95 + 0.8 + 0.85) / 4; decode (0.9 + (0.7 + 0.9) / 2 + 0.8) / 3
        // (flat: 0.825).
        near('namespace_pod:llm_gpu_sm_active_ratio:avg{pod="chat-prefill-0"}', '0.875'),
        near('namespace_pod:llm_gpu_sm_active_ratio:avg{pod="chat-decode-0"}', '0.8333333333333334'),
        // Prefill tensor efficiency per Deployment: (0.6 + 0.8 + 0.5 + 0.7) / 4.
        exact('namespace_workload:llm_gpu_tensor_active_ratio:avg{workload="chat-prefill"}',
              '{app="chat", engine="sglang", namespace="ns1", %s="r1", role="prefill", workload="chat-prefill", workload_type="deployment"}' % cl,
              0.65),
        // Decode memory-bandwidth utilisation per Deployment: GPUs 4 (0.7), 5 ((0.5 + 0.7) / 2) and
        // 7 (0.9) weigh once each, (0.7 + 0.6 + 0.9) / 3 (a flat mean over the four series: 0.7);
        // tensor (0.1 + 0.15 + 0.45) / 3.
        near('namespace_workload:llm_gpu_dram_bandwidth_utilization_ratio:avg{workload="chat-decode", role="decode"}', '0.7333333333333334'),
        near('namespace_workload:llm_gpu_tensor_active_ratio:avg{workload="chat-decode"}', '0.23333333333333334'),
        // GPUs per rank and per pod (GPU 5 once).
        near('namespace_pod_dp_rank:llm_rank_info:count{%s}' % R('chat-prefill-0', '1'), '2'),
        near('namespace_pod:llm_rank_info:count{pod="chat-decode-0"}', '3'),
        // Tokens per GPU-second per rank: prefill dp0 2 tokens/s over 2 GPUs, decode dp0 10 over 1,
        // decode dp1 20 over 2 (GPUs 5 and 7).
        exact('namespace_pod_dp_rank:llm_engine_generation_tokens_per_gpu:rate1m{%s}' % R('chat-prefill-0', '0'),
              '{dp_rank="0", engine="sglang", model="glm", namespace="ns1", pod="chat-prefill-0", %s="r1", role="prefill"}' % cl,
              1),
        near('namespace_pod_dp_rank:llm_engine_generation_tokens_per_gpu:rate1m{%s}' % R('chat-decode-0', '0'), '10'),
        near('namespace_pod_dp_rank:llm_engine_generation_tokens_per_gpu:rate1m{%s}' % R('chat-decode-0', '1'), '10'),
        // chat-decode-9 has no GPU: no per-GPU series for it.
        { eval_time: '10m', expr: 'count(namespace_pod_dp_rank:llm_engine_generation_tokens_per_gpu:rate1m)', exp_samples: [{ labels: '{}', value: 4 }] },
        // Per Deployment: prefill (2 + 4) / 4 GPUs; decode (10 + 20) / 3 GPUs, chat-decode-9's
        // 5 tokens/s left out with its (absent) GPUs: 10, not 35 / 3.
        near('namespace_workload:llm_engine_generation_tokens_per_gpu:rate1m{workload="chat-prefill"}', '1.5'),
        exact('namespace_workload:llm_engine_generation_tokens_per_gpu:rate1m{workload="chat-decode"}',
              '{app="chat", engine="sglang", model="glm", namespace="ns1", %s="r1", role="decode", workload="chat-decode", workload_type="deployment"}' % cl,
              10),
      ]]),
    }],
  },
}
