// LoRA canary alerts (docs/lora-canary.md): a canary adapter worse than the stable adapter of its
// virtual model (p99 latency, p99 TTFT, error ratio), and an adapter requested but running nowhere.
{
  local c = $._config,
  local w = c.rateWindow,
  local cl = c.clusterLabel,
  local a = (import '../lib/alerts.libsonnet')(c),
  local A = a.alert,
  local T = a.case,
  local gauge = a.gauge,
  local num = a.num,
  local on = '%s, namespace, model_name, adapter' % cl,
  local canL = { [cl]: 'r1', namespace: 'ns1', model_name: 'sql-assistant', adapter: 'sql-lora-2', stable_adapter: 'sql-lora-1' },
  local reqL = { [cl]: 'r1', namespace: 'ns1', model_name: 'sql-assistant', adapter: 'sql-lora-2' },
  local busy = 'namespace_model_adapter:llm_gateway_requests:rate%s >= %s' % [w, num(c.loraCanaryMinRequestsPerSecond)],
  local n = std.parseJson(std.strReplace(c.loraCanaryFor, 'm', '')),

  local worse(name, series, what, thr, shown, desc) = A(
    name,
    '%s > %s\nand on (%s)\n%s' % [series, num(thr), on, busy],
    c.loraCanaryFor,
    'warning',
    'Canary adapter {{ $labels.adapter }} of {{ $labels.model_name }}: %s worse than {{ $labels.stable_adapter }}.' % what,
    desc,
    {
      // Worse from the start, with traffic.
      fire: T([gauge(series, canL, '%gx%d' % [thr * 1.5, n + 10]), gauge('namespace_model_adapter:llm_gateway_requests:rate%s' % w, reqL, '1x%d' % (n + 10))], '%dm' % (n + 5), [canL]),
      // Worse, but on too little traffic to tell; and just within the margin.
      silent: T([
        gauge(series, canL, '%gx%d' % [thr * 1.5, n + 10]),
        gauge('namespace_model_adapter:llm_gateway_requests:rate%s' % w, reqL, '%gx%d' % [c.loraCanaryMinRequestsPerSecond / 2, n + 10]),
        gauge(series, canL { adapter: 'sql-lora-3' }, '%gx%d' % [thr, n + 10]),
        gauge('namespace_model_adapter:llm_gateway_requests:rate%s' % w, reqL { adapter: 'sql-lora-3' }, '1x%d' % (n + 10)),
      ], '%dm' % (n + 5), []),
    },
  ),

  local loraAlerts = [
    worse('LLMLoRACanaryLatencyHigh',
          'namespace_model_adapter:llm_gateway_request_duration_seconds_p99:ratio_to_stable',
          'p99 latency',
          1 + c.loraCanaryLatencyMargin,
          'p99',
          'The p99 request latency through the gateway of canary adapter {{ $labels.adapter }} (virtual model {{ $labels.model_name }}, namespace {{ $labels.namespace }}) has been more than %d%% above the stable adapter {{ $labels.stable_adapter }} for %s. Hold or roll back its weight.' % [c.loraCanaryLatencyMargin * 100, c.loraCanaryFor]),
    worse('LLMLoRACanaryTTFTHigh',
          'namespace_model_adapter:llm_gateway_ttft_seconds_p99:ratio_to_stable',
          'p99 time to first token',
          1 + c.loraCanaryLatencyMargin,
          'p99',
          'The p99 time to first token through the gateway of canary adapter {{ $labels.adapter }} (virtual model {{ $labels.model_name }}, namespace {{ $labels.namespace }}) has been more than %d%% above the stable adapter {{ $labels.stable_adapter }} for %s. Hold or roll back its weight.' % [c.loraCanaryLatencyMargin * 100, c.loraCanaryFor]),
    worse('LLMLoRACanaryErrorsHigh',
          'namespace_model_adapter:llm_gateway_request_errors:ratio_rate%s_minus_stable' % w,
          'error ratio',
          c.loraCanaryErrorMargin,
          'errors',
          'The error ratio through the gateway of canary adapter {{ $labels.adapter }} (virtual model {{ $labels.model_name }}, namespace {{ $labels.namespace }}) has been more than %s ratio points above the stable adapter {{ $labels.stable_adapter }} for %s. Hold or roll back its weight.' % [num(c.loraCanaryErrorMargin), c.loraCanaryFor]),
    A('LLMLoRAAdapterNotRunning',
      'namespace_adapter:llm_engine_lora_adapter_pods:count{state="waiting"}\nunless on (%s, namespace, adapter)\nnamespace_adapter:llm_engine_lora_adapter_pods:count{state="running"}' % cl,
      c.loraAdapterNotRunningFor,
      'warning',
      'LoRA adapter {{ $labels.adapter }} is requested but running on no pod.',
      'Requests for adapter {{ $labels.adapter }} have been waiting on engine pods of namespace {{ $labels.namespace }} for %s, and no pod of the namespace runs it: the adapter cannot be loaded (max LoRAs per batch reached, a wrong path) or no pod has it.' % c.loraAdapterNotRunningFor,
      {
        local wL = { [cl]: 'r1', namespace: 'ns1', adapter: 'tweet-summary-1', state: 'waiting' },
        fire: T([gauge('namespace_adapter:llm_engine_lora_adapter_pods:count', wL, '1x30')], '20m', [wL]),
        // Waiting on one pod while another runs it.
        silent: T([gauge('namespace_adapter:llm_engine_lora_adapter_pods:count', wL, '1x30'), gauge('namespace_adapter:llm_engine_lora_adapter_pods:count', wL { state: 'running' }, '1x30')], '20m', []),
      }),
  ],

  prometheusAlerts+:: {
    groups+: [{ name: 'llm-lora-canary.alerts', rules: [r for r in loraAlerts if c.sources.inferenceGateway || r.alert == 'LLMLoRAAdapterNotRunning'] }],
  },
}
