// Package attribution ties each GPU and each RDMA (InfiniBand/RoCE) device
// of a Kubernetes node to the workload that uses it: namespace, pod,
// container, engine (sglang|vllm), P/D role (prefill|decode|unified),
// dp_rank and tp_rank. Unknown is always "", never a guess. The rules are in
// docs/attribution.md.
//
// Sources, all read in the background by a Cache, never on the scrape path:
//
//   - NVML, through a GPULister the gpu collector implements: GPU index,
//     UUID, PCI bus id and the host PIDs of its compute processes;
//   - the kubelet pod-resources API (PodResourcesClient): which container
//     holds which GPU/MIG UUID and which PCI device (SR-IOV VFs → RDMA
//     devices through rdmamap);
//   - /proc/<pid> (ProcReader): process title → engine and ranks, cgroup →
//     pod UID and container id, launcher command line → P/D role;
//   - the PCIe tree in sysfs (PairRDMADevices): each RDMA device's GPU under
//     the same PCIe switch.
//
// Wiring, in the exporter:
//
//	kc, err := attribution.NewPodResourcesClient(attribution.PodResourcesConfig{Socket: *socket})
//	cache := attribution.New(attribution.Config{Sysfs: *sysfs, Procfs: *procfs, Interval: *every, Logger: logger}, nil, kc)
//	gpuCollector := gpu.New(gpu.Config{Attributor: cache.GPUAttributor(), ...}, logger)
//	cache.SetGPULister(gpuCollector) // implements ListGPUs(ctx) ([]attribution.GPU, error)
//	ibCollector := infiniband.New(paths, infiniband.Config{Attributor: cache.PortAttributor()}, logger)
//	go cache.Run(ctx)
//
// At scrape time: GPUAttributor.AppendGPULabels and
// PortAttributor.AppendPortLabels (one atomic load and one map lookup, no
// allocation), Snapshot().GPUs() for an llm_rank_info series, and Health()
// for llm_exporter_attribution_cache_age_seconds (now − LastSuccess) and
// llm_exporter_attribution_refresh_errors_total{source} (Errors, by Sources).
package attribution
