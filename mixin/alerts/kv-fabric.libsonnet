// KV cache transfer (P/D) alerts, against the RDMA ports paired with each DP rank's GPUs
// (llm-kv-fabric*.rules, llm-kv-transfer-errors.rules).
{
  local c = $._config,
  local w = c.rateWindow,
  local cl = c.clusterLabel,
  local a = (import '../lib/alerts.libsonnet')(c),
  local A = a.alert,
  local T = a.case,
  local gauge = a.gauge,
  local num = a.num,
  local rank = '%s, namespace, pod, dp_rank' % cl,
  local podKey = '%s, namespace, pod, connector' % cl,

  // Label sets of the tests: recorded per-rank series as the rules write them.
  local rankL(pod, role, r) = { [cl]: 'r1', namespace: 'ns1', pod: pod, role: role, dp_rank: r },
  local kvL(pod, role, connector, r) = rankL(pod, role, r) { engine: if connector == 'nixl' then 'vllm' else 'sglang', connector: connector },
  local p99L = kvL('chat-prefill-0', 'prefill', 'sglang', '1') { quantile: '0.99' },
  local p50L = p99L { quantile: '0.5' },
  local cnpSent = 'namespace_pod_dp_rank:llm_infiniband_np_cnp_packets_sent:rate%s' % w,
  local cnpHandled = 'namespace_pod_dp_rank:llm_infiniband_rp_cnp_packets_handled:rate%s' % w,
  local quantileName = 'namespace_pod_dp_rank_quantile:llm_engine_kv_transfer_seconds:histogram_quantile',
  local errName = 'namespace_pod:llm_engine_kv_transfer_errors:rate%s' % w,
  local errL(reason, connector, stage='') = { [cl]: 'r1', namespace: 'ns1', pod: 'chat-prefill-0', role: 'prefill', engine: if connector == 'nixl' then 'vllm' else 'sglang', connector: connector, reason: reason, stage: stage },
  local bytesName = 'namespace_pod_dp_rank:llm_engine_kv_transfer_bytes:rate%s' % w,
  local decodeRanks(vs) = [gauge(bytesName, kvL('chat-decode-0', 'decode', 'nixl', '%d' % i), vs[i]) for i in std.range(0, std.length(vs) - 1)],

  // A rank's bytes/s against the mean of its sibling ranks (same pod and connector): with n ranks
  // summing to S, the siblings' mean is (S - x) / (n - 1); pods with one known rank are skipped.
  local s = '%s{role="decode", dp_rank!=""}' % bytesName,
  local siblings = |||
    (
        (
            sum by (%(k)s) (%(s)s)
          - on (%(k)s) group_right ()
            %(s)s
        )
      / on (%(k)s) group_left ()
        ((count by (%(k)s) (%(s)s) > 1) - 1)
    )
  ||| % { k: podKey, s: s },
  local indent(e, n) = std.strReplace(std.rstripChars(e, '\n'), '\n', '\n' + std.repeat(' ', n)),

  local alerts = [
    A('LLMKVTransferSlowFabricCongested',
      |||
        %(q)s{quantile="0.99"} > %(thr)s
        and on (%(rank)s)
        (
            %(sent)s > %(cnp)s
          or
            %(handled)s > %(cnp)s
        )
      ||| % { q: quantileName, thr: num(c.kvTransferSlowP99Seconds), rank: rank, sent: cnpSent, handled: cnpHandled, cnp: num(c.kvFabricCNPPacketsPerSecond) },
      c.kvFabricSlowFor,
      'warning',
      'The fabric is slowing P/D: KV transfers of {{ $labels.pod }} DP rank {{ $labels.dp_rank }} are slow while its RDMA ports are congested.',
      'The p99 KV transfer time ({{ $labels.connector }}) of DP rank {{ $labels.dp_rank }} of {{ $labels.engine }} pod {{ $labels.namespace }}/{{ $labels.pod }} ({{ $labels.role }}) has been above %gs for %s while the RoCE ports paired with its GPUs sent or handled more than %g congestion notification packets/s: the fabric, not the engine, is slowing the KV transfer and so the time to first token.' % [c.kvTransferSlowP99Seconds, c.kvFabricSlowFor, c.kvFabricCNPPacketsPerSecond],
      {
        // p99 2s, 5000 CNPs/s sent by the rank's ports.
        fire: T([
          gauge(quantileName, p99L, '2x25'),
          gauge(quantileName, p50L, '0.05x25'),
          gauge(cnpSent, rankL('chat-prefill-0', 'prefill', '1'), '5000x25'),
          gauge(cnpHandled, rankL('chat-prefill-0', 'prefill', '1'), '0x25'),
        ], '15m', [p99L]),
        // CNPs handled (the sender throttled) count as well.
        fire_handled: T([
          gauge(quantileName, p99L, '2x25'),
          gauge(cnpSent, rankL('chat-prefill-0', 'prefill', '1'), '0x25'),
          gauge(cnpHandled, rankL('chat-prefill-0', 'prefill', '1'), '3000x25'),
        ], '15m', [p99L]),
        // Slow, but the fabric is quiet: the engine's own problem, not this alert.
        silent: T([
          gauge(quantileName, p99L, '2x25'),
          gauge(cnpSent, rankL('chat-prefill-0', 'prefill', '1'), '10x25'),
          gauge(cnpHandled, rankL('chat-prefill-0', 'prefill', '1'), '10x25'),
        ], '15m', []),
        // Congested, but transfers are fast; and another rank's congestion does not count.
        silent_fast: T([
          gauge(quantileName, p99L, '0.2x25'),
          gauge(quantileName, p99L { dp_rank: '0' }, '3x25'),
          gauge(cnpSent, rankL('chat-prefill-0', 'prefill', '1'), '5000x25'),
        ], '15m', []),
        // Both for 5 minutes only (for: 10m).
        silent_short: T([
          gauge(quantileName, p99L, '0.1x10 2x5 0.1x10'),
          gauge(cnpSent, rankL('chat-prefill-0', 'prefill', '1'), '5000x25'),
        ], '15m', []),
      }),
    A('LLMKVTransferErrors',
      'avg_over_time(%s[10m]) * 600 > %s' % [errName, num(c.kvTransferErrorsPer10m)],
      c.kvTransferErrorsFor,
      'warning',
      'KV transfers of {{ $labels.pod }} are failing ({{ $labels.reason }}).',
      '{{ $labels.engine }} pod {{ $labels.namespace }}/{{ $labels.pod }} ({{ $labels.role }}, connector {{ $labels.connector }}) has counted more than %g KV transfer errors of kind {{ $labels.reason }} {{ $labels.stage }} per 10 minutes for %s: requests are retried, recomputed or dropped (NIXL counts failed transfers per TP rank, not per request).' % [c.kvTransferErrorsPer10m, c.kvTransferErrorsFor],
      {
        // 0.05/s = 30 per 10 minutes of NIXL expired requests.
        fire: T([gauge(errName, errL('expired_request', 'nixl'), '0.05x30')], '25m', [errL('expired_request', 'nixl')]),
        // SGLang timeouts of the transfer stage, not of bootstrap.
        fire_timeout: T([
          gauge(errName, errL('timeout', 'sglang', 'transfer'), '0.02x30'),
          gauge(errName, errL('timeout', 'sglang', 'bootstrap'), '0x30'),
        ], '25m', [errL('timeout', 'sglang', 'transfer')]),
        // 0.001/s = 0.6 per 10 minutes.
        silent: T([gauge(errName, errL('failed_transfer', 'nixl'), '0.001x30')], '25m', []),
      }),
    A('LLMKVArrivalBehindSiblings',
      |||
        %(s)s
        < %(ratio)s *
        %(siblings)s
        and on (%(rank)s)
        %(siblings)s > %(min)s
      ||| % { s: s, ratio: num(c.kvArrivalBehindRatio), siblings: indent(siblings, 0), rank: rank, min: num(c.kvArrivalMinBytesPerSecond) },
      c.kvArrivalBehindFor,
      'warning',
      'Decode DP rank {{ $labels.dp_rank }} of {{ $labels.pod }} receives KV far slower than its sibling ranks.',
      'DP rank {{ $labels.dp_rank }} of decode pod {{ $labels.namespace }}/{{ $labels.pod }} (connector {{ $labels.connector }}) has received KV bytes at less than %g of the mean rate of its sibling ranks for %s: its transfers are slow or its share of requests is skewed (its HCA, its PCIe path, or the router).' % [c.kvArrivalBehindRatio, c.kvArrivalBehindFor],
      {
        // Four ranks: rank 3 at 0.5 GB/s, the others at 4 GB/s; its siblings' mean (12 / 3) is 4.
        fire: T(decodeRanks(['4e9x35', '4e9x35', '4e9x35', '5e8x35']), '20m', [kvL('chat-decode-0', 'decode', 'nixl', '3')]),
        // Ranks within 30%; an idle pod (siblings below the minimum) is not compared.
        silent: T(
          decodeRanks(['4e9x35', '3e9x35', '3.5e9x35', '2.8e9x35'])
          + [gauge(bytesName, kvL('chat-decode-1', 'decode', 'nixl', '0'), '5e7x35'), gauge(bytesName, kvL('chat-decode-1', 'decode', 'nixl', '1'), '0x35')],
          '20m',
          []
        ),
        // A 10-minute dip (for: 15m).
        silent_short: T(decodeRanks(['4e9x35', '4e9x35', '4e9x35', '4e9x10 5e8x10 4e9x15']), '20m', []),
      }),
  ],

  prometheusAlerts+:: {
    groups+: [{ name: 'llm-kv-fabric.alerts', rules: alerts }],
  },
}
