// Source (a): the engines' own series (sglang:*, vllm:*), normalised once into engine_* recorded
// names with an `engine` label, so that one dashboard and one alert set serve SGLang and vLLM.
//
// Which engine metric feeds which normalised family is the exporter's normalisation table
// (collector/engine/table.go), read from engine-mapping.json, which `make generate` writes from
// it: the exporter and the rules pack cannot drift apart. How each family is aggregated here
// (per pod, per job, per DP rank; quantiles) is this file's own business.
//
// Levels (the cluster label is always kept; kubernetes-mixin names levels by the labels they keep):
//   namespace_pod          cluster, namespace, app, role, job, pod, model_name, engine
//   namespace_pod_dp_rank  + dp_rank
//   namespace_job          cluster, namespace, app, role, job, model_name, engine
//   namespace_app          cluster, namespace, app, model_name (a P/D pair)
local mapping = import 'engine-mapping.json';

// The families the pack records from the engines' own series (source (a)): those the seed
// dashboards read. The exporter's later families (KV transfer, KV cache pool, LoRA adapters,
// speculative decoding, the engines' FLOP estimates, ...) are read from its llm_engine_* series
// only: several need what PromQL cannot do on an engine's page (rescaling histogram bounds to base
// units, splitting a label value into adapters, preferring a family only where another is absent).
local rawFamilies = [
  'stage_latency_seconds',
  'time_to_first_token_seconds',
  'inter_token_latency_seconds',
  'e2e_request_latency_seconds',
  'queue_time_seconds',
  'requests_running',
  'requests_waiting',
  'pd_queue_requests',
  'kv_cache_usage_ratio',
  'requests_total',
  'requests_aborted_total',
  'requests_retracted_total',
  'prompt_tokens_total',
  'generation_tokens_total',
  'kv_transfer_failures_total',
  'bootstrap_failures_total',
  'cached_prompt_tokens_total',
  'prefix_cache_hit_ratio',
  'spec_decode_accept_length',
  'generation_throughput_tokens_per_second',
];
local table = {
  families: [f for f in mapping.families if std.member(rawFamilies, f.name)],
  // Rows without a conversion, a split or a condition: what a rule can read as it is.
  rows: [
    r
    for r in mapping.rows
    if std.member(rawFamilies, r.family) && std.get(r, 'split', '') == '' && std.get(r, 'unless', '') == '' &&
       std.get(r, 'mul', 0) == 0 && std.get(r, 'div', 0) == 0
  ],
};
local p = import 'promql.libsonnet';

// Families the exporter does not normalise: read on source (a) only. A source here must not be in
// the table (mixin_test.go checks): once the exporter maps it, its row goes and the table's wins.
local mixinOnly = {
  families: [
    { name: 'iteration_tokens_total', kind: 'counter', extra: '' },
    { name: 'requests_swapped', kind: 'gauge', extra: '' },
    { name: 'cpu_cache_usage_ratio', kind: 'gauge', extra: '' },
    { name: 'last_batch_queue_latency_seconds', kind: 'gauge', extra: '' },
    { name: 'request_prompt_tokens', kind: 'histogram', extra: '' },
    { name: 'request_generation_tokens', kind: 'histogram', extra: '' },
    { name: 'request_max_num_generation_tokens', kind: 'histogram', extra: '' },
  ],
  rows: [
    { family: 'iteration_tokens_total', sources: ['vllm:iteration_tokens_total_count'] },
    { family: 'requests_swapped', sources: ['vllm:num_requests_swapped'] },
    { family: 'cpu_cache_usage_ratio', sources: ['vllm:cpu_cache_usage_perc'] },
    { family: 'last_batch_queue_latency_seconds', sources: ['sglang:avg_request_queue_latency'] },
    { family: 'request_prompt_tokens', sources: ['vllm:request_prompt_tokens'] },
    { family: 'request_generation_tokens', sources: ['vllm:request_generation_tokens'] },
    { family: 'request_max_num_generation_tokens', sources: ['vllm:request_max_num_generation_tokens'] },
  ],
};

