package attribution

import (
	"errors"
	"io/fs"
	"strings"
	"testing"
)

func TestParseProcessTitle(t *testing.T) {
	tests := []struct {
		in   string
		want Title
		ok   bool
	}{
		{"sglang::scheduler_DP1_TP8", Title{Engine: "sglang", Component: "scheduler", DPRank: "1", TPRank: "8"}, true},
		{"sglang::scheduler_DP0_TP0\x00\x00\x00", Title{Engine: "sglang", Component: "scheduler", DPRank: "0", TPRank: "0"}, true},
		{"sglang::scheduler_TP3", Title{Engine: "sglang", Component: "scheduler", TPRank: "3"}, true},
		{"sglang::scheduler", Title{Engine: "sglang", Component: "scheduler"}, true},
		{"sglang::scheduler_DP2_TP16_EP16", Title{Engine: "sglang", Component: "scheduler", DPRank: "2", TPRank: "16", EPRank: "16"}, true},
		{"sglang::scheduler_TP1_PP1", Title{Engine: "sglang", Component: "scheduler", TPRank: "1", PPRank: "1"}, true},
		{"sglang::scheduler_DP0_PP1_TP2_EP0", Title{Engine: "sglang", Component: "scheduler", DPRank: "0", PPRank: "1", TPRank: "2", EPRank: "0"}, true},
		{"sglang::scheduler_NP1", Title{Engine: "sglang", Component: "scheduler"}, true},
		{"sglang::scheduler_DP3_TP3_NP1", Title{Engine: "sglang", Component: "scheduler", DPRank: "3", TPRank: "3"}, true},
		{"sglang::scheduler_0", Title{Engine: "sglang", Component: "scheduler_0"}, true},
		{"sglang::scheduler_tp1", Title{Engine: "sglang", Component: "scheduler_tp1"}, true},
		{"sglang::scheduler::Qwen3-32B", Title{Engine: "sglang", Component: "scheduler::Qwen3-32B"}, true},
		{"sglang::data_parallel_controller", Title{Engine: "sglang", Component: "data_parallel_controller"}, true},
		{"sglang::detokenizer", Title{Engine: "sglang", Component: "detokenizer"}, true},
		{"VLLM::EngineCore_DP0", Title{Engine: "vllm", Component: "EngineCore", DPRank: "0"}, true},
		{"VLLM::EngineCore", Title{Engine: "vllm", Component: "EngineCore"}, true},
		{"VLLM::Worker_DP0_TP1", Title{Engine: "vllm", Component: "Worker", DPRank: "0", TPRank: "1"}, true},
		{"VLLM::Worker_PP1_TP3", Title{Engine: "vllm", Component: "Worker", PPRank: "1", TPRank: "3"}, true},
		{"vllm::Worker_TP07", Title{Engine: "vllm", Component: "Worker", TPRank: "7"}, true},
		{"VLLM::APIServer_0", Title{Engine: "vllm", Component: "APIServer_0"}, true},
		{"  VLLM::Worker_TP2   extra words", Title{Engine: "vllm", Component: "Worker", TPRank: "2"}, true},
		// Not titles.
		{"python3", Title{}, false},
		{"python3 -m sglang.launch_server", Title{}, false},
		{"torch::worker_TP1", Title{}, false},
		{"sglang::", Title{}, false},
		{"sglang::_TP1", Title{}, false},
		{"sglang::scheduler_TP1_TP2", Title{}, false},
		{"sglang::sched\x01uler", Title{}, false},
		{"", Title{}, false},
		// Odd tails stay part of the component, never a rank.
		{"sglang::scheduler_DPx_TP1", Title{Engine: "sglang", Component: "scheduler_DPx", TPRank: "1"}, true},
		{"sglang::scheduler_TP1234567", Title{Engine: "sglang", Component: "scheduler_TP1234567"}, true},
		{"sglang::scheduler_TP-1", Title{Engine: "sglang", Component: "scheduler_TP-1"}, true},
	}
	for _, tc := range tests {
		got, ok := ParseProcessTitle(tc.in)
		if ok != tc.ok || got != tc.want {
			t.Errorf("ParseProcessTitle(%q) = %+v, %v; want %+v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func FuzzParseProcessTitle(f *testing.F) {
	for _, s := range []string{
		"sglang::scheduler_DP1_TP8", "VLLM::EngineCore_DP0", "VLLM::Worker_DP0_TP1", "sglang::scheduler_TP1_TP2",
		"sglang::data_parallel_controller", "vllm::Worker_TP07", "sglang::scheduler_DP99999999", "x::y", "::", "sglang::_",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := ParseProcessTitle(s)
		if !ok {
			if got != (Title{}) {
				t.Fatalf("not ok but %+v", got)
			}
			return
		}
		if got.Engine != EngineSGLang && got.Engine != EngineVLLM {
			t.Fatalf("engine %q", got.Engine)
		}
		if got.Component == "" || !printable(got.Component) {
			t.Fatalf("component %q", got.Component)
		}
		for _, r := range []string{got.DPRank, got.TPRank, got.PPRank, got.EPRank} {
			if r != "" && (!allDigits(r) || len(r) > maxRankDigits || (len(r) > 1 && r[0] == '0')) {
				t.Fatalf("rank %q in %+v", r, got)
			}
		}
		// A parsed title formats to a title that parses to the same thing.
		again, ok := ParseProcessTitle(got.String())
		if !ok || again != got {
			t.Fatalf("round trip %q → %+v → %q → %+v, %v", s, got, got.String(), again, ok)
		}
	})
}

func TestParseLaunchCmdline(t *testing.T) {
	tests := []struct {
		args string // split on '|'
		want Launch
	}{
		{"python3|-m|sglang.launch_server|--model-path|/m|--disaggregation-mode|prefill", Launch{"sglang", "prefill"}},
		{"python3|-m|sglang.launch_server|--disaggregation-mode=decode", Launch{"sglang", "decode"}},
		{"python3|-m|sglang.launch_server|--disaggregation-mode|null", Launch{"sglang", "unified"}},
		{"python3|-m|sglang.launch_server|--tp|8", Launch{"sglang", "unified"}},
		{"python3|-m|sglang.launch_server|--disaggregation-mode|prefill|--disaggregation-mode|decode", Launch{"sglang", "decode"}},
		{"python3|-m|sglang.launch_server|--disaggregation-mode|bogus", Launch{"sglang", ""}},
		{"python3|-m|sglang.launch_server|--config|/etc/sglang.yaml", Launch{"sglang", ""}},
		{"/usr/bin/python3|/usr/local/bin/vllm|serve|m|--kv-transfer-config|{\"kv_role\":\"kv_producer\"}", Launch{"vllm", "prefill"}},
		{"vllm|serve|m|--kv-transfer-config={\"kv_connector\":\"P2pNcclConnector\",\"kv_role\":\"kv_consumer\"}", Launch{"vllm", "decode"}},
		{"vllm|serve|m|--kv-transfer-config|{\"kv_connector\":\"NixlConnector\",\"kv_role\":\"kv_both\"}", Launch{"vllm", ""}},
		{"vllm|serve|m|--kv-transfer-config|not json", Launch{"vllm", ""}},
		{"python3|-m|vllm.entrypoints.openai.api_server|--model|m", Launch{"vllm", "unified"}},
		{"vllm|serve|m|--config|c.yaml", Launch{"vllm", ""}},
		{"python3|train.py|--disaggregation-mode|prefill", Launch{}},
		{"vllm|bench|serve", Launch{}},
		{"", Launch{}},
	}
	for _, tc := range tests {
		got := ParseLaunchCmdline(strings.Split(tc.args, "|"))
		if got != tc.want {
			t.Errorf("ParseLaunchCmdline(%q) = %+v; want %+v", tc.args, got, tc.want)
		}
	}
}

func TestParseCgroupPath(t *testing.T) {
	const id = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	const uid = "1f0a2b3c-4d5e-4f60-8a7b-9c0d1e2f3a4b"
	const uu = "1f0a2b3c_4d5e_4f60_8a7b_9c0d1e2f3a4b"
	tests := []struct {
		in   string
		want Cgroup
		ok   bool
	}{
		{"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + uu + ".slice/cri-containerd-" + id + ".scope", Cgroup{uid, id, "containerd"}, true},
		{"/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + uu + ".slice/crio-" + id + ".scope", Cgroup{uid, id, "cri-o"}, true},
		{"/kubepods.slice/kubepods-pod" + uu + ".slice/crio-" + id + ".scope", Cgroup{uid, id, "cri-o"}, true},
		{"/kubepods.slice/kubepods-pod" + uu + ".slice/crio-conmon-" + id + ".scope", Cgroup{uid, "", ""}, true},
		{"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + uu + ".slice/docker-" + id + ".scope", Cgroup{uid, id, "docker"}, true},
		{"/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/kubelet-kubepods-besteffort-pod" + uu + ".slice/cri-containerd-" + id + ".scope", Cgroup{uid, id, "containerd"}, true},
		{"/kubepods/burstable/pod" + uid + "/" + id, Cgroup{uid, id, ""}, true},
		{"/kubepods/pod" + uid + "/" + id, Cgroup{uid, id, ""}, true},
		{"/kubepods/besteffort/pod" + uid + "/crio-" + id, Cgroup{uid, id, "cri-o"}, true},
		{"/kubepods/besteffort/pod" + uid, Cgroup{uid, "", ""}, true},
		{"/kubepods/besteffort/pod" + strings.ToUpper(uid) + "/" + id, Cgroup{uid, id, ""}, true},
		// A static pod's UID is 32 hex digits.
		{"/kubepods/burstable/pod0123456789abcdef0123456789abcdef/" + id, Cgroup{"0123456789abcdef0123456789abcdef", id, ""}, true},
		// A nested cgroup namespace view still has the pod segment.
		{"/../../kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + uu + ".slice/cri-containerd-" + id + ".scope/init.scope", Cgroup{uid, id, "containerd"}, true},
		// Not pods.
		{"/", Cgroup{}, false},
		{"/system.slice/containerd.service", Cgroup{}, false},
		{"/user.slice/user-1000.slice/session-3.scope", Cgroup{}, false},
		{"/kubepods.slice/kubepods-burstable.slice", Cgroup{}, false},
		{"/kubepods/burstable/podnot-a-uid/" + id, Cgroup{}, false},
		{"/system.slice/foo-pod" + uu + ".slice", Cgroup{}, false},
		// Container segments that are no container id.
		{"/kubepods/burstable/pod" + uid + "/short", Cgroup{uid, "", ""}, true},
	}
	for _, tc := range tests {
		got, ok := ParseCgroupPath(tc.in)
		if ok != tc.ok || got != tc.want {
			t.Errorf("ParseCgroupPath(%q) = %+v, %v; want %+v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestInspectFixtures(t *testing.T) {
	r, err := NewProcReader("testdata/proc", 0)
	if err != nil {
		t.Fatal(err)
	}
	const (
		aUID = "1f0a2b3c-4d5e-4f60-8a7b-9c0d1e2f3a4b"
		aCID = "a1a1a1a1b2b2b2b2c3c3c3c3d4d4d4d4e5e5e5e5f6f6f6f6a7a7a7a7b8b8b8b8"
		bUID = "2e1b3c4d-5e6f-4a70-9b8c-0d1e2f3a4b5c"
		bCID = "b2b2b2b2c3c3c3c3d4d4d4d4e5e5e5e5f6f6f6f6a7a7a7a7b8b8b8b8c9c9c9c9"
		cUID = "3d2c4e5f-6a7b-4c80-8d9e-1f2a3b4c5d6e"
		cCID = "c3c3c3c3d4d4d4d4e5e5e5e5f6f6f6f6a7a7a7a7b8b8b8b8c9c9c9c9d0d0d0d0"
		dUID = "4c3d5e6f-7a8b-4d90-9eaf-2a3b4c5d6e7f"
		dCID = "d4d4d4d4e5e5e5e5f6f6f6f6a7a7a7a7b8b8b8b8c9c9c9c9d0d0d0d0e1e1e1e1"
		eUID = "5b4e6f7a-8b9c-4ea0-8fb0-3b4c5d6e7f80"
		eCID = "e5e5e5e5f6f6f6f6a7a7a7a7b8b8b8b8c9c9c9c9d0d0d0d0e1e1e1e1f2f2f2f2"
		fUID = "6a5f7a8b-9cad-4fb0-90c1-4c5d6e7f8091"
		fCID = "f6f6f6f6a7a7a7a7b8b8b8b8c9c9c9c9d0d0d0d0e1e1e1e1f2f2f2f2a3a3a3a3"
	)
	a := Cgroup{aUID, aCID, "containerd"}
	b := Cgroup{bUID, bCID, ""}
	c := Cgroup{cUID, cCID, "cri-o"}
	d := Cgroup{dUID, dCID, "cri-o"}
	e := Cgroup{eUID, eCID, "containerd"}
	f := Cgroup{fUID, fCID, ""}
	tests := []Process{
		// Pod A: SGLang prefill, DP attention DP4 x TP4.
		{PID: 1000, Engine: "sglang", Role: "prefill", Cgroup: a},
		{PID: 1001, Engine: "sglang", Component: "data_parallel_controller", Role: "prefill", Cgroup: a},
		{PID: 1010, Engine: "sglang", Component: "scheduler", Role: "prefill", DPRank: "0", TPRank: "0", Cgroup: a},
		{PID: 1013, Engine: "sglang", Component: "scheduler", Role: "prefill", DPRank: "3", TPRank: "3", Cgroup: a},
		// Pod B: decode; 2013 takes its DP rank from SGLANG_DP_RANK.
		{PID: 2010, Engine: "sglang", Component: "scheduler", Role: "decode", DPRank: "0", TPRank: "0", Cgroup: b},
		{PID: 2012, Engine: "sglang", Component: "scheduler", Role: "decode", DPRank: "2", TPRank: "2", Cgroup: b},
		{PID: 2013, Engine: "sglang", Component: "scheduler", Role: "decode", DPRank: "3", TPRank: "3", Cgroup: b},
		// Pod C: unified DP8 x TP8 on CRI-O.
		{PID: 3010, Engine: "sglang", Component: "scheduler", Role: "unified", DPRank: "0", TPRank: "0", Cgroup: c},
		{PID: 3017, Engine: "sglang", Component: "scheduler", Role: "unified", DPRank: "7", TPRank: "7", Cgroup: c},
		// Pod D: vLLM prefill (kv_producer).
		{PID: 4001, Engine: "vllm", Component: "EngineCore", Role: "prefill", DPRank: "0", Cgroup: d},
		{PID: 4003, Engine: "vllm", Component: "Worker", Role: "prefill", DPRank: "0", TPRank: "1", Cgroup: d},
		// Pod E: kv_both says nothing about the role.
		{PID: 5001, Engine: "vllm", Component: "EngineCore", DPRank: "1", Cgroup: e},
		// Pod F: no process title; engine and role from the launcher, DP from the environment.
		{PID: 6001, Engine: "sglang", Role: "unified", DPRank: "2", Cgroup: f},
		// A host process; a titled process with no cgroup file and PPID 1.
		{PID: 7000},
		// Its missing cgroup file is a file gone mid-read: the reading is incomplete.
		{PID: 7100, Engine: "sglang", Component: "scheduler", DPRank: "5", TPRank: "5", Incomplete: true},
	}
	for _, want := range tests {
		got, err := r.Inspect(want.PID)
		if err != nil {
			t.Errorf("Inspect(%d): %v", want.PID, err)
			continue
		}
		want.StartTime = 12345 // the fixture's, field 22 of stat
		if got.Incomplete != (got.Missed != nil) {
			t.Errorf("Inspect(%d): Incomplete %v with Missed %v", want.PID, got.Incomplete, got.Missed)
		}
		got.Missed = nil
		if got != want {
			t.Errorf("Inspect(%d) =\n  %+v\nwant\n  %+v", want.PID, got, want)
		}
	}
	if _, err := r.Inspect(424242); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Inspect(missing) error = %v, want ErrNotExist", err)
	}
}

func FuzzParseCgroupPath(f *testing.F) {
	f.Add("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1f0a2b3c_4d5e_4f60_8a7b_9c0d1e2f3a4b.slice/cri-containerd-0123456789abcdef.scope")
	f.Add("/kubepods/burstable/pod1f0a2b3c-4d5e-4f60-8a7b-9c0d1e2f3a4b/0123456789abcdef")
	f.Add("/kubepods.slice/kubepods-pod1f0a2b3c_4d5e_4f60_8a7b_9c0d1e2f3a4b.slice/crio-conmon-0123456789abcdef.scope")
	f.Add("/")
	f.Fuzz(func(t *testing.T, p string) {
		c, ok := ParseCgroupPath(p)
		if !ok {
			if c != (Cgroup{}) {
				t.Fatalf("not ok but %+v", c)
			}
			return
		}
		if !isUID(c.PodUID) || strings.ToLower(c.PodUID) != c.PodUID || strings.Contains(c.PodUID, "_") {
			t.Fatalf("pod uid %q from %q", c.PodUID, p)
		}
		if c.ContainerID != "" && (len(c.ContainerID) < 12 || strings.ToLower(c.ContainerID) != c.ContainerID || strings.Trim(c.ContainerID, "0123456789abcdef") != "") {
			t.Fatalf("container id %q from %q", c.ContainerID, p)
		}
		if c.ContainerID == "" && c.Runtime != "" {
			t.Fatalf("runtime %q without a container id", c.Runtime)
		}
	})
}
