package engine

import (
	"context"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/llm-node-exporter/llm-node-exporter/discovery"
	"github.com/llm-node-exporter/llm-node-exporter/discovery/fakeapi"
)

// The file is re-read when it changes; a broken version keeps the last good targets.
func TestTargetsFileReload(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "targets.json")
	unified := serve(t, textPage(fixture(t, "sglang-unified.txt")))
	vllm := serve(t, textPage(fixture(t, "vllm-v1-dp2.txt")))
	write := func(s string) {
		t.Helper()
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil { // atomic, as a ConfigMap update
			t.Fatal(err)
		}
	}
	group := func(url, pod string) string {
		return `{"targets": ["` + url + `"], "labels": {"pod": "` + pod + `"}}`
	}
	write("[" + group(unified, "a") + "]")
	c, err := New(Config{TargetsFile: path, FileRefresh: 10 * time.Millisecond}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c.Start(ctx)
	ups := func() map[string]bool {
		out := map[string]bool{}
		for _, s := range samples(gather(t, c), "llm_engine_up") {
			out[s.labels["pod"]+"/"+s.labels["engine"]] = s.value == 1
		}
		return out
	}
	if got := ups(); len(got) != 1 || !got["a/sglang"] {
		t.Fatalf("initial targets: %v", got)
	}
	waitFor := func(what string, ok func(map[string]bool) bool) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			got := ups()
			if ok(got) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: targets %v", what, got)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	write("[" + group(unified, "a") + "," + group(vllm, "b") + "]")
	waitFor("added", func(m map[string]bool) bool { return len(m) == 2 && m["a/sglang"] && m["b/vllm"] })
	write("[" + group(vllm, "b") + "]")
	waitFor("removed", func(m map[string]bool) bool { return len(m) == 1 && m["b/vllm"] })
	write("[{broken")
	time.Sleep(100 * time.Millisecond)
	if got := ups(); len(got) != 1 || !got["b/vllm"] {
		t.Errorf("a broken file replaced the targets: %v", got)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if got := ups(); len(got) != 1 {
		t.Errorf("a vanished file replaced the targets: %v", got)
	}
}

func TestNewRejectsBrokenTargetsFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.yaml")
	if err := os.WriteFile(path, []byte("- targets: [h:1]\n  labels: {nope: x}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Config{TargetsFile: path}, quiet); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("New accepted a broken targets file: %v", err)
	}
	if _, err := New(Config{TargetsFile: filepath.Join(t.TempDir(), "missing.json")}, quiet); err == nil {
		t.Error("New accepted a missing targets file")
	}
}

func TestFlags(t *testing.T) {
	app := kingpin.New("test", "")
	f := AddFlags(app)
	if _, err := app.Parse([]string{
		"--engine.target=http://127.0.0.1:30000/metrics,role=prefill",
		"--engine.target=http://127.0.0.1:30001/metrics,role=decode",
		"--engine.timeout=2s", "--engine.body-limit=8MiB", "--engine.passthrough",
	}); err != nil {
		t.Fatal(err)
	}
	cfg, err := f.Config()
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Targets) != 2 || cfg.Targets[1].Labels.Role != "decode" || cfg.Timeout != 2*time.Second ||
		cfg.BodyLimit != 8<<20 || !cfg.Passthrough || !cfg.Enabled() {
		t.Errorf("config: %+v", cfg)
	}

	app = kingpin.New("test", "")
	f = AddFlags(app)
	if _, err := app.Parse(nil); err != nil {
		t.Fatal(err)
	}
	cfg, err = f.Config()
	if err != nil || cfg.Enabled() || cfg.Timeout != DefaultTimeout || cfg.BodyLimit != DefaultBodyLimit || cfg.Passthrough {
		t.Errorf("defaults: %+v %v", cfg, err)
	}

	t.Setenv("NODE_NAME", "")
	app = kingpin.New("test", "")
	f = AddFlags(app)
	if _, err := app.Parse([]string{"--engine.kubernetes"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Config(); err == nil {
		t.Error("--engine.kubernetes without a node name was accepted")
	}
	t.Setenv("NODE_NAME", "gpu-node-7")
	app = kingpin.New("test", "")
	f = AddFlags(app)
	if _, err := app.Parse([]string{"--engine.kubernetes", "--engine.kubeconfig=/etc/kube/config"}); err != nil {
		t.Fatal(err)
	}
	if cfg, err := f.Config(); err != nil || !cfg.Kubernetes || cfg.NodeName != "gpu-node-7" || cfg.Kubeconfig != "/etc/kube/config" || !cfg.Enabled() {
		t.Errorf("kubernetes flags: %+v %v", cfg, err)
	}

	app = kingpin.New("test", "")
	f = AddFlags(app)
	if _, err := app.Parse([]string{"--engine.target=http://h/metrics,shard=1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Config(); err == nil {
		t.Error("a bad --engine.target was accepted")
	}
}

type fakeAttributor map[string]discovery.Labels

func (f fakeAttributor) TargetLabels(url string) (discovery.Labels, bool) {
	l, ok := f[url]
	return l, ok
}

// The attribution cache fills what the target leaves empty, never more.
func TestAttributor(t *testing.T) {
	url := serve(t, textPage(fixture(t, "sglang-unified.txt")))
	c := newCollector(t, Config{
		Targets:    []Target{{URL: url, Labels: JoinLabels{Pod: "from-flag"}}},
		Attributor: fakeAttributor{url: {Namespace: "ns", Pod: "from-cache", Container: "engine"}},
	})
	mfs := gather(t, c)
	s := one(t, mfs, "llm_engine_requests_running", nil)
	if s.labels["pod"] != "from-flag" || s.labels["namespace"] != "ns" || s.labels["container"] != "engine" {
		t.Errorf("labels: %v", s.labels)
	}
}

// Kubernetes discovery feeds the collector: the annotated pod of the node is
// scraped and labelled with its namespace, pod and container.
func TestKubernetesTargets(t *testing.T) {
	u, err := url.Parse(serve(t, textPage(fixture(t, "sglang-prefill-tp2.txt"))))
	if err != nil {
		t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(u.Host)
	api := fakeapi.New(t, "n1", "tok")
	p := fakeapi.NewPod("llm", "chat-prefill-0", "uid-1", "n1", host, "sglang", "")
	p.Metadata.Annotations = map[string]string{"prometheus.io/scrape": "true", "prometheus.io/port": port}
	api.Replace(fakeapi.Pods, p, fakeapi.NewPod("llm", "not-annotated", "uid-2", "n1", host, "sglang", ""))
	c, err := New(Config{Kubernetes: true, NodeName: "n1", Kubeconfig: api.Kubeconfig(t.TempDir())}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c.Start(ctx) // waits for the first list
	mfs := gather(t, c)
	if ups := samples(mfs, "llm_engine_up"); len(ups) != 1 {
		t.Fatalf("targets: %v", ups)
	}
	s := one(t, mfs, "llm_engine_up", map[string]string{"pod": "chat-prefill-0"})
	if s.value != 1 || s.labels["namespace"] != "llm" || s.labels["container"] != "sglang" || s.labels["engine"] != "sglang" {
		t.Errorf("prefill pod: %+v", s)
	}
	one(t, mfs, "llm_engine_stage_latency_seconds", map[string]string{"pod": "chat-prefill-0", "namespace": "llm", "container": "sglang", "role": "prefill", "stage": "prefill_forward"})
}

func TestKubernetesNeedsNodeName(t *testing.T) {
	if _, err := New(Config{Kubernetes: true, KubeClient: &discovery.Client{}}, quiet); err == nil {
		t.Error("--engine.kubernetes without a node name was accepted")
	}
}
