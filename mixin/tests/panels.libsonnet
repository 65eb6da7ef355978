// promtool unit tests generated from the panel catalogue: for every seed panel (and every extra
// target) with a corrected raw query, on the fixture series and after all recording rules ran, the
// dashboard's new query returns the same series with the same values (relative error <= 1e-9).
// Seed panels are the seeds profile's (their corrected queries are written on its labels).
{
  local c = $._config,
  local fixture = (import 'fixture.libsonnet')(c),
  local evalTime = '%dm' % (fixture.steps / 4),

  // Grafana variables -> concrete values. Longest names first ($pool1 before $pool).
  subst(q, vars)::
    local v = fixture.vars + vars;
    local names = std.sort(std.objectFields(v), function(n) -std.length(n));
    local q1 = std.foldl(function(acc, iv) std.strReplace(acc, iv, c.rateWindow), ['$__rate_interval', '$__interval', '$__range'], q);
    std.foldl(function(acc, n) std.strReplace(acc, '$' + n, v[n]), names, q1),

  local relabel(q, m) =
    std.foldl(function(acc, k) 'sum without (%s) (label_replace(%s, "%s", "$1", "%s", "(.*)"))' % [k, acc, m[k], k], std.objectFields(m), q),

  equal(newQ, corr):: |||
    (
      count(abs((%(n)s) - (%(c)s)) <= 1e-9 * abs(%(c)s) + 1e-12) == bool count(%(c)s)
    )
    * (count(%(n)s) == bool count(%(c)s))
  ||| % { n: newQ, c: corr },

  // Labels a panel's new / corrected query do not share (the seed's grouping kept in the corrected
  // query) are dropped on each side before comparing.
  local without(q, ls) = if std.length(ls) == 0 then q else 'sum without (%s) (%s)' % [std.join(', ', ls), q],
  local cases(p) =
    local vars = std.get(p, 'vars', {});
    local rel = std.get(p, 'testRelabel', {});
    local pairs = (if p.corrected != null then [[p.new, p.corrected]] else [])
                  + [t for t in p.targets if t[1] != null];
    [
      {
        eval_time: evalTime,
        expr: $.equal(without(relabel($.subst(t[0], vars), rel), std.get(p, 'testNewWithout', [])), without($.subst(t[1], vars), std.get(p, 'testCorrectedWithout', []))),
        exp_samples: [{ labels: '{}', value: 1 }],
      }
      for t in pairs
    ],

  panelsTest:: {
    rule_files: [$._paths.rules],
    evaluation_interval: c.rateWindow,
    group_eval_order: [g.name for g in $.prometheusRules.groups],
    tests: [
      {
        name: 'seed panels: new query == corrected raw query',
        interval: '15s',
        input_series: fixture.series,
        promql_expr_test: std.flattenArrays([cases(p) for p in $.pdPanels + $.enginePanels]),
      },
    ],
  },

  // For mixin_test.go: the seeds and their corrected queries with the test substitution applied.
  seedCheck:: {
    evalSeconds: fixture.steps * 15,
    series: fixture.series,
    panels: [
      {
        id: if std.objectHas(p, 'index') then '%d %s' % [p.index, p.title] else p.id,
        status: p.status,
        seed: $.subst(p.seed, std.get(p, 'vars', {})),
        corrected: if p.corrected == null then null else $.subst(p.corrected, std.get(p, 'vars', {})),
      }
      for p in $.pdPanels + $.enginePanels
    ],
  },

  // For cmd/rulesbench: every given seed panel with the benchmark's $variables: the seed's query
  // (corrected), every query our panel runs, and the pairs compared one by one (A and p99).
  benchCheck(indexes, vars):: [
    {
      index: p.index,
      id: '%d %s' % [p.index, p.title],
      dashboard: p.dashboard,
      seed: $.subst(p.corrected, vars),
      ours: [$.subst(q, vars) for q in [p.new] + [t[0] for t in p.targets]],
      pairs: [
        { target: t.name, corrected: $.subst(t.pair[1], vars), new: $.subst(t.pair[0], vars) }
        for t in [{ name: 'A', pair: [p.new, p.corrected] }] + [{ name: 'p99', pair: x } for x in p.targets if x[1] != null && std.length(std.findSubstr('(0.99,', x[0])) > 0]
      ],
    }
    for p in $.pdPanels
    if std.member(indexes, p.index)
  ],
}
