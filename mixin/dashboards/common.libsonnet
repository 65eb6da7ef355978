// What the dashboards share: the variables, the seed-panel renderer and the rows of optional
// sources. function(c): c is the mixin's _config.
local g = import '../lib/grafana.libsonnet';

function(c) {
  local w = c.rateWindow,
  local cl = c.clusterLabel,
  local nl = c.nodeLabel,
  local f(s) = s % { cl: cl, w: w, nl: nl },
  local anchor = 'namespace_job:engine_dp_ranks:count',

  f(s):: f(s),

  vars:: {
    cluster: g.queryVar(cl, 'label_values(%s, %s)' % [anchor, cl]),
    namespace: g.queryVar('namespace', f('label_values(' + anchor + '{%(cl)s=~"$%(cl)s"}, namespace)')),
    app: g.queryVar('app', f('label_values(' + anchor + '{%(cl)s=~"$%(cl)s", namespace=~"$namespace"}, app)')),
    role: g.queryVar('role', f('label_values(' + anchor + '{%(cl)s=~"$%(cl)s", namespace=~"$namespace", app=~"$app"}, role)')),
    // The pools of the load balancer; "All" is lbPoolAllRegex (endpoints without a pool are always
    // counted by the panels).
    pool: g.queryVar('pool', f('label_values(pool_endpoint:glm_watched_endpoints:active{%(cl)s=~"$%(cl)s"}, pool)'), allValue=c.lbPoolAllRegex),
    engine: g.queryVar('engine', f('label_values(' + anchor + '{%(cl)s=~"$%(cl)s"}, engine)')),
    model: g.queryVar('model_name', f('label_values(' + anchor + '{%(cl)s=~"$%(cl)s", namespace=~"$namespace", app=~"$app"}, model_name)'), 'model'),
    node: g.queryVar('node', f('label_values(node:llm_gpu_up:count{%(cl)s=~"$%(cl)s"}, %(nl)s)')),
  },

  // Whether every optional source a panel or row needs is there.
  has(needs):: std.all([c.sources[n] for n in needs]),

  // Legend from the first `by (...)` clause of a query.
  local legendOf(q) =
    local parts = std.split(q, 'by (');
    if std.length(parts) < 2 then ''
    else std.join(' ', ['{{%s}}' % std.stripChars(l, ' ') for l in std.split(std.split(parts[1], ')')[0], ',') if std.stripChars(l, ' ') != 'le']),

  // A seed panel: its query on recorded series and the extra targets; where a source it needs is
  // off, its fallback query alone (or nothing).
  seedPanels(ps):: [
    local ok = $.has(p.needs);
    local targets = if ok then p.targets else [];
    local main = if ok then p.new else p.fallback;
    g.panel(
      p.title,
      [main] + [t[0] for t in targets if !(t[1] == null && t[0] == main)],
      p.unit,
      (if std.get(p, 'description', '') != '' then p.description + '\n\n' else '') + (if p.status == 'fixed' then 'Fixed: ' + p.why else p.why),
      legends=[legendOf(main)] + [
        if std.startsWith(t[0], 'histogram_quantile(') then 'p' + std.strReplace(std.split(std.substr(t[0], 19, 5), ',')[0], '0.', '') else 'B'
        for t in targets
        if !(t[1] == null && t[0] == main)
      ],
    )
    for p in ps
    if $.has(p.needs) || p.fallback != null
  ],

  // A row and its panels; no row at all when none of its panels is left.
  section(title, panels):: if std.length(panels) == 0 then [] else [g.row(title)] + panels,

  dashboard(title, uid, panels, vars, description)::
    g.dashboard(title, uid, panels, vars, c.dashboardTags, c.dashboardRefresh, c.dashboardTimezone, description, c.grafanaDatasource, c.grafanaDatasourceRegex),
}
