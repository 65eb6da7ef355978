// Helpers of the alert areas (alerts/*.libsonnet). Every alert carries severity, summary,
// description and runbook_url (docs/runbooks.md), and a hidden `test` with a case where it fires and
// one where it stays silent (rendered to mixin/tests/*/alerts.test.yaml by tests/alerts.libsonnet).
// Annotations use only {{ $labels.x }} so the tests can expand them.
function(c) {
  // Numbers in exprs and text: '%g' (jsonnet's '%s' prints 0.2 as 0.20000000000000001).
  num(x):: '%g' % x,
  alert(name, expr, forD, severity, summary, description, test, labels={}):: {
    alert: name,
    expr: expr,
    'for': forD,
    labels: { severity: severity } + labels,
    annotations: {
      summary: summary,
      description: description,
      runbook_url: c.runbookURLPattern % std.asciiLower(name),
    },
    test:: test,
  },
  gauge(name, labels, v):: { series: name + '{' + std.join(', ', ['%s="%s"' % [k, labels[k]] for k in std.objectFields(labels)]) + '}', values: v },
  case(series, at, alerts):: { series: series, at: at, alerts: alerts },
}
