package attribution

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	podresourcesv1 "k8s.io/kubelet/pkg/apis/podresources/v1"
)

// copyProc copies the /proc fixture into a temporary directory.
func copyProc(t *testing.T) string {
	t.Helper()
	proc := t.TempDir()
	if err := os.CopyFS(proc, os.DirFS("testdata/proc")); err != nil {
		t.Fatal(err)
	}
	return proc
}

// fifo replaces a file by a FIFO nobody writes to: a read blocks in open(2)
// as a read of a stuck process's cmdline does. The FIFO is released (a
// writer opens and closes it) when the test ends.
func fifo(t *testing.T, path string) {
	t.Helper()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(path, 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	t.Cleanup(func() {
		// Non-blocking: fails with ENXIO when no reader is blocked any more.
		if f, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			f.Close()
		}
	})
}

// countOpens counts the opens of each file by the reader.
func countOpens(t *testing.T) func(path string) int {
	var mu sync.Mutex
	opens := map[string]int{}
	orig := openFile
	openFile = func(name string) (*os.File, error) {
		mu.Lock()
		opens[name]++
		mu.Unlock()
		return orig(name)
	}
	t.Cleanup(func() { openFile = orig })
	return func(path string) int {
		mu.Lock()
		defer mu.Unlock()
		return opens[path]
	}
}

// refreshWithin runs a refresh and fails the test if it has not returned
// long after every deadline it has (a hang, not a slow run).
func refreshWithin(t *testing.T, c *Cache) {
	t.Helper()
	done := make(chan struct{})
	go func() { c.Refresh(context.Background()); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Refresh is stuck on a /proc read")
	}
}

// A process whose cmdline blocks (a process stuck in the kernel) is
// skipped and counted, the others are attributed, and the blocked file is
// never read again while its first read is stuck.
func TestCacheStuckProcess(t *testing.T) {
	proc := copyProc(t)
	cmdline := filepath.Join(proc, "1011", "cmdline")
	fifo(t, cmdline)
	opens := countOpens(t)
	c := New(Config{Sysfs: "../testdata/sys", Procfs: proc, ProcReadTimeout: 20 * time.Millisecond}, pdGPUs(), nil)
	refreshWithin(t, c)
	h := c.Health()
	if h.Misses[MissTimeout] != 1 || h.Errors[SourceProcfs] != 1 {
		t.Errorf("after one refresh: misses %v, errors %v", h.Misses, h.Errors)
	}
	if g, _ := c.Snapshot().GPU(fixtureUUIDs[0]); g.DPRank != "0" || g.Role != "prefill" {
		t.Errorf("GPU 0 beside the stuck process: %+v", g)
	}
	if g, _ := c.Snapshot().GPU(fixtureUUIDs[1]); g.DPRank != "" {
		t.Errorf("GPU 1, whose process is stuck, guessed: %+v", g)
	}
	refreshWithin(t, c)
	if n := opens(cmdline); n != 1 {
		t.Errorf("the stuck cmdline was opened %d times, want once", n)
	}
	if h := c.Health(); h.Misses[MissTimeout] != 2 {
		t.Errorf("after two refreshes: misses %v", h.Misses)
	}
	if n := c.procs.files.pending(); n != 1 {
		t.Errorf("%d reads pending, want the one stuck", n)
	}
}

