package fakeapi

import "fmt"

// Object builders in the API's JSON shape (core/v1 Pod, resource.k8s.io/v1
// ResourceSlice), with the fields the exporter reads and a few it must skip.

// Pod is a core/v1 Pod.
type Pod struct {
	APIVersion string    `json:"apiVersion"`
	Kind       string    `json:"kind"`
	Metadata   Meta      `json:"metadata"`
	Spec       PodSpec   `json:"spec"`
	Status     PodStatus `json:"status"`
}

// Meta is an object's metadata.
type Meta struct {
	Name              string            `json:"name"`
	Namespace         string            `json:"namespace,omitempty"`
	UID               string            `json:"uid,omitempty"`
	ResourceVersion   string            `json:"resourceVersion,omitempty"`
	DeletionTimestamp *string           `json:"deletionTimestamp,omitempty"`
	Annotations       map[string]string `json:"annotations,omitempty"`
	Labels            map[string]string `json:"labels,omitempty"`
}

// PodSpec is the part of a pod's spec the exporter reads.
type PodSpec struct {
	NodeName   string      `json:"nodeName"`
	Containers []Container `json:"containers"`
}

// Container is one container of a pod's spec.
type Container struct {
	Name  string `json:"name"`
	Image string `json:"image,omitempty"`
	Ports []Port `json:"ports,omitempty"`
}

// Port is a declared container port.
type Port struct {
	Name          string `json:"name,omitempty"`
	ContainerPort int    `json:"containerPort"`
	Protocol      string `json:"protocol,omitempty"`
}

// PodStatus is the part of a pod's status the exporter reads.
type PodStatus struct {
	Phase             string            `json:"phase"`
	PodIP             string            `json:"podIP,omitempty"`
	ContainerStatuses []ContainerStatus `json:"containerStatuses,omitempty"`
}

// ContainerStatus names a running container's id ("containerd://<id>").
type ContainerStatus struct {
	Name        string `json:"name"`
	ContainerID string `json:"containerID,omitempty"`
	Ready       bool   `json:"ready"`
}

// NewPod is a running pod of node with one container; containerID may be
// "" (not started yet).
func NewPod(namespace, name, uid, node, ip, container, containerID string) *Pod {
	p := &Pod{
		APIVersion: "v1", Kind: "Pod",
		Metadata: Meta{Name: name, Namespace: namespace, UID: uid},
		Spec:     PodSpec{NodeName: node, Containers: []Container{{Name: container, Image: "lmsysorg/sglang:v0.5.4"}}},
		Status:   PodStatus{Phase: "Running", PodIP: ip},
	}
	if containerID != "" {
		p.Status.ContainerStatuses = []ContainerStatus{{Name: container, ContainerID: "containerd://" + containerID, Ready: true}}
	}
	return p
}

// ResourceSlice is a resource.k8s.io/v1 ResourceSlice.
type ResourceSlice struct {
	APIVersion string            `json:"apiVersion"`
	Kind       string            `json:"kind"`
	Metadata   Meta              `json:"metadata"`
	Spec       ResourceSliceSpec `json:"spec"`
}

// ResourceSliceSpec is a slice's spec.
type ResourceSliceSpec struct {
	Driver   string        `json:"driver"`
	NodeName string        `json:"nodeName,omitempty"`
	Pool     Pool          `json:"pool"`
	Devices  []SliceDevice `json:"devices"`
}

// Pool names a slice's pool.
type Pool struct {
	Name               string `json:"name"`
	Generation         int64  `json:"generation"`
	ResourceSliceCount int64  `json:"resourceSliceCount"`
}

// SliceDevice is one published device.
type SliceDevice struct {
	Name       string                    `json:"name"`
	Attributes map[string]map[string]any `json:"attributes,omitempty"`
	Capacity   map[string]map[string]any `json:"capacity,omitempty"`
}

// NewResourceSlice is one slice of node's pool (named after the node, as
// the NVIDIA driver names it) of a driver.
func NewResourceSlice(node, driver string, generation int64, devices ...SliceDevice) *ResourceSlice {
	return &ResourceSlice{
		APIVersion: "resource.k8s.io/v1", Kind: "ResourceSlice",
		Metadata: Meta{Name: fmt.Sprintf("%s-%s-x7k2p", node, driver)},
		Spec: ResourceSliceSpec{Driver: driver, NodeName: node,
			Pool: Pool{Name: node, Generation: generation, ResourceSliceCount: 1}, Devices: devices},
	}
}

