// LLM / PD Performance: the seed "PD Performance" dashboard (SGLang prefill/decode), panel for
// panel on recorded series, plus the P/D true TTFT estimate. Rows of optional sources the profile
// lacks are left out (the InfiniBand row then shows the exporter's per-HCA attribution).
local g = import '../lib/grafana.libsonnet';

{
  local c = $._config,
  local d = (import 'common.libsonnet')(c),
  local f = d.f,
  local PE(role) = f('%(cl)s=~"$%(cl)s", namespace=~"$namespace", app=~"$app", role="' + role + '"'),
  local pd = [p for p in $.pdPanels if p.dashboard == 'pd-performance'],
  local panels(idx) = d.seedPanels([p for p in pd if std.member(idx, p.index)]),

  local trueTTFT = g.panel(
    'P/D true TTFT (estimate) vs decode-reported TTFT',
    [
      f('namespace_app:engine_pd_true_ttft_seconds:mean%(w)s{%(cl)s=~"$%(cl)s", namespace=~"$namespace", app=~"$app"}'),
      f('sum by (%(cl)s, namespace, app, model_name) (namespace_job:engine_time_to_first_token_seconds_sum:rate%(w)s{') + PE('decode') + f('}) / sum by (%(cl)s, namespace, app, model_name) (namespace_job:engine_time_to_first_token_seconds_count:rate%(w)s{') + PE('decode') + '})',
    ],
    's',
    "Estimate of the client TTFT in P/D mode from engine stage means: prefill-side stages (bootstrap, waiting, forward, KV transfer) + decode-side wait for a batch slot + one decode step. The decode engine's own TTFT (B) starts when the request reached the decode engine. See docs/rules.md for how this compares with the llm-d coordinator's true_ttft.",
    legends=['true TTFT (estimate) {{app}}', 'decode-reported TTFT {{app}}'],
  ),

  grafanaDashboards+:: {
    'llm-pd-performance.json': d.dashboard(
      'LLM / PD Performance',
      'llm-pd-performance',
      d.section('Load balancer endpoints', panels(std.range(0, 3)))
      + d.section('Requests and latency', [trueTTFT] + panels(std.range(4, 11)))
      + d.section('Running requests and queues', panels(std.range(12, 25)))
      + d.section('Per-stage latency (P/D)', panels(std.range(26, 38)))
      + d.section('KV cache, tokens and throughput', panels(std.range(39, 55) + [59, 63, 64, 65, 66]))
      + d.section('InfiniBand per workload', panels([56, 57, 58, 60, 61, 62])),
      [d.vars.cluster, d.vars.namespace, d.vars.app] + (if c.sources.loadBalancer then [d.vars.pool] else []),
      'SGLang prefill/decode disaggregation: the seed "PD Performance" dashboard on recorded series.',
    ),
  },
}
