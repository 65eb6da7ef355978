// promtool tests of the alerts, generated from each alert's hidden `test` cases (alerts/*.libsonnet):
// one test group per case, annotations expanded as Prometheus does.
{
  // Expands {{ $labels.x }} as Prometheus does (a missing label is the empty string).
  local expand(s, labels) =
    local parts = std.split(s, '{{ $labels.');
    parts[0] + std.join('', [
      local name = std.split(part, ' }}')[0];
      std.get(labels, name, '') + std.substr(part, std.length(name) + 3, std.length(part))
      for part in parts[1:]
    ]),
  local nonEmpty(o) = { [k]: o[k] for k in std.objectFields(o) if o[k] != '' },
  local case(r, kind) =
    local t = r.test[kind];
    {
      name: '%s %s' % [r.alert, kind],
      interval: '1m',
      input_series: t.series,
      alert_rule_test: [{
        eval_time: t.at,
        alertname: r.alert,
        exp_alerts: [
          {
            exp_labels: nonEmpty(l + r.labels),
            exp_annotations: { [k]: expand(r.annotations[k], nonEmpty(l + r.labels)) for k in std.objectFields(r.annotations) },
          }
          for l in t.alerts
        ],
      }],
    },

  alertsTest:: {
    rule_files: [$._paths.alerts],
    evaluation_interval: '1m',
    tests: std.flattenArrays([
      // fire and silent first, then the other cases in name order.
      [case(r, 'fire'), case(r, 'silent')] + [case(r, k) for k in std.objectFields(r.test) if k != 'fire' && k != 'silent']
      for g in $.prometheusAlerts.groups
      for r in g.rules
    ]),
  },
}
