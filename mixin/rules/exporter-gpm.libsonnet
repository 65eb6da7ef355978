// GPU profiling (GPM, source b): efficiency per pod / DP rank / role and per workload. A DP rank
// spans its TP GPUs: the rank's value is the mean over its GPUs. MIG: a GPU's instances are averaged
// first (avg without (gpu_instance)), so each GPU weighs once. Series are absent where GPM is
// unsupported, so are these.
local p = import '../lib/promql.libsonnet';

{
  local c = $._config,
  local w = c.rateWindow,
  local cl = c.clusterLabel,
  local sel = c.llmExporterSelector,
  local rankBy = [cl, 'namespace', 'pod', 'role', 'engine', 'dp_rank'],
  local workloadBy = [cl, 'namespace', 'workload', 'workload_type', 'app', 'role', 'engine'],
  local tokensBy = [cl, 'namespace', 'workload', 'workload_type', 'app', 'role', 'model', 'engine'],
  local podTokensBy = [cl, 'namespace', 'pod', 'role', 'model', 'engine'],
  local perGpu(m) = 'avg without (gpu_instance) (llm_gpu_%s{%s})' % [m, p.matchers([sel, 'pod!=""'])],
  local owner = 'namespace_workload_pod:llm_kube_pod_owner:relabel',

  local rules =
    [
      {
        record: 'namespace_pod_dp_rank:llm_gpu_%s:avg' % m,
        expr: 'avg by (%s) (%s)' % [p.by(rankBy), perGpu(m)],
      }
      for m in ['tensor_active_ratio', 'dram_bandwidth_utilization_ratio', 'sm_active_ratio']
    ]
    + [{
      // SM activity per pod, beside namespace_pod:llm_gpu_utilization_ratio:avg (classic utilisation).
      record: 'namespace_pod:llm_gpu_sm_active_ratio:avg',
      expr: 'avg by (%s, namespace, pod) (%s)' % [cl, perGpu('sm_active_ratio')],
    }]
    + [
      {
        // Per workload (and role): prefill tensor efficiency is {role="prefill"} of the tensor
        // series, decode memory-bandwidth utilisation {role="decode"} of the DRAM one.
        record: 'namespace_workload:llm_gpu_%s:avg' % m,
        expr: |||
          avg by (%(by)s) (
            %(gpu)s
            * on (%(cl)s, namespace, pod) group_left (workload, workload_type, app)
            %(owner)s
          )
        ||| % { by: p.by(workloadBy), gpu: perGpu(m), cl: cl, owner: owner },
      }
      for m in ['tensor_active_ratio', 'dram_bandwidth_utilization_ratio']
    ]
    + [
      {
        // GPUs per DP rank and per pod (llm_rank_info: one series per GPU).
        record: 'namespace_pod_dp_rank:llm_rank_info:count',
        expr: 'count by (%s, namespace, pod, dp_rank) (llm_rank_info{%s})' % [cl, p.matchers([sel, 'pod!=""'])],
      },
      {
        record: 'namespace_pod:llm_rank_info:count',
        expr: 'count by (%s, namespace, pod) (llm_rank_info{%s})' % [cl, p.matchers([sel, 'pod!=""'])],
      },
      {
        // Generated tokens per GPU-second of each DP rank: the rank's token rate over its GPUs.
        record: 'namespace_pod_dp_rank:llm_engine_generation_tokens_per_gpu:rate%s' % w,
        expr: |||
          sum by (%(by)s) (rate(llm_engine_generation_tokens_total{%(sel)s}[%(w)s]))
          / on (%(cl)s, namespace, pod, dp_rank) group_left ()
          namespace_pod_dp_rank:llm_rank_info:count
        ||| % { by: p.by(podTokensBy + ['dp_rank']), sel: sel, w: w, cl: cl },
      },
      {
        // ... and per workload: tokens of the pods that have GPUs over those pods' GPUs.
        record: 'namespace_workload:llm_engine_generation_tokens_per_gpu:rate%s' % w,
        expr: |||
          sum by (%(by)s) (
            (namespace_pod:llm_engine_generation_tokens:rate%(w)s and on (%(cl)s, namespace, pod) namespace_pod:llm_rank_info:count)
            * on (%(cl)s, namespace, pod) group_left (workload, workload_type, app)
            %(owner)s
          )
          / on (%(cl)s, namespace, workload, workload_type) group_left ()
          sum by (%(cl)s, namespace, workload, workload_type) (
            namespace_pod:llm_rank_info:count
            * on (%(cl)s, namespace, pod) group_left (workload, workload_type)
            %(owner)s
          )
        ||| % { by: p.by(tokensBy), w: w, cl: cl, owner: owner },
      },
    ],

  prometheusRules+:: {
    groups+: [{ name: 'llm-exporter-gpm.rules', rules: rules }],
  },
}
