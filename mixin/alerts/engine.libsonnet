// Engine alerts (source a recorded series, and llm-node-exporter's view of the engines).
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
  // Label sets used in the tests.
  local jobL = { [cl]: 'r1', namespace: 'ns1', app: 'chat', role: 'decode', job: 'ns1/chat-decode', model_name: 'glm', engine: 'sglang' },
  local podL = jobL { pod: 'chat-decode-0' },
  local q99(h, thr, forD, name, what, sev='warning') = A(
    name,
    'namespace_job_quantile:%s:histogram_quantile{quantile="0.99"} > %s' % [h, num(thr)],
    forD,
    sev,
    'p99 %s above %ss on {{ $labels.job }}.' % [what, num(thr)],
    'The p99 %s of {{ $labels.engine }} job {{ $labels.job }} (model {{ $labels.model_name }}, role {{ $labels.role }}) has been above %ss for %s.' % [what, num(thr), forD],
    {
      fire: T([gauge('namespace_job_quantile:%s:histogram_quantile' % h, jobL { quantile: '0.99' }, '%gx30' % (thr * 2))], '20m', [jobL { quantile: '0.99' }]),
      silent: T([gauge('namespace_job_quantile:%s:histogram_quantile' % h, jobL { quantile: '0.99' }, '%gx10 %gx20' % [thr * 2, thr / 2])], '20m', []),
    },
  ),

  local slo = '%g' % (1 - c.requestAvailabilitySLO),
  local burn(sev, short, long, factor, forD) = A(
    'LLMEngineErrorBudgetBurn',
    'namespace_job:engine_requests_aborted:ratio_rate%(short)s > (%(factor)s * %(slo)s)\nand on (%(cl)s, namespace, app, role, job, model_name, engine)\nnamespace_job:engine_requests_aborted:ratio_rate%(long)s > (%(factor)s * %(slo)s)' % { short: short, long: long, factor: factor, slo: slo, cl: cl },
    forD,
    sev,
    'Job {{ $labels.job }} is burning its request error budget fast.',
    'Aborted requests of {{ $labels.job }} exceed %s times the error budget of the %s availability SLO over both the %s and the %s window.' % [factor, num(c.requestAvailabilitySLO), short, long],
    {
      fire: T([
        gauge('namespace_job:engine_requests_aborted:ratio_rate%s' % short, jobL, '%gx60' % (factor * std.parseJson(slo) * 2)),
        gauge('namespace_job:engine_requests_aborted:ratio_rate%s' % long, jobL, '%gx60' % (factor * std.parseJson(slo) * 1.5)),
      ], '30m', [jobL { short: short, long: long }]),
      // Short window burning, long window not: a blip, no page.
      silent: T([
        gauge('namespace_job:engine_requests_aborted:ratio_rate%s' % short, jobL, '%gx60' % (factor * std.parseJson(slo) * 2)),
        gauge('namespace_job:engine_requests_aborted:ratio_rate%s' % long, jobL, '%gx60' % (factor * std.parseJson(slo) * 0.5)),
      ], '30m', []),
    },
    { short: short, long: long },
  ),

  local engineAlerts = [
    q99('engine_time_to_first_token_seconds', c.ttftP99ThresholdSeconds, c.forDuration, 'LLMEngineTTFTHigh', 'time to first token'),
    q99('engine_inter_token_latency_seconds', c.itlP99ThresholdSeconds, c.forDuration, 'LLMEngineInterTokenLatencyHigh', 'inter-token latency'),
    q99('engine_e2e_request_latency_seconds', c.e2eP99ThresholdSeconds, '15m', 'LLMEngineE2ELatencyHigh', 'end-to-end request latency'),
    burn('critical', '5m', '1h', 14.4, '2m'),
    burn('warning', '30m', '6h', 6, '15m'),
    A('LLMEngineKVCacheNearlyFull',
      'namespace_pod:engine_kv_cache_usage_ratio:max > %s\nand on (%s, namespace, job, pod)\nnamespace_pod:engine_requests_waiting:sum > 0' % [num(c.kvCacheFullRatio), cl],
      '15m',
      'warning',
      'KV cache of {{ $labels.pod }} nearly full with requests waiting.',
      'A DP rank of {{ $labels.engine }} pod {{ $labels.namespace }}/{{ $labels.pod }} has used more than %d%% of its KV cache for 15 minutes while requests queue.' % (c.kvCacheFullRatio * 100),
      {
        fire: T([gauge('namespace_pod:engine_kv_cache_usage_ratio:max', podL, '0.99x30'), gauge('namespace_pod:engine_requests_waiting:sum', podL, '4x30')], '20m', [podL]),
        // Full with a queue for 10 minutes only (for: 15m).
        silent: T([gauge('namespace_pod:engine_kv_cache_usage_ratio:max', podL, '0.99x30'), gauge('namespace_pod:engine_requests_waiting:sum', podL, '0x10 4x20')], '20m', []),
      }),
    A('LLMEngineQueueBacklogGrowing',
      'namespace_job:engine_requests_waiting:sum > %d\nand\nderiv(namespace_job:engine_requests_waiting:sum[15m]) > 0' % c.queueBacklogRequests,
      '15m',
      'warning',
      'Request queue of {{ $labels.job }} keeps growing.',
      'More than %d requests wait in {{ $labels.job }} and the queue has grown for 15 minutes: add capacity or shed load.' % c.queueBacklogRequests,
      {
        fire: T([gauge('namespace_job:engine_requests_waiting:sum', jobL, '40+2x40')], '35m', [jobL]),
        // Large but draining.
        silent: T([gauge('namespace_job:engine_requests_waiting:sum', jobL, '200-2x40')], '35m', []),
      }),
    A('LLMEnginePDQueueStuck',
      f('min_over_time(namespace_pod:engine_pd_queue_requests:sum[10m]) > 0\nunless on (%(cl)s, namespace, job, pod)\nmax_over_time(namespace_pod:engine_stage_latency_seconds_count:rate%(w)s{stage=~"prefill_bootstrap|prefill_transfer_kv_cache|decode_bootstrap|decode_transferred"}[10m]) > 0'),
      '5m',
      'critical',
      'P/D {{ $labels.queue }} queue of {{ $labels.pod }} is stuck.',
      'The {{ $labels.queue }} queue of {{ $labels.pod }} ({{ $labels.job }}) has held requests for 10 minutes while the pod completed no bootstrap or KV transfer: the prefill/decode handshake is stuck.',
      {
        fire: T([gauge('namespace_pod:engine_pd_queue_requests:sum', podL { queue: 'decode_transfer' }, '3x30'), gauge('namespace_pod:engine_stage_latency_seconds_count:rate1m', podL { stage: 'decode_transferred' }, '0x30')], '20m', [podL { queue: 'decode_transfer' }]),
        silent: T([gauge('namespace_pod:engine_pd_queue_requests:sum', podL { queue: 'decode_transfer' }, '3x30'), gauge('namespace_pod:engine_stage_latency_seconds_count:rate1m', podL { stage: 'decode_transferred' }, '0.5x30')], '20m', []),
      }),
    A('LLMEngineKVTransferFailures',
      f('avg_over_time(namespace_job:engine_kv_transfer_failures:rate%(w)s[10m]) * 600 > ') + c.kvTransferFailuresPer10m,
      '5m',
      'warning',
      'KV cache transfers of {{ $labels.job }} are failing.',
      'More than %d KV cache transfers of {{ $labels.job }} failed in 10 minutes.' % c.kvTransferFailuresPer10m,
      {
        fire: T([gauge('namespace_job:engine_kv_transfer_failures:rate1m', jobL, '0.05x30')], '20m', [jobL]),
        silent: T([gauge('namespace_job:engine_kv_transfer_failures:rate1m', jobL, '0.001x30')], '20m', []),
      }),
    A('LLMEngineBootstrapFailures',
      f('avg_over_time(namespace_job:engine_bootstrap_failures:rate%(w)s[10m]) * 600 > ') + c.kvTransferFailuresPer10m,
      '5m',
      'warning',
      'P/D bootstraps of {{ $labels.job }} are failing.',
      'More than %d prefill/decode bootstraps of {{ $labels.job }} failed in 10 minutes.' % c.kvTransferFailuresPer10m,
      {
        fire: T([gauge('namespace_job:engine_bootstrap_failures:rate1m', jobL, '0.05x30')], '20m', [jobL]),
        silent: T([gauge('namespace_job:engine_bootstrap_failures:rate1m', jobL, '0x30')], '20m', []),
      }),
    A('LLMEngineAbortedRequestsHigh',
      f('sum by (%(cl)s, namespace, job) (namespace_job:engine_requests_aborted:rate%(w)s)\n/\nsum by (%(cl)s, namespace, job) (namespace_job:engine_requests:rate%(w)s)\n> ') + num(c.abortedRatioThreshold),
      c.forDuration,
      'warning',
      'Many requests of {{ $labels.job }} are aborted.',
      'More than %d%% of the requests of {{ $labels.job }} were aborted over the last %s.' % [c.abortedRatioThreshold * 100, c.forDuration],
      {
        fire: T([gauge('namespace_job:engine_requests_aborted:rate1m', jobL, '1x30'), gauge('namespace_job:engine_requests:rate1m', jobL, '10x30')], '20m', [{ [cl]: 'r1', namespace: 'ns1', job: 'ns1/chat-decode' }]),
        silent: T([gauge('namespace_job:engine_requests_aborted:rate1m', jobL, '0.1x30'), gauge('namespace_job:engine_requests:rate1m', jobL, '10x30')], '20m', []),
      }),
    A('LLMEngineRetractedRequestsHigh',
      f('sum by (%(cl)s, namespace, job) (namespace_job:engine_requests_retracted:rate%(w)s)\n/\nsum by (%(cl)s, namespace, job) (namespace_job:engine_requests:rate%(w)s)\n> ') + num(c.retractedRatioThreshold),
      c.forDuration,
      'warning',
      'Many requests of {{ $labels.job }} are retracted (preempted).',
      'Retractions / preemptions exceed %d%% of the requests of {{ $labels.job }}: the KV cache is too small for the load.' % (c.retractedRatioThreshold * 100),
      {
        fire: T([gauge('namespace_job:engine_requests_retracted:rate1m', jobL, '2x30'), gauge('namespace_job:engine_requests:rate1m', jobL, '10x30')], '20m', [{ [cl]: 'r1', namespace: 'ns1', job: 'ns1/chat-decode' }]),
        silent: T([gauge('namespace_job:engine_requests_retracted:rate1m', jobL, '0.2x30'), gauge('namespace_job:engine_requests:rate1m', jobL, '10x30')], '20m', []),
      }),
    A('LLMEngineDown',
      // Without a selector, the engines' targets are those of the jobs that recorded DP ranks in the
      // last hour (a target that is down exports nothing, so its job's recorded series tell).
      (if c.engineUpSelector != '' then 'up{%s} == 0' % c.engineUpSelector
       else 'up == 0\nand on (%(cl)s, job)\nmax by (%(cl)s, job) (max_over_time(namespace_job:engine_dp_ranks:count[1h]))' % { cl: cl })
      + '\nor\nllm_engine_up == 0',
      '5m',
      'critical',
      'Engine {{ $labels.instance }}{{ $labels.pod }} ({{ $labels.job }}) is down.',
      'The metrics of engine {{ $labels.instance }}{{ $labels.pod }} ({{ $labels.job }}) could not be read for 5 minutes, by Prometheus (`up`) or by llm-node-exporter (`llm_engine_up`): the engine process is down or hung.',
      local upL = { job: 'ns1/chat-decode', instance: '10.0.0.1:30000' };
      local exL = { job: 'llm-node-exporter', namespace: 'ns1', pod: 'chat-prefill-0', engine: 'sglang', role: 'prefill' };
      local ranks = gauge('namespace_job:engine_dp_ranks:count', { job: 'ns1/chat-decode' }, '2x5 _x20');
      {
        fire: T([gauge('up', upL, '1x5 0x20'), ranks, gauge('llm_engine_up', exL, '0x20')], '15m', [upL, exL]),
        // One failed scrape does not page.
        silent: T([gauge('up', upL, '1x5 0x4 1x20'), ranks, gauge('llm_engine_up', exL, '1x5 0x4 1x20')], '9m', []),
        // A target that is not an engine's (its job never recorded DP ranks) does not page.
        silent_not_engine: T([gauge('up', { job: 'kube-state-metrics', instance: '10.0.0.9:8080' }, '0x20'), ranks], '15m', []),
      }),
  ],

  prometheusAlerts+:: {
    groups+: [{ name: 'llm-engine.alerts', rules: engineAlerts }],
  },
}
