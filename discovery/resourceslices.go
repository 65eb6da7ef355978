package discovery

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// resourceSlicePaths are the ResourceSlice collections, newest API version
// first: resource.k8s.io/v1 (Kubernetes 1.34+), v1beta2 (1.33), v1beta1
// (1.32). A server that does not serve one answers 404 and the next is tried.
var resourceSlicePaths = []string{
	"/apis/resource.k8s.io/v1/resourceslices",
	"/apis/resource.k8s.io/v1beta2/resourceslices",
	"/apis/resource.k8s.io/v1beta1/resourceslices",
}

// The ResourceSlice fields read; the JSON decoder drops everything else.
type resourceSlice struct {
	Metadata struct {
		Name            string `json:"name"`
		ResourceVersion string `json:"resourceVersion,omitempty"`
	} `json:"metadata"`
	Spec struct {
		Driver   string `json:"driver"`
		NodeName string `json:"nodeName,omitempty"`
		Pool     struct {
			Name       string `json:"name"`
			Generation int64  `json:"generation"`
		} `json:"pool"`
		Devices []sliceDevice `json:"devices"`
	} `json:"spec"`
}

type sliceDevice struct {
	Name       string               `json:"name"`
	Attributes map[string]Attribute `json:"attributes,omitempty"`
	// v1beta1 nests the attributes under "basic".
	Basic *struct {
		Attributes map[string]Attribute `json:"attributes,omitempty"`
	} `json:"basic,omitempty"`
}

// Attribute is one device attribute of a ResourceSlice: exactly one of the
// fields is set.
type Attribute struct {
	String  *string `json:"string,omitempty"`
	Int     *int64  `json:"int,omitempty"`
	Bool    *bool   `json:"bool,omitempty"`
	Version *string `json:"version,omitempty"`
}

// Device is one device a DRA driver publishes for this node.
type Device struct {
	Driver, Pool, Name string
	Attributes         map[string]Attribute
}

// StringAttribute returns a string attribute by name. A name without a
// domain is the driver's own ("uuid" is also "gpu.nvidia.com/uuid"), as the
// resource.k8s.io API defines it.
func (d Device) StringAttribute(name string) (string, bool) {
	names := []string{name}
	if bare, ok := strings.CutPrefix(name, d.Driver+"/"); ok {
		names = append(names, bare)
	} else if !strings.Contains(name, "/") {
		names = append(names, d.Driver+"/"+name)
	}
	for _, n := range names {
		if a, ok := d.Attributes[n]; ok && a.String != nil {
			return *a.String, true
		}
	}
	return "", false
}

type deviceKey struct{ driver, pool, device string }

// ResourceSlices lists and then watches the ResourceSlices of one node (list
// and watch on resourceslices.resource.k8s.io, nothing more): the devices
// each DRA driver publishes, with their attributes, looked up by the
// (driver, pool, device) triple the kubelet's pod-resources API names.
type ResourceSlices struct {
	w *watcher

	mu     sync.Mutex
	slices map[string]*resourceSlice // by name
	index  map[deviceKey]Device      // rebuilt lazily after a change; nil: stale
}

// NewResourceSlices makes the watcher of node's ResourceSlices; nothing is
// read until Start.
func NewResourceSlices(client *Client, node string, logger *slog.Logger) *ResourceSlices {
	r := &ResourceSlices{slices: map[string]*resourceSlice{}}
	r.w = newWatcher(client, "resourceslices", "spec.nodeName="+node, r, logger, resourceSlicePaths...)
	return r
}

// Start runs the list+watch in the background until ctx ends (once).
func (r *ResourceSlices) Start(ctx context.Context) { r.w.start(ctx) }

// WaitSynced waits (at most timeout) for the first list.
func (r *ResourceSlices) WaitSynced(ctx context.Context, timeout time.Duration) bool {
	return r.w.waitSynced(ctx, timeout)
}

// Status is the state of the list+watch.
func (r *ResourceSlices) Status() Status { return r.w.getStatus() }

// Device returns the device of a pool of a driver. Of the slices of one
// pool, only those of its newest generation count, as the API prescribes.
func (r *ResourceSlices) Device(driver, pool, name string) (Device, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.index == nil {
		r.rebuildLocked()
	}
	d, ok := r.index[deviceKey{driver, pool, name}]
	return d, ok
}

func (r *ResourceSlices) rebuildLocked() {
	type poolKey struct{ driver, pool string }
	newest := map[poolKey]int64{}
	for _, s := range r.slices {
		k := poolKey{s.Spec.Driver, s.Spec.Pool.Name}
		if g, ok := newest[k]; !ok || s.Spec.Pool.Generation > g {
			newest[k] = s.Spec.Pool.Generation
		}
	}
	r.index = map[deviceKey]Device{}
	for _, s := range r.slices {
		if s.Spec.Pool.Generation != newest[poolKey{s.Spec.Driver, s.Spec.Pool.Name}] {
			continue
		}
		for _, d := range s.Spec.Devices {
			attrs := d.Attributes
			if attrs == nil && d.Basic != nil {
				attrs = d.Basic.Attributes
			}
			r.index[deviceKey{s.Spec.Driver, s.Spec.Pool.Name, d.Name}] = Device{Driver: s.Spec.Driver, Pool: s.Spec.Pool.Name, Name: d.Name, Attributes: attrs}
		}
	}
}

// replace implements store.
func (r *ResourceSlices) replace(items []json.RawMessage) error {
	slices := make(map[string]*resourceSlice, len(items))
	for _, raw := range items {
		var s resourceSlice
		if err := json.Unmarshal(raw, &s); err != nil {
			return err
		}
		slices[s.Metadata.Name] = &s
	}
	r.mu.Lock()
	r.slices, r.index = slices, nil
	r.mu.Unlock()
	return nil
}

// apply implements store.
func (r *ResourceSlices) apply(typ string, raw json.RawMessage) error {
	var s resourceSlice
	if err := json.Unmarshal(raw, &s); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if typ == "DELETED" {
		delete(r.slices, s.Metadata.Name)
	} else {
		r.slices[s.Metadata.Name] = &s
	}
	r.index = nil
	return nil
}
