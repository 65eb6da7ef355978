// Every generated file: path (from the repository root) -> { format, content }.
local m = import 'mixin.libsonnet';
{
  'rules/llm-node-exporter.rules.yaml': { format: 'yaml', content: m.prometheusRules },
  'alerts/llm-node-exporter.alerts.yaml': { format: 'yaml', content: m.prometheusAlerts },
  'deploy/prometheusrule/llm-node-exporter-rules.yaml': { format: 'yaml', content: {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PrometheusRule',
    metadata: {
      name: 'llm-node-exporter-rules',
      labels: { 'app.kubernetes.io/name': 'llm-node-exporter', 'app.kubernetes.io/component': 'rules' },
    },
    spec: m.prometheusRules,
  } },
  'deploy/prometheusrule/llm-node-exporter-alerts.yaml': { format: 'yaml', content: {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PrometheusRule',
    metadata: {
      name: 'llm-node-exporter-alerts',
      labels: { 'app.kubernetes.io/name': 'llm-node-exporter', 'app.kubernetes.io/component': 'alerts' },
    },
    spec: m.prometheusAlerts,
  } },
  'docs/dashboards.md': { format: 'text', content: m.dashboardsDoc },
  'mixin/tests/fixes.test.yaml': { format: 'yaml', content: m.fixesTest },
  'mixin/tests/gpm.test.yaml': { format: 'yaml', content: m.gpmTest },
  'mixin/tests/panels.test.yaml': { format: 'yaml', content: m.panelsTest },
  'mixin/tests/alerts.test.yaml': { format: 'yaml', content: m.alertsTest },
} + {
  ['dashboards/' + name]: { format: 'json', content: m.grafanaDashboards[name] }
  for name in std.objectFields(m.grafanaDashboards)
}
