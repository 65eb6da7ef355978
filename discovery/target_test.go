package discovery

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseTarget(t *testing.T) {
	got, err := ParseTarget("http://127.0.0.1:30000/metrics,role=prefill,namespace=ns,pod=p-0,container=sglang,model=m,dp_rank=2,engine=sglang")
	if err != nil {
		t.Fatal(err)
	}
	want := Target{URL: "http://127.0.0.1:30000/metrics", Labels: Labels{Namespace: "ns", Pod: "p-0", Container: "sglang", Role: "prefill", Model: "m", DPRank: "2", Engine: "sglang"}}
	if got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if got, err := ParseTarget("http://10.0.0.1:8000"); err != nil || got.URL != "http://10.0.0.1:8000/metrics" {
		t.Errorf("default path: %+v %v", got, err)
	}
	for _, bad := range []string{
		"127.0.0.1:30000",                         // no scheme
		"ftp://h/metrics",                         // scheme
		"http://h/metrics,role",                   // not name=value
		"http://h/metrics,role=leader",            // role
		"http://h/metrics,engine=tgi",             // engine
		"http://h/metrics,instance=x",             // unknown label
		"http://%zz/metrics",                      // URL
		"http:///metrics",                         // no host
		"http://h/metrics,pod=a,namespace=b,dc=x", // unknown label after good ones
	} {
		if _, err := ParseTarget(bad); err == nil {
			t.Errorf("ParseTarget(%q) accepted", bad)
		}
	}
}

const fileSDJSON = `[
  {"targets": ["10.0.0.1:30000", "10.0.0.2:30000"], "labels": {"role": "prefill", "namespace": "ns", "__metrics_path__": "/m", "__meta_x": "ignored"}},
  {"targets": ["https://10.0.0.3:8000/metrics"], "labels": {"pod": "vllm-0"}}
]`

const fileSDYAML = `
- targets: ["10.0.0.1:30000"]
  labels:
    role: decode
    __scheme__: https
`

func TestTargetsFile(t *testing.T) {
	got, err := parseTargetsFile("t.json", []byte(fileSDJSON))
	if err != nil {
		t.Fatal(err)
	}
	want := []Target{
		{URL: "http://10.0.0.1:30000/m", Labels: Labels{Role: "prefill", Namespace: "ns"}},
		{URL: "http://10.0.0.2:30000/m", Labels: Labels{Role: "prefill", Namespace: "ns"}},
		{URL: "https://10.0.0.3:8000/metrics", Labels: Labels{Pod: "vllm-0"}},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("target %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	got, err = parseTargetsFile("t.yaml", []byte(fileSDYAML))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != (Target{URL: "https://10.0.0.1:30000/metrics", Labels: Labels{Role: "decode"}}) {
		t.Errorf("yaml: %+v", got)
	}
	for name, bad := range map[string]string{
		"a.json": `{"targets": []}`,
		"b.json": `[{"targets": ["h:1"], "labels": {"team": "x"}}]`,
		"c.json": `[{"targets": ["h:1"], "extra": 1}]`,
		"d.yml":  "- targets: [h:1]\n  labels: {role: boss}\n",
		"e.yml":  "- targets: [h:1]\n  lables: {}\n",
		"f.json": `[{"targets": ["h:1"], "labels": {"__scheme__": "gopher"}}]`,
	} {
		if _, err := parseTargetsFile(name, []byte(bad)); err == nil {
			t.Errorf("%s accepted: %s", name, bad)
		}
	}
}

// The file is re-read when it changes; a broken or vanished file keeps the
// last good targets.
func TestWatchFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "targets.json")
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
	write(`[{"targets": ["10.0.0.1:1"], "labels": {"pod": "a"}}]`)
	got := make(chan []Target, 64)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { WatchFile(ctx, path, 5*time.Millisecond, quiet, func(t []Target) { got <- t }); close(done) }()
	// rewrite writes content again (padded to a new size, so the change is
	// seen whenever the watcher took its first look) until update is called
	// with targets ok accepts; every update must be of a valid file.
	rewrite := func(what, content string, ok func([]Target) bool) {
		t.Helper()
		deadline := time.After(10 * time.Second)
		for pad := 1; ; pad++ {
			write(content + strings.Repeat(" ", pad))
			select {
			case tg := <-got:
				if ok(tg) {
					return
				}
				t.Errorf("%s: unexpected targets %+v", what, tg)
			case <-deadline:
				t.Fatalf("%s: not reloaded", what)
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	rewrite("changed", `[{"targets": ["10.0.0.1:1", "10.0.0.2:2"], "labels": {"pod": "b"}}]`, func(tg []Target) bool {
		return len(tg) == 2 && tg[1].URL == "http://10.0.0.2:2/metrics" && tg[1].Labels.Pod == "b"
	})
	write("[{broken")
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	rewrite("fixed", `[{"targets": ["10.0.0.3:3"]}]`, func(tg []Target) bool {
		return len(tg) == 1 && tg[0].URL == "http://10.0.0.3:3/metrics"
	})
	cancel()
	<-done
}
