// The rules pack: config + rules + alerts + dashboards (hidden fields prometheusRules,
// prometheusAlerts, grafanaDashboards, as kubernetes-mixin). Add profiles/seeds.libsonnet for the
// seed dashboards' setup. Test and docs generators live in tests/ and docs/, outside this object.
(import 'config.libsonnet') +
(import 'rules/rules.libsonnet') +
(import 'alerts/alerts.libsonnet') +
(import 'dashboards/dashboards.libsonnet')