// How families are aggregated, beyond what their kind says.
local shapes = {
  // Size distributions: per job only (buckets and mean), no quantile rules.
  size: ['request_prompt_tokens', 'request_generation_tokens', 'request_max_num_generation_tokens'],
  // Gauges also recorded per DP rank (the seed panels show ranks).
  perRank: ['requests_running', 'kv_cache_usage_ratio'],
  // The DP ranks of a pod are the ranks exporting this gauge.
  rankCount: 'requests_running',
};

function(c) {
  local w = c.rateWindow,
  local cl = c.clusterLabel,
  local rl = c.engineRoleLabel,

  // Labels of each level after relabelling; `engine` (sglang | vllm) is set by the rule.
  levels:: {
    pod: [cl, 'namespace', 'app', 'role', 'job', 'pod', 'model_name'],
    job: [cl, 'namespace', 'app', 'role', 'job', 'model_name'],
    app: [cl, 'namespace', 'app', 'model_name'],
  },
  // With the engine label: what recorded series carry.
  podBy:: self.levels.pod + ['engine'],
  jobBy:: self.levels.job + ['engine'],
  appBy:: self.levels.app,

  // dedup: every TP rank of a DP group exports the same per-request series; `max without (tp_rank,
  // ...)` keeps one copy so that request rates are not multiplied by the TP size.
  // rank: the DP rank as dp_rank (vLLM V1 names it `engine`).
  engines:: {
    sglang: {
      sel: c.sglangSelector,
      dedup(e):: 'max without (tp_rank, pp_rank, moe_ep_rank) (%s)' % e,
      rank(e):: e,
    },
    vllm: {
      sel: c.vllmSelector,
      dedup(e):: e,
      rank(e):: 'label_replace(%s, "dp_rank", "$1", "engine", "(.*)")' % e,
    },
  },

  // Normalised recorded name of a family: engine_<name> without _total.
  norm(name):: 'engine_' + (if std.endsWith(name, '_total') then std.substr(name, 0, std.length(name) - 6) else name),

  local engineOf(source) = std.split(source, ':')[0],
  local inputs(fam, rows) = [
    {
      src: e,
      names: [s for s in r.sources if engineOf(s) == e],
      // A fixed value of the family's extra label, or the source label copied into it.
      labels: if r.extraValue != '' then { [fam.extra]: r.extraValue } else {},
      extraFrom: r.extraFrom,
      match: if r.whereLabel != '' then ['%s="%s"' % [r.whereLabel, r.whereValue]] else [],
    }
    for r in rows
    if r.family == fam.name
    for e in ['sglang', 'vllm']
    if std.length([s for s in r.sources if engineOf(s) == e]) > 0
  ],
  local build(fams, rows, origin) = {
    [$.norm(f.name)]: f {
      norm: $.norm(f.name),
      origin: origin,
      extraLabels: if f.extra == '' then [] else [f.extra],
      shape: if f.kind != 'histogram' then f.kind else if std.member(shapes.size, f.name) then 'size' else 'latency',
      perRank: std.member(shapes.perRank, f.name),
      inputs: inputs(f, [r { extraFrom: std.get(r, 'extraFrom', ''), extraValue: std.get(r, 'extraValue', ''), whereLabel: std.get(r, 'whereLabel', ''), whereValue: std.get(r, 'whereValue', '') } for r in rows]),
    }
    for f in fams
  },
  // Every family, by normalised name (e.g. families.engine_requests_running).
  families:: build(table.families, table.rows, 'table') + build(mixinOnly.families, mixinOnly.rows, 'mixin'),
  // Families by kind/shape, in the table's order.
  ordered(shape):: [
    self.families[$.norm(f.name)]
    for f in table.families + mixinOnly.families
    if self.families[$.norm(f.name)].shape == shape
  ],
  rankCountFamily:: self.families[$.norm(shapes.rankCount)],
  mixinOnlySources:: std.flattenArrays([r.sources for r in mixinOnly.rows]),
  // The table's sources the rules read (source (a)).
  tableSources:: std.flattenArrays([r.sources for r in table.rows]),

  // app and role from the job name (and the engine's role label), on aggregated series.
  relabel(e)::
    local j = c.engineJobRegex;
    local byJob = 'label_replace(label_replace(label_replace(%s, "app", "$1", "job", "(?:[^/]*/)?(.+)"), "app", "$1", "job", "%s"), "role", "$2", "job", "%s")' % [e, j, j];
    local byLabel = if rl == '' then byJob else 'label_replace(%s, "role", "$1", "%s", "(prefill|decode)")' % [byJob, rl];
    'label_replace(%s, "role", "unified", "role", "")' % byLabel,

  // op by (by) over raw series, relabelled: aggregated first over the labels relabelling reads (so
  // that label_replace runs on a few series, not on every rank's), then over the final labels.
  aggregate(op, by, e)::
    local inner = by + (if rl == '' then [] else [rl]);
    '%s by (%s) (%s)' % [if op == 'count' then 'sum' else op, p.by(by), $.relabel('%s by (%s) (%s)' % [op, p.by(inner), e])],

  local rawSel(inp, names, suffix) = p.selector(p.suffixed(names, suffix), [$.engines[inp.src].sel] + inp.match),
  // One metric under several names (an engine's current name, then the names it had before): a
  // page serving both would give two series with one label set apart from __name__ (duplicates once
  // rate() drops the name, or a double count in a sum). `or` matches on the labels without
  // __name__, so it keeps only the preferred name's series.
  preferred(inp, suffix='', wrap=function(sel) sel)::
    if std.length(inp.names) == 1 then wrap(rawSel(inp, inp.names, suffix))
    else '(%s)' % std.join(' or ', [wrap(rawSel(inp, [n], suffix)) for n in inp.names]),
  // The family's extra label from another source label, where the table says so.
  local extraFrom(fam, inp, e) =
    if inp.extraFrom == '' || inp.extraFrom == fam.extra then e
    else 'label_replace(%s, "%s", "$1", "%s", "(.*)")' % [e, fam.extra, inp.extraFrom],
  // Deduplicated raw input of a family: a rate (suffix: _sum, _count, _bucket, '') or the gauge.
  rateOf(fam, inp, suffix='')::
    $.engines[inp.src].dedup(extraFrom(fam, inp, $.preferred(inp, suffix, function(sel) 'rate(%s[%s])' % [sel, w]))),
  gaugeOf(fam, inp)::
    $.engines[inp.src].dedup(extraFrom(fam, inp, $.preferred(inp))),
  ruleLabels(inp):: { engine: inp.src } + inp.labels,

  // The rule groups of an area: assign lists [group name, [normalised family names], extra rules];
  // families of the shape that no entry names (a row added to the table later) go to group `rest`.
  // A family's rules stay together and in order, so that rules reading one another see the same
  // evaluation. Groups stay small (mixin_test.go: at most 20 rules, Mimir's default limit).
  groupsOf(shape, assign, rest, rulesOf)::
    local fams = self.ordered(shape);
    local named = std.flattenArrays([a[1] for a in assign]);
    local others = [f for f in fams if !std.member(named, f.norm)];
    std.filter(
      function(g) std.length(g.rules) > 0,
      [
        { name: a[0], rules: std.flattenArrays([rulesOf(f) for f in fams if std.member(a[1], f.norm)]) + (if std.length(a) > 2 then a[2] else []) }
        for a in assign
      ] + [{ name: rest, rules: std.flattenArrays([rulesOf(f) for f in others]) }]
    ),
}
