// Pod network from cAdvisor (sources.cadvisor), as in the seed PD Network dashboard.
{
  local c = $._config,
  local nw = c.networkRateWindow,

  prometheusRules+:: {
    groups+: if !c.sources.cadvisor then [] else [{
      name: 'llm-pod-network.rules',
      rules: [
        {
          record: 'namespace_pod:container_network_%s_bytes:rate%s' % [d, nw],
          expr: 'sum by (%s, namespace, pod) (rate(container_network_%s_bytes_total{%s}[%s]))' % [c.clusterLabel, d, c.cadvisorSelector, nw],
        }
        for d in ['receive', 'transmit']
      ],
    }],
  },
}
