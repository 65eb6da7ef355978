package main

// The binary's attribution path end to end: the fake 8-GPU NVML, a fake
// kubelet speaking the real pod-resources v1 gRPC API on a unix socket, and a
// /proc tree with SGLang P/D engines (prefill DP4×TP4 on GPUs 0-3, decode
// DP4×TP4 on GPUs 4-7), so every GPU and InfiniBand series must carry its
// pod, role and dp_rank.

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"google.golang.org/grpc"
	podresources "k8s.io/kubelet/pkg/apis/podresources/v1"
)

// fakeKubelet serves a fixed pod-resources List over a real gRPC server.
type fakeKubelet struct {
	podresources.UnimplementedPodResourcesListerServer
	pods []*podresources.PodResources
}

func (k *fakeKubelet) List(context.Context, *podresources.ListPodResourcesRequest) (*podresources.ListPodResourcesResponse, error) {
	return &podresources.ListPodResourcesResponse{PodResources: k.pods}, nil
}

func startFakeKubelet(t *testing.T, pods []*podresources.PodResources) string {
	t.Helper()
	// A short path: unix socket paths are limited to 108 bytes.
	dir, err := os.MkdirTemp("", "kubelet")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	socket := filepath.Join(dir, "kubelet.sock")
	l, err := net.Listen("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	podresources.RegisterPodResourcesListerServer(srv, &fakeKubelet{pods: pods})
	go srv.Serve(l)
	t.Cleanup(srv.Stop)
	return socket
}

func gpuPod(namespace, name, container string, gpus ...int) *podresources.PodResources {
	ids := make([]string, len(gpus))
	for i, g := range gpus {
		ids[i] = fakeUUID(g)
	}
	return &podresources.PodResources{Namespace: namespace, Name: name, Containers: []*podresources.ContainerResources{{
		Name:    container,
		Devices: []*podresources.ContainerDevices{{ResourceName: "nvidia.com/gpu", DeviceIds: ids}},
	}}}
}

// engineProc builds a /proc tree from attribution's fixture (pods A and B:
// SGLang P/D prefill and decode) where the schedulers carry the PIDs the fake
// NVML reports for GPU i (4100+i): GPU 0-3 are prefill DP0-3, GPU 4-7 decode DP0-3.
func engineProc(t *testing.T) string {
	t.Helper()
	src := "../../attribution/testdata/proc"
	dst := filepath.Join(t.TempDir(), "proc")
	if out, err := runCmd("cp", "-a", src, dst); err != nil {
		t.Fatalf("cp: %v: %s", err, out)
	}
	for gpu := 0; gpu < 8; gpu++ {
		from := 1010 + gpu // prefill schedulers DP0-3
		if gpu >= 4 {
			from = 2010 + gpu - 4 // decode schedulers DP0-3
		}
		pid := 4100 + gpu
		if out, err := runCmd("cp", "-a", filepath.Join(dst, fmt.Sprint(from)), filepath.Join(dst, fmt.Sprint(pid))); err != nil {
			t.Fatalf("cp: %v: %s", err, out)
		}
		stat := filepath.Join(dst, fmt.Sprint(pid), "stat")
		b, err := os.ReadFile(stat)
		if err != nil {
			t.Fatal(err)
		}
		// The first field of /proc/<pid>/stat is the pid itself.
		rest := strings.SplitN(string(b), " ", 2)[1]
		if err := os.WriteFile(stat, []byte(fmt.Sprintf("%d %s", pid, rest)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

func TestAttributionEndToEnd(t *testing.T) {
	lib := fakeNVML(t)
	socket := startFakeKubelet(t, []*podresources.PodResources{
		gpuPod("llm", "sglang-prefill-0", "sglang", 0, 1, 2, 3),
		gpuPod("llm", "sglang-decode-0", "sglang", 4, 5, 6, 7),
	})
	e := start(t, "--path.sysfs="+fixtureSysfs, "--path.procfs="+engineProc(t),
		"--collector.gpu.nvml-library="+lib, "--attribution.kubelet-socket="+socket,
		"--collector.gpu.gpm-interval=100ms")
	// GPM values need two samples: scrape until the sampler has produced them.
	mfs := parse(t, e.scrapeUntil(t, "GPM series", func(mfs map[string]*dto.MetricFamily) bool {
		return len(mfs["llm_gpu_tensor_active_ratio"].GetMetric()) == 8
	}))

	type want struct{ pod, role, dp, tp string }
	expect := func(gpu int) want {
		if gpu < 4 {
			return want{"sglang-prefill-0", "prefill", fmt.Sprint(gpu), fmt.Sprint(gpu)}
		}
		return want{"sglang-decode-0", "decode", fmt.Sprint(gpu - 4), fmt.Sprint(gpu - 4)}
	}
	check := func(what string, m *dto.Metric, w want) {
		t.Helper()
		got := want{label(m, "pod"), label(m, "role"), label(m, "dp_rank"), label(m, "tp_rank")}
		if got != w || label(m, "namespace") != "llm" || label(m, "container") != "sglang" || label(m, "engine") != "sglang" {
			t.Errorf("%s: labels %v, want %+v in llm/sglang", what, m.Label, w)
		}
	}
	seen := 0
	for _, m := range mfs["llm_rank_info"].GetMetric() {
		var gpu int
		fmt.Sscan(label(m, "gpu"), &gpu)
		check("llm_rank_info{gpu="+label(m, "gpu")+"}", m, expect(gpu))
		seen++
	}
	if seen != 8 {
		t.Errorf("%d llm_rank_info series, want 8", seen)
	}
	for _, family := range []string{"llm_gpu_power_watts", "llm_gpu_tensor_active_ratio", "llm_gpu_dram_bandwidth_utilization_ratio"} {
		for _, m := range mfs[family].GetMetric() {
			var gpu int
			fmt.Sscan(label(m, "gpu"), &gpu)
			check(family+"{gpu="+label(m, "gpu")+"}", m, expect(gpu))
		}
	}
	ports := 0
	for _, m := range mfs["llm_infiniband_port_data_received_bytes_total"].GetMetric() {
		dev := label(m, "device")
		var idx int
		fmt.Sscanf(dev, "mlx5_%d", &idx)
		if idx >= 8 {
			// The RoCE card shares no PCIe switch with a GPU: unattributed.
			if label(m, "gpu") != "" || label(m, "pod") != "" {
				t.Errorf("%s attributed without a GPU beside it: %v", dev, m.Label)
			}
			continue
		}
		if label(m, "gpu") != fmt.Sprint(idx) {
			t.Errorf("%s paired with GPU %q, want %d (same PCIe switch)", dev, label(m, "gpu"), idx)
		}
		check(dev, m, expect(idx))
		ports++
	}
	if ports != 8 {
		t.Errorf("%d attributed HCA ports, want 8", ports)
	}
	if v := value(mfs, "llm_exporter_attribution_refresh_errors_total", "source", "kubelet"); v != 0 {
		t.Errorf("kubelet refresh errors = %v, want 0", v)
	}
}

func runCmd(name string, args ...string) ([]byte, error) {
	return exec.Command(name, args...).CombinedOutput()
}

// TestKubeletSocketUnderRootfs: with the host mounted at --path.rootfs, the
// default pod-resources socket is found under it.
func TestKubeletSocketUnderRootfs(t *testing.T) {
	lib := fakeNVML(t)
	socket := startFakeKubelet(t, []*podresources.PodResources{gpuPod("llm", "sglang-prefill-0", "sglang", 0)})
	rootfs := t.TempDir()
	dir := filepath.Join(rootfs, "var/lib/kubelet/pod-resources")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(socket, filepath.Join(dir, "kubelet.sock")); err != nil {
		t.Fatal(err)
	}
	e := start(t, "--path.sysfs="+fixtureSysfs, "--path.rootfs="+rootfs, "--collector.gpu.nvml-library="+lib)
	mfs := parse(t, e.scrape(t))
	if v := value(mfs, "llm_exporter_attribution_refresh_errors_total", "source", "kubelet"); v != 0 {
		t.Errorf("kubelet refresh errors = %v: the socket under --path.rootfs was not used", v)
	}
	if v := value(mfs, "llm_rank_info", "pod", "sglang-prefill-0"); v != 1 {
		t.Errorf("GPU 0 not attributed to its pod through the socket under --path.rootfs")
	}
}

// waitAttributed waits for the attribution cache's first refresh, which runs
// in the background while the exporter already serves: the log says when
// (never a scrape, which would move the fixture's counters). Every /proc read
// has a deadline, so it comes within seconds.
func (e *exporter) waitAttributed(t testing.TB, args []string) {
	t.Helper()
	for _, a := range args {
		if a == "--no-attribution" || a == "--attribution=false" || strings.HasPrefix(a, "--log.level=") && a != "--log.level=info" && a != "--log.level=debug" {
			return
		}
	}
	eventually(t, "the attribution cache's first refresh", func() bool {
		return strings.Contains(e.log.String(), "attribution: first refresh done")
	})
}
