// Synthetic input series shared by the promtool tests of the panels (tests/*/panels.test.yaml) and
// of the fixes: a P/D SGLang app "chat" (2 prefill + 2 decode pods, 2 DP ranks each, TP duplicates on
// decode; token and request counters split by is_streaming as SGLang's tokenizer labels them), a
// vLLM app "llama" (2 pods, 2 DP ranks, one on pre-V1 metric names), the load balancer (two pools and
// endpoints without a pool), kube-state-metrics, node_exporter and llm-node-exporter InfiniBand
// series and cAdvisor network. Counters grow linearly (one step = 15s), so every rate over any
// window is exact. function(c): labelled with the profile's cluster and node labels.
function(c)
  local cl = c.clusterLabel;
  local nl = c.nodeLabel;
  local knl = c.kubeStateMetricsNodeLabel;
  local steps = 40;
  local lbl(o) = '{' + std.join(', ', ['%s="%s"' % [k, o[k]] for k in std.objectFields(o)]) + '}';
  local counter(name, labels, inc) = { series: name + lbl(labels), values: '0+%sx%d' % [inc, steps] };
  local gauge(name, labels, v) = { series: name + lbl(labels), values: '%sx%d' % [v, steps] };
  local les = ['0.05', '0.1', '0.5', '1', '5', '+Inf'];
  local shape = [0.1, 0.3, 0.6, 0.8, 0.95, 1];
  local skewed = [0.4, 0.7, 0.9, 0.95, 0.99, 1];
  // A histogram whose count grows by n per step with mean m.
  local histogram(name, labels, n, m, sh=shape) =
    [counter(name + '_bucket', labels { le: les[i] }, n * sh[i]) for i in std.range(0, 5)]
    + [counter(name + '_sum', labels, n * m), counter(name + '_count', labels, n)];

  local region = 'r1';
  local ns = 'ns1';

  local sglangPods = [
    { pod: 'chat-prefill-0', role: 'prefill', node: 'n1', idx: 0, rs: 'chat-prefill-7f9c' },
    { pod: 'chat-prefill-1', role: 'prefill', node: 'n2', idx: 1, rs: 'chat-prefill-7f9c' },
    { pod: 'chat-decode-0', role: 'decode', node: 'n3', idx: 2, rs: 'chat-decode-5b6d' },
    { pod: 'chat-decode-1', role: 'decode', node: 'n3', idx: 3, rs: 'chat-decode-5b6d' },
  ];
  local stages = {
    prefill: ['prefill_bootstrap', 'prefill_waiting', 'prefill_forward', 'prefill_transfer_kv_cache'],
    decode: ['decode_prepare', 'decode_bootstrap', 'decode_transferred', 'decode_waiting'],
  };
  local sgBase(p) = { [cl]: region, namespace: ns, job: ns + '/chat-' + p.role, pod: p.pod, instance: p.pod + ':30000', model_name: 'glm', engine_type: p.role };
  // TP ranks exporting each DP rank's per-request histograms (decode: TP2 per DP rank, duplicated).
  local tpRanks(p, d) = if p.role == 'decode' then [2 * d, 2 * d + 1] else [d];
  // chat-prefill-1's DP rank 1 served no request in the window: the case that makes avg(rate/rate) NaN.
  local idle(p, d) = p.pod == 'chat-prefill-1' && d == 1;

  local sglang = std.flattenArrays([
    // scheduler: per-stage latency per DP rank (and TP duplicates)
    std.flattenArrays([
      histogram('sglang:per_stage_req_latency_seconds',
                sgBase(p) { dp_rank: '%d' % d, tp_rank: '%d' % t, stage: stages[p.role][s] },
                if idle(p, d) then 0 else 4 + 2 * p.idx + d + s,
                0.05 + 0.1 * s + 0.07 * p.idx + 0.03 * d)
      for d in [0, 1]
      for t in tpRanks(p, d)
      for s in std.range(0, 3)
    ])
    // tokenizer: per-request histograms and counters per pod
    + histogram('sglang:time_to_first_token_seconds', sgBase(p), 5 + p.idx, 0.3 + 0.1 * p.idx)
    + histogram('sglang:e2e_request_latency_seconds', sgBase(p), 5 + p.idx, 2 + 0.5 * p.idx)
    + histogram('sglang:inter_token_latency_seconds', sgBase(p), 50 + 7 * p.idx, 0.02 + 0.01 * p.idx)
    + histogram('sglang:queue_time_seconds', sgBase(p), 5 + p.idx, 0.1 + 0.05 * p.idx)
    // Per-request counters carry is_streaming (SGLang's tokenizer labels each request): a pod
    // serving both kinds has two series, in a 3:1 ratio here.
    + std.flattenArrays([
      [
        counter('sglang:num_requests_total', sgBase(p) { is_streaming: st[0] }, (5 + p.idx) * st[1]),
        counter('sglang:prompt_tokens_total', sgBase(p) { is_streaming: st[0] }, (500 + 10 * p.idx) * st[1]),
        counter('sglang:generation_tokens_total', sgBase(p) { is_streaming: st[0] }, (50 + 3 * p.idx) * st[1]),
      ] + (if p.role == 'prefill' then [counter('sglang:cached_tokens_total', sgBase(p) { is_streaming: st[0] }, (100 + p.idx) * st[1])] else [])
      for st in [['true', 0.75], ['false', 0.25]]
    ])
    + [counter('sglang:num_aborted_requests_total', sgBase(p), 0.5 + 0.25 * p.idx)]
    // scheduler gauges and counters per DP rank
    + std.flattenArrays([
      local l = sgBase(p) { dp_rank: '%d' % d, tp_rank: '%d' % d };
      local r = 2 * p.idx + d;
      [
        gauge('sglang:num_running_reqs', l, 10 + r),
        gauge('sglang:num_queue_reqs', l, 3 * r),
        gauge('sglang:token_usage', l, 0.4 + 0.05 * r),
        gauge('sglang:cache_hit_rate', l, 0.2 + 0.03 * r),
        gauge('sglang:gen_throughput', l, 100 + 10 * r),
        gauge('sglang:spec_accept_length', l, 1.5 + 0.1 * r),
        gauge('sglang:avg_request_queue_latency', l, 0.01 * (r + 1)),
        // decode-1 runs an old build: total_retracted_reqs
        counter(if p.pod == 'chat-decode-1' then 'sglang:total_retracted_reqs' else 'sglang:num_retracted_requests_total', l, 0.1 * (r + 1)),
        counter('sglang:num_transfer_failed_reqs_total', l, 0.01 * r),
        counter('sglang:num_bootstrap_failed_reqs_total', l, 0.02 * r),
      ] + (
        if p.role == 'prefill' then [
          // prefill-1 runs an old build: prealloc / infight names
          gauge(if p.idx == 0 then 'sglang:num_prefill_bootstrap_queue_reqs' else 'sglang:num_prefill_prealloc_queue_reqs', l, 1 + r),
          gauge(if p.idx == 0 then 'sglang:num_prefill_inflight_queue_reqs' else 'sglang:num_prefill_infight_queue_reqs', l, 2 + r),
        ] else [
          gauge('sglang:num_decode_prealloc_queue_reqs', l, 4 + r),
          gauge('sglang:num_decode_transfer_queue_reqs', l, 5 + r),
        ]
      )
      for d in [0, 1]
    ])
    + [gauge('up', { [cl]: region, namespace: ns, job: ns + '/chat-' + p.role, pod: p.pod, instance: p.pod + ':30000' }, 1)]
    for p in sglangPods
  ]);

  local vllmPods = [{ pod: 'llama-0', idx: 0, old: false }, { pod: 'llama-1', idx: 1, old: true }];
  local vBase(p, e) = { [cl]: region, namespace: ns, job: ns + '/llama', pod: p.pod, instance: p.pod + ':8000', model_name: 'llama', engine: '%d' % e };
  local vllm = std.flattenArrays([
    local r = 2 * p.idx + e;
    local l = vBase(p, e);
    histogram('vllm:e2e_request_latency_seconds', l, 4 + r, 3 + 0.5 * r)
    + histogram('vllm:time_to_first_token_seconds', l, 4 + r, 0.2 + 0.05 * r)
    + histogram(if p.old then 'vllm:time_per_output_token_seconds' else 'vllm:inter_token_latency_seconds', l, 40 + 5 * r, 0.03 + 0.005 * r, if p.old then skewed else shape)
    + histogram('vllm:request_queue_time_seconds', l, 4 + r, 0.05 + 0.02 * r)
    + histogram('vllm:request_prefill_time_seconds', l, 4 + r, 0.1 + 0.03 * r)
    + histogram('vllm:request_decode_time_seconds', l, 4 + r, 2 + 0.4 * r)
    + histogram('vllm:request_prompt_tokens', l, 4 + r, 300 + 20 * r)
    + histogram('vllm:request_generation_tokens', l, 4 + r, 100 + 10 * r)
    + histogram('vllm:request_max_num_generation_tokens', l, 4 + r, 120 + 10 * r)
    + [
      counter('vllm:request_success_total', l { finished_reason: 'stop' }, 3 + r),
      counter('vllm:request_success_total', l { finished_reason: 'length' }, 1),
      counter('vllm:request_success_total', l { finished_reason: 'abort' }, 0.1 * (r + 1)),
      counter('vllm:prompt_tokens_total', l, 400 + 10 * r),
      counter('vllm:generation_tokens_total', l, 60 + 5 * r),
      counter('vllm:num_preemptions_total', l, 0.05 * (r + 1)),
      counter('vllm:iteration_tokens_total_count', l, 8 + r),
      gauge('vllm:num_requests_running', l, 6 + r),
      gauge('vllm:num_requests_waiting', l, r),
      gauge(if p.old then 'vllm:gpu_cache_usage_perc' else 'vllm:kv_cache_usage_perc', l, 0.5 + 0.1 * r),
      gauge('vllm:num_requests_swapped', l, r % 2),
      gauge('vllm:cpu_cache_usage_perc', l, 0.01 * r),
    ]
    for p in vllmPods
    for e in [0, 1]
  ]);

  // The load balancer on 4 nodes: prefill endpoints without a pool label (10.0.0.1, 10.0.0.2, two DP
  // ranks each), a decode endpoint in the default pool (10.0.0.3), a decode endpoint in a canary pool
  // (10.0.0.5, a trailing field of the pool set), an inactive endpoint (10.0.0.4). The seed's
  // `^$|^(p1);(p2);(p3);;;$` counts 3 instances (10.0.0.1-3); `pool=~".*"` would count the canary too.
  local lbBase = { [cl]: region, job: ns + '/chat-lb', namespace: ns };
  local defaultPool = { pool: 'p1;p2;p3;;;' };
  local canaryPool = { pool: 'p1;p2;p3;canary;;' };
  local lb = [
    gauge('glm_watched_endpoints', lbBase { instance: 'lb-0', exported_endpoint: e[0] } + e[2], e[1])
    for e in [['10.0.0.1:30000:0', 1, {}], ['10.0.0.1:30000:1', 1, {}], ['10.0.0.2:30000:0', 1, {}], ['10.0.0.2:30000:1', 1, {}], ['10.0.0.3:30001', 1, defaultPool], ['10.0.0.5:30002:0', 1, canaryPool], ['10.0.0.4:30000:0', 0, defaultPool]]
  ] + [gauge('glm_watched_endpoints', lbBase { instance: 'lb-1', exported_endpoint: '10.0.0.1:30000:0' }, 1)];

  local ksmBase = { [cl]: region, job: 'kube-state-metrics', namespace: ns };
  local otherPods = [{ pod: 'other-0', node: 'n1', rs: 'other-66f8' }];
  // A prefill pod still starting on n1 beside chat-prefill-0 (kube-state-metrics knows it, its engine
  // exports nothing yet): two of the app's prefill pods on one node.
  local startingPods = [{ pod: 'chat-prefill-2', node: 'n1', rs: 'chat-prefill-7f9c' }];
  local ksm = std.flattenArrays([
    [
      gauge('kube_pod_owner', ksmBase { pod: p.pod, owner_kind: 'ReplicaSet', owner_name: p.rs, owner_is_controller: 'true' }, 1),
      gauge('kube_pod_info', ksmBase { pod: p.pod, [knl]: p.node, created_by_kind: 'ReplicaSet', created_by_name: p.rs }, 1),
    ]
    for p in sglangPods + otherPods + startingPods
  ]) + [
    gauge('kube_replicaset_owner', ksmBase { replicaset: rs[0], owner_kind: 'Deployment', owner_name: rs[1], owner_is_controller: 'true' }, 1)
    for rs in [['chat-prefill-7f9c', 'chat-prefill'], ['chat-decode-5b6d', 'chat-decode'], ['other-66f8', 'other']]
  ];

  local nodes = ['n1', 'n2', 'n3', 'n4'];
  local nodeExporter = std.flattenArrays([
    local n = std.parseInt(std.substr(node, 1, 1));
    local l = { [cl]: region, job: 'node-exporter', [nl]: node, instance: node + ':9100', device: 'mlx5_%d' % d, port: '1' };
    [
      counter('node_infiniband_port_data_received_bytes_total', l, 1e8 * (n + d)),
      counter('node_infiniband_port_data_transmitted_bytes_total', l, 2e8 * (n + d)),
      counter('node_infiniband_port_packets_received_total', l, 1e5 * (n + d)),
      counter('node_infiniband_port_packets_transmitted_total', l, 2e5 * (n + d)),
      counter('node_infiniband_port_transmit_wait_total', l, 1e3 * (n + 2 * d)),
    ]
    for node in nodes
    for d in [0, 1]
  ]);

  // llm-node-exporter: HCAs attributed to the pods that own them.
  local hcas = [
    { node: 'n1', device: 'mlx5_0', pod: 'chat-prefill-0', namespace: ns, inc: 3e8 },
    { node: 'n1', device: 'mlx5_1', pod: 'other-0', namespace: ns, inc: 1e8 },
    { node: 'n1', device: 'mlx5_2', pod: '', namespace: '', inc: 5e7 },
    { node: 'n2', device: 'mlx5_0', pod: 'chat-prefill-1', namespace: ns, inc: 2e8 },
    { node: 'n3', device: 'mlx5_0', pod: 'chat-decode-0', namespace: ns, inc: 4e8 },
    { node: 'n3', device: 'mlx5_1', pod: 'chat-decode-1', namespace: ns, inc: 6e8 },
  ];
  local llmIB = std.flattenArrays([
    local l = { [cl]: region, job: 'llm-node-exporter', [nl]: h.node, instance: h.node + ':9836', device: h.device, port: '1', link_layer: 'InfiniBand', namespace: h.namespace, pod: h.pod, container: if h.pod == '' then '' else 'engine', dp_rank: '', gpu: '' };
    [
      counter('llm_infiniband_port_data_received_bytes_total', l, h.inc),
      counter('llm_infiniband_port_data_transmitted_bytes_total', l, 2 * h.inc),
      counter('llm_infiniband_port_packets_received_total', l, h.inc / 1000),
      counter('llm_infiniband_port_packets_transmitted_total', l, h.inc / 500),
    ]
    for h in hcas
  ]);

  local cadvisor = std.flattenArrays([
    local l = { [cl]: region, job: 'kubelet', namespace: ns, pod: p.pod, interface: i };
    local k = std.length(p.pod) + (if i == 'eth0' then 0 else 7);
    [
      counter('container_network_receive_bytes_total', l, 1e6 * k),
      counter('container_network_transmit_bytes_total', l, 2e6 * k + 1e5),
    ]
    for p in sglangPods + otherPods
    for i in ['eth0', 'net1']
  ]);

  // Targets that are not engines (the seed's "Targets up" counts them too).
  local otherUp = [gauge('up', { [cl]: region, job: 'kube-state-metrics', instance: 'ksm-0:8080' }, 1)];

  {
    steps: steps,
    series: sglang + vllm + lb + ksm + nodeExporter + llmIB + cadvisor + otherUp,
    // The dashboards' variables in the tests; $pool is "All" (the seed's default pools).
    vars: { [cl]: '.*', namespace: 'ns1', app: 'chat', pool: c.lbPoolAllRegex, pool1: 'p1', pool2: 'p2', pool3: 'p3', role: '.*', engine: '.*', model_name: '.*' },
  }
