// Everything a user may need to adapt lives here. The defaults are the generic profile: a cluster
// that runs llm-node-exporter, kube-state-metrics and the engines (SGLang, vLLM), labelled
// `cluster` as kubernetes-mixin does. profiles/seeds.libsonnet is the other profile (the seed
// dashboards' setup: `region`, node_exporter, cAdvisor and an in-house load balancer). Override
// any field with
//   (import 'llm-node-exporter-mixin/mixin.libsonnet') + { _config+:: { clusterLabel: 'k8s_cluster' } }
{
  _config+:: {
    // --- Labels ------------------------------------------------------------------------------
    // Label that names the cluster in multi-cluster setups (kubernetes-mixin's `cluster`). Every
    // recorded series keeps it; a federated or multi-cluster back end must keep it too.
    clusterLabel: 'cluster',
    // Label that carries the Kubernetes node name on node-level series (llm-node-exporter,
    // node_exporter): the PodMonitor / ServiceMonitor relabels __meta_kubernetes_pod_node_name to it.
    nodeLabel: 'node',
    // kube-state-metrics's own name for a pod's node on kube_pod_info (it is always `node`).
    kubeStateMetricsNodeLabel: 'node',

    // --- Sources -----------------------------------------------------------------------------
    // llm-node-exporter, kube-state-metrics and the engines are always read. The others are
    // switched on where they are scraped: no rule reads a source that is off, and dashboard rows
    // that only show it are left out.
    sources: {
      // node_exporter's infiniband collector (node_infiniband_*): the node-level fallback
      // attribution of the seed panels. The exporter's per-HCA attribution replaces it.
      nodeExporterInfiniBand: false,
      // cAdvisor's pod network counters (container_network_*_bytes_total).
      cadvisor: false,
      // An in-house load balancer's watched endpoints (glm_watched_endpoints).
      loadBalancer: false,
      // The inference gateway's endpoint picker (Gateway API Inference Extension EPP, llm-d's
      // router): per virtual model and adapter requests, errors, latency and tokens (the LoRA
      // canary rules, alerts and dashboard).
      inferenceGateway: true,
      // ASM's LLM proxy token counters (asm_llm_proxy_prompt_tokens / _completion_tokens).
      asmProxy: true,
    },

    // --- Source (a): the engines as Prometheus scrapes them ----------------------------------
    // SGLang engines. Empty matches every sglang:* series.
    sglangSelector: '',
    // vLLM engines. Empty matches every vllm:* series.
    vllmSelector: '',
    // Regex over the `job` label: $1 = app, $2 = role (prefill|decode). Jobs that do not match keep
    // app = job without its "<namespace>/" prefix (a PodMonitor's job is "<namespace>/<name>").
    engineJobRegex: '(?:[^/]*/)?(.+)-(prefill|decode)',
    // Engine label that names the P/D role of a series (SGLang: engine_type = unified | prefill |
    // decode); its prefill / decode win over the job name. Empty: the role comes from the job only.
    // A series with neither gets role "unified".
    engineRoleLabel: 'engine_type',
    // Selector of the engines' own scrape targets for LLMEngineDown (`up` series). Empty: the
    // targets of the jobs that recorded engine DP ranks in the last hour. The alert also reads
    // llm_engine_up, llm-node-exporter's view of the engines it scrapes.
    engineUpSelector: '',
    // kube-state-metrics.
    kubeStateMetricsSelector: 'job="kube-state-metrics"',
    // Regex over a workload's name: $1 = app, $2 = role. Workloads that do not match get app = the
    // workload's name and no role.
    workloadRoleRegex: '(.+)-(prefill|decode)',
    // kube_pod_labels label that names a pod's LeaderWorkerSet (kube-state-metrics exports the pod
    // label leaderworkerset.sigs.k8s.io/name under this name once it is allow-listed; see
    // docs/install.md). Without it, LWS pods are joined to their StatefulSets.
    lwsNameLabel: 'label_leaderworkerset_sigs_k8s_io_name',

    // --- Source (a), optional ----------------------------------------------------------------
    nodeExporterSelector: 'job="node-exporter"',
    // RDMA devices counted as the GPU fabric on node_exporter series.
    ibDeviceSelector: 'device=~"mlx5_.*"',
    cadvisorSelector: 'pod!=""',
    // The load balancer's watched endpoints.
    lbSelector: 'job=~".+-lb"',
    // Label holding "ip:port[:dp_rank]".
    lbEndpointLabel: 'exported_endpoint',
    lbEndpointRegex: '^([^:]+):([^:]+)(?::([^:]+))?$',
    // Pools the dashboards' "All" of $pool counts. Endpoints without a pool (the load balancer
    // puts none on prefill endpoints) are always counted, as in the seed's `^$|^(...)$`.
    lbPoolAllRegex: '.+',

    // --- Source (a): the inference gateway (docs/lora-canary.md) ------------------------------
    // The endpoint picker's own scrape (its ServiceMonitor / PodMonitor). Empty matches every
    // inference_model_*, inference_objective_* and llm_d_epp_* series.
    gatewaySelector: '',
    // Labels that tell one endpoint picker process apart: a release that prints a family under its
    // new and its old name is counted once per process (the newest name wins).
    gatewayInstanceLabels: ['job', 'instance'],
    // ASM's LLM proxy (the gateway's Envoy, /stats/prometheus) and the label that names the model
    // (the adapter that served the request) on its token counters.
    asmProxySelector: '',
    asmModelLabel: 'llmproxy_model',
    // LoRA canary releases: which adapter of a virtual model (the gateway's model_name) is the
    // stable one and which are canaries.
    //   'traffic': the stable adapter is the one with the largest share of the model's requests
    //              over loraStableWindow (the InferenceModel's heaviest weight); every other adapter
    //              with traffic is a canary. Nothing to maintain; at a 50/50 split the roles swap.
    //   'regex':   adapters whose name matches loraCanaryAdapterRegex are canaries; the busiest of
    //              the others is the stable one.
    loraReleaseBy: 'traffic',
    loraStableWindow: '1h',
    loraCanaryAdapterRegex: '.+-canary|.+-next',
    // A canary is worse than the stable adapter of its model when its p99 latency or TTFT is more
    // than this fraction above the stable one's (0.2: 20 % slower) ...
    loraCanaryLatencyMargin: 0.2,
    // ... or its error ratio more than this many ratio points above (0.01: one percentage point),
    loraCanaryErrorMargin: 0.01,
    // ... while it serves at least this many requests per second (fewer make a noisy p99),
    loraCanaryMinRequestsPerSecond: 0.05,
    // ... for this long.
    loraCanaryFor: '10m',
    // An adapter waiting on some pod and running on none for this long.
    loraAdapterNotRunningFor: '10m',

    // --- Source (b): llm-node-exporter -------------------------------------------------------
    llmExporterSelector: 'job="llm-node-exporter"',

    // --- Windows ----------------------------------------------------------------------------
    // Window of every recorded rate. Must cover at least 4 scrape intervals (1m suits 15s scrapes).
    rateWindow: '1m',
    // Window of the pod network (cAdvisor) rates, as in the seed PD Network dashboard.
    networkRateWindow: '5m',
    // Windows of the request-availability ratios (multi-window burn-rate alerts). They are computed
    // from the recorded rateWindow rates summed over the window, never from raw counters.
    burnWindows: ['5m', '30m', '1h', '6h'],

    // --- Alert thresholds -------------------------------------------------------------------
    ttftP99ThresholdSeconds: 5,
    itlP99ThresholdSeconds: 0.2,
    e2eP99ThresholdSeconds: 120,
    // Availability SLO of requests (aborted requests count against it) for the burn-rate alerts.
    requestAvailabilitySLO: 0.99,
    kvCacheFullRatio: 0.95,
    queueBacklogRequests: 50,
    abortedRatioThreshold: 0.05,
    retractedRatioThreshold: 0.1,
    kvTransferFailuresPer10m: 5,
    symbolErrorsPer10m: 10,
    // PortXmitWait ticks per second above which a port counts as congested (fabric-specific).
    transmitWaitTicksPerSecond: 5e6,
    cnpPacketsPerSecond: 20000,
    attributionStaleSeconds: 600,
    // GPU profiling (GPM): a GPU counts as idle below this SM-active ratio (no warp resident on any
    // SM 99% of the time) ...
    gpuIdleSMActiveRatio: 0.01,
    // ... and LLMGPUIdleWhileServing fires when it stays idle this long while its engine has running
    // requests.
    gpuIdleFor: '15m',
    // LLMGPUDPRankImbalance: a DP rank's DRAM bandwidth or tensor activity differs from the mean of
    // its sibling ranks in the same pod by more than this (absolute, in ratio points 0-1) ...
    dpRankImbalanceRatio: 0.25,
    // ... for this long.
    dpRankImbalanceFor: '15m',
    // KV transfer against the fabric (P/D; llm-kv-fabric.alerts). LLMKVTransferSlowFabricCongested:
    // a DP rank's KV transfer p99 above this ...
    kvTransferSlowP99Seconds: 1,
    // ... while the RDMA ports paired with its GPUs send or handle more CNPs per second than this
    // (summed over the rank's ports) ...
    kvFabricCNPPacketsPerSecond: 1000,
    // ... for this long.
    kvFabricSlowFor: '10m',
    // LLMKVTransferErrors: more KV transfer errors of one kind (failed, expired, timed out, failed
    // bootstrap) per pod in 10 minutes than this, for kvTransferErrorsFor.
    kvTransferErrorsPer10m: 5,
    kvTransferErrorsFor: '10m',
    // LLMKVArrivalBehindSiblings: a decode DP rank receives KV at less than this fraction of the mean
    // rate of its sibling ranks in the same pod ...
    kvArrivalBehindRatio: 0.5,
    // ... while those receive at least this many bytes per second (idle pods are not compared) ...
    kvArrivalMinBytesPerSecond: 1e8,
    // ... for this long.
    kvArrivalBehindFor: '15m',
    // Peak dense (no sparsity) BF16/FP16 tensor FLOP/s of one GPU, keyed by llm_gpu_info's `name`
    // exactly as NVML prints it (nvidia-smi --query-gpu=name). MFU = the engine's estimated FLOP rate
    // per GPU over this. NVIDIA's datasheets print the tensor figures with sparsity (marked *); the
    // dense figure is half of it. Add the GPUs of your fleet here; a GPU missing from the table has no
    // MFU series. The entries are checked by mixin/peakflops_test.go.
    gpuPeakFLOPS: {
      // H100 SXM5: BF16 Tensor Core 1,979 TFLOPS* (NVIDIA H100 Tensor Core GPU datasheet,
      // https://www.nvidia.com/en-us/data-center/h100/).
      'NVIDIA H100 80GB HBM3': { flops: 1979e12 / 2, source: 'https://www.nvidia.com/en-us/data-center/h100/' },
      // H100 PCIe: 1,513 TFLOPS* (same datasheet).
      'NVIDIA H100 PCIe': { flops: 1513e12 / 2, source: 'https://www.nvidia.com/en-us/data-center/h100/' },
      // H100 NVL: 1,671 TFLOPS* (same datasheet).
      'NVIDIA H100 NVL': { flops: 1671e12 / 2, source: 'https://www.nvidia.com/en-us/data-center/h100/' },
      // H200 SXM: 1,979 TFLOPS* (NVIDIA H200 Tensor Core GPU datasheet,
      // https://www.nvidia.com/en-us/data-center/h200/).
      'NVIDIA H200': { flops: 1979e12 / 2, source: 'https://www.nvidia.com/en-us/data-center/h200/' },
      // H200 NVL: 1,671 TFLOPS* (same datasheet).
      'NVIDIA H200 NVL': { flops: 1671e12 / 2, source: 'https://www.nvidia.com/en-us/data-center/h200/' },
      // H20: FP16/BF16 Tensor Core 148 TFLOPS, dense (NVIDIA H20 product brief; the part is sold in
      // China only and has no page on nvidia.com/en-us).
      'NVIDIA H20': { flops: 148e12, source: 'NVIDIA H20 product brief' },
      // B200 (HGX B200, 8 GPUs): FP16/BF16 Tensor Core 36 PFLOPS* for 8 GPUs, 4.5 PFLOPS* per GPU
      // (https://www.nvidia.com/en-us/data-center/hgx/).
      'NVIDIA B200': { flops: 4.5e15 / 2, source: 'https://www.nvidia.com/en-us/data-center/hgx/' },
      // A100 SXM4 and PCIe, 40 and 80 GB: BF16 Tensor Core 312 TFLOPS dense, 624* (NVIDIA A100
      // Tensor Core GPU datasheet, https://www.nvidia.com/en-us/data-center/a100/).
      'NVIDIA A100-SXM4-80GB': { flops: 624e12 / 2, source: 'https://www.nvidia.com/en-us/data-center/a100/' },
      'NVIDIA A100-SXM4-40GB': { flops: 624e12 / 2, source: 'https://www.nvidia.com/en-us/data-center/a100/' },
      'NVIDIA A100 80GB PCIe': { flops: 624e12 / 2, source: 'https://www.nvidia.com/en-us/data-center/a100/' },
      'NVIDIA A100-PCIE-40GB': { flops: 624e12 / 2, source: 'https://www.nvidia.com/en-us/data-center/a100/' },
      // L40S: BF16 Tensor Core 362.05 TFLOPS dense, 733* (NVIDIA L40S datasheet,
      // https://www.nvidia.com/en-us/data-center/l40s/).
      'NVIDIA L40S': { flops: 362.05e12, source: 'https://www.nvidia.com/en-us/data-center/l40s/' },
      // L40: BF16 Tensor Core 181.05 TFLOPS dense, 362.1* (NVIDIA L40 datasheet,
      // https://www.nvidia.com/en-us/data-center/l40/).
      'NVIDIA L40': { flops: 181.05e12, source: 'https://www.nvidia.com/en-us/data-center/l40/' },
      // L4: BF16 Tensor Core 242 TFLOPS* (NVIDIA L4 datasheet, https://www.nvidia.com/en-us/data-center/l4/).
      'NVIDIA L4': { flops: 242e12 / 2, source: 'https://www.nvidia.com/en-us/data-center/l4/' },
      // A10: BF16 Tensor Core 125 TFLOPS dense, 250* (NVIDIA A10 datasheet,
      // https://www.nvidia.com/en-us/data-center/products/a10-gpu/).
      'NVIDIA A10': { flops: 250e12 / 2, source: 'https://www.nvidia.com/en-us/data-center/products/a10-gpu/' },
    },
    // XID classes (https://docs.nvidia.com/deploy/xid-errors/).
    xidHardware: '48|63|64|74|79|92|94|95|119|120|121|140',
    xidApplication: '13|31|43|45',

    // --- Alert presentation -----------------------------------------------------------------
    runbookURLPattern: 'https://github.com/llm-node-exporter/llm-node-exporter/blob/main/docs/runbooks.md#%s',
    // Default `for:` of symptom alerts; long enough not to flap on a single bad scrape.
    forDuration: '10m',

    // --- Dashboards -------------------------------------------------------------------------
    dashboardTags: ['llm-node-exporter'],
    dashboardRefresh: '30s',
    dashboardTimezone: 'utc',
    // The Prometheus data source the dashboards open with (a name, or 'default' for Grafana's
    // default data source) and the regex that limits the data source picker ('' = any).
    grafanaDatasource: 'default',
    grafanaDatasourceRegex: '',
  },
}
