// promtool tests of the LoRA canary rules and alerts, with hand-computed values (derivations in the
// comments), on three endpoint-picker processes of different releases in one namespace:
//   epp-a  GAIE v1.3.1 (inference_objective_*), virtual model sql-assistant: sql-lora-1 (stable)
//          and sql-lora-2 (canary);
//   epp-b  llm-d router v0.10.0, which prints every family twice, llm_d_epp_* with fairness_id and
//          priority (TTFT also streaming) and the deprecated inference_objective_* twin with the
//          same values: sql-lora-1 only. Counted once, or sql-lora-1 would count 75 more a step;
//   epp-c  GAIE v0.3.0 (inference_model_*, no TTFT), virtual model tweet-summary: one adapter;
// ASM's proxy token counters, and llm-node-exporter's llm_engine_lora_adapters of two vLLM pods.
// One step is 15s; counters grow linearly, so every rate is its increment / 15.
{
  local c = $._config,
  local cl = c.clusterLabel,
  local w = c.rateWindow,
  local lbl(o) = '{' + std.join(', ', ['%s="%s"' % [k, o[k]] for k in std.objectFields(o)]) + '}',
  local counter(name, labels, inc) = { series: name + lbl(labels), values: '0+%sx80' % inc },
  local gauge(name, labels, v) = { series: name + lbl(labels), values: '%sx80' % v },
  local les = ['0.5', '1', '2.5', '+Inf'],
  local ttftLes = ['0.1', '0.25', '0.5', '+Inf'],
  // A histogram whose count grows by n a step, every observation in bucket b (0-based) of bounds,
  // sum growing by n * mean.
  local hist(name, labels, bounds, n, b, mean) =
    [counter(name + '_bucket', labels { le: bounds[i] }, if i >= b then n else 0) for i in std.range(0, 3)]
    + [counter(name + '_sum', labels, n * mean), counter(name + '_count', labels, n)],

  local base(i) = { [cl]: 'r1', namespace: 'ns1', job: 'ns1/epp', instance: 'epp-%s:9090' % i },
  local sql(i, t) = base(i) { model_name: 'sql-assistant', target_model_name: t },
  local llmd = { fairness_id: 'default-flow', priority: '0' },
  local tweet = base('c') { model_name: 'tweet-summary', target_model_name: 'tweet-summary-1' },
  local err = { error_code: 'ModelServerError' },

  local gatewaySeries =
    // epp-a: sql-lora-1 60 requests a step (4/s), sql-lora-2 15 (1/s, 0.75 errors: 0.05/s).
    [
      counter('inference_objective_request_total', sql('a', 'sql-lora-1'), 60),
      counter('inference_objective_request_total', sql('a', 'sql-lora-2'), 15),
      counter('inference_objective_request_error_total', sql('a', 'sql-lora-2') + err, 0.75),
    ]
    + hist('inference_objective_request_duration_seconds', sql('a', 'sql-lora-1'), les, 60, 1, 0.8)
    + hist('inference_objective_request_duration_seconds', sql('a', 'sql-lora-2'), les, 15, 2, 1.6)
    + hist('inference_objective_request_ttft_seconds', sql('a', 'sql-lora-1'), ttftLes, 60, 1, 0.2)
    + hist('inference_objective_request_ttft_seconds', sql('a', 'sql-lora-2'), ttftLes, 15, 2, 0.4)
    + [
      counter('inference_objective_input_tokens_sum', sql('a', 'sql-lora-1'), 30000),
      counter('inference_objective_input_tokens_sum', sql('a', 'sql-lora-2'), 7800),
      counter('inference_objective_output_tokens_sum', sql('a', 'sql-lora-1'), 6000),
      counter('inference_objective_output_tokens_sum', sql('a', 'sql-lora-2'), 1650),
      gauge('inference_objective_running_requests', base('a') { model_name: 'sql-assistant' }, 7),
    ]
    // epp-b: sql-lora-1 75 requests a step (5/s), 1.35 errors (0.09/s), under both names.
    + [
      counter('llm_d_epp_request_total', sql('b', 'sql-lora-1') + llmd, 75),
      counter('inference_objective_request_total', sql('b', 'sql-lora-1') { priority: '0' }, 75),
      counter('llm_d_epp_request_error_total', sql('b', 'sql-lora-1') + llmd + err, 1.35),
      counter('inference_objective_request_error_total', sql('b', 'sql-lora-1') + err, 1.35),
    ]
    + hist('llm_d_epp_request_duration_seconds', sql('b', 'sql-lora-1') + llmd, les, 75, 1, 0.8)
    + hist('inference_objective_request_duration_seconds', sql('b', 'sql-lora-1'), les, 75, 1, 0.8)
    + hist('llm_d_epp_request_ttft_seconds', sql('b', 'sql-lora-1') + llmd { streaming: 'true' }, ttftLes, 45, 1, 0.2)
    + hist('llm_d_epp_request_ttft_seconds', sql('b', 'sql-lora-1') + llmd { streaming: 'false' }, ttftLes, 30, 1, 0.2)
    + [
      counter('llm_d_epp_request_input_tokens_sum', sql('b', 'sql-lora-1') + llmd, 37500),
      counter('inference_objective_input_tokens_sum', sql('b', 'sql-lora-1'), 37500),
      counter('llm_d_epp_request_output_tokens_sum', sql('b', 'sql-lora-1') + llmd, 7500),
      counter('inference_objective_output_tokens_sum', sql('b', 'sql-lora-1'), 7500),
      gauge('llm_d_epp_request_running', sql('b', 'sql-lora-1') + llmd, 10),
      gauge('inference_objective_running_requests', base('b') { model_name: 'sql-assistant' }, 10),
    ]
    // epp-c: tweet-summary-1 30 requests a step (2/s), no error series (none yet).
    + [counter('inference_model_request_total', tweet, 30)]
    + hist('inference_model_request_duration_seconds', tweet, les, 30, 1, 0.7)
    + [
      counter('inference_model_input_tokens_sum', tweet, 3000),
      counter('inference_model_output_tokens_sum', tweet, 1500),
      gauge('inference_model_running_requests', base('c') { model_name: 'tweet-summary' }, 3),
    ],

  local asmL = { [cl]: 'r1', namespace: 'ns1', job: 'istio-gateway', [c.asmModelLabel]: 'sql-lora-1' },
  local asmSeries = [
    counter('asm_llm_proxy_prompt_tokens', asmL, 15000),
    counter('asm_llm_proxy_completion_tokens', asmL, 3000),
  ],

  // vllm-0: sql-lora-1 running on DP rank 0 and 1, sql-lora-2 on rank 1; vllm-1: sql-lora-1 running,
  // tweet-summary-1 waiting.
  local engL(pod, rank) = { [cl]: 'r1', job: 'llm-node-exporter', namespace: 'ns1', pod: pod, container: 'vllm', model: 'llama-2-7b', engine: 'vllm', role: 'unified', dp_rank: rank },
  local engineSeries = [
    gauge('llm_engine_lora_adapters', engL('vllm-0', '0') { adapter: 'sql-lora-1', state: 'running' }, 1),
    gauge('llm_engine_lora_adapters', engL('vllm-0', '1') { adapter: 'sql-lora-1', state: 'running' }, 1),
    gauge('llm_engine_lora_adapters', engL('vllm-0', '1') { adapter: 'sql-lora-2', state: 'running' }, 1),
    gauge('llm_engine_lora_adapters', engL('vllm-1', '0') { adapter: 'sql-lora-1', state: 'running' }, 1),
    gauge('llm_engine_lora_adapters', engL('vllm-1', '0') { adapter: 'tweet-summary-1', state: 'waiting' }, 1),
    gauge('llm_engine_lora_max_adapters', engL('vllm-0', '0'), 4),
    gauge('llm_engine_lora_max_adapters', engL('vllm-0', '1'), 4),
    gauge('llm_engine_lora_max_adapters', engL('vllm-1', '0'), 2),
  ],

  local M = '%s="r1", namespace="ns1", model_name="sql-assistant"' % cl,
  local T = '%s="r1", namespace="ns1", model_name="tweet-summary"' % cl,
  // Exactly one series, within 1e-9 of v.
  local near(q, v, at='10m') = { eval_time: at, expr: 'count(abs((%s) - %s) <= 1e-9 * %s)' % [q, v, v], exp_samples: [{ labels: '{}', value: 1 }] },
  local exact(q, labels, v, at='10m') = { eval_time: at, expr: q, exp_samples: [{ labels: labels, value: v }] },
  local r(m) = 'namespace_model_adapter:llm_gateway_%s:rate%s' % [m, w],
  local q(h, quant, a) = 'namespace_model_adapter_quantile:llm_gateway_%s:histogram_quantile{%s, adapter="%s", quantile="%s"}' % [h, M, a, quant],

  local gatewayChecks = [
    // Requests: sql-lora-1 (60 + 75) / 15 = 9/s (epp-b once: 14/s if its twin were added),
    // sql-lora-2 15 / 15 = 1/s, tweet-summary-1 30 / 15 = 2/s.
    near(r('requests') + '{%s, adapter="sql-lora-1"}' % M, '9'),
    near(r('requests') + '{%s, adapter="sql-lora-2"}' % M, '1'),
    near(r('requests') + '{%s}' % T, '2'),
    // Per virtual model: 10 and 2; shares 9/10, 1/10, 2/2.
    near('namespace_model:llm_gateway_requests:rate%s{%s}' % [w, M], '10'),
    near('namespace_model_adapter:llm_gateway_requests:share_rate%s{%s, adapter="sql-lora-1"}' % [w, M], '0.9'),
    near('namespace_model_adapter:llm_gateway_requests:share_rate%s{%s, adapter="sql-lora-2"}' % [w, M], '0.1'),
    near('namespace_model_adapter:llm_gateway_requests:share_rate%s{%s}' % [w, T], '1'),
    // Errors: sql-lora-1 1.35 / 15 = 0.09/s of 9/s = 0.01; sql-lora-2 0.75 / 15 = 0.05/s of 1/s =
    // 0.05; tweet-summary-1 no error series: 0.
    near(r('request_errors') + '{%s, adapter="sql-lora-1"}' % M, '0.09'),
    near('namespace_model_adapter:llm_gateway_request_errors:ratio_rate%s{%s, adapter="sql-lora-1"}' % [w, M], '0.01'),
    near('namespace_model_adapter:llm_gateway_request_errors:ratio_rate%s{%s, adapter="sql-lora-2"}' % [w, M], '0.05'),
    exact('namespace_model_adapter:llm_gateway_request_errors:ratio_rate%s{%s}' % [w, T], 'namespace_model_adapter:llm_gateway_request_errors:ratio_rate%s{%s="r1", namespace="ns1", model_name="tweet-summary", adapter="tweet-summary-1"}' % [w, cl], 0),
    // Latency: counts 9, 1 and 2 per second; means (48 + 60) / 15 / 9 = 0.8, 24 / 15 / 1 = 1.6,
    // 21 / 15 / 2 = 0.7.
    near(r('request_duration_seconds_count') + '{%s, adapter="sql-lora-1"}' % M, '9'),
    near('namespace_model_adapter:llm_gateway_request_duration_seconds:mean%s{%s, adapter="sql-lora-1"}' % [w, M], '0.8'),
    near('namespace_model_adapter:llm_gateway_request_duration_seconds:mean%s{%s, adapter="sql-lora-2"}' % [w, M], '1.6'),
    near('namespace_model_adapter:llm_gateway_request_duration_seconds:mean%s{%s}' % [w, T], '0.7'),
    // Every sql-lora-1 request in (0.5, 1]: p99 = 0.5 + 0.5 * 0.99 = 0.995, p50 = 0.75; every
    // sql-lora-2 request in (1, 2.5]: p99 = 1 + 1.5 * 0.99 = 2.485, p50 = 1.75.
    near(q('request_duration_seconds', '0.99', 'sql-lora-1'), '0.995'),
    near(q('request_duration_seconds', '0.5', 'sql-lora-1'), '0.75'),
    near(q('request_duration_seconds', '0.99', 'sql-lora-2'), '2.485'),
    near(q('request_duration_seconds', '0.5', 'sql-lora-2'), '1.75'),
    // TTFT: sql-lora-1 4/s (epp-a) + 3/s + 2/s (epp-b streaming and not) = 9/s, every one in
    // (0.1, 0.25]: p99 = 0.1 + 0.15 * 0.99 = 0.2485, mean (12 + 9 + 6) / 15 / 9 = 0.2; sql-lora-2
    // in (0.25, 0.5]: p99 = 0.25 + 0.25 * 0.99 = 0.4975. No TTFT from the v0.3.0 process.
    near(r('ttft_seconds_count') + '{%s, adapter="sql-lora-1"}' % M, '9'),
    near('namespace_model_adapter:llm_gateway_ttft_seconds:mean%s{%s, adapter="sql-lora-1"}' % [w, M], '0.2'),
    near(q('ttft_seconds', '0.99', 'sql-lora-1'), '0.2485'),
    near(q('ttft_seconds', '0.99', 'sql-lora-2'), '0.4975'),
    { eval_time: '10m', expr: 'namespace_model_adapter:llm_gateway_ttft_seconds_count:rate%s{%s}' % [w, T], exp_samples: [] },
    // The gateway's target_model_name is recorded as adapter, on every recorded series.
    { eval_time: '10m', expr: 'count by (__name__) ({__name__=~"namespace_model.*:llm_gateway_.+", target_model_name!=""})', exp_samples: [] },
    {
      eval_time: '10m',
      expr: 'count by (__name__) ({__name__=~"namespace_model_adapter:llm_gateway_request(s|_errors):rate%s", adapter=""})' % w,
      exp_samples: [],
    },
    // Tokens: in (30000 + 37500) / 15 = 4500/s, 7800 / 15 = 520/s, 3000 / 15 = 200/s; out
    // (6000 + 7500) / 15 = 900/s, 1650 / 15 = 110/s, 1500 / 15 = 100/s.
    near(r('input_tokens') + '{%s, adapter="sql-lora-1"}' % M, '4500'),
    near(r('input_tokens') + '{%s, adapter="sql-lora-2"}' % M, '520'),
    near(r('input_tokens') + '{%s}' % T, '200'),
    near(r('output_tokens') + '{%s, adapter="sql-lora-1"}' % M, '900'),
    near(r('output_tokens') + '{%s, adapter="sql-lora-2"}' % M, '110'),
    near(r('output_tokens') + '{%s}' % T, '100'),
    // Running: sql-assistant 7 (epp-a) + 10 (epp-b once) = 17, tweet-summary 3; per adapter
    // (llm-d only): sql-lora-1 10.
    exact('namespace_model:llm_gateway_requests_running:sum{%s}' % M, 'namespace_model:llm_gateway_requests_running:sum{%s="r1", namespace="ns1", model_name="sql-assistant"}' % cl, 17),
    exact('namespace_model:llm_gateway_requests_running:sum{%s}' % T, 'namespace_model:llm_gateway_requests_running:sum{%s="r1", namespace="ns1", model_name="tweet-summary"}' % cl, 3),
    exact('namespace_model_adapter:llm_gateway_requests_running:sum', 'namespace_model_adapter:llm_gateway_requests_running:sum{%s="r1", namespace="ns1", model_name="sql-assistant", adapter="sql-lora-1"}' % cl, 10),
  ],

  local asmChecks = if !c.sources.asmProxy then [] else [
    // 15000 / 15 = 1000 prompt tokens/s, 3000 / 15 = 200 completion tokens/s.
    near('namespace_adapter:llm_gateway_proxy_input_tokens:rate%s' % w, '1000'),
    near('namespace_adapter:llm_gateway_proxy_output_tokens:rate%s' % w, '200'),
  ],

  local canaryChecks = [
    // The busiest adapter of each model is stable (sql-lora-1 9/s against 1/s; tweet-summary-1
    // alone), the others canaries.
    {
      eval_time: '10m',
      expr: 'namespace_model_adapter:llm_gateway_release:info',
      exp_samples: [
        { labels: 'namespace_model_adapter:llm_gateway_release:info{%s="r1", namespace="ns1", model_name="sql-assistant", adapter="sql-lora-1", release="stable"}' % cl, value: 1 },
        { labels: 'namespace_model_adapter:llm_gateway_release:info{%s="r1", namespace="ns1", model_name="sql-assistant", adapter="sql-lora-2", release="canary"}' % cl, value: 1 },
        { labels: 'namespace_model_adapter:llm_gateway_release:info{%s="r1", namespace="ns1", model_name="tweet-summary", adapter="tweet-summary-1", release="stable"}' % cl, value: 1 },
      ],
    },
    // p99 ratios 2.485 / 0.995 and 0.4975 / 0.2485; error ratio difference 0.05 - 0.01 = 0.04.
    // One series each: the canary, labelled with its stable adapter.
    near('namespace_model_adapter:llm_gateway_request_duration_seconds_p99:ratio_to_stable{%s, adapter="sql-lora-2", stable_adapter="sql-lora-1"}' % M, '(2.485 / 0.995)'),
    near('namespace_model_adapter:llm_gateway_ttft_seconds_p99:ratio_to_stable{%s, adapter="sql-lora-2", stable_adapter="sql-lora-1"}' % M, '(0.4975 / 0.2485)'),
    near('namespace_model_adapter:llm_gateway_request_errors:ratio_rate%s_minus_stable{%s, adapter="sql-lora-2", stable_adapter="sql-lora-1"}' % [w, M], '0.04'),
    exact('count(namespace_model_adapter:llm_gateway_request_duration_seconds_p99:ratio_to_stable)', '{}', 1),
  ],

  local engineChecks = [
    // Pods per adapter and state: sql-lora-1 runs on vllm-0 (two DP ranks, one pod) and vllm-1: 2;
    // sql-lora-2 on vllm-0: 1; tweet-summary-1 waits on vllm-1: 1.
    {
      eval_time: '10m',
      expr: 'namespace_adapter:llm_engine_lora_adapter_pods:count',
      exp_samples: [
        { labels: 'namespace_adapter:llm_engine_lora_adapter_pods:count{%s="r1", namespace="ns1", adapter="sql-lora-1", state="running"}' % cl, value: 2 },
        { labels: 'namespace_adapter:llm_engine_lora_adapter_pods:count{%s="r1", namespace="ns1", adapter="sql-lora-2", state="running"}' % cl, value: 1 },
        { labels: 'namespace_adapter:llm_engine_lora_adapter_pods:count{%s="r1", namespace="ns1", adapter="tweet-summary-1", state="waiting"}' % cl, value: 1 },
      ],
    },
    exact('namespace_adapter_pod:llm_engine_lora_adapters:max{adapter="sql-lora-2"}', 'namespace_adapter_pod:llm_engine_lora_adapters:max{%s="r1", namespace="ns1", pod="vllm-0", model="llama-2-7b", engine="vllm", adapter="sql-lora-2", state="running"}' % cl, 1),
    exact('namespace_pod:llm_engine_lora_max_adapters:max{pod="vllm-1"}', 'namespace_pod:llm_engine_lora_max_adapters:max{%s="r1", namespace="ns1", pod="vllm-1", model="llama-2-7b", engine="vllm"}' % cl, 2),
  ],

  // The alerts end to end, from the raw series: sql-lora-2 is worse than sql-lora-1 on all three
  // (2.50 and 2.00 > 1 + loraCanaryLatencyMargin, 0.04 > loraCanaryErrorMargin, at 1/s), and
  // tweet-summary-1 waits on vllm-1 and runs nowhere; nothing about tweet-summary (no canary).
  local expand(s, labels) =
    local parts = std.split(s, '{{ $labels.');
    parts[0] + std.join('', [
      local name = std.split(part, ' }}')[0];
      std.get(labels, name, '') + std.substr(part, std.length(name) + 3, std.length(part))
      for part in parts[1:]
    ]),
  local alertRule(name) = [r for g in $.prometheusAlerts.groups for r in g.rules if std.get(r, 'alert', '') == name][0],
  local fires(name, labels) =
    local rule = alertRule(name);
    local l = labels + rule.labels;
    {
      eval_time: '20m',
      alertname: name,
      exp_alerts: [{ exp_labels: l, exp_annotations: { [k]: expand(rule.annotations[k], l) for k in std.objectFields(rule.annotations) } }],
    },
  local canL = { [cl]: 'r1', namespace: 'ns1', model_name: 'sql-assistant', adapter: 'sql-lora-2', stable_adapter: 'sql-lora-1' },
  local alertChecks =
    [fires(n, canL) for n in ['LLMLoRACanaryLatencyHigh', 'LLMLoRACanaryTTFTHigh', 'LLMLoRACanaryErrorsHigh']]
    + [fires('LLMLoRAAdapterNotRunning', { [cl]: 'r1', namespace: 'ns1', adapter: 'tweet-summary-1', state: 'waiting' })],

  loraTest:: if !c.sources.inferenceGateway then null else {
    rule_files: [$._paths.rules, $._paths.alerts],
    evaluation_interval: w,
    group_eval_order: [g.name for g in $.prometheusRules.groups],
    tests: [{
      name: 'LoRA canary: three gateway releases, ASM tokens and engine adapters, hand-computed',
      interval: '15s',
      input_series: gatewaySeries + (if c.sources.asmProxy then asmSeries else []) + engineSeries,
      promql_expr_test: gatewayChecks + asmChecks + canaryChecks + engineChecks,
      alert_rule_test: alertChecks,
    }],
  },
}
