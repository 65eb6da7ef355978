package attribution

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	podresourcesv1 "k8s.io/kubelet/pkg/apis/podresources/v1"
)

const (
	aUID = "1f0a2b3c-4d5e-4f60-8a7b-9c0d1e2f3a4b"
	aCID = "a1a1a1a1b2b2b2b2c3c3c3c3d4d4d4d4e5e5e5e5f6f6f6f6a7a7a7a7b8b8b8b8"
	bUID = "2e1b3c4d-5e6f-4a70-9b8c-0d1e2f3a4b5c"
	bCID = "b2b2b2b2c3c3c3c3d4d4d4d4e5e5e5e5f6f6f6f6a7a7a7a7b8b8b8b8c9c9c9c9"
)

// fakeGPUs is a GPULister over the fixture node's 8 GPUs.
type fakeGPUs struct {
	mu   sync.Mutex
	pids [8][]int
	migs [8][]MIGDevice
	err  error
}

func (f *fakeGPUs) ListGPUs(context.Context) ([]GPU, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	out := make([]GPU, 8)
	for i := range out {
		out[i] = GPU{Index: i, UUID: fixtureUUIDs[i], PCIBusID: fixtureGPUs[i], PIDs: append([]int(nil), f.pids[i]...),
			MIGs: append([]MIGDevice(nil), f.migs[i]...)}
	}
	return out, nil
}

func (f *fakeGPUs) setMIGs(i int, migs ...MIGDevice) {
	f.mu.Lock()
	f.migs[i] = migs
	f.mu.Unlock()
}

func (f *fakeGPUs) set(i int, pids ...int) {
	f.mu.Lock()
	f.pids[i] = pids
	f.mu.Unlock()
}

// pdGPUs runs SGLang prefill (pod A, PIDs 1010-1013) on GPUs 0-3 and decode
// (pod B, PIDs 2010-2013) on GPUs 4-7.
func pdGPUs() *fakeGPUs {
	f := &fakeGPUs{}
	for i := range 4 {
		f.pids[i] = []int{1010 + i}
		f.pids[4+i] = []int{2010 + i}
	}
	return f
}

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { c.t = c.t.Add(time.Second); return c.t }

func newTestCache(t *testing.T, gpus GPULister, kubelet AllocationLister) (*Cache, *fakeClock) {
	t.Helper()
	c := New(Config{Sysfs: "../testdata/sys", Procfs: "testdata/proc", Interval: time.Millisecond}, gpus, kubelet)
	clk := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	c.now = clk.now
	return c, clk
}

func kubeletClient(t *testing.T, sock string) *PodResourcesClient {
	t.Helper()
	kc, err := NewPodResourcesClient(PodResourcesConfig{Socket: sock, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = kc.Close() })
	return kc
}

func pdWant() ([]GPUInfo, []RDMAInfo) {
	var gpus []GPUInfo
	for i := range 8 {
		g := GPUInfo{Index: i, UUID: fixtureUUIDs[i]}
		g.PCIBusID, _ = NormalisePCIAddress(fixtureGPUs[i])
		rank := strconv.Itoa(i % 4)
		if i < 4 {
			g.Workload = Workload{"llm", "ds-prefill-0", "sglang", "sglang", "prefill", rank, rank}
			g.PodUID, g.ContainerID = aUID, aCID
		} else {
			g.Workload = Workload{"llm", "ds-decode-0", "sglang", "sglang", "decode", rank, rank}
			g.PodUID, g.ContainerID = bUID, bCID
		}
		gpus = append(gpus, g)
	}
	hcaBus := []string{"18", "3a", "4b", "5c", "9a", "ba", "cb", "dc"}
	var rdma []RDMAInfo
	for i := range 8 {
		rdma = append(rdma, RDMAInfo{Device: "mlx5_" + strconv.Itoa(i), PCIAddress: "0000:" + hcaBus[i] + ":00.0",
			GPU: strconv.Itoa(i), GPUUUID: fixtureUUIDs[i], Workload: gpus[i].Workload, Identity: gpus[i].Identity})
	}
	// The RoCE functions are allocated by PCI address, with no GPU under their switch.
	rdma = append(rdma,
		RDMAInfo{Device: "mlx5_8", PCIAddress: "0000:a1:00.0", Workload: Workload{Namespace: "llm", Pod: "ds-prefill-0", Container: "sglang"}},
		RDMAInfo{Device: "mlx5_9", PCIAddress: "0000:a1:00.1", Workload: Workload{Namespace: "llm", Pod: "ds-decode-0", Container: "sglang"}})
	return gpus, rdma
}

