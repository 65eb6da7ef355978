// Everything a user may need to adapt lives here. Override any field with
//   (import 'llm-node-exporter-mixin/mixin.libsonnet') + { _config+:: { clusterLabel: 'cluster' } }
{
  _config+:: {
    // Label that names the region / cluster in multi-cluster setups (seed dashboards: `region`).
    clusterLabel: 'region',
    // Label that carries the Kubernetes node name on node-level series (node_exporter, llm-node-exporter).
    nodeLabel: 'node',

    // --- Source (a): what users scrape today -------------------------------------------------
    // SGLang engines (prefill, decode and unified jobs). Seed jobs are named "<namespace>/<app>-<role>".
    sglangSelector: 'job=~".+-(prefill|decode)"',
    // vLLM engines. Empty matches every vllm:* series.
    vllmSelector: '',
    // Regex over the `job` label: $1 = app, $2 = role (prefill|decode). Jobs that do not match keep
    // app = job without its "<namespace>/" prefix and role = "unified".
    engineJobRegex: '(?:[^/]*/)?(.+)-(prefill|decode)',
    // Selector of the engines' scrape targets for the "engine down" alert (`up` series).
    engineUpSelector: 'job=~".+-(prefill|decode)"',
    // The in-house load balancer's watched endpoints.
    lbSelector: 'job=~".+-lb"',
    // Label holding "ip:port[:dp_rank]" (`exported_endpoint` because the Prometheus Operator's own
    // `endpoint` target label collided with it).
    lbEndpointLabel: 'exported_endpoint',
    lbEndpointRegex: '^([^:]+):([^:]+)(?::([^:]+))?$',
    // kube-state-metrics and node_exporter.
    kubeStateMetricsSelector: 'job="kube-state-metrics"',
    nodeExporterSelector: 'job="node-exporter"',
    // RDMA devices counted as the GPU fabric on node_exporter series.
    ibDeviceSelector: 'device=~"mlx5_.*"',
    // Regex over a Deployment name: $1 = app, $2 = role.
    workloadRoleRegex: '(.+)-(prefill|decode)',

    // --- Source (b): llm-node-exporter -------------------------------------------------------
    llmExporterSelector: 'job="llm-node-exporter"',

    // --- Windows ----------------------------------------------------------------------------
    // Window of every recorded rate. Must cover at least 4 scrape intervals (1m suits 15s scrapes).
    rateWindow: '1m',
    // Window of the pod network (cAdvisor) rates, as in the seed PD Network dashboard.
    networkRateWindow: '5m',

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
  },
}