// NVIDIAGPU is a full GPU as the NVIDIA DRA driver for GPUs (gpu.nvidia.com,
// release v25.3.2) publishes it: device "gpu-<minor>" with these attributes
// (its cmd/gpu-kubelet-plugin/deviceinfo.go, and a `kubectl get
// resourceslices -o yaml` of that release).
func NVIDIAGPU(minor int, uuid, pciBusID string) SliceDevice {
	return SliceDevice{
		Name: fmt.Sprintf("gpu-%d", minor),
		Attributes: map[string]map[string]any{
			"architecture":                    {"string": "Hopper"},
			"brand":                           {"string": "Nvidia"},
			"cudaComputeCapability":           {"version": "9.0.0"},
			"cudaDriverVersion":               {"version": "12.4.0"},
			"driverVersion":                   {"version": "550.54.15"},
			"index":                           {"int": minor},
			"minor":                           {"int": minor},
			"pcieBusID":                       {"string": pciBusID},
			"productName":                     {"string": "NVIDIA H100 80GB HBM3"},
			"resource.kubernetes.io/pcieRoot": {"string": "pci0000:15"},
			"type":                            {"string": "gpu"},
			"uuid":                            {"string": uuid},
		},
		Capacity: map[string]map[string]any{"memory": {"value": "80Gi"}},
	}
}

// NVIDIAMIG is a MIG device as the same release publishes it (device
// "gpu-<minor>-mig-<profileId>-<start>-<size>", MIG mode set up before the
// driver started).
func NVIDIAMIG(parentMinor, profileID, start, size int, uuid, parentUUID, profile string) SliceDevice {
	return SliceDevice{
		Name: fmt.Sprintf("gpu-%d-mig-%d-%d-%d", parentMinor, profileID, start, size),
		Attributes: map[string]map[string]any{
			"architecture":                    {"string": "Hopper"},
			"brand":                           {"string": "Nvidia"},
			"cudaComputeCapability":           {"version": "9.0.0"},
			"cudaDriverVersion":               {"version": "12.4.0"},
			"driverVersion":                   {"version": "550.54.15"},
			"index":                           {"int": 0},
			"parentIndex":                     {"int": parentMinor},
			"parentUUID":                      {"string": parentUUID},
			"pcieBusID":                       {"string": "0000:19:00.0"},
			"productName":                     {"string": "NVIDIA H100 80GB HBM3"},
			"profile":                         {"string": profile},
			"type":                            {"string": "mig"},
			"uuid":                            {"string": uuid},
			"resource.kubernetes.io/pcieRoot": {"string": "pci0000:15"},
		},
		Capacity: map[string]map[string]any{"memory": {"value": "9856Mi"}, "multiprocessors": {"value": "16"}},
	}
}

// NVIDIADynamicMIG is an abstract MIG device of release v25.12.0's dynamic
// MIG (partitionable devices): named "gpu-<minor>-mig-<profile>-<profileId>-<start>",
// with the parent's UUID but no UUID of its own (the MIG device is created
// when a claim is prepared).
func NVIDIADynamicMIG(parentMinor int, profile string, profileID, start int, parentUUID string) SliceDevice {
	return SliceDevice{
		Name: fmt.Sprintf("gpu-%d-mig-%s-%d-%d", parentMinor, profile, profileID, start),
		Attributes: map[string]map[string]any{
			"architecture":                    {"string": "Hopper"},
			"brand":                           {"string": "Nvidia"},
			"cudaComputeCapability":           {"version": "9.0.0"},
			"cudaDriverVersion":               {"version": "12.4.0"},
			"driverVersion":                   {"version": "550.54.15"},
			"parentUUID":                      {"string": parentUUID},
			"productName":                     {"string": "NVIDIA H100 80GB HBM3"},
			"profile":                         {"string": profile},
			"resource.kubernetes.io/pciBusID": {"string": "0000:19:00.0"},
			"type":                            {"string": "mig"},
		},
		Capacity: map[string]map[string]any{"memory": {"value": "9856Mi"}, "multiprocessors": {"value": "16"}},
	}
}