func TestCachePDNode(t *testing.T) {
	kl := startFakeKubelet(t, pdNode())
	c, _ := newTestCache(t, pdGPUs(), kubeletClient(t, kl.sock))
	if g, ok := c.Snapshot().GPU(fixtureUUIDs[0]); ok || g != (GPUInfo{}) {
		t.Errorf("before the first refresh: %+v, %v", g, ok)
	}
	c.Refresh(context.Background())
	s := c.Snapshot()
	wantGPUs, wantRDMA := pdWant()
	if got := s.GPUs(); !reflect.DeepEqual(got, wantGPUs) {
		t.Errorf("GPUs =\n%+v\nwant\n%+v", got, wantGPUs)
	}
	if got := s.RDMADevices(); !reflect.DeepEqual(got, wantRDMA) {
		t.Errorf("RDMA =\n%+v\nwant\n%+v", got, wantRDMA)
	}
	h := c.Health()
	if h.LastSuccess.IsZero() || h.LastSuccess != h.LastRefresh || h.Errors[SourceKubelet] != 0 || len(h.Errors) != len(Sources) {
		t.Errorf("health after a good refresh: %+v", h)
	}

	// The adapters the collectors use.
	ports := c.PortAttributor()
	if got, want := ports.LabelNames(), []string{"namespace", "pod", "container", "engine", "role", "dp_rank", "tp_rank", "gpu"}; !reflect.DeepEqual(got, want) {
		t.Errorf("port label names %v", got)
	}
	for dev, want := range map[string][]string{
		"mlx5_5": {"llm", "ds-decode-0", "sglang", "sglang", "decode", "1", "1", "5"},
		"mlx5_2": {"llm", "ds-prefill-0", "sglang", "sglang", "prefill", "2", "2", "2"},
		"mlx5_8": {"llm", "ds-prefill-0", "sglang", "", "", "", "", ""},
		"mlx5_x": {"", "", "", "", "", "", "", ""},
	} {
		if got := ports.AppendPortLabels([]string{"keep"}, dev, "1"); !reflect.DeepEqual(got, append([]string{"keep"}, want...)) {
			t.Errorf("AppendPortLabels(%s) = %q; want %q", dev, got, want)
		}
	}
	gpus := c.GPUAttributor()
	if got := gpus.AppendGPULabels(nil, fixtureUUIDs[6]); !reflect.DeepEqual(got, []string{"llm", "ds-decode-0", "sglang", "sglang", "decode", "2", "2"}) {
		t.Errorf("AppendGPULabels(GPU 6) = %q", got)
	}
	if got := gpus.AppendGPULabels(nil, "GPU-unknown"); len(got) != len(gpus.LabelNames()) {
		t.Errorf("AppendGPULabels(unknown) = %q", got)
	}
}

