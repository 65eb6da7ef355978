package main

// The binary's attribution beyond the device plugin, end to end: GPUs given
// by DRA claims (resolved through the NVIDIA driver's ResourceSlices on a
// fake API server), GPUs no device list names (the cgroup path to the API
// server's pods), MIG devices created while the exporter runs (the fake
// NVML's MIG file), engine targets labelled from their listening process,
// and a /proc that blocks.

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	podresources "k8s.io/kubelet/pkg/apis/podresources/v1"

	"github.com/llm-node-exporter/llm-node-exporter/discovery/fakeapi"
)

const (
	e2eNode     = "gpu-node-7"
	prefillUID  = "1f0a2b3c-4d5e-4f60-8a7b-9c0d1e2f3a4b" // pod A of attribution/testdata/proc
	prefillCID  = "a1a1a1a1b2b2b2b2c3c3c3c3d4d4d4d4e5e5e5e5f6f6f6f6a7a7a7a7b8b8b8b8"
	decodeUID   = "2e1b3c4d-5e6f-4a70-9b8c-0d1e2f3a4b5c" // pod B
	decodeCID   = "b2b2b2b2c3c3c3c3d4d4d4d4e5e5e5e5f6f6f6f6a7a7a7a7b8b8b8b8c9c9c9c9"
	decodeClaim = "sglang-decode-0-gpus-5xq8n"
)

// startE2EAPI is a fake API server with the engine pods of the fixture and
// the NVIDIA DRA driver's (v25.3.2) ResourceSlice of the fake 8-GPU node;
// it returns the server and the kubeconfig the exporter reads.
func startE2EAPI(t *testing.T) (*fakeapi.Server, string) {
	t.Helper()
	api := fakeapi.New(t, e2eNode, "exporter-sa-token")
	api.Replace(fakeapi.Pods,
		fakeapi.NewPod("llm", "sglang-prefill-0", prefillUID, e2eNode, "10.1.0.10", "sglang", prefillCID),
		fakeapi.NewPod("llm", "sglang-decode-0", decodeUID, e2eNode, "10.1.0.11", "sglang", decodeCID))
	var devs []fakeapi.SliceDevice
	for g, bus := range fakeGPUBusIDs {
		devs = append(devs, fakeapi.NVIDIAGPU(g, fakeUUID(g), strings.ToLower(bus)))
	}
	api.Replace(fakeapi.ResourceSlices, fakeapi.NewResourceSlice(e2eNode, "gpu.nvidia.com", 1, devs...))
	return api, api.Kubeconfig(t.TempDir())
}

// draPod is a pod whose container holds GPUs through one DRA claim.
func draPod(namespace, name, container, claim string, gpus ...int) *podresources.PodResources {
	dr := &podresources.DynamicResource{ClaimName: claim, ClaimNamespace: namespace}
	for _, g := range gpus {
		dr.ClaimResources = append(dr.ClaimResources, &podresources.ClaimResource{
			DriverName: "gpu.nvidia.com", PoolName: e2eNode, DeviceName: fmt.Sprintf("gpu-%d", g),
			CdiDevices: []*podresources.CDIDevice{{Name: "k8s.gpu.nvidia.com/claim=" + claim}},
		})
	}
	return &podresources.PodResources{Namespace: namespace, Name: name, Containers: []*podresources.ContainerResources{{
		Name: container, DynamicResources: []*podresources.DynamicResource{dr},
	}}}
}

// checkPD checks that every GPU, GPM and HCA series of the fake node carries
// the prefill pod on GPUs 0-3 and the decode pod on GPUs 4-7, with role and
// dp_rank (as on a device-plugin node: TestAttributionEndToEnd).
func checkPD(t *testing.T, mfs map[string]*dto.MetricFamily) {
	t.Helper()
	type want struct{ pod, role, dp string }
	expect := func(gpu int) want {
		if gpu < 4 {
			return want{"sglang-prefill-0", "prefill", fmt.Sprint(gpu)}
		}
		return want{"sglang-decode-0", "decode", fmt.Sprint(gpu - 4)}
	}
	check := func(what string, m *dto.Metric, w want) {
		t.Helper()
		if got := (want{label(m, "pod"), label(m, "role"), label(m, "dp_rank")}); got != w || label(m, "namespace") != "llm" || label(m, "container") != "sglang" {
			t.Errorf("%s: labels %v, want %+v in llm/sglang", what, m.Label, w)
		}
	}
	n := 0
	for _, family := range []string{"llm_rank_info", "llm_gpu_power_watts", "llm_gpu_tensor_active_ratio"} {
		for _, m := range mfs[family].GetMetric() {
			gpu, _ := strconv.Atoi(label(m, "gpu"))
			check(family+"{gpu="+label(m, "gpu")+"}", m, expect(gpu))
			n++
		}
	}
	if n != 24 {
		t.Errorf("%d GPU series checked, want 3 x 8", n)
	}
	ports := 0
	for _, m := range mfs["llm_infiniband_port_data_received_bytes_total"].GetMetric() {
		var idx int
		if fmt.Sscanf(label(m, "device"), "mlx5_%d", &idx); idx < 8 {
			check(label(m, "device"), m, expect(idx))
			ports++
		}
	}
	if ports != 8 {
		t.Errorf("%d attributed HCA ports, want 8", ports)
	}
}

