// llm-node-exporter's own health.
{
  local c = $._config,
  local w = c.rateWindow,
  local cl = c.clusterLabel,
  local nl = c.nodeLabel,
  local a = (import '../lib/alerts.libsonnet')(c),
  local A = a.alert,
  local T = a.case,
  local gauge = a.gauge,
  local num = a.num,
  local f(s) = s % { cl: cl, w: w, nl: nl },
  local exporterL = { [cl]: 'r1', [nl]: 'n1', job: 'llm-node-exporter', instance: 'n1:9836' },
  local exporterAlerts = [
    A('LLMExporterCollectorFailing',
      'llm_exporter_collector_success == 0',
      '15m',
      'warning',
      'Collector {{ $labels.collector }} of llm-node-exporter fails on {{ $labels.%s }}.' % nl,
      'The {{ $labels.collector }} collector on {{ $labels.%s }} ({{ $labels.instance }}) has failed every scrape for 15 minutes; its series are missing or stale.' % nl,
      {
        fire: T([gauge('llm_exporter_collector_success', exporterL { collector: 'infiniband' }, '0x30')], '20m', [exporterL { collector: 'infiniband' }]),
        silent: T([gauge('llm_exporter_collector_success', exporterL { collector: 'infiniband' }, '0 1 0 1 0 1 0 1 0 1 0 1 0 1 0 1 0 1 0 1 0 1 0 1')], '20m', []),
      }),
    A('LLMExporterAttributionStale',
      'time() - llm_exporter_attribution_last_success_timestamp_seconds > %d' % c.attributionStaleSeconds,
      c.forDuration,
      'warning',
      'GPU/HCA to pod attribution is stale on {{ $labels.%s }}.' % nl,
      'llm-node-exporter on {{ $labels.%s }} has not refreshed its GPU/HCA -> pod attribution for more than %d seconds: pod labels may be wrong (kubelet pod-resources socket unreachable?).' % [nl, c.attributionStaleSeconds],
      {
        // The timestamp stops moving at 0 (the series is the refresh time in seconds).
        fire: T([gauge('llm_exporter_attribution_last_success_timestamp_seconds', exporterL, '0x40')], '30m', [exporterL]),
        silent: T([gauge('llm_exporter_attribution_last_success_timestamp_seconds', exporterL, '0+60x40')], '30m', []),
      }),
    A('LLMExporterDown',
      'up{%s} == 0' % c.llmExporterSelector,
      '10m',
      'warning',
      'llm-node-exporter on {{ $labels.instance }} is down.',
      'Prometheus has failed to scrape llm-node-exporter at {{ $labels.instance }} for 10 minutes: GPU, fabric and engine series of that node are missing.',
      {
        fire: T([gauge('up', { job: 'llm-node-exporter', instance: 'n1:9836' }, '0x20')], '15m', [{ job: 'llm-node-exporter', instance: 'n1:9836' }]),
        silent: T([gauge('up', { job: 'llm-node-exporter', instance: 'n1:9836' }, '1x8 0x12')], '15m', []),
      }),
  ],

  prometheusAlerts+:: {
    groups+: [{ name: 'llm-exporter.alerts', rules: exporterAlerts }],
  },
}
