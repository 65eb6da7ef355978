package attribution

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	podresourcesv1 "k8s.io/kubelet/pkg/apis/podresources/v1"

	"github.com/llm-node-exporter/llm-node-exporter/discovery"
	"github.com/llm-node-exporter/llm-node-exporter/discovery/fakeapi"
)

const (
	node        = "gpu-node-1"
	draDriver   = "gpu.nvidia.com"
	decodeClaim = "ds-decode-0-gpus-7xk2p"
)

// apiServer is the fake API server with the fixture's pods A (prefill) and B
// (decode) and the NVIDIA DRA driver's ResourceSlice of the node's 8 GPUs,
// and the cache's views of both.
type apiServer struct {
	*fakeapi.Server
	pods   *discovery.Pods
	slices *discovery.ResourceSlices
}

func startAPI(t *testing.T) *apiServer {
	t.Helper()
	api := fakeapi.New(t, node, "exporter-token")
	api.Replace(fakeapi.Pods,
		fakeapi.NewPod("llm", "ds-prefill-0", aUID, node, "10.1.0.10", "sglang", aCID),
		fakeapi.NewPod("llm", "ds-decode-0", bUID, node, "10.1.0.11", "sglang", bCID))
	var devs []fakeapi.SliceDevice
	for i, u := range fixtureUUIDs {
		devs = append(devs, fakeapi.NVIDIAGPU(i, u, strings.ToLower(fixtureGPUs[i])))
	}
	api.Replace(fakeapi.ResourceSlices, fakeapi.NewResourceSlice(node, draDriver, 1, devs...),
		// A NIC DRA driver's RoCE VF, with the standard PCI address attribute.
		fakeapi.NewResourceSlice(node, "sriovnetwork.k8snetworkplumbingwg.io", 1, fakeapi.SliceDevice{
			Name:       "0000-a1-00-1",
			Attributes: map[string]map[string]any{"resource.kubernetes.io/pciBusID": {"string": "0000:a1:00.1"}, "vendor": {"string": "15b3"}},
		}))
	client, err := discovery.NewClient(api.Kubeconfig(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	a := &apiServer{Server: api, pods: discovery.NewPods(client, node, nil), slices: discovery.NewResourceSlices(client, node, nil)}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	a.pods.Start(ctx)
	a.slices.Start(ctx)
	if !a.pods.WaitSynced(ctx, 10*time.Second) || !a.slices.WaitSynced(ctx, 10*time.Second) {
		t.Fatal("the fake API server was not listed")
	}
	return a
}

// claimOf is a DynamicResource of the kubelet's reply: the claim's devices
// of the NVIDIA driver's pool of this node.
func claimOf(namespace, name, driver string, devices ...string) *podresourcesv1.DynamicResource {
	dr := &podresourcesv1.DynamicResource{ClaimName: name, ClaimNamespace: namespace}
	for _, d := range devices {
		dr.ClaimResources = append(dr.ClaimResources, &podresourcesv1.ClaimResource{
			DriverName: driver, PoolName: node, DeviceName: d,
			CdiDevices: []*podresourcesv1.CDIDevice{{Name: "k8s." + driver + "/claim=" + d}},
		})
	}
	return dr
}

// mixedNode is the fixture node with the prefill pod's GPUs 0-3 from the
// device plugin and the decode pod's GPUs 4-7 (and its RoCE VF) from DRA
// claims.
func mixedNode() *podresourcesv1.ListPodResourcesResponse {
	resp := pdNode()
	decode := resp.PodResources[1].Containers[0]
	decode.Devices = nil
	decode.DynamicResources = []*podresourcesv1.DynamicResource{
		claimOf("llm", decodeClaim, draDriver, "gpu-4", "gpu-5", "gpu-6", "gpu-7"),
		claimOf("llm", "ds-decode-0-rdma-9qz4d", "sriovnetwork.k8snetworkplumbingwg.io", "0000-a1-00-1"),
	}
	return resp
}

func draCache(t *testing.T, gpus GPULister, kl AllocationLister, api *apiServer, proc string, opts LabelOptions) *Cache {
	t.Helper()
	cfg := Config{Sysfs: "../testdata/sys", Procfs: proc, Drivers: DefaultDRADrivers, Labels: opts}
	if api != nil {
		cfg.Pods, cfg.Slices = api.pods, api.slices
	}
	return New(cfg, gpus, kl)
}

// On a node mixing device-plugin and DRA GPUs every GPU and HCA is
// attributed as on a device-plugin node, the DRA ones with their claim.
func TestCacheDRANode(t *testing.T) {
	api := startAPI(t)
	kl := startFakeKubelet(t, mixedNode())
	c := draCache(t, pdGPUs(), kubeletClient(t, kl.sock), api, "testdata/proc", LabelOptions{PodUID: true, Claim: true})
	c.Refresh(context.Background())
	wantGPUs, wantRDMA := pdWant()
	for i := 4; i < 8; i++ {
		wantGPUs[i].Claim = Claim{"llm", decodeClaim}
		wantRDMA[i].Claim = wantGPUs[i].Claim
	}
	wantRDMA[9].Claim, wantRDMA[9].PodUID = Claim{"llm", "ds-decode-0-rdma-9qz4d"}, bUID
	wantRDMA[8].PodUID = aUID
	if got := c.Snapshot().GPUs(); !reflect.DeepEqual(got, wantGPUs) {
		t.Errorf("GPUs =\n%+v\nwant\n%+v", got, wantGPUs)
	}
	if got := c.Snapshot().RDMADevices(); !reflect.DeepEqual(got, wantRDMA) {
		t.Errorf("RDMA =\n%+v\nwant\n%+v", got, wantRDMA)
	}
	if h := c.Health(); h.Errors[SourcePods] != 0 || h.Errors[SourceResourceSlices] != 0 || h.Disagreements != 0 {
		t.Errorf("health %+v", h)
	}
	g := c.GPUAttributor()
	if got, want := g.LabelNames(), append(append([]string(nil), WorkloadLabelNames...), "pod_uid", "claim_namespace", "claim_name"); !reflect.DeepEqual(got, want) {
		t.Errorf("label names %v", got)
	}
	if got, want := g.AppendGPULabels(nil, fixtureUUIDs[5]), []string{"llm", "ds-decode-0", "sglang", "sglang", "decode", "1", "1", bUID, "llm", decodeClaim}; !reflect.DeepEqual(got, want) {
		t.Errorf("GPU 5 labels %q, want %q", got, want)
	}
	if got, want := c.PortAttributor().AppendPortLabels(nil, "mlx5_1", "1"), []string{"llm", "ds-prefill-0", "sglang", "sglang", "prefill", "1", "1", aUID, "", "", "1"}; !reflect.DeepEqual(got, want) {
		t.Errorf("mlx5_1 labels %q, want %q", got, want)
	}
}

// Without the ResourceSlices (--attribution.dra off) DRA GPUs are not
// resolved; with a driver not configured, neither.
func TestCacheDRAUnresolved(t *testing.T) {
	api := startAPI(t)
	kl := startFakeKubelet(t, mixedNode())
	c := draCache(t, pdGPUs(), kubeletClient(t, kl.sock), nil, "testdata/proc", LabelOptions{})
	c.Refresh(context.Background())
	if g, _ := c.Snapshot().GPU(fixtureUUIDs[4]); g.Pod != "" || g.DPRank != "0" {
		t.Errorf("GPU 4 without ResourceSlices: %+v", g)
	}
	c = draCache(t, pdGPUs(), kubeletClient(t, kl.sock), api, "testdata/proc", LabelOptions{})
	c.cfg.Drivers = []DRADriver{{Name: "gpu.example.com", UUIDAttribute: "uuid"}}
	c.cfg.Pods = nil // not the cgroup path either
	c.Refresh(context.Background())
	if g, _ := c.Snapshot().GPU(fixtureUUIDs[4]); g.Pod != "" {
		t.Errorf("GPU 4 of a driver not configured: %+v", g)
	}
}

// A GPU no device list names is attributed through its processes' cgroup
// pod UID and the API server's pods; where the device list names another
// pod than the processes, the GPU gets no pod labels and the disagreement
// is counted.
func TestCacheCgroupPath(t *testing.T) {
	api := startAPI(t)
	resp := pdNode()
	resp.PodResources[0].Containers[0].Devices = nil // prefill's GPUs named by nothing
	resp.PodResources = append(resp.PodResources, &podresourcesv1.PodResources{Name: "other", Namespace: "batch",
		Containers: []*podresourcesv1.ContainerResources{{Name: "main", Devices: []*podresourcesv1.ContainerDevices{devs("nvidia.com/gpu", fixtureUUIDs[4])}}}})
	resp.PodResources[1].Containers[0].Devices[0].DeviceIds = fixtureUUIDs[5:8]
	kl := startFakeKubelet(t, resp)
	c := draCache(t, pdGPUs(), kubeletClient(t, kl.sock), api, "testdata/proc", LabelOptions{PodUID: true})
	c.Refresh(context.Background())
	s := c.Snapshot()
	for i := range 4 {
		r := fmt.Sprint(i)
		if g, _ := s.GPU(fixtureUUIDs[i]); g.Workload != (Workload{"llm", "ds-prefill-0", "sglang", "sglang", "prefill", r, r}) || g.PodUID != aUID {
			t.Errorf("GPU %d by the cgroup path: %+v", i, g)
		}
	}
	if g, _ := s.GPU(fixtureUUIDs[4]); g.Workload != (Workload{}) || g.PodUID != "" {
		t.Errorf("GPU 4, listed for batch/other, used by pod B: %+v", g)
	}
	if h := c.Health(); h.Disagreements != 1 {
		t.Errorf("disagreements %d, want 1", h.Disagreements)
	}
	// Without the API server the cgroup path has no pod name: the listed
	// container stands, as before.
	c = draCache(t, pdGPUs(), kubeletClient(t, kl.sock), nil, "testdata/proc", LabelOptions{})
	c.Refresh(context.Background())
	if g, _ := c.Snapshot().GPU(fixtureUUIDs[0]); g.Pod != "" {
		t.Errorf("GPU 0 named by nothing, no API server: %+v", g)
	}
	if g, _ := c.Snapshot().GPU(fixtureUUIDs[4]); g.Pod != "other" {
		t.Errorf("GPU 4 without the API server: %+v", g)
	}
}

// rewriteCgroups moves the processes of a pod to a new pod UID (the pod
// was deleted and created again under its name, as a StatefulSet does).
func rewriteCgroups(t *testing.T, proc, oldUID, newUID string, pids ...int) {
	t.Helper()
	for _, pid := range pids {
		p := filepath.Join(proc, fmt.Sprint(pid), "cgroup")
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		s := strings.ReplaceAll(string(b), oldUID, newUID)
		s = strings.ReplaceAll(s, strings.ReplaceAll(oldUID, "-", "_"), strings.ReplaceAll(newUID, "-", "_"))
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// A pod restarted with a new UID keeps its GPUs under its name, with the
// new UID; the API server going down keeps the last good pods, counted.
func TestCachePodRestartedAndAPIServerDown(t *testing.T) {
	api := startAPI(t)
	proc := copyProc(t)
	c := draCache(t, pdGPUs(), nil, api, proc, LabelOptions{PodUID: true})
	c.Refresh(context.Background())
	if g, _ := c.Snapshot().GPU(fixtureUUIDs[6]); g.Pod != "ds-decode-0" || g.PodUID != bUID || g.DPRank != "2" {
		t.Fatalf("GPU 6 before: %+v", g)
	}
	const newUID = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
	api.Delete(fakeapi.Pods, "llm", "ds-decode-0")
	api.Put(fakeapi.Pods, fakeapi.NewPod("llm", "ds-decode-0", newUID, node, "10.1.0.12", "sglang", bCID))
	rewriteCgroups(t, proc, bUID, newUID, 2000, 2001, 2010, 2011, 2012, 2013)
	waitUntil(t, "the new pod", func() bool { _, ok := api.pods.ByUID(newUID); return ok })
	c.Refresh(context.Background())
	if g, _ := c.Snapshot().GPU(fixtureUUIDs[6]); g.Pod != "ds-decode-0" || g.PodUID != newUID || g.DPRank != "2" {
		t.Errorf("GPU 6 after the pod's restart: %+v", g)
	}

	api.SetDown(true)
	waitUntil(t, "the watch to fail", func() bool { return api.pods.Status().Failing })
	c.Refresh(context.Background())
	if h := c.Health(); h.Errors[SourcePods] == 0 {
		t.Errorf("the API server down is not counted: %v", h.Errors)
	}
	if g, _ := c.Snapshot().GPU(fixtureUUIDs[6]); g.Pod != "ds-decode-0" || g.PodUID != newUID {
		t.Errorf("GPU 6 with the API server down: %+v", g)
	}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// MIG devices created at run time are attributed like GPUs, each to the
// pod of its processes; the GPU they share is held by two pods: no pod.
func TestCacheMIGAtRunTime(t *testing.T) {
	gpus := pdGPUs()
	kl := startFakeKubelet(t, pdNode())
	for _, withAPI := range []bool{true, false} {
		var api *apiServer
		if withAPI {
			api = startAPI(t)
		}
		gpus.set(1)
		gpus.setMIGs(1)
		c := draCache(t, gpus, kubeletClient(t, kl.sock), api, "testdata/proc", LabelOptions{})
		c.Refresh(context.Background())
		if n := len(c.Snapshot().MIGs()); n != 0 {
			t.Fatalf("%d MIG devices before any was created", n)
		}
		// Two MIG devices of GPU 1 are created, one for each pod's process.
		migA, migB := "MIG-aaaaaaaa-0000-5000-8000-000000000001", "MIG-bbbbbbbb-0000-5000-8000-000000000002"
		gpus.setMIGs(1, MIGDevice{UUID: migA, GPUInstance: 7, PIDs: []int{1011}}, MIGDevice{UUID: migB, GPUInstance: 8, PIDs: []int{2011}})
		c.Refresh(context.Background())
		s := c.Snapshot()
		a, _ := s.MIG(migA)
		b, _ := s.MIG(migB)
		if a.GPU != 1 || a.GPUInstance != 7 || a.Workload != (Workload{"llm", "ds-prefill-0", "sglang", "sglang", "prefill", "1", "1"}) {
			t.Errorf("API %v: MIG A %+v", withAPI, a)
		}
		if b.Workload != (Workload{"llm", "ds-decode-0", "sglang", "sglang", "decode", "1", "1"}) {
			t.Errorf("API %v: MIG B %+v", withAPI, b)
		}
		// GPU 1 is listed for pod A by the kubelet, and pod B runs on it.
		if g, _ := s.GPU(fixtureUUIDs[1]); g.Engine != "" || g.DPRank != "" {
			t.Errorf("API %v: GPU 1 shared by two pods' MIG devices: %+v", withAPI, g)
		}
		// Destroyed: gone at the next refresh.
		gpus.setMIGs(1, MIGDevice{UUID: migB, GPUInstance: 8, PIDs: []int{2011}})
		c.Refresh(context.Background())
		if _, ok := c.Snapshot().MIG(migA); ok || len(c.Snapshot().MIGs()) != 1 {
			t.Errorf("API %v: a destroyed MIG device is still listed: %+v", withAPI, c.Snapshot().MIGs())
		}
	}
}

// A claimed MIG device whose ResourceSlice carries its UUID (static MIG)
// names that MIG device; a dynamic MIG partition, which has only its
// parent's UUID, names the parent GPU.
func TestCacheDRAMIG(t *testing.T) {
	api := startAPI(t)
	mig := "MIG-cccccccc-0000-5000-8000-000000000003"
	api.Put(fakeapi.ResourceSlices, fakeapi.NewResourceSlice(node, draDriver, 2,
		fakeapi.NVIDIAMIG(2, 19, 0, 1, mig, fixtureUUIDs[2], "1g.10gb"),
		fakeapi.NVIDIADynamicMIG(3, "1g10gb", 19, 0, fixtureUUIDs[3])))
	waitUntil(t, "the MIG slice", func() bool { _, ok := api.slices.Device(draDriver, node, "gpu-3-mig-1g10gb-19-0"); return ok })
	kl := startFakeKubelet(t, &podresourcesv1.ListPodResourcesResponse{PodResources: []*podresourcesv1.PodResources{
		{Name: "small-0", Namespace: "dev", Containers: []*podresourcesv1.ContainerResources{{Name: "vllm",
			DynamicResources: []*podresourcesv1.DynamicResource{claimOf("dev", "small-0-mig-abcde", draDriver, "gpu-2-mig-19-0-1", "gpu-3-mig-1g10gb-19-0")}}}},
	}})
	gpus := &fakeGPUs{}
	gpus.setMIGs(2, MIGDevice{UUID: mig, GPUInstance: 0})
	c := draCache(t, gpus, kubeletClient(t, kl.sock), api, "testdata/proc", LabelOptions{Claim: true})
	c.Refresh(context.Background())
	s := c.Snapshot()
	if m, _ := s.MIG(mig); m.Pod != "small-0" || m.Claim.Name != "small-0-mig-abcde" {
		t.Errorf("static MIG device %+v", m)
	}
	if g, _ := s.GPU(fixtureUUIDs[2]); g.Pod != "small-0" {
		t.Errorf("GPU 2, its only MIG device claimed: %+v", g)
	}
	if g, _ := s.GPU(fixtureUUIDs[3]); g.Pod != "small-0" || g.Claim.Name != "small-0-mig-abcde" {
		t.Errorf("GPU 3, a dynamic MIG partition claimed: %+v", g)
	}
}

// netTCP is /proc/net/tcp (Linux 6.8) with the given listening sockets
// (local address in the kernel's hex form, port, inode) and one connection.
func netTCP(listen ...string) string {
	var b strings.Builder
	b.WriteString("  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n")
	for i, l := range listen {
		f := strings.Fields(l)
		fmt.Fprintf(&b, "%4d: %s:%s 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 %s 1 0000000000000000 100 0 0 10 0\n", i, f[0], f[1], f[2])
	}
	fmt.Fprintf(&b, "%4d: 0100007F:7530 0100007F:D2A4 01 00000000:00000000 00:00000000 00000000     0        0 99999 1 0000000000000000 20 4 30 10 -1\n", len(listen))
	return b.String()
}

// An engine target without pod labels gets them from the process listening
// on its port: socket inode in net/tcp, the fd that holds it, its cgroup.
func TestCacheTargets(t *testing.T) {
	proc := copyProc(t)
	if err := os.MkdirAll(filepath.Join(proc, "net"), 0o755); err != nil {
		t.Fatal(err)
	}
	// The prefill launcher (PID 1000) on 127.0.0.1:30000, the decode one
	// (2000) on *:30001 (v6), nobody on 30002.
	if err := os.WriteFile(filepath.Join(proc, "net", "tcp"), []byte(netTCP("0100007F 7530 41001")), 0o644); err != nil {
		t.Fatal(err)
	}
	tcp6 := "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n" +
		"   0: 00000000000000000000000000000000:7531 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 41002 1 0000000000000000 100 0 0 10 0\n"
	if err := os.WriteFile(filepath.Join(proc, "net", "tcp6"), []byte(tcp6), 0o644); err != nil {
		t.Fatal(err)
	}
	for pid, inode := range map[int]string{1000: "41001", 2000: "41002"} {
		fd := filepath.Join(proc, fmt.Sprint(pid), "fd")
		if err := os.MkdirAll(fd, 0o755); err != nil {
			t.Fatal(err)
		}
		for n, target := range []string{"/dev/null", "pipe:[1234]", "socket:[" + inode + "]"} {
			if err := os.Symlink(target, filepath.Join(fd, fmt.Sprint(n))); err != nil {
				t.Fatal(err)
			}
		}
	}
	prefill, decode, nobody := "http://127.0.0.1:30000/metrics", "http://[::1]:30001/metrics", "http://127.0.0.1:30002/metrics"
	api := startAPI(t)
	c := draCache(t, pdGPUs(), nil, api, proc, LabelOptions{})
	c.cfg.Targets = []string{prefill, decode, nobody}
	c.Refresh(context.Background())
	a := c.TargetAttributor()
	if l, _ := a.TargetLabels(prefill); l != (discovery.Labels{Namespace: "llm", Pod: "ds-prefill-0", Container: "sglang", Engine: "sglang", Role: "prefill"}) {
		t.Errorf("prefill target %+v", l)
	}
	if l, _ := a.TargetLabels(decode); l != (discovery.Labels{Namespace: "llm", Pod: "ds-decode-0", Container: "sglang", Engine: "sglang", Role: "decode"}) {
		t.Errorf("decode target %+v", l)
	}
	if l, ok := a.TargetLabels(nobody); ok {
		t.Errorf("a port nobody listens on: %+v", l)
	}
	// Without the API server, the container id learnt from the kubelet's
	// GPU allocation names the pod.
	kl := startFakeKubelet(t, pdNode())
	c = draCache(t, pdGPUs(), kubeletClient(t, kl.sock), nil, proc, LabelOptions{})
	c.cfg.Targets = []string{prefill}
	c.Refresh(context.Background())
	if l, _ := c.TargetAttributor().TargetLabels(prefill); l.Pod != "ds-prefill-0" || l.Role != "prefill" {
		t.Errorf("prefill target without the API server %+v", l)
	}
}

func TestParseNetTCP(t *testing.T) {
	socks, err := parseNetTCP([]byte(netTCP("00000000 1F90 7", "0100007F 7530 8")))
	if err != nil {
		t.Fatal(err)
	}
	if len(socks) != 2 || socks[0].port != 8080 || !socks[0].addr.IsUnspecified() || socks[1].inode != 8 || socks[1].addr.String() != "127.0.0.1" {
		t.Errorf("sockets %+v", socks)
	}
	if _, err := parseNetTCP([]byte("header\n   0: zz:1 00:00 0A\n")); err == nil {
		t.Error("a malformed line is not an error")
	}
}

func TestParseDRADriver(t *testing.T) {
	for in, want := range map[string]DRADriver{
		"gpu.nvidia.com":                   {Name: "gpu.nvidia.com", UUIDAttribute: "uuid"},
		"gpu.nvidia.com=uuid,parentUUID":   {Name: "gpu.nvidia.com", UUIDAttribute: "uuid", ParentUUIDAttribute: "parentUUID"},
		"gpu.example.com=example.com/guid": {Name: "gpu.example.com", UUIDAttribute: "example.com/guid"},
	} {
		if got, err := ParseDRADriver(in); err != nil || got != want {
			t.Errorf("ParseDRADriver(%q) = %+v, %v", in, got, err)
		}
		if got, _ := ParseDRADriver(in); got.String() != in && !strings.HasPrefix(got.String(), in) {
			t.Errorf("%q formats as %q", in, got.String())
		}
	}
	for _, bad := range []string{"", "=uuid", "a b", "x=uuid,,", "x=a,b,c"} {
		if _, err := ParseDRADriver(bad); err == nil {
			t.Errorf("ParseDRADriver(%q) accepted", bad)
		}
	}
}

// The kubelet's DRA resources are read from List.
func TestPodResourcesDynamicResources(t *testing.T) {
	kl := startFakeKubelet(t, mixedNode())
	a, err := kubeletClient(t, kl.sock).List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(a.DRA) != 5 {
		t.Fatalf("DRA devices %+v", a.DRA)
	}
	want := ClaimDevice{Container: Container{"llm", "ds-decode-0", "sglang"}, ClaimNamespace: "llm", ClaimName: decodeClaim, Driver: draDriver, Pool: node, Device: "gpu-4"}
	if a.DRA[0] != want {
		t.Errorf("DRA[0] = %+v, want %+v", a.DRA[1], want)
	}
	if _, ok := a.GPUs[fixtureUUIDs[4]]; ok {
		t.Error("a DRA GPU among the device-plugin ones")
	}
}
