// Panels of the KV-transfer-against-fabric and MFU rules (rules/kv-fabric.libsonnet), placed by the
// dashboards that show them: the "KV transfer and fabric" row of LLM / PD Network and the MFU panel
// of the GPU efficiency row of LLM / GPU & Fabric. Recorded series only.
local g = import '../lib/grafana.libsonnet';

{
  local c = $._config,
  local d = (import 'common.libsonnet')(c),
  local f = d.f,
  // The per-rank series carry no `app`: the pods of $app are those the pod -> workload join gives it.
  local pd(q) = f(q + ' and on (%(cl)s, namespace, pod) namespace_workload_pod:llm_kube_pod_owner:relabel{%(cl)s=~"$%(cl)s", namespace=~"$namespace", app=~"$app"}'),
  local sel = '%(cl)s=~"$%(cl)s", namespace=~"$namespace", role=~"$role"',
  local rankLegend = '{{role}} {{pod}} dp{{dp_rank}}',

  kvFabricPanels:: d.section('KV transfer and fabric (llm-node-exporter)', [
    g.panel('KV transfer bytes per DP rank',
            [pd('namespace_pod_dp_rank:llm_engine_kv_transfer_bytes:rate%(w)s{' + sel + '}')],
            'Bps',
            "KV cache bytes per second each DP rank moved: NIXL's on the decode (reading) side, SGLang's on the prefill (sending) side, its logging rank's shard times the rank's GPUs.",
            legends=[rankLegend + ' {{connector}}']),
    g.panel("KV transfer share of the paired ports' line rate",
            [pd('namespace_pod_dp_rank:llm_engine_kv_transfer_line_rate:ratio_rate%(w)s{' + sel + '}')],
            'percentunit',
            "The rank's KV bytes per second over the line rate of the ACTIVE RDMA ports paired with its GPUs (same PCIe switch). Near 100%: the rank saturates its HCAs.",
            legends=[rankLegend]),
    g.panel('KV bytes / paired HCA bytes',
            [pd('namespace_pod_dp_rank:llm_engine_kv_transfer_hca_bytes:ratio_rate%(w)s{' + sel + '}')],
            'percentunit',
            "The rank's KV bytes over the bytes its paired ports moved in the KV direction (sent on prefill, received on decode). Below 100%, the rest is other traffic on the same HCAs (collectives, storage, other transfers).",
            legends=[rankLegend]),
    g.panel('KV transfer time p99 / p50 per DP rank',
            [
              pd('namespace_pod_dp_rank_quantile:llm_engine_kv_transfer_seconds:histogram_quantile{' + sel + ', quantile="0.99"}'),
              pd('namespace_pod_dp_rank_quantile:llm_engine_kv_transfer_seconds:histogram_quantile{' + sel + ', quantile="0.5"}'),
            ],
            's',
            "Quantiles of the transfer time over the rank's recorded bucket rates (NIXL: one observation per TP rank's transfer; SGLang: per request).",
            legends=['p99 ' + rankLegend, 'p50 ' + rankLegend]),
    g.panel('RoCE congestion of the paired ports',
            [
              pd('namespace_pod_dp_rank:llm_infiniband_np_cnp_packets_sent:rate%(w)s{' + sel + '}'),
              pd('namespace_pod_dp_rank:llm_infiniband_rp_cnp_packets_handled:rate%(w)s{' + sel + '}'),
              pd('namespace_pod_dp_rank:llm_infiniband_np_ecn_marked_roce_packets_received:rate%(w)s{' + sel + '}'),
            ],
            'pps',
            "CNPs sent (the rank's ports received ECN-marked packets), CNPs handled (its ports were throttled) and ECN-marked packets received, summed over the rank's RoCE ports. With slow transfers: LLMKVTransferSlowFabricCongested.",
            legends=['CNP sent ' + rankLegend, 'CNP handled ' + rankLegend, 'ECN marked ' + rankLegend]),
    g.panel('Out-of-sequence packets / retransmits of the paired ports',
            [
              pd('namespace_pod_dp_rank:llm_infiniband_out_of_sequence_packets_received:rate%(w)s{' + sel + '}'),
              pd('namespace_pod_dp_rank:llm_infiniband_roce_adp_retransmits:rate%(w)s{' + sel + '}'),
            ],
            'pps',
            'Packets received out of sequence and adaptive retransmissions of RoCE traffic on the ports paired with each rank: drops in the fabric.',
            legends=['out of sequence ' + rankLegend, 'retransmits ' + rankLegend]),
    g.panel('KV transfer errors per pod',
            [pd('namespace_pod:llm_engine_kv_transfer_errors:rate%(w)s{' + sel + '}')],
            'short',
            'Errors per second by kind: NIXL failed transfers (per TP rank), failed notifications and expired requests; SGLang failed requests, timeouts by stage and failed bootstraps (LLMKVTransferErrors).',
            legends=['{{pod}} {{reason}} {{stage}}']),
  ]),

  mfuPanels:: [
    g.panel('MFU vs tensor activity by DP rank',
            [
              f('namespace_pod_dp_rank:llm_engine_mfu:ratio_rate%(w)s{%(cl)s=~"$%(cl)s", namespace=~"$namespace"}'),
              f('namespace_pod_dp_rank:llm_gpu_tensor_active_ratio:avg{%(cl)s=~"$%(cl)s", namespace=~"$namespace"}'),
            ],
            'percentunit',
            "Model FLOPs utilisation: the engine's estimated FLOPs per GPU per second over the peak dense BF16 FLOPS of the rank's GPU (gpuPeakFLOPS in mixin/config.libsonnet, by NVML name; absent for GPUs not in it). Beside it, the share of time the tensor pipes were active (GPM): busy tensor cores with a low MFU are small or padded matmuls.",
            legends=['MFU {{role}} {{pod}} dp{{dp_rank}}', 'tensor active {{role}} {{pod}} dp{{dp_rank}}']),
  ],
}