func TestCacheKubeletDown(t *testing.T) {
	kl := startFakeKubelet(t, pdNode())
	c, _ := newTestCache(t, pdGPUs(), kubeletClient(t, kl.sock))
	c.Refresh(context.Background())
	good := c.Health().LastSuccess

	kl.stop()
	start := time.Now()
	c.Refresh(context.Background())
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("refresh with the kubelet down took %v", d)
	}
	h := c.Health()
	if h.Errors[SourceKubelet] != 1 || h.LastSuccess != good || !h.LastRefresh.After(good) {
		t.Errorf("health with the kubelet down: %+v", h)
	}
	wantGPUs, _ := pdWant()
	if got := c.Snapshot().GPUs(); !reflect.DeepEqual(got, wantGPUs) {
		t.Errorf("the last good pods were not kept:\n%+v", got)
	}

	// The kubelet comes back on the same socket with GPU 7 given to another pod.
	resp := pdNode()
	ctr := resp.PodResources[1].Containers[0]
	ctr.Devices[0].DeviceIds = fixtureUUIDs[4:7]
	resp.PodResources = append(resp.PodResources, &podresourcesv1.PodResources{Name: "other", Namespace: "batch",
		Containers: []*podresourcesv1.ContainerResources{{Name: "main", Devices: []*podresourcesv1.ContainerDevices{devs("nvidia.com/gpu", fixtureUUIDs[7])}}}})
	lis, err := net.Listen("unix", kl.sock)
	if err != nil {
		t.Fatal(err)
	}
	back := &fakeKubelet{resp: resp, srv: grpc.NewServer()}
	podresourcesv1.RegisterPodResourcesListerServer(back.srv, back)
	go func() { _ = back.srv.Serve(lis) }()
	defer back.srv.Stop()
	deadline := time.Now().Add(10 * time.Second)
	for c.Refresh(context.Background()); c.Health().LastSuccess == good; c.Refresh(context.Background()) {
		if time.Now().After(deadline) {
			t.Fatalf("no recovery after the kubelet came back: %+v", c.Health())
		}
		time.Sleep(20 * time.Millisecond)
	}
	g, _ := c.Snapshot().GPU(fixtureUUIDs[7])
	// The new pod holds GPU 7; its processes are still in pod B's container,
	// whose engine labels stay (they come from /proc), the pod from the kubelet.
	if g.Namespace != "batch" || g.Pod != "other" || g.Role != "decode" {
		t.Errorf("GPU 7 after the kubelet came back: %+v", g)
	}
}

func TestCacheSourceFailures(t *testing.T) {
	gpus := pdGPUs()
	c, _ := newTestCache(t, gpus, nil)
	c.Refresh(context.Background())
	if h := c.Health(); h.LastSuccess.IsZero() {
		t.Fatalf("no kubelet configured is not a failure: %+v", h)
	}
	g, _ := c.Snapshot().GPU(fixtureUUIDs[1])
	if want := (Workload{Engine: "sglang", Role: "prefill", DPRank: "1", TPRank: "1"}); g.Workload != want {
		t.Errorf("without a kubelet GPU 1 = %+v; want %+v", g.Workload, want)
	}

	// NVML fails: the last GPU list stays.
	gpus.mu.Lock()
	gpus.err = errors.New("nvml: uninitialised")
	gpus.mu.Unlock()
	c.Refresh(context.Background())
	if h := c.Health(); h.Errors[SourceGPU] != 1 {
		t.Errorf("gpu errors %v", h.Errors)
	}
	if g, ok := c.Snapshot().GPU(fixtureUUIDs[1]); !ok || g.DPRank != "1" {
		t.Errorf("GPU 1 lost after an NVML failure: %+v", g)
	}
	gpus.mu.Lock()
	gpus.err = nil
	gpus.mu.Unlock()

	// A PID that /proc does not have (no hostPID, or a new process gone): counted.
	gpus.set(0, 1010, 999999)
	c.Refresh(context.Background())
	if h := c.Health(); h.Errors[SourceProcfs] != 1 {
		t.Errorf("procfs errors %v", h.Errors)
	}
	c.Refresh(context.Background()) // still unreadable: counted again
	if h := c.Health(); h.Errors[SourceProcfs] != 2 {
		t.Errorf("procfs errors after a second refresh %v", h.Errors)
	}
	if g, _ := c.Snapshot().GPU(fixtureUUIDs[0]); g.DPRank != "0" {
		t.Errorf("GPU 0 with one unreadable PID: %+v", g)
	}

	// A wrong sysfs root: counted, the last pairing kept.
	c.cfg.Sysfs = t.TempDir()
	c.Refresh(context.Background())
	if h := c.Health(); h.Errors[SourceSysfs] != 1 {
		t.Errorf("sysfs errors %v", h.Errors)
	}
	if r, _ := c.Snapshot().RDMA("mlx5_3"); r.GPU != "3" {
		t.Errorf("pairing lost after a sysfs failure: %+v", r)
	}
}

