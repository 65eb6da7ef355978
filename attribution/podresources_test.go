package attribution

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	podresourcesv1 "k8s.io/kubelet/pkg/apis/podresources/v1"
)

// fixtureUUIDs are the UUIDs of the fixture node's GPUs 0-7.
var fixtureUUIDs = func() []string {
	u := make([]string, 8)
	for i := range u {
		u[i] = fmt.Sprintf("GPU-%08x-1d2b-4c3d-8e9f-0a1b2c3d4e5f", 0xc0de0000+i)
	}
	return u
}()

// fakeKubelet is a real gRPC pod-resources server on a unix socket.
type fakeKubelet struct {
	podresourcesv1.UnimplementedPodResourcesListerServer
	mu    sync.Mutex
	resp  *podresourcesv1.ListPodResourcesResponse
	calls int
	srv   *grpc.Server
	sock  string
}

func (f *fakeKubelet) List(context.Context, *podresourcesv1.ListPodResourcesRequest) (*podresourcesv1.ListPodResourcesResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	return f.resp, nil
}

func (f *fakeKubelet) set(resp *podresourcesv1.ListPodResourcesResponse) {
	f.mu.Lock()
	f.resp = resp
	f.mu.Unlock()
}

// startFakeKubelet serves resp on a socket in a temp dir; it stops at the
// end of the test (or earlier with stop).
func startFakeKubelet(t *testing.T, resp *podresourcesv1.ListPodResourcesResponse) *fakeKubelet {
	t.Helper()
	f := &fakeKubelet{resp: resp, sock: filepath.Join(t.TempDir(), "kubelet.sock")}
	lis, err := net.Listen("unix", f.sock)
	if err != nil {
		t.Fatal(err)
	}
	f.srv = grpc.NewServer()
	podresourcesv1.RegisterPodResourcesListerServer(f.srv, f)
	go func() { _ = f.srv.Serve(lis) }()
	t.Cleanup(f.stop)
	return f
}

func (f *fakeKubelet) stop() { f.srv.Stop() }

func devs(resource string, ids ...string) *podresourcesv1.ContainerDevices {
	return &podresourcesv1.ContainerDevices{ResourceName: resource, DeviceIds: ids}
}

// pdNode is the fixture node's allocation: a prefill pod on GPUs 0-3, a
// decode pod on GPUs 4-7, each with SR-IOV RDMA resources by PCI address (the
// RoCE PF functions of the fixture stand in for VFs), and pods that must not
// attribute GPUs.
func pdNode() *podresourcesv1.ListPodResourcesResponse {
	return &podresourcesv1.ListPodResourcesResponse{PodResources: []*podresourcesv1.PodResources{
		{Name: "ds-prefill-0", Namespace: "llm", Containers: []*podresourcesv1.ContainerResources{
			{Name: "sglang", Devices: []*podresourcesv1.ContainerDevices{
				devs("nvidia.com/gpu", fixtureUUIDs[0:4]...),
				devs("rdma/rdma_shared_device_a", "1"),
				devs("nvidia.com/cx7_sriov", "0000:a1:00.0"),
			}},
			{Name: "sidecar"},
		}},
		{Name: "ds-decode-0", Namespace: "llm", Containers: []*podresourcesv1.ContainerResources{
			{Name: "sglang", Devices: []*podresourcesv1.ContainerDevices{
				devs("nvidia.com/gpu", fixtureUUIDs[4:8]...),
				devs("openshift.io/mlnx_rdma", "0000:A1:00.1"),
			}},
		}},
		{Name: "coredns-7db6d8ff4d-abcde", Namespace: "kube-system", Containers: []*podresourcesv1.ContainerResources{{Name: "coredns"}}},
		// A resource outside the GPU prefixes with a GPU-looking id: not a GPU.
		{Name: "odd", Namespace: "x", Containers: []*podresourcesv1.ContainerResources{
			{Name: "c", Devices: []*podresourcesv1.ContainerDevices{devs("example.com/thing", "GPU-ffffffff-0000-0000-0000-000000000000")}},
		}},
	}}
}

