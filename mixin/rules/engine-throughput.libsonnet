// Engine counters (source a): request, token and failure rates per pod and per job.
local p = import '../lib/promql.libsonnet';

{
  local c = $._config,
  local w = c.rateWindow,
  local eng = (import '../lib/engine.libsonnet')(c),

  local counterRules(k) =
    [
      {
        record: 'namespace_pod:%s:rate%s' % [k.norm, w],
        expr: eng.aggregate('sum', eng.levels.pod + k.extraLabels, eng.rateOf(k, inp)),
        labels: eng.ruleLabels(inp),
      }
      for inp in k.inputs
    ]
    + [{
      record: 'namespace_job:%s:rate%s' % [k.norm, w],
      expr: 'sum by (%s) (namespace_pod:%s:rate%s)' % [p.by(eng.jobBy + k.extraLabels), k.norm, w],
    }],

  prometheusRules+:: {
    groups+: eng.groupsOf('counter', [
      ['llm-engine-requests.rules', ['engine_requests', 'engine_requests_aborted', 'engine_requests_retracted', 'engine_kv_transfer_failures', 'engine_bootstrap_failures']],
    ], 'llm-engine-tokens.rules', counterRules),
  },
}
