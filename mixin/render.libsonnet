// Every generated file: path (from the repository root) -> { format, content }. Two profiles: the
// generic one (the defaults of config.libsonnet) is the one shipped in rules/, alerts/, dashboards/
// and deploy/prometheusrule/; the seeds' (profiles/seeds.libsonnet) is rendered to profiles/seeds/.
// Each has its promtool tests in mixin/tests/<profile>/.
local docs = import 'docs/dashboards.libsonnet';
local mixin = import 'mixin.libsonnet';
local tests = import 'tests/tests.libsonnet';

local profiles = [
  { name: 'generic', overrides: {}, out: '', tests: ['fixes', 'gpm', 'workloads', 'kv-fabric', 'alerts', 'lora'] },
  { name: 'seeds', overrides: import 'profiles/seeds.libsonnet', out: 'profiles/seeds/', tests: ['panels', 'fixes', 'gpm', 'workloads', 'kv-fabric', 'alerts', 'lora'] },
];

local build(p) = mixin + p.overrides + tests + docs + {
  _paths:: {
    rules: '../../../%srules/llm-node-exporter.rules.yaml' % p.out,
    alerts: '../../../%salerts/llm-node-exporter.alerts.yaml' % p.out,
  },
};

local files(p) =
  local m = build(p);
  local manifest(kind, spec) = {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PrometheusRule',
    metadata: {
      name: 'llm-node-exporter-' + kind,
      labels: { 'app.kubernetes.io/name': 'llm-node-exporter', 'app.kubernetes.io/component': kind },
    },
    spec: spec,
  };
  local deployDir = if p.out == '' then 'deploy/prometheusrule/' else p.out + 'prometheusrule/';
  {
    [p.out + 'rules/llm-node-exporter.rules.yaml']: { format: 'yaml', content: m.prometheusRules },
    [p.out + 'alerts/llm-node-exporter.alerts.yaml']: { format: 'yaml', content: m.prometheusAlerts },
    [deployDir + 'llm-node-exporter-rules.yaml']: { format: 'yaml', content: manifest('rules', m.prometheusRules) },
    [deployDir + 'llm-node-exporter-alerts.yaml']: { format: 'yaml', content: manifest('alerts', m.prometheusAlerts) },
  } + {
    ['mixin/tests/%s/%s.test.yaml' % [p.name, t]]: { format: 'yaml', content: m[t + 'Test'] }
    for t in p.tests
  } + {
    [p.out + 'dashboards/' + name]: { format: 'json', content: m.grafanaDashboards[name] }
    for name in std.objectFields(m.grafanaDashboards)
  };

std.foldl(function(acc, p) acc + files(p), profiles, {}) + {
  // The coverage of the seed panels is the seeds profile's.
  'docs/dashboards.md': { format: 'text', content: build(profiles[1]).dashboardsDoc },
}