func TestPodResourcesList(t *testing.T) {
	kl := startFakeKubelet(t, pdNode())
	c, err := NewPodResourcesClient(PodResourcesConfig{Socket: kl.sock, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	a, err := c.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	prefill := []Container{{"llm", "ds-prefill-0", "sglang"}}
	decode := []Container{{"llm", "ds-decode-0", "sglang"}}
	want := Allocations{DRA: []ClaimDevice{}, GPUs: map[string][]Container{}, PCI: map[string][]Container{
		"0000:a1:00.0": prefill,
		"0000:a1:00.1": decode,
	}}
	for i, u := range fixtureUUIDs {
		want.GPUs[u] = prefill
		if i >= 4 {
			want.GPUs[u] = decode
		}
	}
	if !reflect.DeepEqual(a, want) {
		t.Errorf("List =\n%+v\nwant\n%+v", a, want)
	}
}

func TestAllocationsSharedAndMIG(t *testing.T) {
	resp := &podresourcesv1.ListPodResourcesResponse{PodResources: []*podresourcesv1.PodResources{
		{Name: "a", Namespace: "ns", Containers: []*podresourcesv1.ContainerResources{
			{Name: "c", Devices: []*podresourcesv1.ContainerDevices{
				devs("nvidia.com/gpu.shared", "GPU-aaaa::0", "GPU-aaaa::1"),
				devs("nvidia.com/mig-1g.10gb", "MIG-1111"),
			}},
		}},
		{Name: "b", Namespace: "ns", Containers: []*podresourcesv1.ContainerResources{
			{Name: "c", Devices: []*podresourcesv1.ContainerDevices{devs("nvidia.com/gpu.shared", "GPU-aaaa::2")}},
		}},
	}}
	a, _ := allocationsOf(context.Background(), resp, []string{"nvidia.com/gpu", "nvidia.com/mig-"})
	want := map[string][]Container{
		"GPU-aaaa": {{"ns", "a", "c"}, {"ns", "b", "c"}},
		"MIG-1111": {{"ns", "a", "c"}},
	}
	if !reflect.DeepEqual(a.GPUs, want) {
		t.Errorf("GPUs = %v; want %v", a.GPUs, want)
	}
	// Only exact nvidia.com/gpu: the MIG resource is not selected.
	a, _ = allocationsOf(context.Background(), resp, []string{"nvidia.com/gpu"})
	if _, ok := a.GPUs["MIG-1111"]; ok {
		t.Error("MIG resource attributed without its prefix configured")
	}
}

// bigNode is a reply larger than gRPC's default 4 MiB receive limit.
func bigNode() *podresourcesv1.ListPodResourcesResponse {
	resp := pdNode()
	for i, size := 0, proto.Size(resp); size < 6<<20; i++ {
		pod := &podresourcesv1.PodResources{
			Name:      fmt.Sprintf("batch-job-%06d-%s", i, strings.Repeat("x", 40)),
			Namespace: "tenant-" + strings.Repeat("n", 30),
		}
		for j := range 4 {
			pod.Containers = append(pod.Containers, &podresourcesv1.ContainerResources{
				Name:   fmt.Sprintf("worker-%d", j),
				CpuIds: []int64{1, 2, 3, 4, 5, 6, 7, 8},
				Devices: []*podresourcesv1.ContainerDevices{
					devs("example.com/fpga", fmt.Sprintf("fpga-%06d-%d-%s", i, j, strings.Repeat("f", 100))),
				},
			})
		}
		resp.PodResources = append(resp.PodResources, pod)
		size += proto.Size(pod) + 4 // the field tag and length of each pod
	}
	return resp
}

func TestPodResourcesListOver4MiB(t *testing.T) {
	resp := bigNode()
	kl := startFakeKubelet(t, resp)
	c, err := NewPodResourcesClient(PodResourcesConfig{Socket: kl.sock})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	a, err := c.List(context.Background())
	if err != nil {
		t.Fatalf("List of a %d-byte reply: %v", proto.Size(resp), err)
	}
	if got := a.GPUs[fixtureUUIDs[7]]; len(got) != 1 || got[0].Pod != "ds-decode-0" {
		t.Errorf("GPU 7 in the big reply: %v", got)
	}
	// The test is only worth something if gRPC's default limit would fail.
	small, err := NewPodResourcesClient(PodResourcesConfig{Socket: kl.sock, MaxRecvMsgSize: 4 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer small.Close()
	if _, err := small.List(context.Background()); err == nil || !strings.Contains(err.Error(), "ResourceExhausted") {
		t.Errorf("List with a 4 MiB limit: %v, want ResourceExhausted", err)
	}
}

func TestPodResourcesKubeletDown(t *testing.T) {
	c, err := NewPodResourcesClient(PodResourcesConfig{Socket: filepath.Join(t.TempDir(), "missing.sock"), Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	if _, err := c.List(context.Background()); err == nil {
		t.Fatal("List on a missing socket succeeded")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("List on a missing socket took %v, beyond its timeout", d)
	}
}

func TestRDMADevicesForPCI(t *testing.T) {
	for addr, want := range map[string][]string{
		"0000:18:00.0": {"mlx5_0"},
		"0000:a1:00.1": {"mlx5_9"},
		"0000:19:00.0": nil, // a GPU
		"0000:ff:00.0": nil, // nothing there
	} {
		if got := RDMADevicesForPCI("../testdata/sys", addr); !reflect.DeepEqual(got, want) {
			t.Errorf("RDMADevicesForPCI(%s) = %v; want %v", addr, got, want)
		}
	}
}
