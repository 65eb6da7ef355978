// LLM / PD Network: the seed "PD Network" dashboard (cAdvisor pod network, node_exporter InfiniBand
// of the nodes running the app) plus InfiniBand per pod attributed by HCA (llm-node-exporter).
local g = import '../lib/grafana.libsonnet';

{
  local c = $._config,
  local d = (import 'common.libsonnet')(c),
  local f = d.f,
  local pd = [p for p in $.pdPanels if p.dashboard == 'pd-network'],
  local sel = '%(cl)s=~"$%(cl)s", namespace=~"$namespace", app=~"$app", role=~"$role"',

  grafanaDashboards+:: {
    'llm-pd-network.json': d.dashboard(
      'LLM / PD Network',
      'llm-pd-network',
      d.section('Pod network (cAdvisor)', d.seedPanels([p for p in pd if p.index < 79]))
      + d.section('InfiniBand, nodes running the app (node_exporter)', d.seedPanels([p for p in pd if p.index >= 79]))
      + d.section('InfiniBand per pod, attributed by HCA (llm-node-exporter)', [
        g.panel('IB RX per pod (attributed)',
                [f('sum by (pod) (namespace_workload_pod:llm_infiniband_port_data_received_bytes:rate%(w)s{' + sel + '})')],
                'Bps',
                'Bytes received on the RDMA ports the exporter attributes to each pod (exact; no node-level smearing).',
                legends=['{{pod}}']),
        g.panel('IB TX per pod (attributed)', [f('sum by (pod) (namespace_workload_pod:llm_infiniband_port_data_transmitted_bytes:rate%(w)s{' + sel + '})')], 'Bps', legends=['{{pod}}']),
        g.panel('IB traffic on ports no pod owns',
                [f('sum by (%(nl)s) (node:llm_infiniband_port_data_received_bytes:unattributed_rate%(w)s{%(cl)s=~"$%(cl)s"})'), f('sum by (%(nl)s) (node:llm_infiniband_port_data_transmitted_bytes:unattributed_rate%(w)s{%(cl)s=~"$%(cl)s"})')],
                'Bps',
                'Shared or unattributed HCAs (storage, management, attribution unknown).',
                legends=[f('RX {{%(nl)s}}'), f('TX {{%(nl)s}}')]),
      ])
      + $.kvFabricPanels,
      [d.vars.cluster, d.vars.namespace, d.vars.app, d.vars.role],
      'Pod and InfiniBand traffic of prefill/decode pods.',
    ),
  },
}
