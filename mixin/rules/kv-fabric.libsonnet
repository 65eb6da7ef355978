// KV cache transfer (P/D) against the RDMA fabric, per DP rank, and MFU per DP rank; all from
// llm-node-exporter (source b). The exporter gives each RDMA port the attribution of the GPU under
// the same PCIe switch (namespace, pod, role, dp_rank, tp_rank, gpu), so a DP rank's ports are the
// HCAs paired with its TP GPUs: port series are summed over the rank's ports (tp_rank, gpu, device).
//
// KV bytes per rank (docs/metrics-engine.md, "KV cache transfer"): connector="nixl" (vLLM) records
// on the reader (decode) one observation per TP rank's transfer, pooled over the ranks, so its _sum
// is the rank's KV; connector="sglang" records on the sender (prefill) one observation per request,
// the logging rank's shard, so its _sum times the rank's GPUs (its TP size) is the rank's KV. Per-
// request series come once per (pod, dp_rank) from the exporter (TP duplicates already dropped).
// KV flows prefill -> decode: the fabric bytes it is compared with are the ports' transmitted bytes
// on prefill ranks and received bytes on decode ranks.
local p = import '../lib/promql.libsonnet';

{
  local c = $._config,
  local w = c.rateWindow,
  local cl = c.clusterLabel,
  local sel = c.llmExporterSelector,
  local rank = [cl, 'namespace', 'pod', 'dp_rank'],
  local portBy = [cl, 'namespace', 'pod', 'role', 'dp_rank'],
  local kvBy = [cl, 'namespace', 'pod', 'role', 'engine', 'connector', 'dp_rank'],
  local attributed = p.matchers([sel, 'pod!=""']),
  local on = 'on (%s) group_left ()' % p.by(rank),

  // Congestion counters of the paired ports (RoCE hw_counters; absent on InfiniBand ports).
  local congestion = [
    'np_cnp_packets_sent',
    'rp_cnp_packets_handled',
    'np_ecn_marked_roce_packets_received',
    'out_of_sequence_packets_received',
    'roce_adp_retransmits',
  ],

  local portRules =
    [
      {
        // Line rate of the rank's ACTIVE ports (one direction; the links are full duplex).
        record: 'namespace_pod_dp_rank:llm_infiniband_rate_bytes_per_second:sum',
        expr: 'sum by (%s) (llm_infiniband_rate_bytes_per_second{%s} and llm_infiniband_state_id{%s} == 4)' % [p.by(portBy), attributed, attributed],
      },
    ]
    + [
      {
        record: 'namespace_pod_dp_rank:llm_infiniband_%s:rate%s' % [m, w],
        expr: 'sum by (%s) (rate(llm_infiniband_%s_total{%s}[%s]))' % [p.by(portBy), m, attributed, w],
      }
      for m in ['port_data_transmitted_bytes', 'port_data_received_bytes']
    ]
    + [{
      // The ports' bytes in the direction KV flows: sent by prefill ranks, received by decode ranks.
      record: 'namespace_pod_dp_rank:llm_infiniband_port_data_kv_direction_bytes:rate%s' % w,
      expr: |||
        namespace_pod_dp_rank:llm_infiniband_port_data_transmitted_bytes:rate%(w)s{role="prefill"}
        or
        namespace_pod_dp_rank:llm_infiniband_port_data_received_bytes:rate%(w)s{role="decode"}
      ||| % { w: w },
    }]
    + [
      {
        record: 'namespace_pod_dp_rank:llm_infiniband_%s:rate%s' % [m, w],
        expr: 'sum by (%s) (rate(llm_infiniband_%s_total{%s}[%s]))' % [p.by(portBy), m, attributed, w],
      }
      for m in congestion
    ],

  local kvBytes = 'namespace_pod_dp_rank:llm_engine_kv_transfer_bytes:rate%s' % w,
  local kvRules =
    [
      {
        record: kvBytes,
        expr: |||
          sum by (%(by)s) (rate(llm_engine_kv_transfer_bytes_sum{%(sel)s, connector!="sglang"}[%(w)s]))
          or
          sum by (%(by)s) (rate(llm_engine_kv_transfer_bytes_sum{%(sel)s, connector="sglang"}[%(w)s]))
          * %(on)s
          namespace_pod_dp_rank:llm_rank_info:count
        ||| % { by: p.by(kvBy), sel: sel, w: w, on: on },
      },
    ]
    + [
      {
        record: 'namespace_pod_dp_rank:llm_engine_kv_transfer_seconds_%s:rate%s' % [part, w],
        expr: 'sum by (%s) (rate(llm_engine_kv_transfer_seconds_%s{%s}[%s]))' % [p.by(kvBy + (if part == 'bucket' then ['le'] else [])), part, sel, w],
      }
      for part in ['sum', 'count', 'bucket']
    ]
    + [
      {
        record: 'namespace_pod_dp_rank:llm_engine_kv_transfer_seconds:mean%s' % w,
        expr: 'namespace_pod_dp_rank:llm_engine_kv_transfer_seconds_sum:rate%(w)s / namespace_pod_dp_rank:llm_engine_kv_transfer_seconds_count:rate%(w)s' % { w: w },
      },
    ]
    + [
      {
        record: 'namespace_pod_dp_rank_quantile:llm_engine_kv_transfer_seconds:histogram_quantile',
        expr: 'histogram_quantile(%s, namespace_pod_dp_rank:llm_engine_kv_transfer_seconds_bucket:rate%s)' % [q, w],
        labels: { quantile: q },
      }
      for q in ['0.5', '0.99']
    ]
    + [
      {
        // KV bytes per second over the line rate of the rank's ports.
        record: 'namespace_pod_dp_rank:llm_engine_kv_transfer_line_rate:ratio_rate%s' % w,
        expr: '%s\n/ %s\nnamespace_pod_dp_rank:llm_infiniband_rate_bytes_per_second:sum' % [kvBytes, on],
      },
      {
        // KV bytes over the bytes the rank's ports moved in the KV direction: below 1, the rest of
        // the ports' traffic is something else (collectives, storage, other transfers).
        record: 'namespace_pod_dp_rank:llm_engine_kv_transfer_hca_bytes:ratio_rate%s' % w,
        expr: '%s\n/ %s\nnamespace_pod_dp_rank:llm_infiniband_port_data_kv_direction_bytes:rate%s' % [kvBytes, on, w],
      },
    ],

  // KV transfer errors per pod, one series per kind (`reason`; SGLang's timeouts also by `stage`).
  local errBy = [cl, 'namespace', 'pod', 'role', 'engine', 'connector', 'stage'],
  local errors = [
    ['failed_transfer', 'kv_transfer_failed_transfers_total', {}],  // NIXL: TP ranks' transfers
    ['failed_notification', 'kv_transfer_failed_notifications_total', {}],  // NIXL
    ['expired_request', 'kv_transfer_expired_requests_total', {}],  // NIXL, counted on prefill
    ['failed_request', 'kv_transfer_failures_total', { connector: 'sglang' }],  // SGLang requests
    ['timeout', 'kv_transfer_timeouts_total', {}],  // SGLang, by stage
    ['bootstrap_failure', 'bootstrap_failures_total', { connector: 'sglang' }],  // SGLang requests
  ],
  local errorRules = [
    {
      record: 'namespace_pod:llm_engine_kv_transfer_errors:rate%s' % w,
      expr: 'sum by (%s) (rate(llm_engine_%s{%s}[%s]))' % [p.by(errBy), e[1], sel, w],
      labels: { reason: e[0] } + e[2],
    }
    for e in errors
  ],

  // MFU: the peak table as static series (one rule per GPU name, no cluster label: the table is the
  // same everywhere), each rank's peak (the mean over its GPUs: one GPU model per rank in practice),
  // and the engine's estimated FLOP rate per GPU over it.
  local peak = 'name:llm_gpu_peak_flops_per_second:dense',
  local names = std.objectFields(c.gpuPeakFLOPS),
  local peakRules = [
    {
      record: peak,
      expr: 'vector(%s)' % std.toString(c.gpuPeakFLOPS[n].flops),
      labels: { name: n },
    }
    for n in names
  ],
  local chunks(xs, n) = [xs[i:i + n] for i in std.range(0, std.ceil(std.length(xs) / n) - 1)],
  local mfuRules = [
    {
      record: 'namespace_pod_dp_rank:llm_gpu_peak_flops_per_second:avg',
      expr: 'avg by (%s) (llm_gpu_info{%s} * on (name) group_left () %s)' % [p.by(rank), attributed, peak],
    },
    {
      record: 'namespace_pod_dp_rank:llm_engine_estimated_flops_per_gpu:rate%s' % w,
      expr: 'sum by (%s) (rate(llm_engine_estimated_flops_per_gpu_total{%s}[%s]))' % [p.by([cl, 'namespace', 'pod', 'role', 'model', 'engine', 'dp_rank']), sel, w],
    },
    {
      record: 'namespace_pod_dp_rank:llm_engine_mfu:ratio_rate%s' % w,
      expr: 'namespace_pod_dp_rank:llm_engine_estimated_flops_per_gpu:rate%s\n/ %s\nnamespace_pod_dp_rank:llm_gpu_peak_flops_per_second:avg' % [w, on],
    },
  ],

  prometheusRules+:: {
    groups+: [
      { name: 'llm-kv-fabric-ports.rules', rules: portRules },
      { name: 'llm-kv-fabric.rules', rules: kvRules },
      { name: 'llm-kv-transfer-errors.rules', rules: errorRules },
    ] + [
      // Mimir's 20 rules per group: a longer table spreads over several groups.
      local cs = chunks(peakRules, 20);
      { name: if std.length(cs) == 1 then 'llm-gpu-peak-flops.rules' else 'llm-gpu-peak-flops-%d.rules' % (i + 1), rules: cs[i] }
      for i in std.range(0, std.length(chunks(peakRules, 20)) - 1)
    ] + [
      { name: 'llm-exporter-mfu.rules', rules: mfuRules },
    ],
  },
}
