// GPU efficiency alerts (GPM profiling, llm-node-exporter).
{
  local c = $._config,
  local w = c.rateWindow,
  local cl = c.clusterLabel,
  local nl = c.nodeLabel,
  local a = (import '../lib/alerts.libsonnet')(c),
  local A = a.alert,
  local T = a.case,
  local gauge = a.gauge,
  local num = a.num,
  local f(s) = s % { cl: cl, w: w, nl: nl },
  // GPU profiling (GPM). Label sets of the tests: one serving GPU (as the exporter labels it) and the
  // per-rank recorded series of a decode pod.
  local gpmL = { [cl]: 'r1', [nl]: 'n1', job: 'llm-node-exporter', instance: 'n1:9836', gpu: '3', uuid: 'GPU-3', namespace: 'ns1', pod: 'chat-decode-0', container: 'engine', engine: 'sglang', role: 'decode', dp_rank: '3', tp_rank: '0' },
  local engL = { [cl]: 'r1', [nl]: 'n1', job: 'llm-node-exporter', instance: 'n1:9836', namespace: 'ns1', pod: 'chat-decode-0', container: 'engine', engine: 'sglang', model: 'glm', role: 'decode', dp_rank: '3', tp_rank: '0' },
  local supL = gpmL { reason: '' },
  local rankL(pod, r) = { [cl]: 'r1', namespace: 'ns1', pod: pod, role: 'decode', engine: 'sglang', dp_rank: r },
  local ranks(m, pod, vs) = [gauge('namespace_pod_dp_rank:llm_gpu_%s:avg' % m, rankL(pod, '%d' % i), vs[i]) for i in std.range(0, std.length(vs) - 1)],
  // A DP rank's value minus the mean of its sibling ranks in the same pod: with n ranks summing to S,
  // x - (S - x) / (n - 1) = (n x - S) / (n - 1); pods with a single known rank are skipped.
  local rankDeviation(m) =
    local s = 'namespace_pod_dp_rank:llm_gpu_%s:avg{dp_rank!=""}' % m;
    local k = 'on (%s, namespace, pod) group_left ()' % cl;
    |||
      abs(
          (
              %(s)s
            * %(k)s
              count by (%(cl)s, namespace, pod) (%(s)s)
            - %(k)s
              sum by (%(cl)s, namespace, pod) (%(s)s)
          )
        / %(k)s
          ((count by (%(cl)s, namespace, pod) (%(s)s) > 1) - 1)
      )
      > %(thr)s
    ||| % { s: s, k: k, cl: cl, thr: num(c.dpRankImbalanceRatio) },
  local imb = c.dpRankImbalanceRatio,
  local indent(e) = std.strReplace(std.rstripChars(e, '\n'), '\n', '\n  '),

  local gpmAlerts = [
    A('LLMGPUIdleWhileServing',
      |||
        max without (gpu_instance) (llm_gpu_sm_active_ratio{%(sel)s, pod!=""}) < %(thr)s
        and on (%(cl)s, namespace, pod, dp_rank)
        sum by (%(cl)s, namespace, pod, dp_rank) (llm_engine_requests_running{%(sel)s}) > 0
        and on (%(cl)s, uuid)
        llm_gpu_gpm_supported{%(sel)s} == 1
      ||| % { sel: c.llmExporterSelector, thr: num(c.gpuIdleSMActiveRatio), cl: cl },
      c.gpuIdleFor,
      'warning',
      'GPU {{ $labels.gpu }} of {{ $labels.pod }} is idle while its engine has requests running.',
      'GPU {{ $labels.gpu }} ({{ $labels.uuid }}) on {{ $labels.%s }}, DP rank {{ $labels.dp_rank }} of {{ $labels.engine }} pod {{ $labels.namespace }}/{{ $labels.pod }}, has had its SMs active less than %g%% of the time for %s while the rank has requests running: the engine is stuck outside the GPU (scheduler, KV transfer, a hung collective peer).' % [nl, c.gpuIdleSMActiveRatio * 100, c.gpuIdleFor],
      {
        fire: T([
          gauge('llm_gpu_sm_active_ratio', gpmL { gpu_instance: '' }, '0.9x5 0.002x30'),
          gauge('llm_engine_requests_running', engL, '5x35'),
          gauge('llm_gpu_gpm_supported', supL, '1x35'),
        ], '25m', [gpmL]),
        // Idle GPU, but the engine has nothing to run: no alert.
        silent: T([
          gauge('llm_gpu_sm_active_ratio', gpmL { gpu_instance: '' }, '0.002x35'),
          gauge('llm_engine_requests_running', engL, '0x35'),
          gauge('llm_gpu_gpm_supported', supL, '1x35'),
        ], '25m', []),
        // Idle for 10 minutes only (for: 15m).
        silent_short: T([
          gauge('llm_gpu_sm_active_ratio', gpmL { gpu_instance: '' }, '0.9x15 0.002x10 0.9x10'),
          gauge('llm_engine_requests_running', engL, '5x35'),
          gauge('llm_gpu_gpm_supported', supL, '1x35'),
        ], '25m', []),
        // The support gauge says GPM is not sampled on this GPU: whatever sm_active reads, silent.
        silent_unsupported: T([
          gauge('llm_gpu_sm_active_ratio', gpmL { gpu_instance: '' }, '0x35'),
          gauge('llm_engine_requests_running', engL, '5x35'),
          gauge('llm_gpu_gpm_supported', supL { reason: 'support_query_failed' }, '0x35'),
        ], '25m', []),
        // MIG: one busy GPU instance of the pod keeps the GPU from counting as idle.
        silent_mig: T([
          gauge('llm_gpu_sm_active_ratio', gpmL { gpu_instance: '1' }, '0x35'),
          gauge('llm_gpu_sm_active_ratio', gpmL { gpu_instance: '2' }, '0.6x35'),
          gauge('llm_engine_requests_running', engL, '5x35'),
          gauge('llm_gpu_gpm_supported', supL, '1x35'),
        ], '25m', []),
      }),
    A('LLMGPUDPRankImbalance',
      'label_replace(\n  %s,\n  "signal", "dram_bandwidth", "", ""\n)\nor\nlabel_replace(\n  %s,\n  "signal", "tensor_active", "", ""\n)' % [indent(rankDeviation('dram_bandwidth_utilization_ratio')), indent(rankDeviation('tensor_active_ratio'))],
      c.dpRankImbalanceFor,
      'warning',
      'DP rank {{ $labels.dp_rank }} of {{ $labels.pod }} is out of step with its sibling ranks ({{ $labels.signal }}).',
      "The {{ $labels.signal }} ratio (mean over the rank's GPUs) of DP rank {{ $labels.dp_rank }} of {{ $labels.engine }} pod {{ $labels.namespace }}/{{ $labels.pod }} ({{ $labels.role }}) has differed from the mean of the pod's other DP ranks by more than %g for %s: a straggler rank (DP attention) or skewed request routing." % [imb, c.dpRankImbalanceFor],
      {
        // Four ranks, rank 3 at 0.2 against 0.8: (4*0.2 - 2.6) / 3 = -0.6; the others (3.2 - 2.6) / 3 = 0.2.
        fire: T(ranks('dram_bandwidth_utilization_ratio', 'chat-decode-0', ['0.8x35', '0.8x35', '0.8x35', '0.2x35']), '20m', [rankL('chat-decode-0', '3') { signal: 'dram_bandwidth' }]),
        // Three ranks on tensor activity, 0.6 0.6 0.2: rank 2 is 0.4 below the others, they are 0.2 above.
        fire_tensor: T(ranks('tensor_active_ratio', 'chat-prefill-0', ['0.6x35', '0.6x35', '0.2x35']), '20m', [rankL('chat-prefill-0', '2') { signal: 'tensor_active' }]),
        // Ranks within 0.15 of each other; a pod of one known rank and an unknown rank are never compared
        // with other pods.
        silent: T(
          ranks('dram_bandwidth_utilization_ratio', 'chat-decode-0', ['0.8x35', '0.7x35', '0.75x35', '0.65x35'])
          + ranks('dram_bandwidth_utilization_ratio', 'chat-decode-1', ['0.1x35'])
          + [gauge('namespace_pod_dp_rank:llm_gpu_dram_bandwidth_utilization_ratio:avg', rankL('chat-decode-1', ''), '0.9x35')],
          '20m',
          []
        ),
        // A 10-minute dip (for: 15m).
        silent_short: T(ranks('dram_bandwidth_utilization_ratio', 'chat-decode-0', ['0.8x35', '0.8x35', '0.8x35', '0.8x10 0.2x10 0.8x15']), '20m', []),
      }),
  ],

  prometheusAlerts+:: {
    groups+: [{ name: 'llm-gpu-efficiency.alerts', rules: gpmAlerts }],
  },
}
