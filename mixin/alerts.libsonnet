// Alerts. Every alert carries severity, summary, description and runbook_url (docs/runbooks.md) and a
// `test` with a case where it fires and one where it stays silent (rendered to
// mixin/tests/alerts.test.yaml). Annotations use only {{ $labels.x }} so the tests can expand them.
{
  local c = $._config,
  local w = c.rateWindow,
  local cl = c.clusterLabel,
  local nl = c.nodeLabel,
  local f(s) = s % { cl: cl, w: w, nl: nl },
  // Numbers in exprs and text: '%g' (jsonnet's '%s' prints 0.2 as 0.20000000000000001).
  local num(x) = '%g' % x,

  local A(name, expr, forD, severity, summary, description, test, labels={}) = {
    alert: name,
    expr: expr,
    'for': forD,
    labels: { severity: severity } + labels,
    annotations: {
      summary: summary,
      description: description,
      runbook_url: c.runbookURLPattern % std.asciiLower(name),
    },
    test:: test,
  },
  local gauge(name, labels, v, steps=40) = { series: name + '{' + std.join(', ', ['%s="%s"' % [k, labels[k]] for k in std.objectFields(labels)]) + '}', values: v },

  // Label sets used in the tests.
  local jobL = { [cl]: 'r1', namespace: 'ns1', app: 'chat', role: 'decode', job: 'ns1/chat-decode', model_name: 'glm', engine: 'sglang' },
  local podL = jobL { pod: 'chat-decode-0' },
  local gpuL = { [cl]: 'r1', [nl]: 'n1', gpu: '3', uuid: 'GPU-3', namespace: 'ns1', pod: 'chat-decode-0', container: 'engine', dp_rank: '3' },
  local portL = { [cl]: 'r1', [nl]: 'n1', job: 'llm-node-exporter', device: 'mlx5_2', port: '1', link_layer: 'InfiniBand', namespace: '', pod: '', container: '', dp_rank: '', gpu: '' },
  local roceL = portL { link_layer: 'Ethernet' },

  local T(series, at, alerts) = { series: series, at: at, alerts: alerts },

  local q99(h, thr, forD, name, what, sev='warning') = A(
    name,
    'job_quantile:%s:histogram_quantile{quantile="0.99"} > %s' % [h, num(thr)],
    forD,
    sev,
    'p99 %s above %ss on {{ $labels.job }}.' % [what, num(thr)],
    'The p99 %s of {{ $labels.engine }} job {{ $labels.job }} (model {{ $labels.model_name }}, role {{ $labels.role }}) has been above %ss for %s.' % [what, num(thr), forD],
    {
      fire: T([gauge('job_quantile:%s:histogram_quantile' % h, jobL { quantile: '0.99' }, '%gx30' % (thr * 2))], '20m', [jobL { quantile: '0.99' }]),
      silent: T([gauge('job_quantile:%s:histogram_quantile' % h, jobL { quantile: '0.99' }, '%gx10 %gx20' % [thr * 2, thr / 2])], '20m', []),
    },
  ),

  local slo = '%g' % (1 - c.requestAvailabilitySLO),
  local burn(sev, short, long, factor, forD) = A(
    'LLMEngineErrorBudgetBurn',
    'job:engine_requests_aborted:ratio_rate%(short)s > (%(factor)s * %(slo)s)\nand on (%(cl)s, namespace, app, role, job, model_name, engine)\njob:engine_requests_aborted:ratio_rate%(long)s > (%(factor)s * %(slo)s)' % { short: short, long: long, factor: factor, slo: slo, cl: cl },
    forD,
    sev,
    'Job {{ $labels.job }} is burning its request error budget fast.',
    'Aborted requests of {{ $labels.job }} exceed %s times the error budget of the %s availability SLO over both the %s and the %s window.' % [factor, num(c.requestAvailabilitySLO), short, long],
    {
      fire: T([
        gauge('job:engine_requests_aborted:ratio_rate%s' % short, jobL, '%gx60' % (factor * std.parseJson(slo) * 2)),
        gauge('job:engine_requests_aborted:ratio_rate%s' % long, jobL, '%gx60' % (factor * std.parseJson(slo) * 1.5)),
      ], '30m', [jobL { short: short, long: long }]),
      // Short window burning, long window not: a blip, no page.
      silent: T([
        gauge('job:engine_requests_aborted:ratio_rate%s' % short, jobL, '%gx60' % (factor * std.parseJson(slo) * 2)),
        gauge('job:engine_requests_aborted:ratio_rate%s' % long, jobL, '%gx60' % (factor * std.parseJson(slo) * 0.5)),
      ], '30m', []),
    },
    { short: short, long: long },
  ),

  local xid(name, re, sev, what) = A(
    name,
    '(increase(llm_gpu_xid_errors_total{xid=~"%s"}[10m]) > 0)\nor\n(llm_gpu_xid_errors_total{xid=~"%s"} unless llm_gpu_xid_errors_total{xid=~"%s"} offset 10m)' % [re, re, re],
    '0s',
    sev,
    'GPU {{ $labels.gpu }} on {{ $labels.%s }} reported XID {{ $labels.xid }} (%s).' % [nl, what],
    'GPU {{ $labels.gpu }} ({{ $labels.uuid }}) on node {{ $labels.%s }}, used by pod {{ $labels.namespace }}/{{ $labels.pod }}, reported XID {{ $labels.xid }} in the last 10 minutes.' % nl,
    {
      // A new XID series (first error since the exporter started) fires too.
      fire: T([gauge('llm_gpu_xid_errors_total', gpuL { xid: std.split(re, '|')[0] }, '_x15 1x10')], '20m', [gpuL { xid: std.split(re, '|')[0] }]),
      silent: T([gauge('llm_gpu_xid_errors_total', gpuL { xid: std.split(re, '|')[0] }, '1x30')], '25m', []),
    },
  ),

  local engineAlerts = [
    q99('engine_time_to_first_token_seconds', c.ttftP99ThresholdSeconds, c.forDuration, 'LLMEngineTTFTHigh', 'time to first token'),
    q99('engine_inter_token_latency_seconds', c.itlP99ThresholdSeconds, c.forDuration, 'LLMEngineInterTokenLatencyHigh', 'inter-token latency'),
    q99('engine_e2e_request_latency_seconds', c.e2eP99ThresholdSeconds, '15m', 'LLMEngineE2ELatencyHigh', 'end-to-end request latency'),
    burn('critical', '5m', '1h', 14.4, '2m'),
    burn('warning', '30m', '6h', 6, '15m'),
    A('LLMEngineKVCacheNearlyFull',
      'pod:engine_kv_cache_usage_ratio:max > %s\nand on (%s, namespace, job, pod)\npod:engine_requests_waiting:sum > 0' % [num(c.kvCacheFullRatio), cl],
      '15m',
      'warning',
      'KV cache of {{ $labels.pod }} nearly full with requests waiting.',
      'A DP rank of {{ $labels.engine }} pod {{ $labels.namespace }}/{{ $labels.pod }} has used more than %d%% of its KV cache for 15 minutes while requests queue.' % (c.kvCacheFullRatio * 100),
      {
        fire: T([gauge('pod:engine_kv_cache_usage_ratio:max', podL, '0.99x30'), gauge('pod:engine_requests_waiting:sum', podL, '4x30')], '20m', [podL]),
        // Full with a queue for 10 minutes only (for: 15m).
        silent: T([gauge('pod:engine_kv_cache_usage_ratio:max', podL, '0.99x30'), gauge('pod:engine_requests_waiting:sum', podL, '0x10 4x20')], '20m', []),
      }),
    A('LLMEngineQueueBacklogGrowing',
      'job:engine_requests_waiting:sum > %d\nand\nderiv(job:engine_requests_waiting:sum[15m]) > 0' % c.queueBacklogRequests,
      '15m',
      'warning',
      'Request queue of {{ $labels.job }} keeps growing.',
      'More than %d requests wait in {{ $labels.job }} and the queue has grown for 15 minutes: add capacity or shed load.' % c.queueBacklogRequests,
      {
        fire: T([gauge('job:engine_requests_waiting:sum', jobL, '40+2x40')], '35m', [jobL]),
        // Large but draining.
        silent: T([gauge('job:engine_requests_waiting:sum', jobL, '200-2x40')], '35m', []),
      }),
    A('LLMEnginePDQueueStuck',
      f('min_over_time(pod:engine_pd_queue_requests:sum[10m]) > 0\nunless on (%(cl)s, namespace, job, pod)\nmax_over_time(pod:engine_stage_latency_seconds_count:rate%(w)s{stage=~"prefill_bootstrap|prefill_transfer_kv_cache|decode_bootstrap|decode_transferred"}[10m]) > 0'),
      '5m',
      'critical',
      'P/D {{ $labels.queue }} queue of {{ $labels.pod }} is stuck.',
      'The {{ $labels.queue }} queue of {{ $labels.pod }} ({{ $labels.job }}) has held requests for 10 minutes while the pod completed no bootstrap or KV transfer: the prefill/decode handshake is stuck.',
      {
        fire: T([gauge('pod:engine_pd_queue_requests:sum', podL { queue: 'decode_transfer' }, '3x30'), gauge('pod:engine_stage_latency_seconds_count:rate1m', podL { stage: 'decode_transferred' }, '0x30')], '20m', [podL { queue: 'decode_transfer' }]),
        silent: T([gauge('pod:engine_pd_queue_requests:sum', podL { queue: 'decode_transfer' }, '3x30'), gauge('pod:engine_stage_latency_seconds_count:rate1m', podL { stage: 'decode_transferred' }, '0.5x30')], '20m', []),
      }),
    A('LLMEngineKVTransferFailures',
      f('avg_over_time(job:engine_kv_transfer_failures:rate%(w)s[10m]) * 600 > ') + c.kvTransferFailuresPer10m,
      '5m',
      'warning',
      'KV cache transfers of {{ $labels.job }} are failing.',
      'More than %d KV cache transfers of {{ $labels.job }} failed in 10 minutes.' % c.kvTransferFailuresPer10m,
      {
        fire: T([gauge('job:engine_kv_transfer_failures:rate1m', jobL, '0.05x30')], '20m', [jobL]),
        silent: T([gauge('job:engine_kv_transfer_failures:rate1m', jobL, '0.001x30')], '20m', []),
      }),
    A('LLMEngineBootstrapFailures',
      f('avg_over_time(job:engine_bootstrap_failures:rate%(w)s[10m]) * 600 > ') + c.kvTransferFailuresPer10m,
      '5m',
      'warning',
      'P/D bootstraps of {{ $labels.job }} are failing.',
      'More than %d prefill/decode bootstraps of {{ $labels.job }} failed in 10 minutes.' % c.kvTransferFailuresPer10m,
      {
        fire: T([gauge('job:engine_bootstrap_failures:rate1m', jobL, '0.05x30')], '20m', [jobL]),
        silent: T([gauge('job:engine_bootstrap_failures:rate1m', jobL, '0x30')], '20m', []),
      }),
    A('LLMEngineAbortedRequestsHigh',
      f('sum by (%(cl)s, namespace, job) (job:engine_requests_aborted:rate%(w)s)\n/\nsum by (%(cl)s, namespace, job) (job:engine_requests:rate%(w)s)\n> ') + num(c.abortedRatioThreshold),
      c.forDuration,
      'warning',
      'Many requests of {{ $labels.job }} are aborted.',
      'More than %d%% of the requests of {{ $labels.job }} were aborted over the last %s.' % [c.abortedRatioThreshold * 100, c.forDuration],
      {
        fire: T([gauge('job:engine_requests_aborted:rate1m', jobL, '1x30'), gauge('job:engine_requests:rate1m', jobL, '10x30')], '20m', [{ [cl]: 'r1', namespace: 'ns1', job: 'ns1/chat-decode' }]),
        silent: T([gauge('job:engine_requests_aborted:rate1m', jobL, '0.1x30'), gauge('job:engine_requests:rate1m', jobL, '10x30')], '20m', []),
      }),
    A('LLMEngineRetractedRequestsHigh',
      f('sum by (%(cl)s, namespace, job) (job:engine_requests_retracted:rate%(w)s)\n/\nsum by (%(cl)s, namespace, job) (job:engine_requests:rate%(w)s)\n> ') + num(c.retractedRatioThreshold),
      c.forDuration,
      'warning',
      'Many requests of {{ $labels.job }} are retracted (preempted).',
      'Retractions / preemptions exceed %d%% of the requests of {{ $labels.job }}: the KV cache is too small for the load.' % (c.retractedRatioThreshold * 100),
      {
        fire: T([gauge('job:engine_requests_retracted:rate1m', jobL, '2x30'), gauge('job:engine_requests:rate1m', jobL, '10x30')], '20m', [{ [cl]: 'r1', namespace: 'ns1', job: 'ns1/chat-decode' }]),
        silent: T([gauge('job:engine_requests_retracted:rate1m', jobL, '0.2x30'), gauge('job:engine_requests:rate1m', jobL, '10x30')], '20m', []),
      }),
    A('LLMEngineDown',
      'up{%s} == 0\nor\nllm_engine_up == 0' % c.engineUpSelector,
      '5m',
      'critical',
      'Engine {{ $labels.instance }}{{ $labels.pod }} ({{ $labels.job }}) is down.',
      'The metrics of engine {{ $labels.instance }}{{ $labels.pod }} ({{ $labels.job }}) could not be read for 5 minutes, by Prometheus (`up`) or by llm-node-exporter (`llm_engine_up`): the engine process is down or hung.',
      {
        fire: T([
          gauge('up', { job: 'ns1/chat-decode', instance: '10.0.0.1:30000' }, '1x5 0x20'),
          gauge('llm_engine_up', { job: 'llm-node-exporter', namespace: 'ns1', pod: 'chat-prefill-0', engine: 'sglang', role: 'prefill' }, '0x20'),
        ], '15m', [{ job: 'ns1/chat-decode', instance: '10.0.0.1:30000' }, { job: 'llm-node-exporter', namespace: 'ns1', pod: 'chat-prefill-0', engine: 'sglang', role: 'prefill' }]),
        // One failed scrape does not page.
        silent: T([gauge('up', { job: 'ns1/chat-decode', instance: '10.0.0.1:30000' }, '1x5 0x4 1x20')], '9m', []),
      }),
  ],

  local gpuAlerts = [
    xid('LLMGPUXidHardwareError', c.xidHardware, 'critical', 'hardware or driver fault'),
    xid('LLMGPUXidApplicationError', c.xidApplication, 'warning', 'application fault'),
    A('LLMGPUUncorrectableECCErrors',
      'increase(llm_gpu_ecc_errors_total{type="uncorrected"}[10m]) > 0',
      '0s',
      'critical',
      'Uncorrectable ECC errors on GPU {{ $labels.gpu }} of {{ $labels.%s }}.' % nl,
      'GPU {{ $labels.gpu }} ({{ $labels.uuid }}) on {{ $labels.%s }}, used by {{ $labels.namespace }}/{{ $labels.pod }}, had uncorrectable ECC errors in the last 10 minutes.' % nl,
      {
        fire: T([gauge('llm_gpu_ecc_errors_total', gpuL { type: 'uncorrected' }, '0x10 1x20')], '15m', [gpuL { type: 'uncorrected' }]),
        silent: T([gauge('llm_gpu_ecc_errors_total', gpuL { type: 'uncorrected' }, '2x30')], '15m', []),
      }),
    A('LLMGPURowRemapFailure',
      'llm_gpu_remapped_rows_failure == 1',
      '0s',
      'critical',
      'Row remapping failed on GPU {{ $labels.gpu }} of {{ $labels.%s }}.' % nl,
      'GPU {{ $labels.gpu }} ({{ $labels.uuid }}) on {{ $labels.%s }} could not remap a failing memory row: the GPU must be replaced.' % nl,
      {
        fire: T([gauge('llm_gpu_remapped_rows_failure', gpuL, '0x5 1x10')], '10m', [gpuL]),
        silent: T([gauge('llm_gpu_remapped_rows_failure', gpuL, '0x15')], '10m', []),
      }),
    A('LLMGPURowRemapPending',
      'llm_gpu_remapped_rows_pending == 1',
      '1h',
      'warning',
      'GPU {{ $labels.gpu }} of {{ $labels.%s }} needs a reset to remap a memory row.' % nl,
      'GPU {{ $labels.gpu }} ({{ $labels.uuid }}) on {{ $labels.%s }} has a row remapping pending for an hour; it takes effect at the next GPU reset.' % nl,
      {
        fire: T([gauge('llm_gpu_remapped_rows_pending', gpuL, '1x90')], '70m', [gpuL]),
        silent: T([gauge('llm_gpu_remapped_rows_pending', gpuL, '1x30 0x60')], '70m', []),
      }),
    A('LLMGPUThermalThrottling',
      'max without (reason) (llm_gpu_clock_event_reason_active{reason=~"hw_thermal_slowdown|sw_thermal_slowdown|hw_slowdown"}) == 1',
      c.forDuration,
      'warning',
      'GPU {{ $labels.gpu }} of {{ $labels.%s }} is thermally throttled.' % nl,
      'GPU {{ $labels.gpu }} on {{ $labels.%s }} (pod {{ $labels.namespace }}/{{ $labels.pod }}) has had its clocks reduced for thermal reasons for %s.' % [nl, c.forDuration],
      {
        fire: T([gauge('llm_gpu_clock_event_reason_active', gpuL { reason: 'hw_thermal_slowdown' }, '1x30'), gauge('llm_gpu_clock_event_reason_active', gpuL { reason: 'sw_thermal_slowdown' }, '0x30')], '20m', [gpuL]),
        silent: T([gauge('llm_gpu_clock_event_reason_active', gpuL { reason: 'hw_thermal_slowdown' }, '0 1 0 1 0 1 0 1 0 1 0 1 0 1 0 1 0 1 0 1 0 1')], '20m', []),
      }),
    A('LLMGPUPowerBrakeThrottling',
      'llm_gpu_clock_event_reason_active{reason="hw_power_brake_slowdown"} == 1',
      '5m',
      'warning',
      'GPU {{ $labels.gpu }} of {{ $labels.%s }} is held by the power brake.' % nl,
      'The hardware power brake (external power-supply signal) has slowed GPU {{ $labels.gpu }} on {{ $labels.%s }} for 5 minutes.' % nl,
      {
        fire: T([gauge('llm_gpu_clock_event_reason_active', gpuL { reason: 'hw_power_brake_slowdown' }, '1x30')], '10m', [gpuL { reason: 'hw_power_brake_slowdown' }]),
        silent: T([gauge('llm_gpu_clock_event_reason_active', gpuL { reason: 'sw_power_cap' }, '1x30')], '10m', []),
      }),
    A('LLMGPULost',
      'llm_gpu_up == 0',
      '2m',
      'critical',
      'GPU {{ $labels.gpu }} of {{ $labels.%s }} is lost.' % nl,
      'The exporter cannot reach GPU {{ $labels.gpu }} ({{ $labels.uuid }}) on {{ $labels.%s }} through NVML (GPU_IS_LOST or fallen off the bus).' % nl,
      {
        fire: T([gauge('llm_gpu_up', gpuL, '1x3 0x10')], '8m', [gpuL]),
        silent: T([gauge('llm_gpu_up', gpuL, '1x6 0x4')], '8m', []),
      }),
  ],

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

  local fabricAlerts = [
    A('LLMInfiniBandPortDown',
      'llm_infiniband_state_id != 4',
      '5m',
      'warning',
      'RDMA port {{ $labels.device }}/{{ $labels.port }} on {{ $labels.%s }} is not ACTIVE.' % nl,
      'Port {{ $labels.device }}/{{ $labels.port }} ({{ $labels.link_layer }}) on {{ $labels.%s }} has not been ACTIVE for 5 minutes.' % nl,
      {
        fire: T([gauge('llm_infiniband_state_id', portL, '4x3 1x10')], '10m', [portL]),
        // Down for 3 minutes only.
        silent: T([gauge('llm_infiniband_state_id', portL, '4x6 1x6')], '10m', []),
      }),
    A('LLMInfiniBandLinkFlapping',
      'increase(llm_infiniband_link_downed_total[30m]) > 0',
      '0s',
      'warning',
      'RDMA link {{ $labels.device }}/{{ $labels.port }} on {{ $labels.%s }} went down.' % nl,
      'The link of {{ $labels.device }}/{{ $labels.port }} on {{ $labels.%s }} went down and recovered in the last 30 minutes.' % nl,
      {
        fire: T([gauge('llm_infiniband_link_downed_total', portL, '0x10 1x10')], '15m', [portL]),
        silent: T([gauge('llm_infiniband_link_downed_total', portL, '3x60')], '45m', []),
      }),
    A('LLMInfiniBandSymbolErrors',
      'increase(llm_infiniband_symbol_error_total[10m]) > %d' % c.symbolErrorsPer10m,
      c.forDuration,
      'warning',
      'Symbol errors on {{ $labels.device }}/{{ $labels.port }} of {{ $labels.%s }}.' % nl,
      'More than %d symbol errors per 10 minutes on {{ $labels.device }}/{{ $labels.port }} of {{ $labels.%s }}: a bad cable, transceiver or port.' % [c.symbolErrorsPer10m, nl],
      {
        fire: T([gauge('llm_infiniband_symbol_error_total', portL, '0+5x40')], '25m', [portL]),
        silent: T([gauge('llm_infiniband_symbol_error_total', portL, '0+0.5x40')], '25m', []),
      }),
    A('LLMInfiniBandLinkIntegrityErrors',
      'increase(llm_infiniband_local_link_integrity_errors_total[10m]) > 0',
      '0s',
      'warning',
      'Local link integrity errors on {{ $labels.device }}/{{ $labels.port }} of {{ $labels.%s }}.' % nl,
      'The physical link of {{ $labels.device }}/{{ $labels.port }} on {{ $labels.%s }} exceeded its local link integrity threshold in the last 10 minutes.' % nl,
      {
        fire: T([gauge('llm_infiniband_local_link_integrity_errors_total', portL, '0x10 1x10')], '15m', [portL]),
        silent: T([gauge('llm_infiniband_local_link_integrity_errors_total', portL, '1x30')], '15m', []),
      }),
    A('LLMInfiniBandCongestion',
      'rate(llm_infiniband_port_transmit_wait_total[5m]) > %g' % c.transmitWaitTicksPerSecond,
      '15m',
      'warning',
      'RDMA port {{ $labels.device }}/{{ $labels.port }} on {{ $labels.%s }} is congested.' % nl,
      'Port {{ $labels.device }}/{{ $labels.port }} on {{ $labels.%s }} has waited to transmit (PortXmitWait) more than %g ticks/s for 15 minutes: fabric congestion.' % [nl, c.transmitWaitTicksPerSecond],
      {
        fire: T([gauge('llm_infiniband_port_transmit_wait_total', portL, '0+%gx40' % (c.transmitWaitTicksPerSecond * 120))], '25m', [portL]),
        silent: T([gauge('llm_infiniband_port_transmit_wait_total', portL, '0+%gx40' % (c.transmitWaitTicksPerSecond * 10))], '25m', []),
      }),
    A('LLMRoCECNPStorm',
      'rate(llm_infiniband_np_cnp_packets_sent_total[5m]) > %d' % c.cnpPacketsPerSecond,
      c.forDuration,
      'warning',
      'CNP storm on {{ $labels.device }} of {{ $labels.%s }}.' % nl,
      'RoCE port {{ $labels.device }}/{{ $labels.port }} on {{ $labels.%s }} has sent more than %d congestion notification packets/s for %s.' % [nl, c.cnpPacketsPerSecond, c.forDuration],
      {
        fire: T([gauge('llm_infiniband_np_cnp_packets_sent_total', roceL, '0+%dx40' % (c.cnpPacketsPerSecond * 120))], '25m', [roceL]),
        silent: T([gauge('llm_infiniband_np_cnp_packets_sent_total', roceL, '0+%dx40' % (c.cnpPacketsPerSecond * 10))], '25m', []),
      }),
    A('LLMRoCEOutOfBufferDrops',
      'rate(llm_infiniband_out_of_buffer_drops_total[5m]) > 0',
      c.forDuration,
      'warning',
      'Receive buffer drops on {{ $labels.device }} of {{ $labels.%s }}.' % nl,
      'Port {{ $labels.device }}/{{ $labels.port }} on {{ $labels.%s }} has dropped packets for lack of receive WQEs (out_of_buffer) for %s.' % [nl, c.forDuration],
      {
        fire: T([gauge('llm_infiniband_out_of_buffer_drops_total', roceL, '0+3x40')], '25m', [roceL]),
        silent: T([gauge('llm_infiniband_out_of_buffer_drops_total', roceL, '7x40')], '25m', []),
      }),
  ],

  local exporterL = { [cl]: 'r1', [nl]: 'n1', job: 'llm-node-exporter', instance: 'n1:9836' },
  local exporterAlerts = [
    A('LLMExporterCollectorFailing',
      'llm_exporter_collector_success == 0',
      '15m',
      'warning',
      'Collector {{ $labels.collector }} of llm-node-exporter fails on {{ $labels.%s }}.' % nl,
      'The {{ $labels.collector }} collector on {{ $labels.%s }} ({{ $labels.instance }}) has failed every scrape for 15 minutes; its series are missing or stale.' % nl,
      {
        fire: T([gauge('llm_exporter_collector_success', exporterL { collector: 'infiniband' }, '0x30')], '20m', [exporterL { collector: 'infiniband' }]),
        silent: T([gauge('llm_exporter_collector_success', exporterL { collector: 'infiniband' }, '0 1 0 1 0 1 0 1 0 1 0 1 0 1 0 1 0 1 0 1 0 1 0 1')], '20m', []),
      }),
    A('LLMExporterAttributionStale',
      'time() - llm_exporter_attribution_last_success_timestamp_seconds > %d' % c.attributionStaleSeconds,
      c.forDuration,
      'warning',
      'GPU/HCA to pod attribution is stale on {{ $labels.%s }}.' % nl,
      'llm-node-exporter on {{ $labels.%s }} has not refreshed its GPU/HCA -> pod attribution for more than %d seconds: pod labels may be wrong (kubelet pod-resources socket unreachable?).' % [nl, c.attributionStaleSeconds],
      {
        // The timestamp stops moving at 0 (the series is the refresh time in seconds).
        fire: T([gauge('llm_exporter_attribution_last_success_timestamp_seconds', exporterL, '0x40')], '30m', [exporterL]),
        silent: T([gauge('llm_exporter_attribution_last_success_timestamp_seconds', exporterL, '0+60x40')], '30m', []),
      }),
    A('LLMExporterDown',
      'up{%s} == 0' % c.llmExporterSelector,
      '10m',
      'warning',
      'llm-node-exporter on {{ $labels.instance }} is down.',
      'Prometheus has failed to scrape llm-node-exporter at {{ $labels.instance }} for 10 minutes: GPU, fabric and engine series of that node are missing.',
      {
        fire: T([gauge('up', { job: 'llm-node-exporter', instance: 'n1:9836' }, '0x20')], '15m', [{ job: 'llm-node-exporter', instance: 'n1:9836' }]),
        silent: T([gauge('up', { job: 'llm-node-exporter', instance: 'n1:9836' }, '1x8 0x12')], '15m', []),
      }),
  ],

  alertGroups:: [
    { name: 'llm-engine.alerts', rules: engineAlerts },
    { name: 'llm-gpu.alerts', rules: gpuAlerts },
    { name: 'llm-gpu-efficiency.alerts', rules: gpmAlerts },
    { name: 'llm-fabric.alerts', rules: fabricAlerts },
    { name: 'llm-exporter.alerts', rules: exporterAlerts },
  ],

  prometheusAlerts+:: {
    groups+: $.alertGroups,
  },

  // promtool tests: one test group per case.
  // Expands {{ $labels.x }} as Prometheus does (a missing label is the empty string).
  local expand(s, labels) =
    local parts = std.split(s, '{{ $labels.');
    parts[0] + std.join('', [
      local name = std.split(part, ' }}')[0];
      std.get(labels, name, '') + std.substr(part, std.length(name) + 3, std.length(part))
      for part in parts[1:]
    ]),
  local nonEmpty(o) = { [k]: o[k] for k in std.objectFields(o) if o[k] != '' },
  local case(r, kind) =
    local t = r.test[kind];
    {
      name: '%s %s' % [r.alert, kind],
      interval: '1m',
      input_series: t.series,
      alert_rule_test: [{
        eval_time: t.at,
        alertname: r.alert,
        exp_alerts: [
          {
            exp_labels: nonEmpty(l + r.labels),
            exp_annotations: { [k]: expand(r.annotations[k], nonEmpty(l + r.labels)) for k in std.objectFields(r.annotations) },
          }
          for l in t.alerts
        ],
      }],
    },
  alertsTest:: {
    rule_files: ['../../alerts/llm-node-exporter.alerts.yaml'],
    evaluation_interval: '1m',
    tests: std.flattenArrays([
      // fire and silent first, then the other cases in name order.
      [case(r, 'fire'), case(r, 'silent')] + [case(r, k) for k in std.objectFields(r.test) if k != 'fire' && k != 'silent']
      for g in $.alertGroups
      for r in g.rules
    ]),
  },
}