func gpmReady(mfs map[string]*dto.MetricFamily) bool {
	return len(mfs["llm_gpu_tensor_active_ratio"].GetMetric()) == 8
}

// A node mixing the device plugin (prefill, GPUs 0-3) and DRA (decode, GPUs
// 4-7 by a claim of gpu.nvidia.com): every series as on a device-plugin node,
// the claim in the opt-in labels.
func TestAttributionDRAEndToEnd(t *testing.T) {
	_, kubeconfig := startE2EAPI(t)
	socket := startFakeKubelet(t, []*podresources.PodResources{
		gpuPod("llm", "sglang-prefill-0", "sglang", 0, 1, 2, 3),
		draPod("llm", "sglang-decode-0", "sglang", decodeClaim, 4, 5, 6, 7),
	})
	e := startGPU(t, "--path.procfs="+engineProc(t), "--attribution.kubelet-socket="+socket, "--collector.gpu.gpm-interval=100ms",
		"--engine.node-name="+e2eNode, "--engine.kubeconfig="+kubeconfig, "--attribution.dra",
		"--attribution.label.claim", "--attribution.label.pod-uid")
	mfs := parse(t, e.scrapeUntil(t, "GPM series and the DRA GPUs attributed", func(mfs map[string]*dto.MetricFamily) bool {
		return gpmReady(mfs) && value(mfs, "llm_rank_info", "claim_name", decodeClaim) == 1
	}))
	checkPD(t, mfs)
	for _, m := range mfs["llm_gpu_power_watts"].GetMetric() {
		gpu, _ := strconv.Atoi(label(m, "gpu"))
		wantClaim, wantUID := "", prefillUID
		if gpu >= 4 {
			wantClaim, wantUID = decodeClaim, decodeUID
		}
		if label(m, "claim_name") != wantClaim || label(m, "pod_uid") != wantUID {
			t.Errorf("GPU %d: claim %q, pod_uid %q; want %q, %q", gpu, label(m, "claim_name"), label(m, "pod_uid"), wantClaim, wantUID)
		}
	}
	for _, src := range []string{"kubelet", "resourceslices"} {
		if v := value(mfs, "llm_exporter_attribution_refresh_errors_total", "source", src); v != 0 {
			t.Errorf("%s refresh errors = %v", src, v)
		}
	}
}

// No device list names a GPU (the kubelet lists nothing): the compute
// processes' cgroups and the API server's pods attribute them all. The
// decode pod restarted under a new UID keeps its GPUs, with the new UID; the
// API server down keeps the last good pods and is counted.
func TestAttributionCgroupPathEndToEnd(t *testing.T) {
	api, kubeconfig := startE2EAPI(t)
	socket := startFakeKubelet(t, nil)
	proc := engineProc(t)
	e := startGPU(t, "--path.procfs="+proc, "--attribution.kubelet-socket="+socket, "--collector.gpu.gpm-interval=100ms",
		"--engine.node-name="+e2eNode, "--engine.kubeconfig="+kubeconfig, "--attribution.pods",
		"--attribution.label.pod-uid", "--attribution.refresh-interval=200ms")
	mfs := parse(t, e.scrapeUntil(t, "GPM series and the GPUs attributed", func(mfs map[string]*dto.MetricFamily) bool {
		return gpmReady(mfs) && value(mfs, "llm_rank_info", "pod", "sglang-decode-0") == 1
	}))
	checkPD(t, mfs)
	if v := value(mfs, "llm_exporter_attribution_refresh_errors_total", "source", "pods"); v != 0 {
		t.Errorf("pods refresh errors = %v", v)
	}
	if v := gpuValue(mfs, "llm_rank_info", 6, "pod_uid", decodeUID); v != 1 {
		t.Errorf("GPU 6 pod_uid is not the decode pod's")
	}

	// The decode pod is deleted and created again under its name (a
	// StatefulSet's): a new UID in the API server and in its cgroups.
	const newUID = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
	api.Delete(fakeapi.Pods, "llm", "sglang-decode-0")
	api.Put(fakeapi.Pods, fakeapi.NewPod("llm", "sglang-decode-0", newUID, e2eNode, "10.1.0.12", "sglang", decodeCID))
	for _, pid := range []int{2000, 2001, 4104, 4105, 4106, 4107} {
		p := filepath.Join(proc, fmt.Sprint(pid), "cgroup")
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		writeAtomic(t, p, strings.ReplaceAll(string(b), decodeUID, newUID))
	}
	mfs = parse(t, e.scrapeUntil(t, "the restarted pod's new UID", func(mfs map[string]*dto.MetricFamily) bool {
		return gpuValue(mfs, "llm_rank_info", 6, "pod_uid", newUID) == 1
	}))
	checkPD(t, mfs)

	api.SetDown(true)
	mfs = parse(t, e.scrapeUntil(t, "the API server's failure counted", func(mfs map[string]*dto.MetricFamily) bool {
		return value(mfs, "llm_exporter_attribution_refresh_errors_total", "source", "pods") >= 1
	}))
	checkPD(t, mfs)
	if v := gpuValue(mfs, "llm_rank_info", 6, "pod_uid", newUID); v != 1 {
		t.Errorf("the last good pods were not kept with the API server down")
	}
}

