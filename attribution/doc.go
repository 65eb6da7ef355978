// Package attribution ties each GPU, MIG device and RDMA (InfiniBand/RoCE)
// device of a Kubernetes node, and each static engine target, to the
// workload that uses it: namespace, pod, container, engine (sglang|vllm),
// P/D role (prefill|decode|unified), dp_rank and tp_rank, and opt-in the
// pod's UID and the DRA claim. Unknown is always "", never a guess. The
// rules are in docs/attribution.md.
//
// Sources, all read in the background by a Cache, never on the scrape path:
//
//   - NVML, through a GPULister the gpu collector implements: GPU index,
//     UUID, PCI bus id, compute PIDs, and the MIG devices of the moment;
//   - the kubelet pod-resources API (PodResourcesClient): which container
//     holds which GPU/MIG UUID and PCI device (device plugins), and which
//     DRA claim's devices (driver, pool, device), resolved to GPUs through
//     this node's ResourceSlices (a DeviceLookup: discovery.ResourceSlices);
//   - /proc/<pid> (ProcReader, every read deadline-bound): process title →
//     engine and ranks, cgroup → pod UID and container id, launcher command
//     line → P/D role; /proc/net/tcp and fds → the process behind a target;
//   - this node's pods (a PodLookup: discovery.Pods): pod UID → pod, for
//     GPUs no device list names (the cgroup path);
//   - the PCIe tree in sysfs (PairRDMADevices): each RDMA device's GPU under
//     the same PCIe switch.
//
// Wiring, in the exporter:
//
//	kc, err := attribution.NewPodResourcesClient(attribution.PodResourcesConfig{Socket: *socket})
//	cache := attribution.New(attribution.Config{Sysfs: *sysfs, Procfs: *procfs, Pods: pods, Slices: slices,
//		Drivers: attribution.DefaultDRADrivers, Targets: urls, Logger: logger}, nil, kc)
//	gpuCollector := gpu.New(gpu.Config{Attributor: cache.GPUAttributor(), ...}, logger)
//	cache.SetGPULister(gpuCollector) // implements ListGPUs(ctx) ([]attribution.GPU, error)
//	ibCollector := infiniband.New(paths, infiniband.Config{Attributor: cache.PortAttributor()}, logger)
//	engineCollector := engine.New(engine.Config{Attributor: cache.TargetAttributor(), ...}, logger)
//	go cache.Run(ctx) // nothing waits for the first refresh
//
// At scrape time: GPUAttributor.AppendGPULabels and
// PortAttributor.AppendPortLabels (one atomic load and one map lookup, no
// allocation), Snapshot().GPUs() and MIGs() for llm_rank_info and
// llm_mig_rank_info, and Health() for the self-metrics.
package attribution
