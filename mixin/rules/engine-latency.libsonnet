// Engine latency histograms (source a): per pod and per job request-weighted means from the _sum and
// _count rates, job-level bucket rates and p50 / p90 / p99. One group per family.
local p = import '../lib/promql.libsonnet';

{
  local c = $._config,
  local w = c.rateWindow,
  local eng = (import '../lib/engine.libsonnet')(c),

  local podRate(h, inp, part) = {
    record: 'namespace_pod:%s_%s:rate%s' % [h.norm, part, w],
    expr: eng.aggregate('sum', eng.levels.pod + h.extraLabels, eng.rateOf(h, inp, '_' + part)),
    labels: eng.ruleLabels(inp),
  },
  local jobRate(h, part) = {
    record: 'namespace_job:%s_%s:rate%s' % [h.norm, part, w],
    expr: 'sum by (%s) (namespace_pod:%s_%s:rate%s)' % [p.by(eng.jobBy + h.extraLabels), h.norm, part, w],
  },
  local mean(level, h) = {
    record: '%s:%s:mean%s' % [level, h.norm, w],
    expr: '%(l)s:%(n)s_sum:rate%(w)s / %(l)s:%(n)s_count:rate%(w)s' % { l: level, n: h.norm, w: w },
  },
  local jobBucket(h, inp) = {
    record: 'namespace_job:%s_bucket:rate%s' % [h.norm, w],
    expr: eng.aggregate('sum', eng.levels.job + h.extraLabels + ['le'], eng.rateOf(h, inp, '_bucket')),
    labels: eng.ruleLabels(inp),
  },
  local quantiles(h) = [
    {
      record: 'namespace_job_quantile:%s:histogram_quantile' % h.norm,
      expr: 'histogram_quantile(%s, namespace_job:%s_bucket:rate%s)' % [q, h.norm, w],
      labels: { quantile: q },
    }
    for q in ['0.5', '0.9', '0.99']
  ],

  local latencyRules(h) =
    [podRate(h, inp, part) for part in ['sum', 'count'] for inp in h.inputs]
    + [jobRate(h, part) for part in ['sum', 'count']]
    + [mean('namespace_pod', h), mean('namespace_job', h)]
    + [jobBucket(h, inp) for inp in h.inputs]
    + quantiles(h),

  local groupName(h) =
    local n = std.strReplace(h.norm, 'engine_', '');
    'llm-engine-%s.rules' % std.strReplace(if std.endsWith(n, '_seconds') then std.substr(n, 0, std.length(n) - 8) else n, '_', '-'),

  prometheusRules+:: {
    groups+: [{ name: groupName(h), rules: latencyRules(h) } for h in eng.ordered('latency')],
  },
}
