// LLM / Engine (vLLM and SGLang): the vLLM / SGLang panels of the other seeds on one engine-agnostic
// schema (engine_* recorded series with an `engine` label), plus stages, failures and P/D queues.
local g = import '../lib/grafana.libsonnet';

{
  local c = $._config,
  local d = (import 'common.libsonnet')(c),
  local f = d.f,

  grafanaDashboards+:: {
    'llm-engine.json': d.dashboard(
      'LLM / Engine (vLLM and SGLang)',
      'llm-engine',
      d.section('Latency', d.seedPanels([p for p in $.enginePanels if p.unit == 's']))
      + d.section('Throughput, state and cache', d.seedPanels([p for p in $.enginePanels if p.unit != 's']))
      + d.section('Stages and failures', [
        g.panel('Stage latency (request-weighted mean)', [f('sum by (role, stage) (namespace_job:engine_stage_latency_seconds_sum:rate%(w)s{%(cl)s=~"$%(cl)s", namespace=~"$namespace", app=~"$app", role=~"$role", engine=~"$engine", model_name=~"$model_name"}) / sum by (role, stage) (namespace_job:engine_stage_latency_seconds_count:rate%(w)s{%(cl)s=~"$%(cl)s", namespace=~"$namespace", app=~"$app", role=~"$role", engine=~"$engine", model_name=~"$model_name"})')], 's', legends=['{{role}} {{stage}}']),
        g.panel('Aborted / retracted requests', [f('sum by (job) (namespace_job:engine_requests_aborted:rate%(w)s{%(cl)s=~"$%(cl)s", namespace=~"$namespace", app=~"$app", role=~"$role", engine=~"$engine"})'), f('sum by (job) (namespace_job:engine_requests_retracted:rate%(w)s{%(cl)s=~"$%(cl)s", namespace=~"$namespace", app=~"$app", role=~"$role", engine=~"$engine"})')], 'reqps', legends=['aborted {{job}}', 'retracted {{job}}']),
        g.panel('KV transfer / bootstrap failures', [f('sum by (job) (namespace_job:engine_kv_transfer_failures:rate%(w)s{%(cl)s=~"$%(cl)s", namespace=~"$namespace", app=~"$app", role=~"$role"})'), f('sum by (job) (namespace_job:engine_bootstrap_failures:rate%(w)s{%(cl)s=~"$%(cl)s", namespace=~"$namespace", app=~"$app", role=~"$role"})')], 'reqps', legends=['transfer {{job}}', 'bootstrap {{job}}']),
        g.panel('P/D queues', [f('sum by (job, queue) (namespace_job:engine_pd_queue_requests:sum{%(cl)s=~"$%(cl)s", namespace=~"$namespace", app=~"$app", role=~"$role"})')], 'short', legends=['{{job}} {{queue}}']),
      ]),
      [d.vars.cluster, d.vars.namespace, d.vars.app, d.vars.role, d.vars.engine, d.vars.model],
      'One dashboard for vLLM and SGLang: both are normalised into engine_* recorded series with an `engine` label.',
    ),
  },
}
