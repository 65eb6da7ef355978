// Recording rules. Naming: level:metric:operations (kubernetes-mixin conventions).
//   level  pod  = cluster, namespace, app, role, job, pod, model_name, engine
//          job  = cluster, namespace, app, role, job, model_name, engine
//          app  = cluster, namespace, app, model_name (P/D pairs)
// Source (a) engine series (sglang:*, vllm:*) are normalised once, here, into engine_* names with an
// `engine` label, so one dashboard and one alert set serve SGLang and vLLM.
local p = import 'lib/promql.libsonnet';

{
  local c = $._config,
  local w = c.rateWindow,
  local cl = c.clusterLabel,
  // Raw engine series are aggregated by the *Raw lists (vLLM's own `engine` label is its DP rank and is
  // dropped); recorded series carry our `engine` label (sglang|vllm) set by the rule.
  local podByRaw = [cl, 'namespace', 'app', 'role', 'job', 'pod', 'model_name'],
  local jobByRaw = [cl, 'namespace', 'app', 'role', 'job', 'model_name'],
  local podBy = podByRaw + ['engine'],
  local jobBy = jobByRaw + ['engine'],
  local appBy = [cl, 'namespace', 'app', 'model_name'],

  // Engine sources. dedup: every TP rank of a DP group exports the same per-request series; `max
  // without (tp_rank, ...)` keeps one copy so that request rates are not multiplied by the TP size.
  local sources = {
    sglang: {
      engine: 'sglang',
      sel: c.sglangSelector,
      dedup(e):: 'max without (tp_rank, pp_rank, moe_ep_rank) (%s)' % e,
      rank(e):: e,
    },
    vllm: {
      engine: 'vllm',
      sel: c.vllmSelector,
      dedup(e):: e,
      // vLLM V1 names the data-parallel rank `engine`; ours is `dp_rank`.
      rank(e):: 'label_replace(%s, "dp_rank", "$1", "engine", "(.*)")' % e,
    },
  },

  // app/role from the job name, once.
  local relabel(e) =
    'label_replace(label_replace(label_replace(label_replace(%s, "app", "$1", "job", "(?:[^/]*/)?(.+)"), "app", "$1", "job", "%s"), "role", "$2", "job", "%s"), "role", "unified", "role", "")'
    % [e, c.engineJobRegex, c.engineJobRegex],

  local rawSel(src, names, suffix='', extra=[]) = p.selector(p.suffixed(names, suffix), [sources[src].sel] + extra),
  // One metric under several names (an engine's current name, then the names it had
  // before): a page serving both would give two series with one label set apart from
  // __name__ (duplicates once rate() drops the name, or a double count in a sum). `or`
  // matches on the labels without __name__, so it keeps only the preferred name's series.
  local preferred(src, names, suffix='', extra=[], wrap=function(sel) sel) =
    if std.length(names) == 1 then wrap(rawSel(src, names, suffix, extra))
    else '(%s)' % std.join(' or ', [wrap(rawSel(src, [n], suffix, extra)) for n in names]),
  local rateOf(src, names, suffix, extra=[]) = preferred(src, names, suffix, extra, function(sel) 'rate(%s[%s])' % [sel, w]),

  // ---------------------------------------------------------------- engine histograms
  // norm: normalised name; extra: labels kept besides the level; inputs: per source metric names
  // (+ static labels); quantiles: record job-level p50/p90/p99.
  local histograms = [
    {
      norm: 'engine_stage_latency_seconds',
      extra: ['stage'],
      inputs: [
        { src: 'sglang', names: ['sglang:per_stage_req_latency_seconds'] },
        { src: 'vllm', names: ['vllm:request_prefill_time_seconds'], labels: { stage: 'prefill' } },
        { src: 'vllm', names: ['vllm:request_decode_time_seconds'], labels: { stage: 'decode' } },
      ],
    },
    {
      norm: 'engine_time_to_first_token_seconds',
      extra: [],
      inputs: [
        { src: 'sglang', names: ['sglang:time_to_first_token_seconds'] },
        { src: 'vllm', names: ['vllm:time_to_first_token_seconds'] },
      ],
    },
    {
      norm: 'engine_inter_token_latency_seconds',
      extra: [],
      inputs: [
        { src: 'sglang', names: ['sglang:inter_token_latency_seconds'] },
        { src: 'vllm', names: ['vllm:inter_token_latency_seconds', 'vllm:time_per_output_token_seconds'] },
      ],
    },
    {
      norm: 'engine_e2e_request_latency_seconds',
      extra: [],
      inputs: [
        { src: 'sglang', names: ['sglang:e2e_request_latency_seconds'] },
        { src: 'vllm', names: ['vllm:e2e_request_latency_seconds'] },
      ],
    },
    {
      norm: 'engine_queue_time_seconds',
      extra: [],
      inputs: [
        { src: 'sglang', names: ['sglang:queue_time_seconds'] },
        { src: 'vllm', names: ['vllm:request_queue_time_seconds'] },
      ],
    },
  ],
  // Size distributions: job-level buckets and mean only.
  local sizeHistograms = [
    { norm: 'engine_request_prompt_tokens', extra: [], inputs: [{ src: 'vllm', names: ['vllm:request_prompt_tokens'] }] },
    { norm: 'engine_request_generation_tokens', extra: [], inputs: [{ src: 'vllm', names: ['vllm:request_generation_tokens'] }] },
    { norm: 'engine_request_max_num_generation_tokens', extra: [], inputs: [{ src: 'vllm', names: ['vllm:request_max_num_generation_tokens'] }] },
  ],

  local podRate(h, inp, part) = {
    record: 'pod:%s_%s:rate%s' % [h.norm, part, w],
    expr: 'sum by (%s) (%s)' % [
      p.by(podByRaw + h.extra),
      relabel(sources[inp.src].dedup(rateOf(inp.src, inp.names, '_' + part))),
    ],
    labels: { engine: sources[inp.src].engine } + std.get(inp, 'labels', {}),
  },
  local jobBucket(h, inp) = {
    record: 'job:%s_bucket:rate%s' % [h.norm, w],
    expr: 'sum by (%s) (%s)' % [
      p.by(jobByRaw + h.extra + ['le']),
      relabel(sources[inp.src].dedup(rateOf(inp.src, inp.names, '_bucket'))),
    ],
    labels: { engine: sources[inp.src].engine } + std.get(inp, 'labels', {}),
  },
  local fromPod(name, by) = {
    record: 'job:%s' % name,
    expr: 'sum by (%s) (pod:%s)' % [p.by(by), name],
  },
  local mean(level, norm) = {
    record: '%s:%s:mean%s' % [level, norm, w],
    expr: '%s:%s_sum:rate%s / %s:%s_count:rate%s' % [level, norm, w, level, norm, w],
  },
  local quantiles(h) = [
    {
      record: 'job_quantile:%s:histogram_quantile' % h.norm,
      expr: 'histogram_quantile(%s, job:%s_bucket:rate%s)' % [q, h.norm, w],
      labels: { quantile: q },
    }
    for q in ['0.5', '0.9', '0.99']
  ],

  local histogramRules(h) =
    [podRate(h, inp, part) for part in ['sum', 'count'] for inp in h.inputs]
    + [fromPod('%s_%s:rate%s' % [h.norm, part, w], jobBy + h.extra) for part in ['sum', 'count']]
    + [mean('pod', h.norm), mean('job', h.norm)]
    + [jobBucket(h, inp) for inp in h.inputs]
    + quantiles(h),

  local sizeHistogramRules(h) =
    [
      {
        record: 'job:%s_%s:rate%s' % [h.norm, part, w],
        expr: 'sum by (%s) (%s)' % [p.by(jobByRaw), relabel(rateOf(inp.src, inp.names, '_' + part))],
        labels: { engine: sources[inp.src].engine },
      }
      for part in ['sum', 'count']
      for inp in h.inputs
    ]
    + [mean('job', h.norm)]
    + [jobBucket(h, inp) for inp in h.inputs],

  // ---------------------------------------------------------------- engine counters
  local counters = [
    { norm: 'engine_requests', extra: ['finished_reason'], inputs: [{ src: 'sglang', names: ['sglang:num_requests_total'] }, { src: 'vllm', names: ['vllm:request_success_total'] }] },
    { norm: 'engine_requests_aborted', extra: [], inputs: [{ src: 'sglang', names: ['sglang:num_aborted_requests_total'] }, { src: 'vllm', names: ['vllm:request_success_total'], match: ['finished_reason="abort"'] }] },
    { norm: 'engine_requests_retracted', extra: [], inputs: [{ src: 'sglang', names: ['sglang:num_retracted_requests_total', 'sglang:total_retracted_reqs'] }, { src: 'vllm', names: ['vllm:num_preemptions_total'] }] },
    { norm: 'engine_prompt_tokens', extra: [], inputs: [{ src: 'sglang', names: ['sglang:prompt_tokens_total'] }, { src: 'vllm', names: ['vllm:prompt_tokens_total'] }] },
    { norm: 'engine_generation_tokens', extra: [], inputs: [{ src: 'sglang', names: ['sglang:generation_tokens_total'] }, { src: 'vllm', names: ['vllm:generation_tokens_total'] }] },
    { norm: 'engine_cached_tokens', extra: [], inputs: [{ src: 'sglang', names: ['sglang:cached_tokens_total'] }] },
    { norm: 'engine_iteration_tokens', extra: [], inputs: [{ src: 'vllm', names: ['vllm:iteration_tokens_total_count'] }] },
    { norm: 'engine_bootstrap_failures', extra: [], inputs: [{ src: 'sglang', names: ['sglang:num_bootstrap_failed_reqs_total'] }] },
    { norm: 'engine_kv_transfer_failures', extra: [], inputs: [{ src: 'sglang', names: ['sglang:num_transfer_failed_reqs_total'] }] },
  ],
  local counterRules(k) =
    [
      {
        record: 'pod:%s:rate%s' % [k.norm, w],
        expr: 'sum by (%s) (%s)' % [
          p.by(podByRaw + k.extra),
          relabel(sources[inp.src].dedup(rateOf(inp.src, inp.names, '', std.get(inp, 'match', [])))),
        ],
        labels: { engine: sources[inp.src].engine },
      }
      for inp in k.inputs
    ]
    + [fromPod('%s:rate%s' % [k.norm, w], jobBy + k.extra)],

  // ---------------------------------------------------------------- engine gauges (per DP rank)
  local gauges = [
    { norm: 'engine_requests_running', inputs: [{ src: 'sglang', names: ['sglang:num_running_reqs'] }, { src: 'vllm', names: ['vllm:num_requests_running'] }], rank: true },
    { norm: 'engine_requests_waiting', inputs: [{ src: 'sglang', names: ['sglang:num_queue_reqs'] }, { src: 'vllm', names: ['vllm:num_requests_waiting'] }] },
    { norm: 'engine_kv_cache_usage_ratio', inputs: [{ src: 'sglang', names: ['sglang:token_usage'] }, { src: 'vllm', names: ['vllm:kv_cache_usage_perc', 'vllm:gpu_cache_usage_perc'] }], rank: true },
    { norm: 'engine_prefix_cache_hit_ratio', inputs: [{ src: 'sglang', names: ['sglang:cache_hit_rate'] }] },
    { norm: 'engine_generation_throughput_tokens_per_second', inputs: [{ src: 'sglang', names: ['sglang:gen_throughput'] }] },
    { norm: 'engine_spec_accept_length', inputs: [{ src: 'sglang', names: ['sglang:spec_accept_length'] }] },
    { norm: 'engine_last_batch_queue_latency_seconds', inputs: [{ src: 'sglang', names: ['sglang:avg_request_queue_latency'] }] },
    { norm: 'engine_requests_swapped', inputs: [{ src: 'vllm', names: ['vllm:num_requests_swapped'] }] },
    { norm: 'engine_cpu_cache_usage_ratio', inputs: [{ src: 'vllm', names: ['vllm:cpu_cache_usage_perc'] }] },
  ],
  local gaugeRules(g) =
    [
      {
        record: 'pod:%s:%s' % [g.norm, op],
        expr: '%s by (%s) (%s)' % [op, p.by(podByRaw), relabel(sources[inp.src].dedup(preferred(inp.src, inp.names)))],
        labels: { engine: sources[inp.src].engine },
      }
      for op in ['sum', 'max']
      for inp in g.inputs
    ]
    + [
      {
        record: 'pod_dp_rank:%s:max' % g.norm,
        expr: 'max by (%s) (%s)' % [p.by(podByRaw + ['dp_rank']), relabel(sources[inp.src].rank(sources[inp.src].dedup(preferred(inp.src, inp.names))))],
        labels: { engine: sources[inp.src].engine },
      }
      for inp in g.inputs
      if std.get(g, 'rank', false)
    ]
    + [fromPod('%s:sum' % g.norm, jobBy)],

  // Number of (deduplicated) DP ranks per pod: the denominator of every per-rank average.
  local rankCountRules =
    [
      {
        record: 'pod:engine_dp_ranks:count',
        expr: 'count by (%s) (%s)' % [p.by(podByRaw), relabel(sources[inp.src].dedup(preferred(inp.src, inp.names)))],
        labels: { engine: sources[inp.src].engine },
      }
      for inp in gauges[0].inputs
    ]
    + [fromPod('engine_dp_ranks:count', jobBy)],

  // SGLang P/D queues as one series with a `queue` label (names changed across releases).
  local pdQueues = [
    { queue: 'prefill_bootstrap', names: ['sglang:num_prefill_bootstrap_queue_reqs', 'sglang:num_prefill_prealloc_queue_reqs'] },
    { queue: 'prefill_inflight', names: ['sglang:num_prefill_inflight_queue_reqs', 'sglang:num_prefill_infight_queue_reqs'] },
    { queue: 'decode_prealloc', names: ['sglang:num_decode_prealloc_queue_reqs'] },
    { queue: 'decode_transfer', names: ['sglang:num_decode_transfer_queue_reqs'] },
  ],
  local pdQueueRules =
    [
      {
        record: 'pod:engine_pd_queue_requests:%s' % op,
        expr: '%s by (%s) (%s)' % [op, p.by(podByRaw), relabel(sources.sglang.dedup(rawSel('sglang', q.names)))],
        labels: { engine: 'sglang', queue: q.queue },
      }
      for op in ['sum', 'max']
      for q in pdQueues
    ]
    + [fromPod('engine_pd_queue_requests:sum', jobBy + ['queue'])],

  // Request-availability ratios for the multi-window burn-rate alert.
  local burnWindows = ['5m', '30m', '1h', '6h'],
  local burnRules = [
    {
      local ab = pair[0],
      local all = pair[1],
      record: 'job:engine_requests_aborted:ratio_rate%s' % bw,
      expr: |||
        sum by (%(by)s) (%(ab)s)
        /
        sum by (%(by)s) (%(all)s)
      ||| % {
        by: p.by(jobByRaw),
        ab: relabel(sources[ab.src].dedup('rate(%s[%s])' % [rawSel(ab.src, ab.names, '', std.get(ab, 'match', [])), bw])),
        all: relabel(sources[all.src].dedup('rate(%s[%s])' % [rawSel(all.src, all.names), bw])),
      },
      labels: { engine: sources[ab.src].engine },
    }
    for bw in burnWindows
    for pair in [[counters[1].inputs[0], counters[0].inputs[0]], [counters[1].inputs[1], counters[0].inputs[1]]]
  ],

  // P/D "true TTFT" estimate (means only): prefill-side stages + decode-side wait for a batch slot
  // + one decode step (the decode first token). See docs/rules.md for how it compares with the
  // coordinator-measured TTFT.
  local stageMeanApp(role, stages) =
    |||
      sum by (%(app)s) (
          sum by (%(app)s, stage) (job:engine_stage_latency_seconds_sum:rate%(w)s{role="%(role)s", stage=~"%(stages)s"})
        /
          sum by (%(app)s, stage) (job:engine_stage_latency_seconds_count:rate%(w)s{role="%(role)s", stage=~"%(stages)s"})
      )
    ||| % { app: p.by(appBy), w: w, role: role, stages: stages },
  local trueTTFT = {
    record: 'app:engine_pd_true_ttft_seconds:mean%s' % w,
    expr: |||
      %(prefill)s+ on (%(app)s)
      %(decode)s+ on (%(app)s)
      (
          sum by (%(app)s) (job:engine_inter_token_latency_seconds_sum:rate%(w)s{role="decode"})
        /
          sum by (%(app)s) (job:engine_inter_token_latency_seconds_count:rate%(w)s{role="decode"})
      )
    ||| % {
      prefill: stageMeanApp('prefill', 'prefill_bootstrap|prefill_waiting|prefill_forward|prefill_transfer_kv_cache'),
      decode: stageMeanApp('decode', 'decode_waiting'),
      app: p.by(appBy),
      w: w,
    },
  },

  // ---------------------------------------------------------------- load balancer
  local lb = c.lbEndpointLabel,
  local lbRules = [
    {
      record: 'pool_endpoint:glm_watched_endpoints:active',
      expr: |||
        label_replace(label_replace(label_replace(
          sum by (%(cl)s, job, pool, %(lb)s) (glm_watched_endpoints{%(sel)s}) > 0,
          "endpoint_ip", "$1", "%(lb)s", "%(re)s"),
          "endpoint_port", "$2", "%(lb)s", "%(re)s"),
          "dp_rank", "$3", "%(lb)s", "%(re)s")
      ||| % { cl: cl, lb: lb, sel: c.lbSelector, re: c.lbEndpointRegex },
    },
  ],

  // ---------------------------------------------------------------- kube-state-metrics joins
  local ksm = c.kubeStateMetricsSelector,
  local nl = c.nodeLabel,
  local ksmRules = [
    {
      // Pod -> ReplicaSet -> Deployment, computed once (kubernetes-mixin's rule, plus app and role).
      record: 'namespace_workload_pod:kube_pod_owner:relabel',
      expr: |||
        max by (%(cl)s, namespace, workload, pod, app, role) (
          label_replace(label_replace(label_replace(
            label_replace(
              kube_pod_owner{%(ksm)s, owner_kind="ReplicaSet"},
              "replicaset", "$1", "owner_name", "(.*)"
            )
            * on (%(cl)s, replicaset, namespace) group_left (owner_name)
            topk by (%(cl)s, replicaset, namespace) (
              1, max by (%(cl)s, replicaset, namespace, owner_name) (kube_replicaset_owner{%(ksm)s, owner_kind="Deployment"})
            ),
            "workload", "$1", "owner_name", "(.*)"),
            "app", "$1", "workload", "%(wre)s"),
            "role", "$2", "workload", "%(wre)s")
        )
      ||| % { cl: cl, ksm: ksm, wre: c.workloadRoleRegex },
      labels: { workload_type: 'deployment' },
    },
    {
      // ... plus the node the pod runs on.
      record: 'node_namespace_workload_pod:kube_pod_owner:relabel',
      expr: |||
        namespace_workload_pod:kube_pod_owner:relabel
        * on (%(cl)s, namespace, pod) group_left (%(nl)s)
        topk by (%(cl)s, namespace, pod) (1, max by (%(cl)s, namespace, pod, %(nl)s) (kube_pod_info{%(ksm)s, %(nl)s!=""}))
      ||| % { cl: cl, ksm: ksm, nl: nl },
    },
  ],

  // ---------------------------------------------------------------- InfiniBand, source (a) node_exporter
  local ibA = [
    { m: 'port_data_received_bytes', raw: 'node_infiniband_port_data_received_bytes_total' },
    { m: 'port_data_transmitted_bytes', raw: 'node_infiniband_port_data_transmitted_bytes_total' },
    { m: 'port_packets_received', raw: 'node_infiniband_port_packets_received_total' },
    { m: 'port_packets_transmitted', raw: 'node_infiniband_port_packets_transmitted_total' },
  ],
  local ibARules =
    [
      {
        record: 'node:node_infiniband_%s:rate%s' % [x.m, w],
        expr: 'sum by (%s, %s) (rate(%s{%s}[%s]))' % [cl, nl, x.raw, p.matchers([c.nodeExporterSelector, c.ibDeviceSelector]), w],
      }
      for x in ibA
    ]
    + [
      {
        record: 'node:node_infiniband_port_transmit_wait:max_rate%s' % w,
        expr: 'max by (%s, %s) (rate(node_infiniband_port_transmit_wait_total{%s}[%s]))' % [cl, nl, p.matchers([c.nodeExporterSelector, c.ibDeviceSelector]), w],
      },
    ]
    + [
      {
        // Nodes running an app's pods, one series per (node, app, role): the "scoped" IB panels.
        record: 'node_namespace_app_role:node_infiniband_%s:rate%s' % [m, w],
        expr: |||
          node:node_infiniband_%(m)s:rate%(w)s
          * on (%(cl)s, %(nl)s) group_right ()
          max by (%(cl)s, %(nl)s, namespace, app, role) (node_namespace_workload_pod:kube_pod_owner:relabel)
        ||| % { m: m, w: w, cl: cl, nl: nl },
      }
      for m in ['port_data_received_bytes', 'port_data_transmitted_bytes']
    ]
    + [
      {
        record: 'node_namespace_app_role:node_infiniband_port_transmit_wait:max_rate%s' % w,
        expr: |||
          node:node_infiniband_port_transmit_wait:max_rate%(w)s
          * on (%(cl)s, %(nl)s) group_right ()
          max by (%(cl)s, %(nl)s, namespace, app, role) (node_namespace_workload_pod:kube_pod_owner:relabel)
        ||| % { w: w, cl: cl, nl: nl },
      },
    ]
    + [
      {
        // Node-level FALLBACK attribution: every pod is given its whole node's IB traffic. Only
        // meaningful when one engine pod owns the node's HCAs (see docs/rules.md).
        record: 'namespace_workload_pod:node_infiniband_%s:node_rate%s' % [x.m, w],
        expr: |||
          node:node_infiniband_%(m)s:rate%(w)s
          * on (%(cl)s, %(nl)s) group_right ()
          node_namespace_workload_pod:kube_pod_owner:relabel
        ||| % { m: x.m, w: w, cl: cl, nl: nl },
      }
      for x in ibA
    ],

  // ---------------------------------------------------------------- InfiniBand, source (b) llm-node-exporter
  local ibB = ['port_data_received_bytes', 'port_data_transmitted_bytes', 'port_packets_received', 'port_packets_transmitted'],
  local llmSel = c.llmExporterSelector,
  local ibBRules =
    [
      {
        // Attributed by HCA: the exporter labels each RDMA port with the pod that owns it.
        record: 'namespace_pod:llm_infiniband_%s:rate%s' % [m, w],
        expr: 'sum by (%s, namespace, pod, %s) (rate(llm_infiniband_%s_total{%s}[%s]))' % [cl, nl, m, p.matchers([llmSel, 'pod!=""']), w],
      }
      for m in ibB
    ]
    + [
      {
        record: 'node:llm_infiniband_%s:rate%s' % [m, w],
        expr: 'sum by (%s, %s, link_layer) (rate(llm_infiniband_%s_total{%s}[%s]))' % [cl, nl, m, llmSel, w],
      }
      for m in ibB
    ]
    + [
      {
        // Ports no pod owns (shared HCAs, storage, attribution unknown).
        record: 'node:llm_infiniband_%s:unattributed_rate%s' % [m, w],
        expr: 'sum by (%s, %s, link_layer) (rate(llm_infiniband_%s_total{%s}[%s]))' % [cl, nl, m, p.matchers([llmSel, 'pod=""']), w],
      }
      for m in ibB
    ]
    + [
      {
        record: 'namespace_workload_pod:llm_infiniband_%s:rate%s' % [m, w],
        expr: |||
          namespace_pod:llm_infiniband_%(m)s:rate%(w)s
          * on (%(cl)s, namespace, pod) group_left (workload, app, role)
          namespace_workload_pod:kube_pod_owner:relabel
        ||| % { m: m, w: w, cl: cl },
      }
      for m in ibB
    ]
    + [
      {
        record: 'node:llm_infiniband_port_transmit_wait:max_rate%s' % w,
        expr: 'max by (%s, %s) (rate(llm_infiniband_port_transmit_wait_total{%s}[%s]))' % [cl, nl, llmSel, w],
      },
      {
        record: 'node:llm_infiniband_np_cnp_packets_sent:rate%s' % w,
        expr: 'sum by (%s, %s) (rate(llm_infiniband_np_cnp_packets_sent_total{%s}[%s]))' % [cl, nl, llmSel, w],
      },
      {
        record: 'node:llm_infiniband_out_of_buffer_drops:rate%s' % w,
        expr: 'sum by (%s, %s) (rate(llm_infiniband_out_of_buffer_drops_total{%s}[%s]))' % [cl, nl, llmSel, w],
      },
    ],

  // ---------------------------------------------------------------- pod network (cAdvisor)
  local nw = c.networkRateWindow,
  local netRules = [
    {
      record: 'namespace_pod:container_network_%s_bytes:rate%s' % [d, nw],
      expr: 'sum by (%s, namespace, pod) (rate(container_network_%s_bytes_total{pod!=""}[%s]))' % [cl, d, nw],
    }
    for d in ['receive', 'transmit']
  ],

  // ---------------------------------------------------------------- source (b): llm_engine_* / llm_gpu_*
  // CONTRACT rules: the series are specified in docs/schema.md and implemented by issues 4 and 5.
  local bPodBy = [cl, 'namespace', 'pod', 'role', 'model', 'engine'],
  local bWlBy = [cl, 'namespace', 'workload', 'app', 'role', 'model', 'engine'],
  local llmEngineRules =
    [
      {
        record: 'namespace_pod:llm_engine_%s_%s:rate%s' % [h, part, w],
        expr: 'sum by (%s) (rate(llm_engine_%s_%s{%s}[%s]))' % [p.by(bPodBy + (if h == 'stage_latency_seconds' then ['stage'] else [])), h, part, llmSel, w],
      }
      for h in ['stage_latency_seconds', 'time_to_first_token_seconds', 'inter_token_latency_seconds', 'e2e_request_latency_seconds', 'queue_time_seconds']
      for part in ['sum', 'count']
    ]
    + [
      {
        record: 'namespace_workload:llm_engine_%s_%s:rate%s' % [h, part, w],
        expr: |||
          sum by (%(by)s) (
            namespace_pod:llm_engine_%(h)s_%(part)s:rate%(w)s
            * on (%(cl)s, namespace, pod) group_left (workload, app)
            namespace_workload_pod:kube_pod_owner:relabel
          )
        ||| % { by: p.by(bWlBy + (if h == 'stage_latency_seconds' then ['stage'] else [])), h: h, part: part, w: w, cl: cl },
      }
      for h in ['stage_latency_seconds', 'time_to_first_token_seconds', 'inter_token_latency_seconds', 'e2e_request_latency_seconds', 'queue_time_seconds']
      for part in ['sum', 'count']
    ]
    + [
      {
        record: 'namespace_workload:llm_engine_%s:mean%s' % [h, w],
        expr: 'namespace_workload:llm_engine_%s_sum:rate%s / namespace_workload:llm_engine_%s_count:rate%s' % [h, w, h, w],
      }
      for h in ['stage_latency_seconds', 'time_to_first_token_seconds', 'inter_token_latency_seconds', 'e2e_request_latency_seconds', 'queue_time_seconds']
    ]
    + [
      {
        record: 'namespace_pod:llm_engine_%s:rate%s' % [k, w],
        expr: 'sum by (%s) (rate(llm_engine_%s_total{%s}[%s]))' % [p.by(bPodBy), k, llmSel, w],
      }
      for k in ['requests', 'requests_aborted', 'requests_retracted', 'prompt_tokens', 'generation_tokens', 'kv_transfer_failures', 'bootstrap_failures']
    ]
    + [
      {
        record: 'namespace_pod:llm_engine_%s:%s' % [g, op],
        expr: '%s by (%s) (llm_engine_%s{%s})' % [op, p.by(bPodBy), g, llmSel],
      }
      for g in ['requests_running', 'requests_waiting', 'kv_cache_usage_ratio']
      for op in ['sum', 'max']
    ]
    + [
      {
        record: 'namespace_pod:llm_engine_pd_queue_requests:sum',
        expr: 'sum by (%s) (llm_engine_pd_queue_requests{%s})' % [p.by(bPodBy + ['queue']), llmSel],
      },
    ],
  local llmGpuRules = [
    {
      record: 'namespace_pod:llm_gpu_utilization_ratio:avg',
      expr: 'avg by (%s, namespace, pod) (llm_gpu_utilization_ratio{%s, pod!=""})' % [cl, llmSel],
    },
    {
      record: 'namespace_pod:llm_gpu_power_watts:sum',
      expr: 'sum by (%s, namespace, pod) (llm_gpu_power_watts{%s, pod!=""})' % [cl, llmSel],
    },
    {
      record: 'namespace_pod:llm_gpu_memory_used_bytes:sum',
      expr: 'sum by (%s, namespace, pod) (llm_gpu_memory_used_bytes{%s, pod!=""})' % [cl, llmSel],
    },
    {
      record: 'node:llm_gpu_up:count',
      expr: 'count by (%s, %s) (llm_gpu_up{%s} == 1)' % [cl, nl, llmSel],
    },
  ],

  // ---------------------------------------------------------------- source (b): GPU profiling (GPM)
  // Per pod / DP rank / role efficiency. A DP rank spans its TP GPUs: the rank's value is the mean
  // over its GPUs. MIG: a GPU's instances are averaged first (avg without (gpu_instance)), so each
  // GPU weighs once. Series are absent where GPM is unsupported, so are these.
  local rankBy = [cl, 'namespace', 'pod', 'role', 'engine', 'dp_rank'],
  local wlBy = [cl, 'namespace', 'workload', 'app', 'role', 'engine'],
  local perGpu(m) = 'avg without (gpu_instance) (llm_gpu_%s{%s})' % [m, p.matchers([llmSel, 'pod!=""'])],
  local gpmRules =
    [
      {
        record: 'namespace_pod_dp_rank:llm_gpu_%s:avg' % m,
        expr: 'avg by (%s) (%s)' % [p.by(rankBy), perGpu(m)],
      }
      for m in ['tensor_active_ratio', 'dram_bandwidth_utilization_ratio', 'sm_active_ratio']
    ]
    + [
      {
        // SM activity per pod, beside namespace_pod:llm_gpu_utilization_ratio:avg (classic utilisation).
        record: 'namespace_pod:llm_gpu_sm_active_ratio:avg',
        expr: 'avg by (%s, namespace, pod) (%s)' % [cl, perGpu('sm_active_ratio')],
      },
    ]
    + [
      {
        // Per Deployment (and role): prefill tensor efficiency is {role="prefill"} of the tensor
        // series, decode memory-bandwidth utilisation {role="decode"} of the DRAM one.
        record: 'namespace_workload:llm_gpu_%s:avg' % m,
        expr: |||
          avg by (%(by)s) (
            %(gpu)s
            * on (%(cl)s, namespace, pod) group_left (workload, app)
            namespace_workload_pod:kube_pod_owner:relabel
          )
        ||| % { by: p.by(wlBy), gpu: perGpu(m), cl: cl },
      }
      for m in ['tensor_active_ratio', 'dram_bandwidth_utilization_ratio']
    ]
    + [
      {
        // GPUs per DP rank and per pod (llm_rank_info: one series per GPU).
        record: 'namespace_pod_dp_rank:llm_rank_info:count',
        expr: 'count by (%s, namespace, pod, dp_rank) (llm_rank_info{%s})' % [cl, p.matchers([llmSel, 'pod!=""'])],
      },
      {
        record: 'namespace_pod:llm_rank_info:count',
        expr: 'count by (%s, namespace, pod) (llm_rank_info{%s})' % [cl, p.matchers([llmSel, 'pod!=""'])],
      },
      {
        // Generated tokens per GPU-second of each DP rank: the rank's token rate over its GPUs.
        record: 'namespace_pod_dp_rank:llm_engine_generation_tokens_per_gpu:rate%s' % w,
        expr: |||
          sum by (%(by)s) (rate(llm_engine_generation_tokens_total{%(sel)s}[%(w)s]))
          / on (%(cl)s, namespace, pod, dp_rank) group_left ()
          namespace_pod_dp_rank:llm_rank_info:count
        ||| % { by: p.by(bPodBy + ['dp_rank']), sel: llmSel, w: w, cl: cl },
      },
      {
        // ... and per Deployment: tokens of the pods that have GPUs over those pods' GPUs.
        record: 'namespace_workload:llm_engine_generation_tokens_per_gpu:rate%s' % w,
        expr: |||
          sum by (%(by)s) (
            (namespace_pod:llm_engine_generation_tokens:rate%(w)s and on (%(cl)s, namespace, pod) namespace_pod:llm_rank_info:count)
            * on (%(cl)s, namespace, pod) group_left (workload, app)
            namespace_workload_pod:kube_pod_owner:relabel
          )
          / on (%(cl)s, namespace, workload) group_left ()
          sum by (%(cl)s, namespace, workload) (
            namespace_pod:llm_rank_info:count
            * on (%(cl)s, namespace, pod) group_left (workload)
            namespace_workload_pod:kube_pod_owner:relabel
          )
        ||| % { by: p.by(bWlBy), w: w, cl: cl },
      },
    ],

  prometheusRules+:: {
    groups+: [
      { name: 'llm-engine-latency.rules', rules: std.flattenArrays([histogramRules(h) for h in histograms]) },
      { name: 'llm-engine-sizes.rules', rules: std.flattenArrays([sizeHistogramRules(h) for h in sizeHistograms]) },
      { name: 'llm-engine-throughput.rules', rules: std.flattenArrays([counterRules(k) for k in counters]) },
      { name: 'llm-engine-state.rules', rules: rankCountRules + std.flattenArrays([gaugeRules(g) for g in gauges]) + pdQueueRules },
      { name: 'llm-engine-slo.rules', rules: burnRules + [trueTTFT] },
      { name: 'llm-lb.rules', rules: lbRules },
      { name: 'llm-kube.rules', rules: ksmRules },
      { name: 'llm-fabric-node-exporter.rules', rules: ibARules },
      { name: 'llm-fabric.rules', rules: ibBRules },
      { name: 'llm-pod-network.rules', rules: netRules },
      { name: 'llm-exporter-engine.rules', rules: llmEngineRules },
      { name: 'llm-exporter-gpu.rules', rules: llmGpuRules },
      { name: 'llm-exporter-gpm.rules', rules: gpmRules },
    ],
  },
}
