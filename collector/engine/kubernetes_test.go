package engine

import (
	"context"
	"net"
	"net/url"
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

func enginePod(ns, name, node, ip string, ann map[string]string, containers ...corev1.Container) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Annotations: ann},
		Spec:       corev1.PodSpec{NodeName: node, Containers: containers},
		Status:     corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip},
	}
}

func hostPort(t *testing.T, raw string) (string, string) {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	h, p, err := net.SplitHostPort(u.Host)
	if err != nil {
		t.Fatal(err)
	}
	return h, p
}

func TestKubernetesDiscovery(t *testing.T) {
	prefillHost, prefillPort := hostPort(t, serve(t, textPage(fixture(t, "sglang-prefill-tp2.txt"))))
	vllmHost, vllmPort := hostPort(t, serve(t, textPage(fixture(t, "vllm-v1-dp2.txt"))))
	port, _ := strconv.Atoi(vllmPort)
	scrape := map[string]string{annScrape: "true", annPort: prefillPort}
	client := fake.NewClientset(
		// Annotated, on this node: the container declaring the port is the one labelled.
		enginePod("llm", "chat-prefill-0", "n1", prefillHost, scrape,
			corev1.Container{Name: "router"}, corev1.Container{Name: "sglang", Ports: []corev1.ContainerPort{{ContainerPort: 30000}, {ContainerPort: int32(mustAtoi(prefillPort))}}}),
		// No port annotation, one declared TCP port.
		enginePod("llm", "llama-0", "n1", vllmHost, map[string]string{annScrape: "true", annPath: "/metrics"},
			corev1.Container{Name: "vllm", Ports: []corev1.ContainerPort{{ContainerPort: int32(port)}}}),
		// Not for this exporter.
		enginePod("llm", "other-node", "n2", prefillHost, scrape, corev1.Container{Name: "sglang"}),
		enginePod("llm", "not-annotated", "n1", prefillHost, nil, corev1.Container{Name: "sglang"}),
		enginePod("llm", "bad-port", "n1", prefillHost, map[string]string{annScrape: "true", annPort: "http"}, corev1.Container{Name: "sglang"}),
		&corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: "llm", Name: "pending", Annotations: scrape},
			Spec:       corev1.PodSpec{NodeName: "n1", Containers: []corev1.Container{{Name: "sglang"}}},
			Status:     corev1.PodStatus{Phase: corev1.PodPending},
		},
	)
	c, err := New(Config{Kubernetes: true, NodeName: "n1", KubeClient: client}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c.Start(ctx) // waits for the first list

	mfs := gather(t, c)
	ups := samples(mfs, "llm_engine_up")
	if len(ups) != 2 {
		t.Fatalf("targets: %v", ups)
	}
	s := one(t, mfs, "llm_engine_up", map[string]string{"pod": "chat-prefill-0"})
	if s.value != 1 || s.labels["namespace"] != "llm" || s.labels["container"] != "sglang" || s.labels["engine"] != "sglang" {
		t.Errorf("prefill pod: %+v", s)
	}
	if s := one(t, mfs, "llm_engine_up", map[string]string{"pod": "llama-0"}); s.value != 1 || s.labels["container"] != "vllm" {
		t.Errorf("vllm pod: %+v", s)
	}
	one(t, mfs, "llm_engine_stage_latency_seconds", map[string]string{"pod": "chat-prefill-0", "namespace": "llm", "container": "sglang", "role": "prefill", "stage": "prefill_forward"})

	// The API server was asked for this node's pods only.
	for _, a := range client.Actions() {
		if a.GetVerb() != "list" && a.GetVerb() != "watch" {
			continue
		}
		var sel string
		switch a := a.(type) {
		case k8stesting.ListAction:
			sel = a.GetListRestrictions().Fields.String()
		case k8stesting.WatchAction:
			sel = a.GetWatchRestrictions().Fields.String()
		}
		if sel != "spec.nodeName=n1" {
			t.Errorf("%s without the node's field selector: %q", a.GetVerb(), sel)
		}
	}

	// A deleted pod's target goes away.
	if err := client.CoreV1().Pods("llm").Delete(ctx, "llama-0", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(samples(gather(t, c), "llm_engine_up")) != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the deleted pod is still a target")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func mustAtoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		panic(err)
	}
	return n
}

func TestPodTarget(t *testing.T) {
	for name, tc := range map[string]struct {
		pod  *corev1.Pod
		want string // "" for no target
	}{
		"annotated":     {enginePod("ns", "p", "n", "10.0.0.5", map[string]string{annScrape: "true", annPort: "30000"}, corev1.Container{Name: "c"}), "http://10.0.0.5:30000/metrics"},
		"path, scheme":  {enginePod("ns", "p", "n", "10.0.0.5", map[string]string{annScrape: "true", annPort: "8000", annPath: "/m", annScheme: "https"}, corev1.Container{Name: "c"}), "https://10.0.0.5:8000/m"},
		"ipv6":          {enginePod("ns", "p", "n", "fd00::5", map[string]string{annScrape: "true", annPort: "8000"}, corev1.Container{Name: "c"}), "http://[fd00::5]:8000/metrics"},
		"scrape=false":  {enginePod("ns", "p", "n", "10.0.0.5", map[string]string{annScrape: "false", annPort: "8000"}, corev1.Container{Name: "c"}), ""},
		"no port":       {enginePod("ns", "p", "n", "10.0.0.5", map[string]string{annScrape: "true"}, corev1.Container{Name: "c"}), ""},
		"two ports":     {enginePod("ns", "p", "n", "10.0.0.5", map[string]string{annScrape: "true"}, corev1.Container{Name: "c", Ports: []corev1.ContainerPort{{ContainerPort: 1}, {ContainerPort: 2}}}), ""},
		"port too big":  {enginePod("ns", "p", "n", "10.0.0.5", map[string]string{annScrape: "true", annPort: "70000"}, corev1.Container{Name: "c"}), ""},
		"no IP yet":     {enginePod("ns", "p", "n", "", map[string]string{annScrape: "true", annPort: "8000"}, corev1.Container{Name: "c"}), ""},
		"bad scheme":    {enginePod("ns", "p", "n", "10.0.0.5", map[string]string{annScrape: "true", annPort: "8000", annScheme: "grpc"}, corev1.Container{Name: "c"}), ""},
		"udp port only": {enginePod("ns", "p", "n", "10.0.0.5", map[string]string{annScrape: "true"}, corev1.Container{Name: "c", Ports: []corev1.ContainerPort{{ContainerPort: 1, Protocol: corev1.ProtocolUDP}}}), ""},
	} {
		got, ok, _ := podTarget(tc.pod)
		if (tc.want == "") == ok || (ok && got.URL != tc.want) {
			t.Errorf("%s: got %q (%v), want %q", name, got.URL, ok, tc.want)
		}
	}
}

func TestKubernetesNeedsNodeName(t *testing.T) {
	if _, err := New(Config{Kubernetes: true, KubeClient: fake.NewClientset()}, quiet); err == nil {
		t.Error("--engine.kubernetes without a node name was accepted")
	}
}