// writeAtomic replaces a file as one rename, so a reader sees old or new.
func writeAtomic(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path+".tmp", []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		t.Fatal(err)
	}
}

// MIG devices created and destroyed on GPU 1 while the exporter runs are
// listed and attributed at the next refresh, each to its own pod.
func TestAttributionMIGEndToEnd(t *testing.T) {
	proc := engineProc(t)
	// A decode scheduler (DP1) runs on GPU 1's second MIG device.
	if out, err := runCmd("cp", "-a", filepath.Join(proc, "2011"), filepath.Join(proc, "4201")); err != nil {
		t.Fatalf("cp: %v: %s", err, out)
	}
	migFile := filepath.Join(t.TempDir(), "migs")
	writeAtomic(t, migFile, "")
	t.Setenv("FAKENVML_MIG_GPUS", "1")
	t.Setenv("FAKENVML_MIG_FILE", migFile)
	socket := startFakeKubelet(t, []*podresources.PodResources{
		gpuPod("llm", "sglang-prefill-0", "sglang", 0, 2, 3),
		gpuPod("llm", "sglang-decode-0", "sglang", 4, 5, 6, 7),
	})
	e := startGPU(t, "--path.procfs="+proc, "--attribution.kubelet-socket="+socket, "--attribution.refresh-interval=200ms")
	mfs := parse(t, e.scrape(t))
	if n := len(mfs["llm_mig_rank_info"].GetMetric()); n != 0 {
		t.Fatalf("%d MIG devices before any was created", n)
	}
	migA, migB := "MIG-6a1f0c2e-93d4-5b7a-8c1e-2f4d6b8a0c11", "MIG-7b2e1d3f-a4e5-5c8b-9d2f-3e5c7a9b1d22"
	writeAtomic(t, migFile, fmt.Sprintf("1 7 %s 4101\n1 8 %s 4201\n", migA, migB))
	mfs = parse(t, e.scrapeUntil(t, "two MIG devices attributed", func(mfs map[string]*dto.MetricFamily) bool {
		return value(mfs, "llm_mig_rank_info", "pod", "sglang-decode-0") == 1 && value(mfs, "llm_mig_rank_info", "pod", "sglang-prefill-0") == 1
	}))
	for _, m := range mfs["llm_mig_rank_info"].GetMetric() {
		switch label(m, "uuid") {
		case migA:
			if label(m, "gpu") != "1" || label(m, "gpu_instance") != "7" || label(m, "pod") != "sglang-prefill-0" || label(m, "role") != "prefill" || label(m, "dp_rank") != "1" {
				t.Errorf("MIG A: %v", m.Label)
			}
		case migB:
			if label(m, "gpu") != "1" || label(m, "gpu_instance") != "8" || label(m, "pod") != "sglang-decode-0" || label(m, "role") != "decode" || label(m, "dp_rank") != "1" {
				t.Errorf("MIG B: %v", m.Label)
			}
		default:
			t.Errorf("unknown MIG device %v", m.Label)
		}
	}
	// GPU 1 is shared by two pods' MIG devices: no pod on its own series.
	if v := gpuValue(mfs, "llm_rank_info", 1, "pod", ""); v != 1 {
		t.Errorf("GPU 1 shared by two pods: llm_rank_info{pod=\"\"} = %v", v)
	}
	writeAtomic(t, migFile, fmt.Sprintf("1 8 %s 4201\n", migB))
	e.scrapeUntil(t, "the destroyed MIG device gone", func(mfs map[string]*dto.MetricFamily) bool {
		return len(mfs["llm_mig_rank_info"].GetMetric()) == 1 && value(mfs, "llm_mig_rank_info", "uuid", migB) == 1
	})
}

