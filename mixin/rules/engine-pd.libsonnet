// P/D "true TTFT" estimate (means only): prefill-side stages + decode-side wait for a batch slot +
// one decode step (the decode first token). docs/rules.md compares it with the coordinator-measured
// TTFT.
local p = import '../lib/promql.libsonnet';

{
  local c = $._config,
  local w = c.rateWindow,
  local eng = (import '../lib/engine.libsonnet')(c),
  local stage = eng.families.engine_stage_latency_seconds.norm,
  local itl = eng.families.engine_inter_token_latency_seconds.norm,

  local stageMeanApp(role, stages) =
    |||
      sum by (%(app)s) (
          sum by (%(app)s, stage) (namespace_job:%(h)s_sum:rate%(w)s{role="%(role)s", stage=~"%(stages)s"})
        /
          sum by (%(app)s, stage) (namespace_job:%(h)s_count:rate%(w)s{role="%(role)s", stage=~"%(stages)s"})
      )
    ||| % { app: p.by(eng.appBy), h: stage, w: w, role: role, stages: stages },

  prometheusRules+:: {
    groups+: [{
      name: 'llm-engine-pd.rules',
      rules: [{
        record: 'namespace_app:engine_pd_true_ttft_seconds:mean%s' % w,
        expr: |||
          %(prefill)s+ on (%(app)s)
          %(decode)s+ on (%(app)s)
          (
              sum by (%(app)s) (namespace_job:%(itl)s_sum:rate%(w)s{role="decode"})
            /
              sum by (%(app)s) (namespace_job:%(itl)s_count:rate%(w)s{role="decode"})
          )
        ||| % {
          prefill: stageMeanApp('prefill', 'prefill_bootstrap|prefill_waiting|prefill_forward|prefill_transfer_kv_cache'),
          decode: stageMeanApp('decode', 'decode_waiting'),
          app: p.by(eng.appBy),
          itl: itl,
          w: w,
        },
      }],
    }],
  },
}
