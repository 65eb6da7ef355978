// InfiniBand / RoCE from llm-node-exporter (source b), attributed by HCA: the exporter labels each
// RDMA port with the pod that owns it, so each pod counts its own ports only.
local p = import '../lib/promql.libsonnet';

{
  local c = $._config,
  local w = c.rateWindow,
  local cl = c.clusterLabel,
  local nl = c.nodeLabel,
  local sel = c.llmExporterSelector,
  local ports = ['port_data_received_bytes', 'port_data_transmitted_bytes', 'port_packets_received', 'port_packets_transmitted'],

  local rules =
    [
      {
        record: 'namespace_pod:llm_infiniband_%s:rate%s' % [m, w],
        expr: 'sum by (%s, namespace, pod, %s) (rate(llm_infiniband_%s_total{%s}[%s]))' % [cl, nl, m, p.matchers([sel, 'pod!=""']), w],
      }
      for m in ports
    ]
    + [
      {
        record: 'node:llm_infiniband_%s:rate%s' % [m, w],
        expr: 'sum by (%s, %s, link_layer) (rate(llm_infiniband_%s_total{%s}[%s]))' % [cl, nl, m, sel, w],
      }
      for m in ports
    ]
    + [
      {
        // Ports no pod owns (shared HCAs, storage, attribution unknown).
        record: 'node:llm_infiniband_%s:unattributed_rate%s' % [m, w],
        expr: 'sum by (%s, %s, link_layer) (rate(llm_infiniband_%s_total{%s}[%s]))' % [cl, nl, m, p.matchers([sel, 'pod=""']), w],
      }
      for m in ports
    ]
    + [
      {
        record: 'namespace_workload_pod:llm_infiniband_%s:rate%s' % [m, w],
        expr: |||
          namespace_pod:llm_infiniband_%(m)s:rate%(w)s
          * on (%(cl)s, namespace, pod) group_left (workload, workload_type, app, role)
          namespace_workload_pod:llm_kube_pod_owner:relabel
        ||| % { m: m, w: w, cl: cl },
      }
      for m in ports
    ]
    + [
      {
        record: 'node:llm_infiniband_port_transmit_wait:max_rate%s' % w,
        expr: 'max by (%s, %s) (rate(llm_infiniband_port_transmit_wait_total{%s}[%s]))' % [cl, nl, sel, w],
      },
      {
        record: 'node:llm_infiniband_np_cnp_packets_sent:rate%s' % w,
        expr: 'sum by (%s, %s) (rate(llm_infiniband_np_cnp_packets_sent_total{%s}[%s]))' % [cl, nl, sel, w],
      },
      {
        record: 'node:llm_infiniband_out_of_buffer_drops:rate%s' % w,
        expr: 'sum by (%s, %s) (rate(llm_infiniband_out_of_buffer_drops_total{%s}[%s]))' % [cl, nl, sel, w],
      },
    ],

  prometheusRules+:: {
    groups+: [{ name: 'llm-fabric.rules', rules: rules }],
  },
}