// A process's reading that was good keeps its labels when a file vanishes
// mid-read while the process is still there (same start time); the miss is
// counted. A new process under the same PID gets no old labels.
func TestCacheIncompleteReadingKeepsLastGood(t *testing.T) {
	proc := copyProc(t)
	c := New(Config{Sysfs: "../testdata/sys", Procfs: proc}, pdGPUs(), nil)
	c.Refresh(context.Background())
	// PID 2013 (GPU 7) takes its DP rank from SGLANG_DP_RANK.
	if g, _ := c.Snapshot().GPU(fixtureUUIDs[7]); g.DPRank != "3" {
		t.Fatalf("GPU 7 before: %+v", g)
	}
	if err := os.Remove(filepath.Join(proc, "2013", "environ")); err != nil {
		t.Fatal(err)
	}
	c.Refresh(context.Background())
	if g, _ := c.Snapshot().GPU(fixtureUUIDs[7]); g.DPRank != "3" || g.Role != "decode" {
		t.Errorf("GPU 7 after environ vanished mid-read: %+v", g)
	}
	if h := c.Health(); h.Misses[MissPartial] != 1 {
		t.Errorf("misses %v, want one partial", h.Misses)
	}

	// The PID now belongs to another process (another start time).
	stat := filepath.Join(proc, "2013", "stat")
	b, err := os.ReadFile(stat)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(stat, []byte(strings.Replace(string(b), " 12345 ", " 99999 ", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	c.Refresh(context.Background())
	if g, _ := c.Snapshot().GPU(fixtureUUIDs[7]); g.DPRank != "" {
		t.Errorf("a new process under PID 2013 kept the old one's dp_rank: %+v", g)
	}
}

// manyPodsOneGPU is a reply with n pods sharing one GPU (time-slicing).
func manyPodsOneGPU(n int) *podresourcesv1.ListPodResourcesResponse {
	resp := &podresourcesv1.ListPodResourcesResponse{}
	for i := range n {
		resp.PodResources = append(resp.PodResources, &podresourcesv1.PodResources{Name: fmt.Sprintf("job-%06d", i), Namespace: "batch",
			Containers: []*podresourcesv1.ContainerResources{{Name: "main", Devices: []*podresourcesv1.ContainerDevices{
				devs("nvidia.com/gpu.shared", fmt.Sprintf("%s::%d", fixtureUUIDs[0], i%32))}}}})
	}
	return resp
}

func TestAllocationsManyPodsOneGPU(t *testing.T) {
	a, err := allocationsOf(context.Background(), manyPodsOneGPU(100_000), DefaultGPUResourcePrefixes)
	if err != nil {
		t.Fatal(err)
	}
	if got := a.GPUs[fixtureUUIDs[0]]; len(got) != 100_000 || got[0].Pod != "job-000000" || got[99_999].Pod != "job-099999" {
		t.Errorf("%d holders of GPU 0", len(got))
	}
}

// countingCtx is cancelled after its Err has been asked n times.
type countingCtx struct {
	context.Context
	mu    sync.Mutex
	left  int
	calls int
}

func (c *countingCtx) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls++
	if c.left--; c.left < 0 {
		return context.Canceled
	}
	return nil
}

// Reading a reply stops when its context ends: after at most one more
// batch of containers.
func TestAllocationsInterruptible(t *testing.T) {
	ctx := &countingCtx{Context: context.Background(), left: 3}
	_, err := allocationsOf(ctx, manyPodsOneGPU(100_000), DefaultGPUResourcePrefixes)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if ctx.calls != 4 {
		t.Errorf("the context was looked at %d times, want 4 (stop at the first look after it ended)", ctx.calls)
	}
}

// BenchmarkAllocationsOneGPU: the cost per pod must not grow with the number
// of pods sharing a GPU (docs/attribution.md has the figures).
func BenchmarkAllocationsOneGPU(b *testing.B) {
	for _, n := range []int{20_000, 100_000} {
		resp := manyPodsOneGPU(n)
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			for b.Loop() {
				if _, err := allocationsOf(context.Background(), resp, DefaultGPUResourcePrefixes); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/pod")
		})
	}
}

// pairwiseDedup is the way the exporter de-duplicated the kubelet's reply
// before (a scan of the holders so far at each insert), kept only to be
// measured against: BenchmarkDedupVsPairwise.
func pairwiseDedup(resp *podresourcesv1.ListPodResourcesResponse) map[string][]Container {
	m := map[string][]Container{}
	for _, pod := range resp.GetPodResources() {
		for _, ctr := range pod.GetContainers() {
			ref := Container{Namespace: pod.GetNamespace(), Pod: pod.GetName(), Container: ctr.GetName()}
			for _, dev := range ctr.GetDevices() {
				for _, id := range dev.GetDeviceIds() {
					if i := strings.Index(id, "::"); i > 0 {
						id = id[:i]
					}
					dup := false
					for _, have := range m[id] {
						if have == ref {
							dup = true
							break
						}
					}
					if !dup {
						m[id] = append(m[id], ref)
					}
				}
			}
		}
	}
	return m
}

// BenchmarkDedupVsPairwise measures the reply's reading side by side with
// the pairwise de-duplication it replaced (docs/attribution.md).
func BenchmarkDedupVsPairwise(b *testing.B) {
	for _, n := range []int{5_000, 20_000} {
		resp := manyPodsOneGPU(n)
		b.Run(fmt.Sprint("pairwise/", n), func(b *testing.B) {
			for b.Loop() {
				pairwiseDedup(resp)
			}
		})
		b.Run(fmt.Sprint("sets/", n), func(b *testing.B) {
			for b.Loop() {
				if _, err := allocationsOf(context.Background(), resp, DefaultGPUResourcePrefixes); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
