// Command fake-engines serves engine fixture pages (collector/engine/testdata, and
// cmd/llm-node-exporter/testdata/engines for pages with families those leave out) on loopback,
// one listener per engine, for `make demo-stack` (SGLang prefill and decode, vLLM V1 and V0): the
// exporter's engine collector and Prometheus scrape them as if they were SGLang and vLLM servers. A page can be switched "down" (503) and back at run
// time with GET /down and GET /up on its listener, to watch LLMEngineDown fire and resolve.
// With -kubelet-socket it also serves the kubelet's pod-resources API there, as the end-to-end
// tests' fake kubelet does: pod llm/sglang-prefill-0 holds the fake NVML's GPUs 0-3 and
// llm/sglang-decode-0 GPUs 4-7, so that GPU and InfiniBand series carry pod, role and dp_rank.
// With -advance the pages' counters and histograms grow (the page's traffic once per period), so
// rates, mean latencies and quantiles have values; with -sysfs the data and packet counters of the
// ACTIVE ports of a sysfs copy grow every -sysfs-interval.
//
//	fake-engines -engine 127.0.0.1:30000=collector/engine/testdata/sglang-prefill-tp2.txt \
//	  -engine 127.0.0.1:30002=cmd/llm-node-exporter/testdata/engines/vllm-v1-dp2.txt ...
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"google.golang.org/grpc"
	podresources "k8s.io/kubelet/pkg/apis/podresources/v1"
)

// kubelet serves a fixed pod-resources List.
type kubelet struct {
	podresources.UnimplementedPodResourcesListerServer
}

func gpuPod(name string, gpus ...int) *podresources.PodResources {
	ids := make([]string, len(gpus))
	for i, g := range gpus {
		ids[i] = fmt.Sprintf("GPU-00000000-0000-0000-0000-00000000000%d", g) // the fake NVML's UUIDs
	}
	return &podresources.PodResources{Namespace: "llm", Name: name, Containers: []*podresources.ContainerResources{{
		Name:    "sglang",
		Devices: []*podresources.ContainerDevices{{ResourceName: "nvidia.com/gpu", DeviceIds: ids}},
	}}}
}

func (kubelet) List(context.Context, *podresources.ListPodResourcesRequest) (*podresources.ListPodResourcesResponse, error) {
	return &podresources.ListPodResourcesResponse{PodResources: []*podresources.PodResources{
		gpuPod("sglang-prefill-0", 0, 1, 2, 3), gpuPod("sglang-decode-0", 4, 5, 6, 7),
	}}, nil
}

type engines []string

func (e *engines) String() string     { return strings.Join(*e, ",") }
func (e *engines) Set(v string) error { *e = append(*e, v); return nil }

func main() {
	var list engines
	flag.Var(&list, "engine", "ADDR=PAGE: serve the page PAGE on ADDR (/metrics); repeatable")
	socket := flag.String("kubelet-socket", "", "also serve the fake kubelet pod-resources API on this unix socket")
	period := flag.Duration("advance", 0, "grow every counter, histogram and summary of the pages by the page's values once per this period (0: static pages)")
	sysfs := flag.String("sysfs", "", "a copy of a sysfs tree whose ACTIVE InfiniBand / RoCE ports get traffic on their data and packet counters")
	sysfsInterval := flag.Duration("sysfs-interval", time.Second, "how often -sysfs counters are advanced")
	flag.Parse()
	if len(list) == 0 {
		fmt.Fprintln(os.Stderr, "fake-engines: no -engine ADDR=PAGE")
		os.Exit(2)
	}
	if *socket != "" {
		os.Remove(*socket)
		l, err := net.Listen("unix", *socket)
		if err != nil {
			log.Fatalf("fake-engines: %v", err)
		}
		srv := grpc.NewServer()
		podresources.RegisterPodResourcesListerServer(srv, kubelet{})
		go srv.Serve(l)
		defer srv.Stop()
		log.Printf("fake-engines: fake kubelet pod-resources on %s", *socket)
	}
	start := time.Now()
	if *sysfs != "" {
		go tickSysfs(*sysfs, *sysfsInterval)
	}
	var servers []*http.Server
	for _, spec := range list {
		addr, path, ok := strings.Cut(spec, "=")
		if !ok {
			log.Fatalf("fake-engines: %q is not ADDR=PAGE", spec)
		}
		page, err := os.ReadFile(path)
		if err != nil {
			log.Fatalf("fake-engines: %v", err)
		}
		var down atomic.Bool
		mux := http.NewServeMux()
		mux.HandleFunc("/metrics", func(w http.ResponseWriter, _ *http.Request) {
			if down.Load() {
				http.Error(w, "engine down", http.StatusServiceUnavailable)
				return
			}
			w.Header().Set("Content-Type", "text/plain; version=0.0.4")
			if *period > 0 {
				w.Write(advancePage(page, 1+float64(time.Since(start))/float64(*period)))
				return
			}
			w.Write(page)
		})
		mux.HandleFunc("/down", func(w http.ResponseWriter, _ *http.Request) { down.Store(true); fmt.Fprintln(w, "down") })
		mux.HandleFunc("/up", func(w http.ResponseWriter, _ *http.Request) { down.Store(false); fmt.Fprintln(w, "up") })
		srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		servers = append(servers, srv)
		log.Printf("fake-engines: %s on http://%s/metrics", path, addr)
	}
	errc := make(chan error, len(servers))
	for _, srv := range servers {
		go func() {
			if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
				errc <- err
			}
		}()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	select {
	case err := <-errc:
		log.Printf("fake-engines: %v", err)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for _, srv := range servers {
		wg.Add(1)
		go func() { defer wg.Done(); srv.Shutdown(shutdown) }()
	}
	wg.Wait()
}

// tickSysfs advances the counters under root every interval by the time that
// really passed, until the process ends.
func tickSysfs(root string, interval time.Duration) {
	last := time.Now()
	for range time.Tick(interval) {
		now := time.Now()
		if err := advanceSysfs(root, now.Sub(last)); err != nil {
			log.Printf("fake-engines: sysfs: %v", err)
		}
		last = now
	}
}
