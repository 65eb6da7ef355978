package main

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/alecthomas/kingpin/v2"
	podresources "k8s.io/kubelet/pkg/apis/podresources/v1"

	"github.com/llm-node-exporter/llm-node-exporter/collector"
)

// The pod-resources connection is closed when the exporter stops: the
// cache's last refresh done, nothing is left connected to the kubelet.
func TestAttributionClosesKubeletClientOnShutdown(t *testing.T) {
	socket := startFakeKubelet(t, []*podresources.PodResources{gpuPod("llm", "p", "c", 0)})
	app := kingpin.New("test", "")
	f := addAttributionFlags(app)
	if _, err := app.Parse([]string{"--attribution.kubelet-socket=" + socket, "--attribution.refresh-interval=1h"}); err != nil {
		t.Fatal(err)
	}
	ac, err := f.newCache(collector.Paths{Sysfs: fixtureSysfs, Procfs: t.TempDir(), Rootfs: "/"}, nil, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil || ac == nil || ac.kubelet == nil {
		t.Fatalf("newCache: %+v, %v", ac, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ac.start(ctx)
	for deadline := time.Now().Add(10 * time.Second); ac.cache.Health().Refreshes == 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no first refresh")
		}
	}
	if _, err := ac.kubelet.List(context.Background()); err != nil {
		t.Fatalf("List while running: %v", err)
	}
	cancel()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		_, err := ac.kubelet.List(context.Background())
		if err != nil && strings.Contains(err.Error(), "closing") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the pod-resources client is still open after shutdown: List = %v", err)
		}
	}
}