// A static --engine.target without pod labels gets its pod, container, engine
// and role from the process listening on its port (/proc/net/tcp, the fd
// holding the socket, that process's cgroup).
func TestEngineTargetAttributionEndToEnd(t *testing.T) {
	page, err := os.ReadFile("../../collector/engine/testdata/sglang-prefill-tp2.txt")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		_, _ = w.Write(page)
	}))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	port, _ := strconv.Atoi(u.Port())
	proc := engineProc(t)
	// The prefill launcher (PID 1000) listens on the engine's port.
	if err := os.MkdirAll(filepath.Join(proc, "net"), 0o755); err != nil {
		t.Fatal(err)
	}
	tcp := "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n" +
		fmt.Sprintf("   0: 0100007F:%04X 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 73120 1 0000000000000000 100 0 0 10 0\n", port)
	if err := os.WriteFile(filepath.Join(proc, "net", "tcp"), []byte(tcp), 0o644); err != nil {
		t.Fatal(err)
	}
	fd := filepath.Join(proc, "1000", "fd")
	if err := os.MkdirAll(fd, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("socket:[73120]", filepath.Join(fd, "12")); err != nil {
		t.Fatal(err)
	}
	_, kubeconfig := startE2EAPI(t)
	e := start(t, "--path.sysfs="+fixtureSysfs, "--path.procfs="+proc, "--no-attribution.kubelet",
		"--engine.node-name="+e2eNode, "--engine.kubeconfig="+kubeconfig, "--attribution.pods",
		"--engine.target="+srv.URL+"/metrics")
	mfs := parse(t, e.scrapeUntil(t, "the target labelled", func(mfs map[string]*dto.MetricFamily) bool {
		return value(mfs, "llm_engine_up", "pod", "sglang-prefill-0") == 1
	}))
	for _, m := range mfs["llm_engine_up"].GetMetric() {
		if label(m, "namespace") != "llm" || label(m, "container") != "sglang" || label(m, "role") != "prefill" || label(m, "engine") != "sglang" {
			t.Errorf("llm_engine_up labels %v", m.Label)
		}
	}
	if n := len(mfs["llm_engine_stage_latency_seconds"].GetMetric()); n == 0 {
		t.Fatal("no stage latency series")
	}
	for _, m := range mfs["llm_engine_stage_latency_seconds"].GetMetric() {
		if label(m, "pod") != "sglang-prefill-0" || label(m, "role") != "prefill" {
			t.Errorf("stage latency labels %v", m.Label)
		}
	}
}

// The first attribution refresh never holds start-up back: with one
// engine process whose /proc cmdline blocks (stuck in the kernel), the
// exporter serves at once, attributes the other GPUs, counts the stuck
// process, and exits on SIGTERM.
func TestAttributionStuckProcessEndToEnd(t *testing.T) {
	proc := engineProc(t)
	cmdline := filepath.Join(proc, "4103", "cmdline")
	if err := os.Remove(cmdline); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(cmdline, 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	t.Cleanup(func() {
		if f, err := os.OpenFile(cmdline, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			f.Close()
		}
	})
	socket := startFakeKubelet(t, []*podresources.PodResources{
		gpuPod("llm", "sglang-prefill-0", "sglang", 0, 1, 2, 3),
		gpuPod("llm", "sglang-decode-0", "sglang", 4, 5, 6, 7),
	})
	e := startGPU(t, "--path.procfs="+proc, "--attribution.kubelet-socket="+socket)
	mfs := parse(t, e.scrapeUntil(t, "the stuck process counted", func(mfs map[string]*dto.MetricFamily) bool {
		return value(mfs, "llm_exporter_attribution_process_read_misses_total", "reason", "timeout") >= 1
	}))
	if v := gpuValue(mfs, "llm_rank_info", 2, "dp_rank", "2", "role", "prefill"); v != 1 {
		t.Errorf("GPU 2 beside the stuck process not attributed")
	}
	if v := gpuValue(mfs, "llm_rank_info", 3, "dp_rank", ""); v != 1 {
		t.Errorf("GPU 3, whose process is stuck, has a dp_rank")
	}
	if err := syscall.Kill(e.pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-e.exited:
	case <-time.After(10 * time.Second):
		t.Fatalf("the exporter ignored SIGTERM with a stuck /proc read:\n%s", e.log)
	}
}
