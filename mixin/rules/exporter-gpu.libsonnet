// llm-node-exporter's GPU series (source b): per pod and per node.
{
  local c = $._config,
  local cl = c.clusterLabel,
  local sel = c.llmExporterSelector,

  prometheusRules+:: {
    groups+: [{
      name: 'llm-exporter-gpu.rules',
      rules: [
        {
          record: 'namespace_pod:llm_gpu_utilization_ratio:avg',
          expr: 'avg by (%s, namespace, pod) (llm_gpu_utilization_ratio{%s, pod!=""})' % [cl, sel],
        },
        {
          record: 'namespace_pod:llm_gpu_power_watts:sum',
          expr: 'sum by (%s, namespace, pod) (llm_gpu_power_watts{%s, pod!=""})' % [cl, sel],
        },
        {
          record: 'namespace_pod:llm_gpu_memory_used_bytes:sum',
          expr: 'sum by (%s, namespace, pod) (llm_gpu_memory_used_bytes{%s, pod!=""})' % [cl, sel],
        },
        {
          record: 'node:llm_gpu_up:count',
          expr: 'count by (%s, %s) (llm_gpu_up{%s} == 1)' % [cl, c.nodeLabel, sel],
        },
      ],
    }],
  },
}
