// LoRA canary releases (docs/lora-canary.md): the inference gateway's per virtual model (model_name)
// and adapter (the gateway's target_model_name, recorded as `adapter`) requests, errors, latency and
// tokens, ASM's proxy tokens, the engines' adapters per pod (llm-node-exporter's
// llm_engine_lora_adapters), and each canary adapter against the stable adapter of its model.
//
// The endpoint picker renamed its families across releases (docs/lora-canary.md, "Gateway
// releases"); a release may print a family under its new and its old name at once, with other
// labels. Each concept below lists its names newest first; per endpoint-picker process
// (gatewayInstanceLabels), model and adapter the newest name present wins and the older ones are
// dropped (`unless on (...)`), so a page printing both is counted once and a histogram never mixes
// the buckets of two names.
local p = import '../lib/promql.libsonnet';

{
  local c = $._config,
  local w = c.rateWindow,
  local cl = c.clusterLabel,
  local level = [cl, 'namespace', 'model_name', 'adapter'],
  local modelLevel = [cl, 'namespace', 'model_name'],
  local adapterLevel = [cl, 'namespace', 'adapter'],

  // Gateway families, newest name first: llm-d router (llm_d_epp_*), GAIE >= v1.1
  // (inference_objective_*), GAIE <= v1.0 (inference_model_*).
  gatewayFamilies:: {
    requests: ['llm_d_epp_request_total', 'inference_objective_request_total', 'inference_model_request_total'],
    request_errors: ['llm_d_epp_request_error_total', 'inference_objective_request_error_total', 'inference_model_request_error_total'],
    request_duration_seconds: ['llm_d_epp_request_duration_seconds', 'inference_objective_request_duration_seconds', 'inference_model_request_duration_seconds'],
    ttft_seconds: ['llm_d_epp_request_ttft_seconds', 'inference_objective_request_ttft_seconds', 'inference_model_request_ttft_seconds'],
    input_tokens: ['llm_d_epp_request_input_tokens', 'inference_objective_input_tokens', 'inference_model_input_tokens'],
    output_tokens: ['llm_d_epp_request_output_tokens', 'inference_objective_output_tokens', 'inference_model_output_tokens'],
    // Per model only before llm-d (which adds target_model_name).
    running: ['llm_d_epp_request_running', 'inference_objective_running_requests', 'inference_model_running_requests'],
  },
  local fam = self.gatewayFamilies,

  local sel(name) = p.selector(name, [c.gatewaySelector]),
  local toAdapter(e) = 'label_replace(%s, "adapter", "$1", "target_model_name", "(.*)")' % e,
  // One process's series of the first name present, per key labels: a or (b unless a) or (c unless
  // (a or b)).
  local preferNewest(names, inner, key) =
    local terms = [inner(n) for n in names];
    local on = 'on (%s)' % p.by(c.gatewayInstanceLabels + [cl, 'namespace'] + key);
    std.join('\nor\n', [
      if i == 0 then terms[0]
      else '(%s unless %s (%s))' % [terms[i], on, std.join(' or ', terms[0:i])]
      for i in std.range(0, std.length(terms) - 1)
    ]),
  local perProcess = c.gatewayInstanceLabels + [cl, 'namespace', 'model_name', 'target_model_name'],
  // sum by (level) of the counter (or histogram part) rate, every name read once.
  local gatewayRate(names, extra=[]) =
    'sum by (%s) (\n  %s\n)' % [
      p.by(level + extra),
      toAdapter(preferNewest(names, function(n) 'sum by (%s) (rate(%s[%s]))' % [p.by(perProcess + extra), sel(n), w], ['model_name', 'target_model_name'])),
    ],

  local gatewayRules = [
    { record: 'namespace_model_adapter:llm_gateway_requests:rate%s' % w, expr: gatewayRate(fam.requests) },
    { record: 'namespace_model_adapter:llm_gateway_request_errors:rate%s' % w, expr: gatewayRate(fam.request_errors) },
    {
      record: 'namespace_model:llm_gateway_requests:rate%s' % w,
      expr: 'sum by (%s) (namespace_model_adapter:llm_gateway_requests:rate%s)' % [p.by(modelLevel), w],
    },
    {
      // Each adapter's share of its virtual model's requests (the InferenceModel's weights as
      // served).
      record: 'namespace_model_adapter:llm_gateway_requests:share_rate%s' % w,
      expr: 'namespace_model_adapter:llm_gateway_requests:rate%(w)s\n/ on (%(m)s) group_left ()\nnamespace_model:llm_gateway_requests:rate%(w)s' % { w: w, m: p.by(modelLevel) },
    },
    {
      // Errors per request; 0 for an adapter without error series (the gateway prints one only
      // after the first error).
      record: 'namespace_model_adapter:llm_gateway_request_errors:ratio_rate%s' % w,
      expr: '(\n  namespace_model_adapter:llm_gateway_request_errors:rate%(w)s\n  or\n  0 * namespace_model_adapter:llm_gateway_requests:rate%(w)s\n)\n/\nnamespace_model_adapter:llm_gateway_requests:rate%(w)s' % { w: w },
    },
    // Tokens per second: the rate of the token histograms' _sum.
    { record: 'namespace_model_adapter:llm_gateway_input_tokens:rate%s' % w, expr: gatewayRate(p.suffixed(fam.input_tokens, '_sum')) },
    { record: 'namespace_model_adapter:llm_gateway_output_tokens:rate%s' % w, expr: gatewayRate(p.suffixed(fam.output_tokens, '_sum')) },
    {
      // Running requests per virtual model (every release).
      record: 'namespace_model:llm_gateway_requests_running:sum',
      expr: 'sum by (%s) (\n  %s\n)' % [
        p.by(modelLevel),
        preferNewest(fam.running, function(n) 'sum by (%s) (%s)' % [p.by(c.gatewayInstanceLabels + [cl, 'namespace', 'model_name']), sel(n)], ['model_name']),
      ],
    },
    {
      // Running requests per adapter: llm-d's llm_d_epp_request_running only (the GAIE gauges
      // have no target_model_name).
      record: 'namespace_model_adapter:llm_gateway_requests_running:sum',
      expr: 'sum by (%s) (%s)' % [p.by(level), toAdapter(sel(fam.running[0]))],
    },
  ],

  // Latency histograms: bucket, sum and count rates per adapter, mean and quantiles.
  local latencyRules(h) =
    [
      { record: 'namespace_model_adapter:llm_gateway_%s_%s:rate%s' % [h, part, w], expr: gatewayRate(p.suffixed(fam[h], '_' + part), if part == 'bucket' then ['le'] else []) }
      for part in ['bucket', 'sum', 'count']
    ]
    + [{
      record: 'namespace_model_adapter:llm_gateway_%s:mean%s' % [h, w],
      expr: 'namespace_model_adapter:llm_gateway_%(h)s_sum:rate%(w)s / namespace_model_adapter:llm_gateway_%(h)s_count:rate%(w)s' % { h: h, w: w },
    }]
    + [
      {
        record: 'namespace_model_adapter_quantile:llm_gateway_%s:histogram_quantile' % h,
        expr: 'histogram_quantile(%s, namespace_model_adapter:llm_gateway_%s_bucket:rate%s)' % [q, h, w],
        labels: { quantile: q },
      }
      for q in ['0.5', '0.9', '0.99']
    ],

  local asmRules = [
    {
      record: 'namespace_adapter:llm_gateway_proxy_%s_tokens:rate%s' % [k[0], w],
      expr: 'sum by (%s) (label_replace(rate(%s[%s]), "adapter", "$1", "%s", "(.*)"))' % [p.by(adapterLevel), p.selector(k[1], [c.asmProxySelector]), w, c.asmModelLabel],
    }
    for k in [['input', 'asm_llm_proxy_prompt_tokens'], ['output', 'asm_llm_proxy_completion_tokens']]
  ],

  // Stable and canary adapters of each virtual model (_config.loraReleaseBy).
  local traffic(m='') = 'avg_over_time(namespace_model_adapter:llm_gateway_requests:rate%s%s[%s])' % [w, if m == '' then '' else '{%s}' % m, c.loraStableWindow],
  local re = c.loraCanaryAdapterRegex,
  local stable =
    if c.loraReleaseBy == 'traffic' then 'topk by (%s) (1, %s)' % [p.by(modelLevel), traffic()]
    else if c.loraReleaseBy == 'regex' then 'topk by (%s) (1, %s)' % [p.by(modelLevel), traffic('adapter!~"%s"' % re)]
    else error 'loraReleaseBy must be traffic or regex, not ' + c.loraReleaseBy,
  local canary =
    if c.loraReleaseBy == 'traffic' then '%s unless on (%s) %s' % [traffic(), p.by(level), stable]
    else traffic('adapter=~"%s"' % re),
  local release = 'namespace_model_adapter:llm_gateway_release:info',
  local on = p.by(level),
  local onModel = p.by(modelLevel),
  // A canary's value against its model's stable adapter's, labelled with stable_adapter.
  local vsStable(v, op) =
    '(\n  %(v)s\n  and on (%(on)s) %(r)s{release="canary"}\n)\n%(op)s on (%(m)s) group_left (stable_adapter)\nlabel_replace(\n  %(v)s\n  and on (%(on)s) %(r)s{release="stable"},\n  "stable_adapter", "$1", "adapter", "(.*)"\n)' % { v: v, on: on, r: release, m: onModel, op: op },
  local q99(h) = 'max without (quantile) (namespace_model_adapter_quantile:llm_gateway_%s:histogram_quantile{quantile="0.99"})' % h,

  local canaryRules = [
    {
      record: release,
      expr: 'label_replace(0 * (%s) + 1, "release", "stable", "", "")\nor\nlabel_replace(0 * (%s) + 1, "release", "canary", "", "")' % [stable, canary],
    },
    { record: 'namespace_model_adapter:llm_gateway_request_duration_seconds_p99:ratio_to_stable', expr: vsStable(q99('request_duration_seconds'), '/') },
    { record: 'namespace_model_adapter:llm_gateway_ttft_seconds_p99:ratio_to_stable', expr: vsStable(q99('ttft_seconds'), '/') },
    { record: 'namespace_model_adapter:llm_gateway_request_errors:ratio_rate%s_minus_stable' % w, expr: vsStable('namespace_model_adapter:llm_gateway_request_errors:ratio_rate%s' % w, '-') },
  ],

  // The engines' adapters (llm-node-exporter, split from vLLM's lora_requests_info): per pod (over
  // its DP ranks) and the number of pods per adapter and state.
  local eSel = c.llmExporterSelector,
  local engineRules = [
    {
      record: 'namespace_adapter_pod:llm_engine_lora_adapters:max',
      expr: 'max by (%s) (llm_engine_lora_adapters{%s})' % [p.by([cl, 'namespace', 'pod', 'model', 'engine', 'adapter', 'state']), eSel],
    },
    {
      record: 'namespace_adapter:llm_engine_lora_adapter_pods:count',
      expr: 'count by (%s) (namespace_adapter_pod:llm_engine_lora_adapters:max)' % p.by(adapterLevel + ['state']),
    },
    {
      record: 'namespace_pod:llm_engine_lora_max_adapters:max',
      expr: 'max by (%s) (llm_engine_lora_max_adapters{%s})' % [p.by([cl, 'namespace', 'pod', 'model', 'engine']), eSel],
    },
  ],

  local gw = c.sources.inferenceGateway,
  prometheusRules+:: {
    groups+: (if !gw then [] else [
                { name: 'llm-gateway-requests.rules', rules: gatewayRules },
                { name: 'llm-gateway-latency.rules', rules: latencyRules('request_duration_seconds') },
                { name: 'llm-gateway-ttft.rules', rules: latencyRules('ttft_seconds') },
                { name: 'llm-lora-canary.rules', rules: canaryRules },
              ])
             + (if !c.sources.asmProxy then [] else [{ name: 'llm-gateway-asm-proxy.rules', rules: asmRules }])
             + [{ name: 'llm-engine-lora.rules', rules: engineRules }],
  },
}