func TestCacheSharedAndLearnt(t *testing.T) {
	resp := pdNode()
	// GPU 3 is no longer allocated by the kubelet although pod A's
	// process runs on it (NVIDIA_VISIBLE_DEVICES=all); GPU 5 is time-sliced
	// between the decode pod and another one.
	resp.PodResources[0].Containers[0].Devices[0].DeviceIds = fixtureUUIDs[0:3]
	resp.PodResources = append(resp.PodResources, &podresourcesv1.PodResources{Name: "notebook", Namespace: "dev",
		Containers: []*podresourcesv1.ContainerResources{{Name: "jupyter", Devices: []*podresourcesv1.ContainerDevices{devs("nvidia.com/gpu", fixtureUUIDs[5]+"::1")}}}})
	kl := startFakeKubelet(t, resp)
	gpus := pdGPUs()
	gpus.set(6, 2012, 1011) // processes of two pods on GPU 6
	gpus.set(7, 2013, 7000) // an engine and an unattributable host process
	c, _ := newTestCache(t, gpus, kubeletClient(t, kl.sock))
	c.Refresh(context.Background())
	s := c.Snapshot()
	for i, want := range map[int]Workload{
		3: {"llm", "ds-prefill-0", "sglang", "sglang", "prefill", "3", "3"}, // learnt from pod A's container id
		5: {"", "", "", "sglang", "decode", "1", "1"},                       // two containers hold it: no pod
		6: {"llm", "ds-decode-0", "sglang", "", "", "", ""},                 // two pods' processes: no engine labels
		7: {"llm", "ds-decode-0", "sglang", "sglang", "decode", "3", "3"},   // the host process says nothing
	} {
		if g, _ := s.GPU(fixtureUUIDs[i]); g.Workload != want {
			t.Errorf("GPU %d = %+v; want %+v", i, g.Workload, want)
		}
	}
}

func TestMergeProcesses(t *testing.T) {
	pod := Cgroup{PodUID: aUID, ContainerID: aCID}
	tests := []struct {
		ps   []Process
		want Workload
	}{
		{nil, Workload{}},
		{[]Process{{Engine: "vllm", Component: "EngineCore", Role: "prefill", DPRank: "0", Cgroup: pod},
			{Engine: "vllm", Component: "Worker", Role: "prefill", DPRank: "0", TPRank: "1", Cgroup: pod}},
			Workload{Engine: "vllm", Role: "prefill", DPRank: "0", TPRank: "1"}},
		{[]Process{{Engine: "vllm", TPRank: "0", Cgroup: pod}, {Engine: "vllm", TPRank: "1", Cgroup: pod}},
			Workload{Engine: "vllm"}},
		{[]Process{{Engine: "sglang", DPRank: "1", Cgroup: pod}, {PID: 9}},
			Workload{Engine: "sglang", DPRank: "1"}},
	}
	for _, tc := range tests {
		var g GPUInfo
		mergeProcesses(&g, tc.ps)
		if g.Workload != tc.want {
			t.Errorf("mergeProcesses(%+v) = %+v; want %+v", tc.ps, g.Workload, tc.want)
		}
	}
}

// TestCacheConcurrent runs the refresh loop against scrapes; run with -race.
func TestCacheConcurrent(t *testing.T) {
	kl := startFakeKubelet(t, pdNode())
	gpus := pdGPUs()
	c, _ := newTestCache(t, gpus, kubeletClient(t, kl.sock))
	c.now = time.Now
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	for deadline := time.Now().Add(5 * time.Second); c.Health().LastSuccess.IsZero(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("Run never refreshed: %+v", c.Health())
		}
	}
	first := c.Health().LastRefresh
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ports, gattr := c.PortAttributor(), c.GPUAttributor()
			var buf []string
			deadline := time.Now().Add(5 * time.Second)
			for i := 0; i < 2000 || (!c.Health().LastRefresh.After(first) && time.Now().Before(deadline)); i++ {
				buf = ports.AppendPortLabels(buf[:0], "mlx5_"+strconv.Itoa(i%10), "1")
				buf = gattr.AppendGPULabels(buf[:0], fixtureUUIDs[i%8])
				if len(buf) != 7 {
					t.Errorf("worker %d: %d labels", w, len(buf))
					return
				}
				if i%100 == 0 {
					gpus.set(i%8, 1010+i%4)
					_ = c.Health()
				}
			}
		}()
	}
	wg.Wait()
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not stop after its context was cancelled")
	}
	if !c.Health().LastRefresh.After(first) {
		t.Error("Run refreshed only once")
	}
}

