package attribution

// PortLabelNames are the labels PortAttributor adds to InfiniBand/RoCE port
// series: the workload labels plus gpu, the index of the paired GPU.
var PortLabelNames = append(append([]string(nil), WorkloadLabelNames...), "gpu")

// GPUAttributor labels GPU series from a Cache; it implements the gpu
// collector's Attributor (LabelNames, AppendGPULabels).
type GPUAttributor struct{ c *Cache }

// GPUAttributor returns the adapter for the gpu collector.
func (c *Cache) GPUAttributor() GPUAttributor { return GPUAttributor{c} }

// LabelNames returns WorkloadLabelNames.
func (GPUAttributor) LabelNames() []string { return append([]string(nil), WorkloadLabelNames...) }

// AppendGPULabels appends the workload label values of the GPU with this
// UUID ("" for each when unknown).
func (a GPUAttributor) AppendGPULabels(dst []string, uuid string) []string {
	g, _ := a.c.Snapshot().GPU(uuid)
	return g.Workload.AppendLabels(dst)
}

// PortAttributor labels InfiniBand/RoCE port series from a Cache; it
// implements the infiniband collector's Attributor (LabelNames,
// AppendPortLabels). Every port of an RDMA device gets the device's labels.
type PortAttributor struct{ c *Cache }

// PortAttributor returns the adapter for the infiniband collector.
func (c *Cache) PortAttributor() PortAttributor { return PortAttributor{c} }

// LabelNames returns PortLabelNames.
func (PortAttributor) LabelNames() []string { return append([]string(nil), PortLabelNames...) }

// AppendPortLabels appends the label values of an RDMA device's port ("" for
// each when unknown).
func (a PortAttributor) AppendPortLabels(dst []string, device, _ string) []string {
	r, _ := a.c.Snapshot().RDMA(device)
	return append(r.Workload.AppendLabels(dst), r.GPU)
}
