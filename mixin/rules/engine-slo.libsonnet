// Request-availability ratios of the multi-window burn-rate alerts (alerts/engine.libsonnet), per
// job. Every window, 6h included, is computed from the recorded rateWindow rates summed over the
// window: the ratio of sums of consecutive rates is the ratio of increases, without reading hours of
// raw counters from every rank at each evaluation (docs/rules-cost.md).
local p = import '../lib/promql.libsonnet';

{
  local c = $._config,
  local w = c.rateWindow,
  local eng = (import '../lib/engine.libsonnet')(c),
  local aborted = eng.families.engine_requests_aborted.norm,
  local requests = eng.families.engine_requests.norm,

  prometheusRules+:: {
    groups+: [{
      name: 'llm-engine-slo.rules',
      rules: [
        {
          record: 'namespace_job:%s:ratio_rate%s' % [aborted, bw],
          expr: |||
            sum by (%(by)s) (sum_over_time(namespace_job:%(ab)s:rate%(w)s[%(bw)s]))
            /
            sum by (%(by)s) (sum_over_time(namespace_job:%(all)s:rate%(w)s[%(bw)s]))
          ||| % { by: p.by(eng.jobBy), ab: aborted, all: requests, w: w, bw: bw },
        }
        for bw in c.burnWindows
      ],
    }],
  },
}