func BenchmarkAppendPortLabels(b *testing.B) {
	c := New(Config{Sysfs: "../testdata/sys", Procfs: "testdata/proc"}, pdGPUs(), nil)
	c.Refresh(context.Background())
	a := c.PortAttributor()
	buf := make([]string, 0, 16)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		buf = a.AppendPortLabels(buf[:0], "mlx5_3", "1")
	}
}

func TestCacheSetGPULister(t *testing.T) {
	c, _ := newTestCache(t, nil, nil)
	c.Refresh(context.Background())
	if r, _ := c.Snapshot().RDMA("mlx5_0"); r.Device != "mlx5_0" || r.GPU != "" {
		t.Errorf("without GPUs mlx5_0 = %+v", r)
	}
	c.SetGPULister(pdGPUs())
	c.Refresh(context.Background())
	if r, _ := c.Snapshot().RDMA("mlx5_0"); r.GPU != "0" || r.Role != "prefill" || r.DPRank != "0" {
		t.Errorf("after SetGPULister mlx5_0 = %+v", r)
	}
}

func TestCacheProcessExited(t *testing.T) {
	proc := t.TempDir()
	if err := os.CopyFS(proc, os.DirFS("testdata/proc")); err != nil {
		t.Fatal(err)
	}
	c := New(Config{Sysfs: "../testdata/sys", Procfs: proc}, pdGPUs(), nil)
	c.Refresh(context.Background())
	if err := os.RemoveAll(filepath.Join(proc, "1010")); err != nil {
		t.Fatal(err)
	}
	// NVML still lists PID 1010, /proc no longer has it: it has just exited.
	c.Refresh(context.Background())
	if h := c.Health(); h.Errors[SourceProcfs] != 0 {
		t.Errorf("an exited process counted as an error: %v", h.Errors)
	}
	if g, _ := c.Snapshot().GPU(fixtureUUIDs[0]); g.DPRank != "0" || g.Role != "prefill" {
		t.Errorf("GPU 0 after its process exited mid-refresh: %+v", g)
	}
}

// TestCacheDPAttention8GPUs: one SGLang server with DP attention over 8 GPUs
// (DP8 x TP8, pod C of the /proc fixture): every GPU and its HCA get their
// own dp_rank.
func TestCacheDPAttention8GPUs(t *testing.T) {
	kl := startFakeKubelet(t, &podresourcesv1.ListPodResourcesResponse{PodResources: []*podresourcesv1.PodResources{
		{Name: "deepseek-r1-0", Namespace: "serving", Containers: []*podresourcesv1.ContainerResources{
			{Name: "sglang", Devices: []*podresourcesv1.ContainerDevices{devs("nvidia.com/gpu", fixtureUUIDs...)}},
		}},
	}})
	gpus := &fakeGPUs{}
	for i := range 8 {
		gpus.pids[i] = []int{3010 + i}
	}
	c, _ := newTestCache(t, gpus, kubeletClient(t, kl.sock))
	c.Refresh(context.Background())
	ports := c.PortAttributor()
	for i := range 8 {
		r := strconv.Itoa(i)
		want := []string{"serving", "deepseek-r1-0", "sglang", "sglang", "unified", r, r, r}
		if got := ports.AppendPortLabels(nil, "mlx5_"+r, "1"); !reflect.DeepEqual(got, want) {
			t.Errorf("mlx5_%d: %q; want %q", i, got, want)
		}
	}
}

func TestCacheRefreshCancelled(t *testing.T) {
	kl := startFakeKubelet(t, pdNode())
	c, _ := newTestCache(t, pdGPUs(), kubeletClient(t, kl.sock))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c.Refresh(ctx) // the kubelet call fails with the context: not counted
	if h := c.Health(); h.Errors[SourceKubelet] != 0 || !h.LastSuccess.IsZero() {
		t.Errorf("a cancelled refresh: errors %v, last success %v", h.Errors, h.LastSuccess)
	}
}
