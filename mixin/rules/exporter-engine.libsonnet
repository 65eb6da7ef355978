// llm-node-exporter's normalised engine series (source b, llm_engine_*, docs/schema.md): per pod
// and per workload.
local p = import '../lib/promql.libsonnet';

{
  local c = $._config,
  local w = c.rateWindow,
  local cl = c.clusterLabel,
  local sel = c.llmExporterSelector,
  local podBy = [cl, 'namespace', 'pod', 'role', 'model', 'engine'],
  local workloadBy = [cl, 'namespace', 'workload', 'workload_type', 'app', 'role', 'model', 'engine'],
  local extra(h) = if h == 'stage_latency_seconds' then ['stage'] else [],

  local histogramRules(h) =
    [
      {
        record: 'namespace_pod:llm_engine_%s_%s:rate%s' % [h, part, w],
        expr: 'sum by (%s) (rate(llm_engine_%s_%s{%s}[%s]))' % [p.by(podBy + extra(h)), h, part, sel, w],
      }
      for part in ['sum', 'count']
    ]
    + [
      {
        record: 'namespace_workload:llm_engine_%s_%s:rate%s' % [h, part, w],
        expr: |||
          sum by (%(by)s) (
            namespace_pod:llm_engine_%(h)s_%(part)s:rate%(w)s
            * on (%(cl)s, namespace, pod) group_left (workload, workload_type, app)
            namespace_workload_pod:llm_kube_pod_owner:relabel
          )
        ||| % { by: p.by(workloadBy + extra(h)), h: h, part: part, w: w, cl: cl },
      }
      for part in ['sum', 'count']
    ]
    + [{
      record: 'namespace_workload:llm_engine_%s:mean%s' % [h, w],
      expr: 'namespace_workload:llm_engine_%(h)s_sum:rate%(w)s / namespace_workload:llm_engine_%(h)s_count:rate%(w)s' % { h: h, w: w },
    }],

  local loadRules =
    [
      {
        record: 'namespace_pod:llm_engine_%s:rate%s' % [k, w],
        expr: 'sum by (%s) (rate(llm_engine_%s_total{%s}[%s]))' % [p.by(podBy), k, sel, w],
      }
      for k in ['requests', 'requests_aborted', 'requests_retracted', 'prompt_tokens', 'generation_tokens', 'kv_transfer_failures', 'bootstrap_failures']
    ]
    + [
      {
        record: 'namespace_pod:llm_engine_%s:%s' % [g, op],
        expr: '%s by (%s) (llm_engine_%s{%s})' % [op, p.by(podBy), g, sel],
      }
      for g in ['requests_running', 'requests_waiting', 'kv_cache_usage_ratio']
      for op in ['sum', 'max']
    ]
    + [{
      record: 'namespace_pod:llm_engine_pd_queue_requests:sum',
      expr: 'sum by (%s) (llm_engine_pd_queue_requests{%s})' % [p.by(podBy + ['queue']), sel],
    }],

  prometheusRules+:: {
    groups+: [
      { name: 'llm-exporter-engine-latency.rules', rules: std.flattenArrays([histogramRules(h) for h in ['stage_latency_seconds', 'time_to_first_token_seconds', 'inter_token_latency_seconds']]) },
      { name: 'llm-exporter-engine-request-time.rules', rules: std.flattenArrays([histogramRules(h) for h in ['e2e_request_latency_seconds', 'queue_time_seconds']]) },
      { name: 'llm-exporter-engine-load.rules', rules: loadRules },
    ],
  },
}
