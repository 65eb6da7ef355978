// A tiny local stand-in for grafonnet: just what our dashboards need.
{
  datasource:: { type: 'prometheus', uid: '${datasource}' },

  target(expr, refId, legend=''):: {
    datasource: $.datasource,
    expr: expr,
    refId: refId,
    legendFormat: legend,
    range: true,
  },

  panel(title, exprs, unit='short', description='', type='timeseries', legends=[]):: {
    type: type,
    title: title,
    description: description,
    datasource: $.datasource,
    fieldConfig: { defaults: { unit: unit }, overrides: [] },
    // Grafana's schema requires legend.calcs (common.VizLegendOptions).
    options: { legend: { displayMode: 'list', placement: 'bottom', showLegend: true, calcs: [] }, tooltip: { mode: 'multi', sort: 'desc' } },
    targets: [
      $.target(exprs[i], std.char(65 + i), if i < std.length(legends) then legends[i] else '')
      for i in std.range(0, std.length(exprs) - 1)
    ],
  },

  row(title):: { type: 'row', title: title, collapsed: false, panels: [] },

  // Lays panels out three to a line (rows take a full line) and numbers them.
  layout(panels)::
    local step(acc, p) =
      if p.type == 'row' then
        acc { y: acc.y + (if acc.x > 0 then 8 else 0) + 1, x: 0, out+: [p { id: std.length(acc.out) + 1, gridPos: { h: 1, w: 24, x: 0, y: acc.y + (if acc.x > 0 then 8 else 0) } }] }
      else
        local wrap = acc.x >= 24;
        local x = if wrap then 0 else acc.x;
        local y = if wrap then acc.y + 8 else acc.y;
        acc { x: x + 8, y: y, out+: [p { id: std.length(acc.out) + 1, gridPos: { h: 8, w: 8, x: x, y: y } }] };
    std.foldl(step, panels, { x: 0, y: 0, out: [] }).out,

  queryVar(name, query, label=name, includeAll=true, multi=true, allValue='.*'):: {
    name: name,
    label: label,
    type: 'query',
    datasource: $.datasource,
    query: { query: query, refId: name },
    definition: query,
    refresh: 2,
    includeAll: includeAll,
    multi: multi,
    allValue: allValue,
    current: { selected: true, text: 'All', value: '$__all' },
    sort: 1,
  },

  // datasource: the data source the dashboard opens with ('default': Grafana's default one);
  // datasourceRegex limits the picker.
  dashboard(title, uid, panels, vars, tags, refresh, timezone, description='', datasource='default', datasourceRegex=''):: {
    title: title,
    uid: uid,
    description: description,
    tags: tags,
    timezone: timezone,
    refresh: refresh,
    editable: true,
    graphTooltip: 1,
    schemaVersion: 39,
    time: { from: 'now-6h', to: 'now' },
    templating: {
      list: [{
        name: 'datasource',
        label: 'Data source',
        type: 'datasource',
        query: 'prometheus',
        regex: datasourceRegex,
        current: { selected: true, text: datasource, value: datasource },
        hide: 0,
      }] + vars,
    },
    annotations: { list: [] },
    panels: $.layout(panels),
  },
}
