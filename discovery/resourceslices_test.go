package discovery

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/llm-node-exporter/llm-node-exporter/discovery/fakeapi"
)

const (
	uuid0   = "GPU-00000000-0000-0000-0000-000000000000"
	uuid1   = "GPU-00000000-0000-0000-0000-000000000001"
	migUUID = "MIG-5c89e5a4-31ad-5f2b-8f5d-cf2f3a7a2c11"
)

func fastSlices(t *testing.T, api *fakeapi.Server) *ResourceSlices {
	t.Helper()
	client, err := NewClient(api.Kubeconfig(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	r := NewResourceSlices(client, "n1", quiet)
	r.w.backoffMin, r.w.backoffMax = 5*time.Millisecond, 50*time.Millisecond
	return r
}

func uuidOf(t *testing.T, r *ResourceSlices, driver, pool, device string) string {
	t.Helper()
	d, ok := r.Device(driver, pool, device)
	if !ok {
		return "<none>"
	}
	u, _ := d.StringAttribute("uuid")
	return u
}

func TestResourceSlices(t *testing.T) {
	api := fakeapi.New(t, "n1", "tok")
	api.Replace(fakeapi.ResourceSlices,
		fakeapi.NewResourceSlice("n1", "gpu.nvidia.com", 1,
			fakeapi.NVIDIAGPU(0, uuid0, "0000:19:00.0"),
			fakeapi.NVIDIAMIG(1, 19, 0, 1, migUUID, uuid1, "1g.10gb")),
		// Another driver's devices: kept, looked up by their own driver.
		fakeapi.NewResourceSlice("n1", "compute-domain.nvidia.com", 1,
			fakeapi.SliceDevice{Name: "channel-0", Attributes: map[string]map[string]any{"id": {"int": 0}, "type": {"string": "channel"}}}),
	)
	r := fastSlices(t, api)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r.Start(ctx)
	if !r.WaitSynced(ctx, 10*time.Second) {
		t.Fatal("not synced")
	}
	if got := uuidOf(t, r, "gpu.nvidia.com", "n1", "gpu-0"); got != uuid0 {
		t.Errorf("gpu-0 uuid %q", got)
	}
	mig, _ := r.Device("gpu.nvidia.com", "n1", "gpu-1-mig-19-0-1")
	if u, _ := mig.StringAttribute("uuid"); u != migUUID {
		t.Errorf("MIG uuid %q", u)
	}
	if p, _ := mig.StringAttribute("gpu.nvidia.com/parentUUID"); p != uuid1 {
		t.Errorf("MIG parentUUID (qualified) %q", p)
	}
	if _, ok := mig.StringAttribute("resource.kubernetes.io/pcieRoot"); !ok {
		t.Error("a qualified attribute of another domain not found")
	}
	if _, ok := mig.StringAttribute("other.example.com/uuid"); ok {
		t.Error("another domain's attribute taken for the driver's")
	}
	if got := uuidOf(t, r, "gpu.nvidia.com", "n1", "gpu-7"); got != "<none>" {
		t.Errorf("an unpublished device: %q", got)
	}
	if _, ok := r.Device("compute-domain.nvidia.com", "n1", "channel-0"); !ok {
		t.Error("another driver's device not found")
	}

	// A MIG device created at run time is published: the watch brings it.
	waitFor(t, "the watch", func() bool { return len(api.Stats(fakeapi.ResourceSlices).Watches) == 1 })
	s := fakeapi.NewResourceSlice("n1", "gpu.nvidia.com", 2,
		fakeapi.NVIDIAGPU(0, uuid0, "0000:19:00.0"),
		fakeapi.NVIDIAMIG(1, 19, 0, 1, migUUID, uuid1, "1g.10gb"),
		fakeapi.NVIDIAMIG(1, 19, 1, 1, "MIG-new", uuid1, "1g.10gb"))
	api.Put(fakeapi.ResourceSlices, s)
	waitFor(t, "the new MIG device", func() bool { return uuidOf(t, r, "gpu.nvidia.com", "n1", "gpu-1-mig-19-1-1") == "MIG-new" })

	// A second slice of the pool at an older generation does not count.
	old := fakeapi.NewResourceSlice("n1", "gpu.nvidia.com", 1, fakeapi.NVIDIAGPU(3, "GPU-stale", "0000:5d:00.0"))
	old.Metadata.Name = "n1-gpu.nvidia.com-old"
	api.Put(fakeapi.ResourceSlices, old)
	api.Put(fakeapi.ResourceSlices, fakeapi.NewResourceSlice("n1", "compute-domain.nvidia.com", 1)) // an event after it
	waitFor(t, "the later event", func() bool { _, ok := r.Device("compute-domain.nvidia.com", "n1", "channel-0"); return !ok })
	if got := uuidOf(t, r, "gpu.nvidia.com", "n1", "gpu-3"); got != "<none>" {
		t.Errorf("a device of an old generation: %q", got)
	}

	// The driver deletes its slice.
	api.Delete(fakeapi.ResourceSlices, "", s.Metadata.Name)
	waitFor(t, "the deletion", func() bool { return uuidOf(t, r, "gpu.nvidia.com", "n1", "gpu-0") == "<none>" })
}

// A server without resource.k8s.io/v1 (Kubernetes 1.32): v1beta1, whose
// devices nest their attributes under "basic".
func TestResourceSlicesV1beta1(t *testing.T) {
	api := fakeapi.New(t, "n1", "tok")
	api.NotServed(fakeapi.ResourceSlices)
	api.NotServed("/apis/resource.k8s.io/v1beta2/resourceslices")
	var s map[string]any
	raw := `{"apiVersion":"resource.k8s.io/v1beta1","kind":"ResourceSlice","metadata":{"name":"n1-gpu.nvidia.com-abcde"},
	  "spec":{"driver":"gpu.nvidia.com","nodeName":"n1","pool":{"name":"n1","generation":1,"resourceSliceCount":1},
	  "devices":[{"name":"gpu-0","basic":{"attributes":{"uuid":{"string":"` + uuid0 + `"},"type":{"string":"gpu"}},"capacity":{"memory":{"value":"80Gi"}}}}]}}`
	if err := json.Unmarshal([]byte(raw), &s); err != nil {
		t.Fatal(err)
	}
	api.Replace("/apis/resource.k8s.io/v1beta1/resourceslices", s)
	r := fastSlices(t, api)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r.Start(ctx)
	if !r.WaitSynced(ctx, 10*time.Second) {
		t.Fatalf("not synced: %+v", r.Status())
	}
	if got := uuidOf(t, r, "gpu.nvidia.com", "n1", "gpu-0"); got != uuid0 {
		t.Errorf("gpu-0 uuid through v1beta1 %q", got)
	}
	waitFor(t, "the watch on v1beta1", func() bool {
		return len(api.Stats("/apis/resource.k8s.io/v1beta1/resourceslices").Watches) == 1
	})
}
