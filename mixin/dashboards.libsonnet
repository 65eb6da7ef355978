// Dashboards: PD Performance, PD Network, Engine (vLLM and SGLang), GPU & Fabric.
// Panels read recorded series (see panels.libsonnet for the seed panel each one replaces).
local g = import 'lib/grafana.libsonnet';

{
  local c = $._config,
  local w = c.rateWindow,
  local cl = c.clusterLabel,
  local f(s) = s % { cl: cl, w: w },

  local v = {
    region: g.queryVar(cl, 'label_values(job:engine_dp_ranks:count, %s)' % cl),
    namespace: g.queryVar('namespace', f('label_values(job:engine_dp_ranks:count{%(cl)s=~"$%(cl)s"}, namespace)')),
    app: g.queryVar('app', f('label_values(job:engine_dp_ranks:count{%(cl)s=~"$%(cl)s", namespace=~"$namespace"}, app)')),
    role: g.queryVar('role', f('label_values(job:engine_dp_ranks:count{%(cl)s=~"$%(cl)s", namespace=~"$namespace", app=~"$app"}, role)')),
    pool: g.queryVar('pool', f('label_values(pool_endpoint:glm_watched_endpoints:active{%(cl)s=~"$%(cl)s"}, pool)')),
    engine: g.queryVar('engine', f('label_values(job:engine_dp_ranks:count{%(cl)s=~"$%(cl)s"}, engine)')),
    model: g.queryVar('model_name', f('label_values(job:engine_dp_ranks:count{%(cl)s=~"$%(cl)s", namespace=~"$namespace", app=~"$app"}, model_name)'), 'model'),
    node: g.queryVar('node', f('label_values(node:llm_infiniband_port_data_received_bytes:rate%(w)s{%(cl)s=~"$%(cl)s"}, node)')),
  },

  // Legend from the first `by (...)` clause of a query.
  local legendOf(q) =
    local parts = std.split(q, 'by (');
    if std.length(parts) < 2 then ''
    else std.join(' ', ['{{%s}}' % std.stripChars(l, ' ') for l in std.split(std.split(parts[1], ')')[0], ',') if std.stripChars(l, ' ') != 'le']),

  local seedPanel(p) = g.panel(
    p.title,
    [p.new] + [t[0] for t in p.targets],
    p.unit,
    (if std.get(p, 'description', '') != '' then p.description + '\n\n' else '') + (if p.status == 'fixed' then 'Fixed: ' + p.why else p.why),
    legends=[legendOf(p.new)] + [
      if std.startsWith(t[0], 'histogram_quantile(') then 'p' + std.strReplace(std.split(std.substr(t[0], 19, 5), ',')[0], '0.', '') else 'B'
      for t in p.targets
    ],
  ),

  local PE(role) = f('%(cl)s=~"$%(cl)s", namespace=~"$namespace", app=~"$app", role="' + role + '"'),
  local pdPanels = $.pdPanels,
  local pdPerf = [p for p in pdPanels if p.dashboard == 'pd-performance'],
  local pdNet = [p for p in pdPanels if p.dashboard == 'pd-network'],
  local section(title, idx) = [g.row(title)] + [seedPanel(p) for p in pdPerf if std.member(idx, p.index)],

  local trueTTFTPanels = [
    g.panel(
      'P/D true TTFT (estimate) vs decode-reported TTFT',
      [
        f('app:engine_pd_true_ttft_seconds:mean%(w)s{%(cl)s=~"$%(cl)s", namespace=~"$namespace", app=~"$app"}'),
        f('sum by (%(cl)s, namespace, app, model_name) (job:engine_time_to_first_token_seconds_sum:rate%(w)s{') + PE('decode') + f('}) / sum by (%(cl)s, namespace, app, model_name) (job:engine_time_to_first_token_seconds_count:rate%(w)s{') + PE('decode') + '})',
      ],
      's',
      "Estimate of the client TTFT in P/D mode from engine stage means: prefill-side stages (bootstrap, waiting, forward, KV transfer) + decode-side wait for a batch slot + one decode step. The decode engine's own TTFT (B) starts when the request reached the decode engine. See docs/rules.md for how this compares with the llm-d coordinator's true_ttft.",
      legends=['true TTFT (estimate) {{app}}', 'decode-reported TTFT {{app}}'],
    ),
  ],

  grafanaDashboards+:: {
    'llm-pd-performance.json': g.dashboard(
      'LLM / PD Performance',
      'llm-pd-performance',
      section('Load balancer endpoints', std.range(0, 3))
      + [g.row('Requests and latency')] + trueTTFTPanels + [seedPanel(p) for p in pdPerf if std.member(std.range(4, 11), p.index)]
      + section('Running requests and queues', std.range(12, 25))
      + section('Per-stage latency (P/D)', std.range(26, 38))
      + section('KV cache, tokens and throughput', std.range(39, 55) + [59, 63, 64, 65, 66])
      + section('InfiniBand per deployment', [56, 57, 58, 60, 61, 62]),
      [v.region, v.namespace, v.app, v.pool],
      c.dashboardTags,
      c.dashboardRefresh,
      c.dashboardTimezone,
      'SGLang prefill/decode disaggregation: the seed "PD Performance" dashboard on recorded series.',
    ),
    'llm-pd-network.json': g.dashboard(
      'LLM / PD Network',
      'llm-pd-network',
      [g.row('Pod network (cAdvisor)')] + [seedPanel(p) for p in pdNet if p.index < 79]
      + [g.row('InfiniBand, nodes running the app (node_exporter)')] + [seedPanel(p) for p in pdNet if p.index >= 79]
      + [
        g.row('InfiniBand per pod, attributed by HCA (llm-node-exporter)'),
        g.panel('IB RX per pod (attributed)',
                [f('sum by (pod) (namespace_workload_pod:llm_infiniband_port_data_received_bytes:rate%(w)s{%(cl)s=~"$%(cl)s", namespace=~"$namespace", app=~"$app", role=~"$role"})')],
                'Bps',
                'Bytes received on the RDMA ports the exporter attributes to each pod (exact; no node-level smearing).',
                legends=['{{pod}}']),
        g.panel('IB TX per pod (attributed)', [f('sum by (pod) (namespace_workload_pod:llm_infiniband_port_data_transmitted_bytes:rate%(w)s{%(cl)s=~"$%(cl)s", namespace=~"$namespace", app=~"$app", role=~"$role"})')], 'Bps', legends=['{{pod}}']),
        g.panel('IB traffic on ports no pod owns',
                [f('sum by (node) (node:llm_infiniband_port_data_received_bytes:unattributed_rate%(w)s{%(cl)s=~"$%(cl)s"})'), f('sum by (node) (node:llm_infiniband_port_data_transmitted_bytes:unattributed_rate%(w)s{%(cl)s=~"$%(cl)s"})')],
                'Bps',
                'Shared or unattributed HCAs (storage, management, attribution unknown).',
                legends=['RX {{node}}', 'TX {{node}}']),
      ],
      [v.region, v.namespace, v.app, v.role],
      c.dashboardTags,
      c.dashboardRefresh,
      c.dashboardTimezone,
      'Pod and InfiniBand traffic of prefill/decode pods.',
    ),
    'llm-engine.json': g.dashboard(
      'LLM / Engine (vLLM and SGLang)',
      'llm-engine',
      [g.row('Latency')] + [seedPanel(p) for p in $.enginePanels if std.member(['fixed', 'recorded', 'approximated'], p.status) && p.unit == 's']
      + [g.row('Throughput, state and cache')] + [seedPanel(p) for p in $.enginePanels if p.unit != 's']
      + [
        g.row('Stages and failures'),
        g.panel('Stage latency (request-weighted mean)', [f('sum by (role, stage) (job:engine_stage_latency_seconds_sum:rate%(w)s{%(cl)s=~"$%(cl)s", namespace=~"$namespace", app=~"$app", role=~"$role", engine=~"$engine", model_name=~"$model_name"}) / sum by (role, stage) (job:engine_stage_latency_seconds_count:rate%(w)s{%(cl)s=~"$%(cl)s", namespace=~"$namespace", app=~"$app", role=~"$role", engine=~"$engine", model_name=~"$model_name"})')], 's', legends=['{{role}} {{stage}}']),
        g.panel('Aborted / retracted requests', [f('sum by (job) (job:engine_requests_aborted:rate%(w)s{%(cl)s=~"$%(cl)s", namespace=~"$namespace", app=~"$app", role=~"$role", engine=~"$engine"})'), f('sum by (job) (job:engine_requests_retracted:rate%(w)s{%(cl)s=~"$%(cl)s", namespace=~"$namespace", app=~"$app", role=~"$role", engine=~"$engine"})')], 'reqps', legends=['aborted {{job}}', 'retracted {{job}}']),
        g.panel('KV transfer / bootstrap failures', [f('sum by (job) (job:engine_kv_transfer_failures:rate%(w)s{%(cl)s=~"$%(cl)s", namespace=~"$namespace", app=~"$app", role=~"$role"})'), f('sum by (job) (job:engine_bootstrap_failures:rate%(w)s{%(cl)s=~"$%(cl)s", namespace=~"$namespace", app=~"$app", role=~"$role"})')], 'reqps', legends=['transfer {{job}}', 'bootstrap {{job}}']),
        g.panel('P/D queues', [f('sum by (job, queue) (job:engine_pd_queue_requests:sum{%(cl)s=~"$%(cl)s", namespace=~"$namespace", app=~"$app", role=~"$role"})')], 'short', legends=['{{job}} {{queue}}']),
      ],
      [v.region, v.namespace, v.app, v.role, v.engine, v.model],
      c.dashboardTags,
      c.dashboardRefresh,
      c.dashboardTimezone,
      'One dashboard for vLLM and SGLang: both are normalised into engine_* recorded series with an `engine` label.',
    ),
    'llm-gpu-fabric.json': g.dashboard(
      'LLM / GPU & Fabric',
      'llm-gpu-fabric',
      [
        g.row('GPU (llm-node-exporter)'),
        g.panel('GPU utilisation per pod', [f('namespace_pod:llm_gpu_utilization_ratio:avg{%(cl)s=~"$%(cl)s", namespace=~"$namespace"}')], 'percentunit', legends=['{{pod}}']),
        g.panel('GPU power per pod', [f('namespace_pod:llm_gpu_power_watts:sum{%(cl)s=~"$%(cl)s", namespace=~"$namespace"}')], 'watt', legends=['{{pod}}']),
        g.panel('GPU memory used per pod', [f('namespace_pod:llm_gpu_memory_used_bytes:sum{%(cl)s=~"$%(cl)s", namespace=~"$namespace"}')], 'bytes', legends=['{{pod}}']),
        g.panel('XID errors by code', [f('sum by (node, gpu, xid) (increase(llm_gpu_xid_errors_total{%(cl)s=~"$%(cl)s", node=~"$node"}[$__rate_interval]))')], 'short', legends=['{{node}} gpu{{gpu}} xid {{xid}}']),
        g.panel('Uncorrectable ECC errors', [f('sum by (node, gpu) (increase(llm_gpu_ecc_errors_total{%(cl)s=~"$%(cl)s", node=~"$node", type="uncorrected"}[$__rate_interval]))')], 'short', legends=['{{node}} gpu{{gpu}}']),
        g.panel('Clock throttling reasons active', [f('sum by (reason) (llm_gpu_clock_event_reason_active{%(cl)s=~"$%(cl)s", node=~"$node"})')], 'short', legends=['{{reason}}']),
        g.panel('GPUs up per node', [f('node:llm_gpu_up:count{%(cl)s=~"$%(cl)s", node=~"$node"}')], 'short', legends=['{{node}}']),
        g.row('GPU efficiency (GPM profiling, llm-node-exporter)'),
        g.panel('Tensor activity by role / DP rank',
                [f('namespace_pod_dp_rank:llm_gpu_tensor_active_ratio:avg{%(cl)s=~"$%(cl)s", namespace=~"$namespace"}')],
                'percentunit',
                'Share of time any tensor pipe was active (DCGM_FI_PROF_PIPE_TENSOR_ACTIVE), mean over the GPUs of each DP rank (its TP GPUs). Prefill is tensor bound: this is its efficiency. Absent on GPUs without GPM (before Hopper).',
                legends=['{{role}} {{pod}} dp{{dp_rank}}']),
        g.panel('DRAM bandwidth utilisation by role / DP rank',
                [f('namespace_pod_dp_rank:llm_gpu_dram_bandwidth_utilization_ratio:avg{%(cl)s=~"$%(cl)s", namespace=~"$namespace"}')],
                'percentunit',
                'DRAM bandwidth used over the theoretical maximum (DCGM_FI_PROF_DRAM_ACTIVE), mean over the GPUs of each DP rank. Decode is memory-bandwidth bound: this is its efficiency. One rank far from its siblings is the DP-attention straggler (LLMGPUDPRankImbalance).',
                legends=['{{role}} {{pod}} dp{{dp_rank}}']),
        g.panel('Prefill tensor efficiency / decode memory bandwidth per deployment',
                [
                  f('namespace_workload:llm_gpu_tensor_active_ratio:avg{%(cl)s=~"$%(cl)s", namespace=~"$namespace", role="prefill"}'),
                  f('namespace_workload:llm_gpu_dram_bandwidth_utilization_ratio:avg{%(cl)s=~"$%(cl)s", namespace=~"$namespace", role="decode"}'),
                ],
                'percentunit',
                'Tensor activity of the prefill Deployments and DRAM bandwidth utilisation of the decode Deployments, mean over their GPUs (each GPU once; MIG instances averaged per GPU).',
                legends=['tensor {{workload}}', 'DRAM bandwidth {{workload}}']),
        g.panel('Generated tokens per GPU-second per deployment',
                [f('namespace_workload:llm_engine_generation_tokens_per_gpu:rate%(w)s{%(cl)s=~"$%(cl)s", namespace=~"$namespace"}')],
                'short',
                "Generated tokens per second of the Deployment's engines over their GPUs (llm_rank_info); pods without attributed GPUs are left out of both.",
                legends=['{{workload}} {{role}}']),
        g.panel('Generated tokens per GPU-second per DP rank',
                [f('namespace_pod_dp_rank:llm_engine_generation_tokens_per_gpu:rate%(w)s{%(cl)s=~"$%(cl)s", namespace=~"$namespace"}')],
                'short',
                "The DP rank's generated tokens per second over the GPUs of the rank.",
                legends=['{{role}} {{pod}} dp{{dp_rank}}']),
        g.panel('SM activity vs classic GPU utilisation per pod',
                [
                  f('namespace_pod:llm_gpu_sm_active_ratio:avg{%(cl)s=~"$%(cl)s", namespace=~"$namespace"}'),
                  f('namespace_pod:llm_gpu_utilization_ratio:avg{%(cl)s=~"$%(cl)s", namespace=~"$namespace"}'),
                ],
                'percentunit',
                'Classic NVML utilisation is the share of time any kernel ran: a memory-bound decode or a rank spinning in a collective shows 100%. SM active (DCGM_FI_PROF_SM_ACTIVE) is the share of time the SMs had work resident, averaged over the SMs.',
                legends=['SM active {{pod}}', 'utilization {{pod}}']),
        g.panel('GPUs without GPM by reason',
                [f('count by (node, reason) (llm_gpu_gpm_supported{%(cl)s=~"$%(cl)s", node=~"$node"} == 0)')],
                'short',
                'GPUs whose profiling series are absent, and why (llm_gpu_gpm_supported).',
                legends=['{{node}} {{reason}}']),
        g.row('InfiniBand / RoCE (llm-node-exporter)'),
        g.panel('RX per node', [f('sum by (node, link_layer) (node:llm_infiniband_port_data_received_bytes:rate%(w)s{%(cl)s=~"$%(cl)s", node=~"$node"})')], 'Bps', legends=['{{node}} {{link_layer}}']),
        g.panel('TX per node', [f('sum by (node, link_layer) (node:llm_infiniband_port_data_transmitted_bytes:rate%(w)s{%(cl)s=~"$%(cl)s", node=~"$node"})')], 'Bps', legends=['{{node}} {{link_layer}}']),
        g.panel('Ports not ACTIVE', [f('count by (node) (llm_infiniband_state_id{%(cl)s=~"$%(cl)s", node=~"$node"} != 4)')], 'short', legends=['{{node}}']),
        g.panel('Link downed / symbol / integrity errors', [f('sum by (node, device) (increase(llm_infiniband_link_downed_total{%(cl)s=~"$%(cl)s", node=~"$node"}[$__rate_interval]))'), f('sum by (node, device) (increase(llm_infiniband_symbol_error_total{%(cl)s=~"$%(cl)s", node=~"$node"}[$__rate_interval]))'), f('sum by (node, device) (increase(llm_infiniband_local_link_integrity_errors_total{%(cl)s=~"$%(cl)s", node=~"$node"}[$__rate_interval]))')], 'short', legends=['link downed {{node}} {{device}}', 'symbol {{node}} {{device}}', 'integrity {{node}} {{device}}']),
        g.panel('Transmit wait (congestion), max port per node', [f('node:llm_infiniband_port_transmit_wait:max_rate%(w)s{%(cl)s=~"$%(cl)s", node=~"$node"}')], 'short', legends=['{{node}}']),
        g.panel('RoCE CNPs sent / out-of-buffer drops', [f('node:llm_infiniband_np_cnp_packets_sent:rate%(w)s{%(cl)s=~"$%(cl)s", node=~"$node"}'), f('node:llm_infiniband_out_of_buffer_drops:rate%(w)s{%(cl)s=~"$%(cl)s", node=~"$node"}')], 'pps', legends=['CNP {{node}}', 'out of buffer {{node}}']),
        g.row('Exporter'),
        g.panel('Collector success', [f('min by (node, collector) (llm_exporter_collector_success{%(cl)s=~"$%(cl)s", node=~"$node"})')], 'short', legends=['{{node}} {{collector}}']),
        g.panel('Collector duration', [f('max by (collector) (llm_exporter_collector_duration_seconds{%(cl)s=~"$%(cl)s", node=~"$node"})')], 's', legends=['{{collector}}']),
      ],
      [v.region, v.namespace, v.node],
      c.dashboardTags,
      c.dashboardRefresh,
      c.dashboardTimezone,
      'GPU health and the RDMA fabric from llm-node-exporter. GPU series follow the contract in docs/schema.md (issue 4).',
    ),
  },
}
