// InfiniBand from node_exporter (sources.nodeExporterInfiniBand): per node, per (node, app, role)
// for the scoped panels, and the node-level FALLBACK attribution of the seed panels: every pod is
// given its whole node's IB traffic, meaningful only when one engine pod owns the node's HCAs
// (docs/rules.md). llm-node-exporter's per-HCA attribution (fabric.libsonnet) is exact.
local p = import '../lib/promql.libsonnet';

{
  local c = $._config,
  local w = c.rateWindow,
  local cl = c.clusterLabel,
  local nl = c.nodeLabel,
  local sel = p.matchers([c.nodeExporterSelector, c.ibDeviceSelector]),
  local pods = 'node_namespace_workload_pod:llm_kube_pod_owner:relabel',

  local counters = [
    { m: 'port_data_received_bytes', raw: 'node_infiniband_port_data_received_bytes_total' },
    { m: 'port_data_transmitted_bytes', raw: 'node_infiniband_port_data_transmitted_bytes_total' },
    { m: 'port_packets_received', raw: 'node_infiniband_port_packets_received_total' },
    { m: 'port_packets_transmitted', raw: 'node_infiniband_port_packets_transmitted_total' },
  ],
  local scoped(m, op) = {
    // Nodes running an app's pods, one series per (node, app, role).
    record: 'node_namespace_app_role:node_infiniband_%s:%srate%s' % [m, op, w],
    expr: |||
      node:node_infiniband_%(m)s:%(op)srate%(w)s
      * on (%(cl)s, %(nl)s) group_right ()
      max by (%(cl)s, %(nl)s, namespace, app, role) (%(pods)s)
    ||| % { m: m, op: op, w: w, cl: cl, nl: nl, pods: pods },
  },

  local rules =
    [
      {
        record: 'node:node_infiniband_%s:rate%s' % [x.m, w],
        expr: 'sum by (%s, %s) (rate(%s{%s}[%s]))' % [cl, nl, x.raw, sel, w],
      }
      for x in counters
    ]
    + [{
      record: 'node:node_infiniband_port_transmit_wait:max_rate%s' % w,
      expr: 'max by (%s, %s) (rate(node_infiniband_port_transmit_wait_total{%s}[%s]))' % [cl, nl, sel, w],
    }]
    + [scoped(m, '') for m in ['port_data_received_bytes', 'port_data_transmitted_bytes']]
    + [scoped('port_transmit_wait', 'max_')]
    + [
      {
        record: 'namespace_workload_pod:node_infiniband_%s:node_rate%s' % [x.m, w],
        expr: |||
          node:node_infiniband_%(m)s:rate%(w)s
          * on (%(cl)s, %(nl)s) group_right ()
          %(pods)s
        ||| % { m: x.m, w: w, cl: cl, nl: nl, pods: pods },
      }
      for x in counters
    ],

  prometheusRules+:: {
    groups+: if !c.sources.nodeExporterInfiniBand then [] else [{ name: 'llm-fabric-node-exporter.rules', rules: rules }],
  },
}
