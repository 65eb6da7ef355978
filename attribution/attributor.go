package attribution

import "github.com/llm-node-exporter/llm-node-exporter/discovery"

// labelNames are the workload labels and the configured opt-in ones.
func (o LabelOptions) labelNames() []string {
	names := append([]string(nil), WorkloadLabelNames...)
	if o.PodUID {
		names = append(names, "pod_uid")
	}
	if o.Claim {
		names = append(names, "claim_namespace", "claim_name")
	}
	return names
}

// appendLabels appends a device's label values in labelNames order.
func (o LabelOptions) appendLabels(dst []string, w Workload, id Identity) []string {
	dst = w.AppendLabels(dst)
	if o.PodUID {
		uid := id.PodUID
		if w.Pod == "" {
			uid = "" // a pod UID without its pod is a half answer
		}
		dst = append(dst, uid)
	}
	if o.Claim {
		dst = append(dst, id.Claim.Namespace, id.Claim.Name)
	}
	return dst
}

// LabelNames are the labels GPU series get: WorkloadLabelNames and the
// configured opt-in ones.
func (c *Cache) LabelNames() []string { return c.cfg.Labels.labelNames() }

// GPUAttributor labels GPU series from a Cache; it implements the gpu
// collector's Attributor (LabelNames, AppendGPULabels).
type GPUAttributor struct{ c *Cache }

// GPUAttributor returns the adapter for the gpu collector.
func (c *Cache) GPUAttributor() GPUAttributor { return GPUAttributor{c} }

// LabelNames returns the cache's LabelNames.
func (a GPUAttributor) LabelNames() []string { return a.c.LabelNames() }

// AppendGPULabels appends the label values of the GPU with this UUID (""
// for each when unknown).
func (a GPUAttributor) AppendGPULabels(dst []string, uuid string) []string {
	g, _ := a.c.Snapshot().GPU(uuid)
	return a.c.cfg.Labels.appendLabels(dst, g.Workload, g.Identity)
}

// PortAttributor labels InfiniBand/RoCE port series from a Cache; it
// implements the infiniband collector's Attributor (LabelNames,
// AppendPortLabels). Every port of an RDMA device gets the device's labels.
type PortAttributor struct{ c *Cache }

// PortAttributor returns the adapter for the infiniband collector.
func (c *Cache) PortAttributor() PortAttributor { return PortAttributor{c} }

// LabelNames returns the cache's LabelNames and gpu, the index of the
// paired GPU.
func (a PortAttributor) LabelNames() []string { return append(a.c.LabelNames(), "gpu") }

// AppendPortLabels appends the label values of an RDMA device's port (""
// for each when unknown).
func (a PortAttributor) AppendPortLabels(dst []string, device, _ string) []string {
	r, _ := a.c.Snapshot().RDMA(device)
	return append(a.c.cfg.Labels.appendLabels(dst, r.Workload, r.Identity), r.GPU)
}

// TargetAttributor labels engine targets from a Cache; it implements the
// engine collector's Attributor: the namespace, pod and container of the
// process listening on a target's port, and its engine and role, for the
// URLs of Config.Targets.
type TargetAttributor struct{ c *Cache }

// TargetAttributor returns the adapter for the engine collector.
func (c *Cache) TargetAttributor() TargetAttributor { return TargetAttributor{c} }

// TargetLabels returns what the cache learnt of a target's listener.
func (a TargetAttributor) TargetLabels(url string) (discovery.Labels, bool) {
	return a.c.Snapshot().Target(url)
}
