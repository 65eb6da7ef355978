// LLM / LoRA canary: per virtual model (the gateway's model_name) and adapter, the traffic split,
// errors, latency, tokens and the engine pods each adapter runs on; a stable adapter against a
// canary chosen by $stable and $canary (docs/lora-canary.md).
local g = import '../lib/grafana.libsonnet';

{
  local c = $._config,
  local d = (import 'common.libsonnet')(c),
  local f(s) = d.f(s),
  local anchor = 'namespace_model_adapter:llm_gateway_requests:rate%s' % c.rateWindow,
  local S = '%(cl)s=~"$%(cl)s", namespace=~"$namespace", model_name=~"$model_name"',
  local P = '%(cl)s=~"$%(cl)s", namespace=~"$namespace"',
  local release(r) = g.queryVar(r, f('label_values(namespace_model_adapter:llm_gateway_release:info{' + S + ', release="' + r + '"}, adapter)'), r, includeAll=false, multi=false) {
    current: { selected: false, text: '', value: '' },
  },
  local vars = [
    g.queryVar(c.clusterLabel, f('label_values(%s, %%(cl)s)' % anchor)),
    g.queryVar('namespace', f('label_values(' + anchor + '{%(cl)s=~"$%(cl)s"}, namespace)')),
    g.queryVar('model_name', f('label_values(' + anchor + '{' + P + '}, model_name)'), 'virtual model'),
    release('stable'),
    release('canary'),
  ],
  local q(h, quant, extra='') = 'max by (model_name, adapter) (namespace_model_adapter_quantile:llm_gateway_%s:histogram_quantile{%s%s, quantile="%s"})' % [h, f(S), extra, quant],
  // One adapter's value, per virtual model.
  local one(series, adapter, extra='') = 'max by (model_name) (%s{%s, adapter="$%s"%s})' % [series, f(S), adapter, extra],
  local q99(h, adapter) = one('namespace_model_adapter_quantile:llm_gateway_%s:histogram_quantile' % h, adapter, ', quantile="0.99"'),
  local pair = ', adapter=~"$stable|$canary"',

  // The panel that answers "is $canary slower than $stable at p99, and where does each run".
  loraKeyPanel:: g.panel(
    '$canary against $stable: p99 latency and the pods running them',
    [
      f('max by (adapter, state, pod) (namespace_adapter_pod:llm_engine_lora_adapters:max{' + P + pair + '})'),
      q('request_duration_seconds', '0.99', pair),
      q('ttft_seconds', '0.99', pair),
    ],
    's',
    "p99 request latency and TTFT through the gateway of the two adapters, and one line (value 1) per engine pod where each adapter has requests running or waiting (llm_engine_lora_adapters, split by llm-node-exporter from vLLM's lora_requests_info).",
    legends=['{{adapter}} {{state}} on {{pod}}', 'p99 latency {{adapter}}', 'p99 TTFT {{adapter}}'],
  ) + {
    // The pod lines are presence (1), not seconds: their own axis, drawn as points.
    fieldConfig+: { overrides: [{
      matcher: { id: 'byFrameRefID', options: 'A' },
      properties: [
        { id: 'unit', value: 'none' },
        { id: 'custom.axisPlacement', value: 'right' },
        { id: 'custom.axisLabel', value: 'pods running / waiting' },
        { id: 'custom.drawStyle', value: 'points' },
      ],
    }] },
  },

  grafanaDashboards+:: if !c.sources.inferenceGateway then {} else {
    'llm-lora-canary.json': d.dashboard(
      'LLM / LoRA canary',
      'llm-lora-canary',
      d.section('Stable against canary', [
        $.loraKeyPanel,
        g.panel('p99 ratio $canary / $stable', [
          '%s / %s' % [q99('request_duration_seconds', 'canary'), q99('request_duration_seconds', 'stable')],
          '%s / %s' % [q99('ttft_seconds', 'canary'), q99('ttft_seconds', 'stable')],
        ], 'short', 'Above 1: the canary is slower. LLMLoRACanaryLatencyHigh / LLMLoRACanaryTTFTHigh fire above %g for %s on the recorded ratio of every canary (the panel below).' % [1 + c.loraCanaryLatencyMargin, c.loraCanaryFor], legends=['latency {{model_name}}', 'TTFT {{model_name}}']),
        g.panel('Error ratio $canary − $stable', [
          '%s - %s' % [one('namespace_model_adapter:llm_gateway_request_errors:ratio_rate%s' % c.rateWindow, 'canary'), one('namespace_model_adapter:llm_gateway_request_errors:ratio_rate%s' % c.rateWindow, 'stable')],
        ], 'percentunit', 'Above 0: the canary fails more often. LLMLoRACanaryErrorsHigh fires above %g for %s.' % [c.loraCanaryErrorMargin, c.loraCanaryFor], legends=['{{model_name}}']),
        g.panel('Every canary against its stable adapter', [
          f('max by (model_name, adapter, stable_adapter) (namespace_model_adapter:llm_gateway_request_duration_seconds_p99:ratio_to_stable{' + S + '})'),
          f('max by (model_name, adapter, stable_adapter) (namespace_model_adapter:llm_gateway_ttft_seconds_p99:ratio_to_stable{' + S + '})'),
          f('max by (model_name, adapter, stable_adapter) (namespace_model_adapter:llm_gateway_request_errors:ratio_rate%(w)s_minus_stable{' + S + '})'),
        ], 'short', 'The recorded comparisons the alerts read, whatever $stable and $canary say: p99 ratios and error-ratio difference of each canary against the stable adapter of its virtual model (_config.loraReleaseBy).', legends=['p99 latency ratio {{adapter}} / {{stable_adapter}}', 'p99 TTFT ratio {{adapter}} / {{stable_adapter}}', 'error ratio {{adapter}} − {{stable_adapter}}']),
      ])
      + d.section('Traffic', [
        g.panel('Share of requests by adapter', [f('sum by (model_name, adapter) (namespace_model_adapter:llm_gateway_requests:share_rate%(w)s{' + S + '})')], 'percentunit', "Each adapter's share of its virtual model's requests: the InferenceModel's weights as served.", legends=['{{model_name}} {{adapter}}']),
        g.panel('Requests by adapter', [f('sum by (model_name, adapter) (namespace_model_adapter:llm_gateway_requests:rate%(w)s{' + S + '})')], 'reqps', legends=['{{model_name}} {{adapter}}']),
        g.panel('Error ratio by adapter', [f('max by (model_name, adapter) (namespace_model_adapter:llm_gateway_request_errors:ratio_rate%(w)s{' + S + '})')], 'percentunit', 'Requests the gateway counted as errors, per request.', legends=['{{model_name}} {{adapter}}']),
        g.panel('Running requests', [
          f('sum by (model_name) (namespace_model:llm_gateway_requests_running:sum{' + S + '})'),
          f('sum by (model_name, adapter) (namespace_model_adapter:llm_gateway_requests_running:sum{' + S + '})'),
        ], 'short', 'Per virtual model (every gateway release) and per adapter (llm-d router only).', legends=['{{model_name}}', '{{model_name}} {{adapter}}']),
      ])
      + d.section('Latency', [
        g.panel('Request latency p50 / p99 by adapter', [q('request_duration_seconds', '0.5'), q('request_duration_seconds', '0.99')], 's', legends=['p50 {{adapter}}', 'p99 {{adapter}}']),
        g.panel('TTFT p50 / p99 by adapter', [q('ttft_seconds', '0.5'), q('ttft_seconds', '0.99')], 's', 'Time to first token as the gateway measures it (GAIE >= v1.0, llm-d router).', legends=['p50 {{adapter}}', 'p99 {{adapter}}']),
        g.panel('Mean request latency by adapter', [f('max by (model_name, adapter) (namespace_model_adapter:llm_gateway_request_duration_seconds:mean%(w)s{' + S + '})')], 's', legends=['{{model_name}} {{adapter}}']),
      ])
      + d.section('Tokens', [
        g.panel('Input / output tokens by adapter', [
          f('sum by (model_name, adapter) (namespace_model_adapter:llm_gateway_input_tokens:rate%(w)s{' + S + '})'),
          f('sum by (model_name, adapter) (namespace_model_adapter:llm_gateway_output_tokens:rate%(w)s{' + S + '})'),
        ], 'short', 'Tokens per second through the endpoint picker.', legends=['in {{adapter}}', 'out {{adapter}}']),
      ] + (if !c.sources.asmProxy then [] else [
             g.panel('ASM proxy tokens by adapter', [
               f('sum by (adapter) (namespace_adapter:llm_gateway_proxy_input_tokens:rate%(w)s{%(cl)s=~"$%(cl)s"})'),
               f('sum by (adapter) (namespace_adapter:llm_gateway_proxy_output_tokens:rate%(w)s{%(cl)s=~"$%(cl)s"})'),
             ], 'short', "The seed's Tokens Rate panel: ASM's asm_llm_proxy_prompt_tokens / asm_llm_proxy_completion_tokens per second (model label _config.asmModelLabel).", legends=['prompt {{adapter}}', 'completion {{adapter}}']),
           ]))
      + d.section('Adapters on the engines', [
        g.panel('Pods per adapter', [f('sum by (adapter, state) (namespace_adapter:llm_engine_lora_adapter_pods:count{' + P + '})')], 'short', 'Engine pods with requests of each adapter running or waiting. Waiting on some and running on none: LLMLoRAAdapterNotRunning.', legends=['{{adapter}} {{state}}']),
        g.panel('Adapters per pod', [
          f('count by (pod, state) (namespace_adapter_pod:llm_engine_lora_adapters:max{' + P + '})'),
          f('max by (pod) (namespace_pod:llm_engine_lora_max_adapters:max{' + P + '})'),
        ], 'short', 'Adapters with running / waiting requests on each pod, against its most adapters per batch (vLLM --max-loras).', legends=['{{pod}} {{state}}', '{{pod}} max']),
      ]),
      vars,
      "Canary releases of LoRA adapters behind the inference gateway: per virtual model, each adapter's traffic share, errors, latency and tokens, where it runs, and $canary against $stable.",
    ),
  },
}
