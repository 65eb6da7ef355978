// Engine request-size histograms (source a, vLLM): per job buckets and mean only.
local p = import '../lib/promql.libsonnet';

{
  local c = $._config,
  local w = c.rateWindow,
  local eng = (import '../lib/engine.libsonnet')(c),

  local sizeRules(h) =
    [
      {
        record: 'namespace_job:%s_%s:rate%s' % [h.norm, part, w],
        expr: eng.aggregate('sum', eng.levels.job + h.extraLabels, eng.rateOf(h, inp, '_' + part)),
        labels: eng.ruleLabels(inp),
      }
      for part in ['sum', 'count']
      for inp in h.inputs
    ]
    + [{
      record: 'namespace_job:%s:mean%s' % [h.norm, w],
      expr: 'namespace_job:%(n)s_sum:rate%(w)s / namespace_job:%(n)s_count:rate%(w)s' % { n: h.norm, w: w },
    }]
    + [
      {
        record: 'namespace_job:%s_bucket:rate%s' % [h.norm, w],
        expr: eng.aggregate('sum', eng.levels.job + h.extraLabels + ['le'], eng.rateOf(h, inp, '_bucket')),
        labels: eng.ruleLabels(inp),
      }
      for inp in h.inputs
    ],

  prometheusRules+:: {
    groups+: [{ name: 'llm-engine-sizes.rules', rules: std.flattenArrays([sizeRules(h) for h in eng.ordered('size')]) }],
  },
}
