// The seed dashboards' panels, each with the query our dashboards run instead.
//   seed       the original query (seeds/…, verbatim up to whitespace)
//   corrected  the original with its bugs fixed, on raw series, $vars kept: what the panel meant
//   new        what our dashboard runs (recorded series, or a cheap raw one)
//   status     recorded: same meaning, precomputed; fixed: the seed was wrong (see why);
//              approximated: no exact recorded equivalent (see why)
//   targets    extra [new, corrected] pairs of the same panel (quantiles, fallbacks)
// mixin/tests/seeds/panels.test.yaml (generated) checks on fixture series that new == corrected for every
// entry with a corrected query, after the recording rules ran.
local seeds = import '../seeds/pd-dashboard-queries.libsonnet';

{
  local c = $._config,
  local w = c.rateWindow,
  local cl = c.clusterLabel,
  local nl = c.nodeLabel,
  local f(s) = s % { cl: cl, w: w, nl: nl },

  // Recorded-series selectors of the PD dashboards (role fixed per panel as in the seeds).
  local E(role) = f('%(cl)s=~"$%(cl)s", namespace=~"$namespace", app=~"$app", role="' + role + '"'),
  // Raw selectors of the seeds.
  local R(role) = 'region=~"$region",job=~"$namespace/$app-' + role + '",cluster=""',
  local RS(role) = 'region=~"$region",job=~"$namespace/$app-' + role + '"',

  // needs: the optional sources (_config.sources) the panel reads; fallback: the query shown where
  // one of them is off (null: the panel is left out).
  local P(i, new, corrected=null, status='recorded', why='', unit='short', targets=[], extra={}, needs=[], fallback=null) = {
    source: 'pd-dashboard-queries.md',
    seedDashboard: seeds[i].dashboard,
    index: i,
    title: std.strReplace(seeds[i].title, '$region', '$' + cl),
    needs: needs,
    fallback: fallback,
    description: seeds[i].description,
    seed: seeds[i].query,
    corrected: if corrected == null then seeds[i].query else corrected,
    new: new,
    status: status,
    why: why,
    unit: unit,
    targets: targets,
    dashboard: if seeds[i].dashboard == 'PD Network' then 'pd-network' else 'pd-performance',
  } + extra + (if why == '' then { why: "Precomputed: reads the recorded pod/job-level series instead of every rank's raw series at each refresh." } else {}),

  // --- recorded-series query builders
  local weighted(level, h, sel, by='') =
    local b = if by == '' then '' else ' by (%s)' % by;
    'sum%s (%s:%s_sum:rate%s{%s}) / sum%s (%s:%s_count:rate%s{%s})' % [b, level, h, w, sel, b, level, h, w, sel],
  local rawWeighted(m, sel, win, by='') =
    local b = if by == '' then '' else ' by (%s)' % by;
    'sum%s (rate(%s_sum{%s}[%s])) / sum%s (rate(%s_count{%s}[%s]))' % [b, m, sel, win, b, m, sel, win],
  local perRank(g, sel, by='') =
    local b = if by == '' then '' else ' by (%s)' % by;
    'sum%s (namespace_job:%s:sum{%s}) / sum%s (namespace_job:engine_dp_ranks:count{%s})' % [b, g, sel, b, sel],
  local perRankPod(g, sel) =
    'sum by (pod) (namespace_pod:%s:sum{%s}) / sum by (pod) (namespace_pod:engine_dp_ranks:count{%s})' % [g, sel, sel],
  local quant(q, h, sel, by='le') = 'histogram_quantile(%s, sum by (%s) (namespace_job:%s_bucket:rate%s{%s}))' % [q, by, h, w, sel],
  local rawQuant(q, m, sel, win, by='le') = 'histogram_quantile(%s, sum by (%s) (rate(%s_bucket{%s}[%s])))' % [q, by, m, sel, win],

  local stage(i, role, st) = P(
    i,
    weighted('namespace_job', 'engine_stage_latency_seconds', E(role) + ', stage="%s"' % st),
    rawWeighted('sglang:per_stage_req_latency_seconds', RS(role) + ',stage="%s"' % st, '$__rate_interval'),
    'fixed',
    'Did not parse (`rate(x{...})[$__interval]`: ranges only allowed for vector selectors). Fixed as the request-weighted mean sum(rate(_sum))/sum(rate(_count)) instead of avg(rate(_sum)/rate(_count)), which is NaN as soon as one rank served no request in the window. p50/p90/p99 added from the buckets.',
    's',
    [
      [quant(q, 'engine_stage_latency_seconds', E(role) + ', stage="%s"' % st), rawQuant(q, 'sglang:per_stage_req_latency_seconds', RS(role) + ',stage="%s"' % st, '$__rate_interval')]
      for q in ['0.5', '0.9', '0.99']
    ],
  ),
  local stagePod(i, role, st) = P(
    i,
    weighted('namespace_pod', 'engine_stage_latency_seconds', E(role) + ', stage="%s"' % st, 'pod'),
    rawWeighted('sglang:per_stage_req_latency_seconds', RS(role) + ',stage="%s"' % st, '$__rate_interval', 'pod'),
    'fixed',
    "Did not parse (`rate(x{...})[$__interval]`). Fixed as the per-pod request-weighted mean over the pod's DP ranks (an idle rank no longer makes the pod NaN).",
    's',
  ),

  local ibNodeFallbackWhy = "Node-level fallback (node_exporter has no pod labels): each pod is given its node's whole IB traffic, as in the seed; exact only when one engine pod owns all HCAs of its node. The pod -> workload join is recorded once (node_namespace_workload_pod:llm_kube_pod_owner:relabel) instead of at every refresh, and covers every workload kind: pods of LeaderWorkerSets, StatefulSets, DaemonSets and bare pods, which the seed's ReplicaSet -> Deployment join drops, are counted too (same numbers where every engine is a Deployment). Target B reads the exporter's per-HCA attribution (llm_infiniband_* with pod labels), which is exact.",
  local ksmJoin(role) = 'kube_pod_info{region=~"$region"} and on (pod, namespace) (kube_pod_owner{owner_kind="ReplicaSet", region=~"$region"} and on (owner_name, namespace) label_replace(kube_replicaset_owner{owner_kind="Deployment", namespace=~"$namespace", region=~"$region", owner_name=~"$app-' + role + '"}, "owner_name", "$1", "replicaset", "(.*)"))',
  local ibAvg(i, role, m, mult) =
    local sel = f('%(cl)s=~"$%(cl)s", namespace=~"$namespace", app=~"$app", role="' + role + '"');
    local exact = f('sum by (%(cl)s, namespace, workload) (namespace_workload_pod:llm_infiniband_' + m + ':rate%(w)s{' + sel + '})' + mult + ' / count by (%(cl)s, namespace, workload) (namespace_workload_pod:llm_infiniband_' + m + ':rate%(w)s{' + sel + '})');
    P(
      i,
      f('avg by (%(cl)s, namespace) (namespace_workload_pod:node_infiniband_' + m + ':node_rate%(w)s{%(cl)s=~"$%(cl)s", namespace=~"$namespace", app=~"$app", role="' + role + '"})' + mult),
      'avg by (region, namespace) (sum by (region, node) (rate(node_infiniband_' + m + '_total{region=~"$region", device=~"mlx5_.*"}[$__rate_interval]))' + mult + ' * on (region, node) group_right () (' + ksmJoin(role) + '))',
      'fixed',
      "The seed's `group_right(pod, namespace)` copies pod and namespace from the node side, which has neither, so they are dropped and `by (region, namespace, owner_name)` collapses to one series per region (kube_pod_info has no owner_name either). Fixed: one series per (region, namespace) of the selected Deployment; irate -> rate. " + ibNodeFallbackWhy,
      if mult == ' * 8' then 'bps' else 'pps',
      [[exact, null]],
      needs=['nodeExporterInfiniBand'],
      fallback=exact,
    ),
  local ibPod(i, role, m, status) =
    local exact = f('sum by (%(cl)s, namespace, pod) (namespace_workload_pod:llm_infiniband_' + m + ':rate%(w)s{%(cl)s=~"$%(cl)s", namespace=~"$namespace", app=~"$app", role="' + role + '"}) * 8');
    P(
      i,
      f('sum by (%(cl)s, namespace, pod) (namespace_workload_pod:node_infiniband_' + m + ':node_rate%(w)s{%(cl)s=~"$%(cl)s", namespace=~"$namespace", app=~"$app", role="' + role + '"}) * 8'),
      'sum by (region, namespace, pod) (sum by (region, node) (rate(node_infiniband_' + m + '_total{region=~"$region", device=~"mlx5_.*"}[$__rate_interval])) * 8 * on (region, node) group_right () (' + ksmJoin(role) + '))',
      status,
      'The seed\'s `group_left(pod, namespace)` puts the node on the "many" side: correct while each node runs at most one selected pod, a many-to-many matching error as soon as two share a node (the fixture\'s decode pods and two prefill pods do). Joined the right way round; irate -> rate. ' + ibNodeFallbackWhy,
      'bps',
      [[exact, null]],
      needs=['nodeExporterInfiniBand'],
      fallback=exact,
    ),

  local netSel(re) = 'namespace="$namespace", pod=~"$app-' + re + '.*"',
  local net(d, re) = f('namespace_pod:container_network_' + d + '_bytes:rate' + c.networkRateWindow + '{' + netSel(re) + '}'),
  local rawNet(d, re) = 'rate(container_network_' + d + '_bytes_total{' + netSel(re) + '}[5m])',
  local netWhy = "Recorded per pod (sum over interfaces) with the seed's 5m window; the raw query is a plain regex selection, cheap already, recorded so the dashboard reads one series per pod.",

  // The seed groups by (instance, node); ours by (cluster, node): node_exporter has one instance per
  // node, so the values are the seed's. The test compares them without those labels.
  local streamWhy = "SGLang labels its token counters with is_streaming: the seed's avg(rate(x)) by (pod) averages a pod's streaming and non-streaming series, half the pod's throughput when it serves both. Fixed: the pod's tokens are summed over is_streaming (its real throughput)",
  local scopedGrouping = "Grouped by (cluster label, node) instead of the seed's (instance, node): node_exporter runs one instance per node, so the values are the same, and the recorded series carry the cluster label rather than a scrape address. Only the RDMA devices of ibDeviceSelector (mlx5_*) count, as in the seed's other IB panels (the scoped seeds count every device).",
  local scopedWhy = "The seed multiplies the node's traffic by `count by (node)(kube_pod_info{...}) > 0`, i.e. by the number of matching pods on the node: a node running two decode pods showed twice its traffic. Fixed (`and on (node)` in the corrected raw query) and recorded once per (node, app, role) in node_namespace_app_role:node_infiniband_*. " + scopedGrouping,
  local scopedNew(m, role) = f('max by (%(cl)s, %(nl)s) (node_namespace_app_role:node_infiniband_' + m + (if m == 'port_transmit_wait' then ':max_rate' else ':rate') + '%(w)s{namespace="$namespace", app=~"$app", role=~"' + role + '"})'),
  local scopedRaw(m, re, op='sum') = op + ' by (instance, node) (rate(node_infiniband_' + m + '_total[1m])) and on (node) kube_pod_info{namespace="$namespace", pod=~"$app-' + re + '.*"}',
  local scopedTest = { testNewWithout: [cl], testCorrectedWithout: ['instance'] },

  // Endpoints without a pool (prefill: the load balancer labels none) are always counted, as the
  // seed's `^$|^(...)$` does; "All" is lbPoolAllRegex, which leaves canary pools out.
  local lbSel = f('%(cl)s=~"$%(cl)s", job=~"$namespace/$app-lb", pool=~"|$pool"'),
  local lbWhy = 'The triple-nested label_replace that splits exported_endpoint="ip:port[:dp_rank]" runs once in pool_endpoint:glm_watched_endpoints:active (labels endpoint_ip, endpoint_port, dp_rank) instead of at every refresh. $pool offers the pools; endpoints without a pool are always counted (the seed\'s `^$|`), and All selects the pools of the seed\'s `($pool1);($pool2);($pool3);;;` shape (lbPoolAllRegex), not a canary pool.',

  pdPanels:: [
    P(0, 'count(group by (endpoint_ip, endpoint_port) (pool_endpoint:glm_watched_endpoints:active{%s}))' % lbSel, why=lbWhy, needs=['loadBalancer']),
    P(1, 'count by (endpoint_ip) (group by (endpoint_ip, endpoint_port) (pool_endpoint:glm_watched_endpoints:active{%s}))' % lbSel, why=lbWhy, needs=['loadBalancer'], extra={ testRelabel: { endpoint_ip: 'label0' } }),
    P(2, 'count(group by (%s) (pool_endpoint:glm_watched_endpoints:active{%s}))' % [c.lbEndpointLabel, lbSel], why=lbWhy, needs=['loadBalancer']),
    P(3, 'count by (endpoint_ip) (group by (endpoint_ip, %s) (pool_endpoint:glm_watched_endpoints:active{%s}))' % [c.lbEndpointLabel, lbSel], why=lbWhy, needs=['loadBalancer'], extra={ testRelabel: { endpoint_ip: 'label0' } }),
    P(4, weighted('namespace_job', 'engine_e2e_request_latency_seconds', E('prefill'), 'job'), unit='s', why='Already request-weighted; reads the recorded job-level rates.'),
    P(5, f('sum by (%(cl)s) (namespace_job:engine_requests:rate%(w)s{') + E('prefill') + '})', unit='reqps'),
    P(6, quant('0.99', 'engine_time_to_first_token_seconds', E('decode')), unit='s', why='In P/D the decode engine\'s TTFT excludes prefill and KV transfer; see the "P/D true TTFT (estimate)" panel.'),
    P(7, '(' + weighted('namespace_job', 'engine_time_to_first_token_seconds', E('decode'), cl) + ') * 1000', unit='ms'),
    P(8, quant('0.99', 'engine_e2e_request_latency_seconds', E('decode')), unit='s'),
    P(9, f('sum by (%(cl)s) (namespace_job:engine_requests:rate%(w)s{') + E('decode') + '})', unit='reqps'),
    P(10, '(' + weighted('namespace_job', 'engine_inter_token_latency_seconds', E('decode')) + ') * 1000', unit='ms'),
    P(11,
      '(' + weighted('namespace_job', 'engine_inter_token_latency_seconds', E('decode'), cl) + ') * 1000',
      'sum(rate(sglang:inter_token_latency_seconds_sum{region=~"$region",cluster="",job=~"$namespace/$app-decode"}[$__rate_interval])) by (region) / sum(rate(sglang:inter_token_latency_seconds_count{region=~"$region",cluster="",job=~"$namespace/$app-decode"}[$__rate_interval])) by (region) * 1000',
      'fixed',
      "A [Decode] panel that selected the prefill job ($app-prefill): it showed the prefill engine's inter-token latency.",
      'ms'),
    P(12, perRank('engine_requests_running', E('prefill'))),
    P(13, 'max by (pod) (namespace_pod:engine_requests_running:max{%s})' % E('prefill')),
    P(14, perRank('engine_requests_waiting', E('prefill'))),
    P(15, 'max by (pod) (namespace_pod:engine_requests_waiting:max{%s})' % E('prefill')),
    P(16, perRank('engine_requests_running', E('decode'))),
    P(17, 'max by (pod) (namespace_pod:engine_requests_running:max{%s})' % E('decode')),
    P(18, perRank('engine_requests_waiting', E('decode'))),
    P(19, 'max by (pod) (namespace_pod:engine_pd_queue_requests:max{%s, queue="decode_transfer"})' % E('decode')),
    P(20, perRankPod('engine_requests_waiting', E('prefill'))),
    P(21,
      'sum by (pod) (namespace_pod:engine_pd_queue_requests:sum{%s, queue="prefill_bootstrap"}) / sum by (pod) (namespace_pod:engine_dp_ranks:count{%s})' % [E('prefill'), E('prefill')],
      'avg by (pod) ({__name__=~"sglang:num_prefill_(prealloc|bootstrap)_queue_reqs",region=~"$region",job=~"$namespace/$app-prefill",cluster=""})',
      'fixed',
      'SGLang renamed num_prefill_prealloc_queue_reqs to num_prefill_bootstrap_queue_reqs (2026-05): the seed goes blank on new builds. Both names feed engine_pd_queue_requests{queue="prefill_bootstrap"}.'),
    P(22,
      'sum by (pod) (namespace_pod:engine_pd_queue_requests:sum{%s, queue="prefill_inflight"}) / sum by (pod) (namespace_pod:engine_dp_ranks:count{%s})' % [E('prefill'), E('prefill')],
      'avg by (pod) ({__name__=~"sglang:num_prefill_(inflight|infight)_queue_reqs",region=~"$region",job=~"$namespace/$app-prefill",cluster=""})',
      'fixed',
      'Builds before 2025-08 spell the gauge "infight": the seed is blank on them. Both names feed engine_pd_queue_requests{queue="prefill_inflight"}.'),
    P(23, 'sum by (pod) (namespace_pod:engine_requests_waiting:sum{%s})' % E('decode')),
    P(24, 'sum by (pod) (namespace_pod:engine_pd_queue_requests:sum{%s, queue="decode_prealloc"})' % E('decode')),
    P(25, 'sum by (pod) (namespace_pod:engine_pd_queue_requests:sum{%s, queue="decode_transfer"})' % E('decode')),
    stage(26, 'prefill', 'prefill_bootstrap'),
    stage(27, 'prefill', 'prefill_waiting'),
    stage(28, 'prefill', 'prefill_forward'),
    stage(29, 'prefill', 'prefill_transfer_kv_cache'),
    stage(30, 'decode', 'decode_prepare'),
    stage(31, 'decode', 'decode_bootstrap'),
    stage(32, 'decode', 'decode_transferred'),
    stage(33, 'decode', 'decode_waiting'),
    stagePod(34, 'prefill', 'prefill_bootstrap'),
    stagePod(35, 'prefill', 'prefill_forward'),
    stagePod(36, 'prefill', 'prefill_waiting'),
    stagePod(37, 'prefill', 'prefill_transfer_kv_cache'),
    stagePod(38, 'decode', 'decode_transferred'),
    P(39, perRank('engine_kv_cache_usage_ratio', E('prefill')), unit='percentunit'),
    P(40, perRank('engine_kv_cache_usage_ratio', E('prefill'), cl), unit='percentunit'),
    P(41, f('max by (pod, %(cl)s) (namespace_pod:engine_kv_cache_usage_ratio:max{') + E('prefill') + '})', unit='percentunit'),
    P(42, 'sum(namespace_job:engine_cached_prompt_tokens:rate%s{%s})' % [w, E('prefill')], unit='short'),
    P(43, perRank('engine_kv_cache_usage_ratio', E('decode')), unit='percentunit'),
    P(44, perRank('engine_kv_cache_usage_ratio', E('decode'), cl), unit='percentunit'),
    P(45, f('max by (pod, %(cl)s) (namespace_pod:engine_kv_cache_usage_ratio:max{') + E('decode') + '})', unit='percentunit'),
    P(46, perRank('engine_prefix_cache_hit_ratio', E('prefill')), unit='percentunit'),
    P(47, 'sum(namespace_job:engine_prompt_tokens:rate%s{%s})' % [w, E('prefill')]),
    P(48,
      f('avg by (%(cl)s) (namespace_pod:engine_prompt_tokens:rate%(w)s{') + E('prefill') + '})',
      'avg by (region) (sum by (region, pod) (rate(sglang:prompt_tokens_total{region=~"$region",job=~"$namespace/$app-prefill",cluster=""}[$__rate_interval])))',
      'fixed',
      streamWhy + ', then averaged over the pods.'),
    P(49,
      f('avg by (pod, %(cl)s) (namespace_pod:engine_prompt_tokens:rate%(w)s{') + E('prefill') + '})',
      'sum by (pod, region) (rate(sglang:prompt_tokens_total{region=~"$region",job=~"$namespace/$app-prefill",cluster=""}[$__rate_interval]))',
      'fixed',
      streamWhy + '.'),
    P(50, f('sum by (%(cl)s) (namespace_job:engine_requests_aborted:rate%(w)s{') + E('decode') + '})', unit='reqps'),
    P(51, f('sum by (%(cl)s) (namespace_job:engine_requests_aborted:rate%(w)s{') + E('prefill') + '})', unit='reqps'),
    P(52,
      'avg(namespace_pod:engine_generation_tokens:rate%s{%s})' % [w, E('decode')],
      'avg(sum by (region, pod) (rate(sglang:generation_tokens_total{region=~"$region",job=~"$namespace/$app-decode",cluster=""}[$__rate_interval])))',
      'fixed',
      streamWhy + ', then averaged over the pods.'),
    P(53, perRank('engine_generation_throughput_tokens_per_second', E('decode'), cl)),
    P(54,
      f('avg by (pod, %(cl)s) (namespace_pod:engine_generation_tokens:rate%(w)s{') + E('decode') + '})',
      'sum by (pod, region) (rate(sglang:generation_tokens_total{region=~"$region",job=~"$namespace/$app-decode",cluster=""}[$__rate_interval]))',
      'fixed',
      '"Number of decode tokens generated" but the seed rated prompt_tokens_total on the decode pods. Fixed: generation_tokens_total; and ' + std.asciiLower(streamWhy[0:1]) + streamWhy[1:] + '.'),
    P(55,
      f('sum by (%(cl)s) (namespace_job:engine_requests_retracted:rate%(w)s{') + E('decode') + '})',
      'sum(rate({__name__=~"sglang:(num_retracted_requests_total|total_retracted_reqs)",region=~"$region",job=~"$namespace/$app-decode",cluster=""}[$__rate_interval])) by (region)',
      'fixed',
      'A [Decode] panel that selected the prefill job; also follows the rename total_retracted_reqs -> num_retracted_requests_total.',
      'reqps'),
    ibAvg(56, 'prefill', 'port_data_transmitted_bytes', ' * 8'),
    ibAvg(57, 'prefill', 'port_packets_transmitted', ''),
    ibPod(58, 'prefill', 'port_data_transmitted_bytes', 'fixed'),
    P(59, perRank('engine_spec_decode_accept_length', E('decode'), cl)),
    ibAvg(60, 'decode', 'port_data_received_bytes', ' * 8'),
    ibAvg(61, 'decode', 'port_packets_received', ''),
    ibPod(62, 'decode', 'port_data_received_bytes', 'fixed'),
    P(63, perRank('engine_last_batch_queue_latency_seconds', E('prefill')), unit='s'),
    P(64, perRank('engine_last_batch_queue_latency_seconds', E('decode')), unit='s'),
    P(65,
      f('max by (%(cl)s, pod, dp_rank) (namespace_pod_dp_rank:engine_kv_cache_usage_ratio:max{') + E('decode') + '})',
      unit='percentunit',
      why='One series per DP rank either way; recorded for a uniform engine schema (vLLM ranks are its `engine` label).'),
    P(66,
      f('max by (%(cl)s, pod, dp_rank) (namespace_pod_dp_rank:engine_requests_running:max{') + E('decode') + '})',
      why='One series per DP rank either way; recorded for a uniform engine schema.'),
    // PD Network
    P(67, 'sum(%s) + sum(%s)' % [net('receive', '(decode|prefill)'), net('transmit', '(decode|prefill)')], why=netWhy, unit='Bps', needs=['cadvisor']),
    P(68, 'sum(%s)' % net('receive', '(decode|prefill)'), why=netWhy, unit='Bps', needs=['cadvisor']),
    P(69, 'sum(%s)' % net('transmit', '(decode|prefill)'), why=netWhy, unit='Bps', needs=['cadvisor']),
    P(70, 'sum(%s) / sum(%s)' % [net('receive', '(decode|prefill)'), net('transmit', '(decode|prefill)')], why=netWhy, needs=['cadvisor']),
    P(71, 'sum by (pod) (%s)' % net('receive', 'decode'), why=netWhy, unit='Bps', needs=['cadvisor']),
    P(72, 'sum by (pod) (%s)' % net('transmit', 'decode'), why=netWhy, unit='Bps', needs=['cadvisor']),
    P(73, 'sum by (pod) (%s)' % net('receive', 'prefill'), why=netWhy, unit='Bps', needs=['cadvisor']),
    P(74, 'sum by (pod) (%s)' % net('transmit', 'prefill'), why=netWhy, unit='Bps', needs=['cadvisor']),
    P(75, 'max(%s)' % net('receive', 'decode'), why=netWhy, unit='Bps', needs=['cadvisor']),
    P(76, 'max(%s)' % net('transmit', 'decode'), why=netWhy, unit='Bps', needs=['cadvisor']),
    P(77, 'max(%s)' % net('receive', 'prefill'), why=netWhy, unit='Bps', needs=['cadvisor']),
    P(78, 'max(%s)' % net('transmit', 'prefill'), why=netWhy, unit='Bps', needs=['cadvisor']),
    P(79, scopedNew('port_data_received_bytes', 'decode'), scopedRaw('port_data_received_bytes', 'decode'), 'fixed', scopedWhy, 'Bps', extra=scopedTest, needs=['nodeExporterInfiniBand']),
    P(80, scopedNew('port_data_transmitted_bytes', 'decode'), scopedRaw('port_data_transmitted_bytes', 'decode'), 'fixed', scopedWhy, 'Bps', extra=scopedTest, needs=['nodeExporterInfiniBand']),
    P(81, scopedNew('port_data_received_bytes', 'prefill'), scopedRaw('port_data_received_bytes', 'prefill'), 'fixed', scopedWhy, 'Bps', extra=scopedTest, needs=['nodeExporterInfiniBand']),
    P(82, scopedNew('port_data_transmitted_bytes', 'prefill'), scopedRaw('port_data_transmitted_bytes', 'prefill'), 'fixed', scopedWhy, 'Bps', extra=scopedTest, needs=['nodeExporterInfiniBand']),
    P(83,
      scopedNew('port_data_received_bytes', 'decode|prefill') + ' / ' + scopedNew('port_data_transmitted_bytes', 'decode|prefill'),
      'sum by (instance, node) (rate(node_infiniband_port_data_received_bytes_total[1m])) / sum by (instance, node) (rate(node_infiniband_port_data_transmitted_bytes_total[1m])) and on (node) kube_pod_info{namespace="$namespace", pod=~"$app-(decode|prefill).*"}',
      'recorded',
      'The pod-count factor of the seed cancels in the ratio; same `and on (node)` scoping as the fixed IB panels. ' + scopedGrouping,
      extra=scopedTest,
      needs=['nodeExporterInfiniBand']),
    P(84,
      scopedNew('port_transmit_wait', 'decode'),
      scopedRaw('port_transmit_wait', 'decode', 'max'),
      'fixed',
      scopedWhy,
      extra=scopedTest,
      needs=['nodeExporterInfiniBand']),
  ],
}
