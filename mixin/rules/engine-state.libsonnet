// Engine gauges (source a): per pod sum and max over its DP ranks (TP copies dropped first), per job
// sum, per DP rank where a seed panel shows ranks, and the number of DP ranks per pod.
local p = import '../lib/promql.libsonnet';

{
  local c = $._config,
  local eng = (import '../lib/engine.libsonnet')(c),

  local gaugeRules(g) =
    [
      {
        record: 'namespace_pod:%s:%s' % [g.norm, op],
        expr: eng.aggregate(op, eng.levels.pod + g.extraLabels, eng.gaugeOf(g, inp)),
        labels: eng.ruleLabels(inp),
      }
      for op in ['sum', 'max']
      for inp in g.inputs
    ]
    + [
      {
        record: 'namespace_pod_dp_rank:%s:max' % g.norm,
        expr: eng.aggregate('max', eng.levels.pod + g.extraLabels + ['dp_rank'], eng.engines[inp.src].rank(eng.gaugeOf(g, inp))),
        labels: eng.ruleLabels(inp),
      }
      for inp in g.inputs
      if g.perRank
    ]
    + [{
      record: 'namespace_job:%s:sum' % g.norm,
      expr: 'sum by (%s) (namespace_pod:%s:sum)' % [p.by(eng.jobBy + g.extraLabels), g.norm],
    }],

  // Number of (deduplicated) DP ranks per pod: the denominator of every per-rank average.
  local rankCountRules =
    local g = eng.rankCountFamily;
    [
      {
        record: 'namespace_pod:engine_dp_ranks:count',
        expr: eng.aggregate('count', eng.levels.pod, eng.gaugeOf(g, inp)),
        labels: { engine: inp.src },
      }
      for inp in g.inputs
    ]
    + [{
      record: 'namespace_job:engine_dp_ranks:count',
      expr: 'sum by (%s) (namespace_pod:engine_dp_ranks:count)' % p.by(eng.jobBy),
    }],

  prometheusRules+:: {
    groups+: eng.groupsOf('gauge', [
      ['llm-engine-load.rules', ['engine_requests_running', 'engine_requests_waiting', 'engine_requests_swapped'], rankCountRules],
      ['llm-engine-kv-cache.rules', ['engine_kv_cache_usage_ratio', 'engine_prefix_cache_hit_ratio', 'engine_cpu_cache_usage_ratio']],
      ['llm-engine-pd-queues.rules', ['engine_pd_queue_requests']],
    ], 'llm-engine-speed.rules', gaugeRules),
  },
}
