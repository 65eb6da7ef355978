package attribution

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Engine and role values. Unknown is always the empty string.
const (
	EngineSGLang = "sglang"
	EngineVLLM   = "vllm"

	RolePrefill = "prefill"
	RoleDecode  = "decode"
	RoleUnified = "unified"
)

// maxRankDigits bounds a rank in a process title: ranks are small integers,
// anything longer is not a rank.
const maxRankDigits = 6

// maxAncestors bounds the walk from an engine process up to its launcher.
const maxAncestors = 8

// Title is a parsed engine process title, as set with setproctitle by SGLang
// (sglang::scheduler_DP1_TP8, sglang::scheduler_TP3_EP3) and vLLM
// (VLLM::EngineCore_DP0, VLLM::Worker_DP0_TP1, VLLM::Worker_PP1_TP0).
// Ranks are decimal strings without leading zeros, "" when absent.
type Title struct {
	Engine    string // EngineSGLang or EngineVLLM
	Component string // scheduler, EngineCore, Worker, data_parallel_controller, ...
	DPRank    string
	TPRank    string
	PPRank    string
	EPRank    string
}

// ParseProcessTitle parses the first argument of /proc/<pid>/cmdline as an
// engine process title. It accepts "sglang::" and "VLLM::" (any case) followed
// by a component name and an optional tail of "_DP<n>", "_TP<n>", "_PP<n>",
// "_EP<n>" tokens in any order (sglang::scheduler_DP0_PP1_TP2_EP0). Other
// tokens of two capitals and digits in that tail (NP<n>, a node rank) are
// skipped. A repeated rank token or an empty component is not a title (ok
// false); a bare number (sglang::scheduler_0) stays part of the component,
// never a rank.
func ParseProcessTitle(s string) (t Title, ok bool) {
	if i := strings.IndexByte(s, 0); i >= 0 {
		s = s[:i]
	}
	s = strings.TrimSpace(s)
	if i := strings.IndexAny(s, " \t\n"); i >= 0 {
		s = s[:i]
	}
	prefix, rest, found := strings.Cut(s, "::")
	if !found {
		return Title{}, false
	}
	switch strings.ToLower(prefix) {
	case "sglang":
		t.Engine = EngineSGLang
	case "vllm":
		t.Engine = EngineVLLM
	default:
		return Title{}, false
	}
	parts := strings.Split(rest, "_")
	end := len(parts)
	for end > 1 {
		p := parts[end-1]
		if len(p) < 3 || len(p) > 2+maxRankDigits || !allDigits(p[2:]) {
			break
		}
		if p[0] < 'A' || p[0] > 'Z' || p[1] < 'A' || p[1] > 'Z' {
			break
		}
		var dst *string
		switch p[:2] {
		case "DP":
			dst = &t.DPRank
		case "TP":
			dst = &t.TPRank
		case "PP":
			dst = &t.PPRank
		case "EP":
			dst = &t.EPRank
		}
		end--
		if dst == nil {
			continue // another rank (NP node rank, CP, ...): not a label of ours
		}
		if *dst != "" {
			return Title{}, false // the same rank twice: not a title we understand
		}
		*dst = normaliseRank(p[2:])
	}
	t.Component = strings.Join(parts[:end], "_")
	if t.Component == "" || !printable(t.Component) {
		return Title{}, false
	}
	return t, true
}

// String formats t the way the engines do (sglang::scheduler_DP1_TP8); ranks
// in the order DP, TP, PP, EP. Engine "vllm" is written "VLLM".
func (t Title) String() string {
	var b strings.Builder
	switch t.Engine {
	case EngineVLLM:
		b.WriteString("VLLM")
	default:
		b.WriteString(t.Engine)
	}
	b.WriteString("::")
	b.WriteString(t.Component)
	for _, r := range [...]struct{ k, v string }{{"DP", t.DPRank}, {"TP", t.TPRank}, {"PP", t.PPRank}, {"EP", t.EPRank}} {
		if r.v != "" {
			b.WriteString("_" + r.k + r.v)
		}
	}
	return b.String()
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func normaliseRank(s string) string {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return ""
	}
	return strconv.Itoa(n)
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// Launch is what an engine's launcher command line says.
type Launch struct {
	Engine string // EngineSGLang or EngineVLLM; "" when the command line is no engine launcher
	Role   string // RolePrefill, RoleDecode, RoleUnified or "" when it cannot be told
}

// ParseLaunchCmdline recognises an engine server command line and its P/D role.
//
// Engines: SGLang from "sglang.launch_server" / "sglang.srt..." modules or a
// "sglang serve" command; vLLM from "vllm.entrypoints..." modules or a
// "vllm serve" command.
//
// Roles:
//   - SGLang --disaggregation-mode prefill|decode → prefill|decode; "null" or
//     no flag → unified.
//   - vLLM --kv-transfer-config JSON "kv_role": kv_producer → prefill,
//     kv_consumer → decode. kv_both → "" (unknown): NixlConnector P/D
//     deployments (llm-d, Dynamo) run both the prefill and the decode instance
//     with kv_both, so it says nothing about the role. No kv-transfer config →
//     unified.
//   - A --config file may hold those settings where we cannot see them: with
//     --config and no explicit flag the role is "".
func ParseLaunchCmdline(args []string) Launch {
	var l Launch
	for i, a := range args {
		base := path.Base(a)
		switch {
		case strings.HasPrefix(a, "sglang.launch_server") || strings.HasPrefix(a, "sglang.srt.") ||
			strings.HasSuffix(a, "/sglang/launch_server.py"):
			l.Engine = EngineSGLang
		case strings.HasPrefix(a, "vllm.entrypoints") || strings.Contains(a, "/vllm/entrypoints/"):
			l.Engine = EngineVLLM
		case (base == "sglang" || base == "vllm") && i+1 < len(args) && args[i+1] == "serve":
			l.Engine = map[string]string{"sglang": EngineSGLang, "vllm": EngineVLLM}[base]
		}
		if l.Engine != "" {
			break
		}
	}
	if l.Engine == "" {
		return l
	}
	flag := "--disaggregation-mode"
	if l.Engine == EngineVLLM {
		flag = "--kv-transfer-config"
	}
	value, set := flagValue(args, flag)
	if !set && l.Engine == EngineVLLM {
		value, set = flagValue(args, "--kv_transfer_config")
	}
	if !set {
		if _, cfg := flagValue(args, "--config"); !cfg {
			l.Role = RoleUnified
		}
		return l
	}
	if l.Engine == EngineSGLang {
		switch value {
		case "prefill":
			l.Role = RolePrefill
		case "decode":
			l.Role = RoleDecode
		case "null":
			l.Role = RoleUnified
		}
		return l
	}
	var kv struct {
		Role string `json:"kv_role"`
	}
	if err := json.Unmarshal([]byte(value), &kv); err == nil {
		switch kv.Role {
		case "kv_producer":
			l.Role = RolePrefill
		case "kv_consumer":
			l.Role = RoleDecode
		}
	}
	return l
}

// flagValue finds "--flag value" or "--flag=value"; the last one wins, as
// with argparse.
func flagValue(args []string, flag string) (value string, set bool) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == flag:
			set = true
			value = ""
			if i+1 < len(args) {
				value = args[i+1]
				i++
			}
		case strings.HasPrefix(a, flag+"="):
			set = true
			value = a[len(flag)+1:]
		}
	}
	return value, set
}

// Cgroup is the pod and container a cgroup path belongs to.
type Cgroup struct {
	PodUID      string // with dashes, as in the API (systemd's underscores undone)
	ContainerID string // bare id, no runtime prefix
	Runtime     string // containerd, cri-o, docker, or "" when the shape does not say
}

// ParseCgroupPath finds the pod UID and container id in one cgroup path.
// Supported shapes (cgroup v1 and v2 alike, the path is the same):
//
//	systemd driver: /kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<uid_with_underscores>.slice/cri-containerd-<id>.scope
//	                .../kubepods-pod<uid>.slice/crio-<id>.scope (guaranteed QoS), docker-<id>.scope,
//	                kind's /kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort-pod<uid>.slice/...
//	cgroupfs driver: /kubepods/burstable/pod<uid>/<id>, /kubepods/pod<uid>/<id>, /kubepods/besteffort/pod<uid>/crio-<id>
//
// ok is false when no pod segment is found. A process in the pod's own
// cgroup (no container segment) or in CRI-O's conmon scope has ContainerID "".
func ParseCgroupPath(p string) (c Cgroup, ok bool) {
	segs := strings.Split(p, "/")
	podIdx := -1
	for i, s := range segs {
		if uid, isPod := podSegment(s); isPod {
			podIdx, c.PodUID = i, uid
		}
	}
	if podIdx < 0 {
		return Cgroup{}, false
	}
	if podIdx+1 < len(segs) {
		c.ContainerID, c.Runtime = containerSegment(segs[podIdx+1])
	}
	return c, true
}

func podSegment(s string) (uid string, ok bool) {
	if rest, isSlice := strings.CutSuffix(s, ".slice"); isSlice {
		i := strings.LastIndex(rest, "-pod")
		if i < 0 {
			return "", false
		}
		if !strings.HasPrefix(rest, "kubepods") && !strings.Contains(rest, "-kubepods") {
			return "", false
		}
		uid = strings.ReplaceAll(rest[i+4:], "_", "-")
	} else {
		rest, isPod := strings.CutPrefix(s, "pod")
		if !isPod {
			return "", false
		}
		uid = rest
	}
	if !isUID(uid) {
		return "", false
	}
	return strings.ToLower(uid), true
}

// isUID accepts a UUID (36 characters with dashes) or the 32-hex-digit UID of
// a static pod.
func isUID(s string) bool {
	if len(s) != 36 && len(s) != 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isHex(c) && c != '-' {
			return false
		}
	}
	return true
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func containerSegment(s string) (id, runtime string) {
	s = strings.TrimSuffix(s, ".scope")
	switch {
	case strings.HasPrefix(s, "crio-conmon-"):
		return "", ""
	case strings.HasPrefix(s, "cri-containerd-"):
		id, runtime = s[len("cri-containerd-"):], "containerd"
	case strings.HasPrefix(s, "crio-"):
		id, runtime = s[len("crio-"):], "cri-o"
	case strings.HasPrefix(s, "docker-"):
		id, runtime = s[len("docker-"):], "docker"
	default:
		id = s
	}
	if len(id) < 12 {
		return "", ""
	}
	for i := 0; i < len(id); i++ {
		if !isHex(id[i]) {
			return "", ""
		}
	}
	return strings.ToLower(id), runtime
}

// Process is what /proc says about one engine process. Fields are "" when
// unknown.
type Process struct {
	PID int
	// StartTime is the process's start time (clock ticks after boot, field
	// 22 of /proc/<pid>/stat): with the PID, what tells a process from a later
	// one that reuses its PID.
	StartTime uint64
	Engine    string
	Component string // from the process title
	Role      string
	DPRank    string
	TPRank    string
	Cgroup
	// Incomplete: a read the fields depend on failed although the process
	// itself was read — a file vanished mid-read (the process or its parent
	// exiting) or did not return in time — so fields may be "" that a
	// complete reading fills. Missed is the first such failure.
	Incomplete bool
	Missed     error
}

// ProcReader inspects processes under a procfs root (the host's /proc; the
// exporter needs hostPID to see the engines' PIDs). Every file read has a
// deadline (see fileReader): a process stuck in the kernel costs a skipped
// reading, never a stuck refresh.
type ProcReader struct {
	root  string
	files *fileReader
}

// NewProcReader opens a procfs root; timeout bounds each file read (0:
// DefaultProcReadTimeout).
func NewProcReader(root string, timeout time.Duration) (*ProcReader, error) {
	fi, err := os.Stat(root)
	if err != nil {
		return nil, fmt.Errorf("procfs %s: %w", root, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("procfs %s: not a directory", root)
	}
	return &ProcReader{root: root, files: newFileReader(timeout)}, nil
}

func (r *ProcReader) path(pid int, file string) string {
	return filepath.Join(r.root, strconv.Itoa(pid), file)
}

// stat reads the parent PID and the start time of a process.
func (r *ProcReader) stat(pid int) (ppid int, start uint64, err error) {
	b, err := r.files.read(r.path(pid, "stat"))
	if err != nil {
		return 0, 0, err
	}
	// "pid (comm) state ppid ...": comm may hold spaces and parentheses, so
	// the fields start after the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("%s: no ')' in stat", r.path(pid, "stat"))
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return 0, 0, fmt.Errorf("%s: %d fields after comm", r.path(pid, "stat"), len(f))
	}
	if ppid, err = strconv.Atoi(f[1]); err != nil {
		return 0, 0, fmt.Errorf("%s: ppid %q", r.path(pid, "stat"), f[1])
	}
	if start, err = strconv.ParseUint(f[19], 10, 64); err != nil {
		return 0, 0, fmt.Errorf("%s: starttime %q", r.path(pid, "stat"), f[19])
	}
	return ppid, start, nil
}

// nulList reads a NUL-separated file (cmdline, environ).
func (r *ProcReader) nulList(pid int, file string) ([]string, error) {
	b, err := r.files.read(r.path(pid, file))
	if err != nil {
		return nil, err
	}
	b = bytes.TrimRight(b, "\x00")
	if len(b) == 0 {
		return nil, nil
	}
	return strings.Split(string(b), "\x00"), nil
}

// cgroup reads /proc/<pid>/cgroup: the first line that names a pod (v2's
// single "0::" line, or any v1 hierarchy).
func (r *ProcReader) cgroup(pid int) (Cgroup, error) {
	b, err := r.files.read(r.path(pid, "cgroup"))
	if err != nil {
		return Cgroup{}, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		// hierarchy-ID:controller-list:cgroup-path
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if c, ok := ParseCgroupPath(parts[2]); ok {
			return c, nil
		}
	}
	return Cgroup{}, nil
}

// vanished says whether a read failed because the file or its process went
// away (or did not answer in time): the reading is then incomplete, not
// wrong. Other failures (no permission) are steady and leave fields "".
func vanished(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ESRCH) || errors.Is(err, ErrReadStuck)
}

// Inspect reads one process: its title (engine, dp_rank, tp_rank), its
// cgroup (pod UID, container id), SGLANG_DP_RANK from its environment when
// the title has no DP rank, and the launcher command line (the process's own
// or the nearest ancestor's, within the same pod) for the engine and the
// P/D role. An error means the process itself could not be read (vanished,
// stuck, no permission); a later failure marks the reading Incomplete.
func (r *ProcReader) Inspect(pid int) (Process, error) {
	p := Process{PID: pid}
	ppid, start, err := r.stat(pid)
	if err != nil {
		return p, err
	}
	p.StartTime = start
	miss := func(err error) {
		if !p.Incomplete {
			p.Incomplete, p.Missed = true, err
		}
	}
	args, err := r.nulList(pid, "cmdline")
	if err != nil {
		return p, err
	}
	if len(args) == 0 {
		miss(fmt.Errorf("%s: empty (the process is exiting)", r.path(pid, "cmdline")))
	}
	if cg, err := r.cgroup(pid); err == nil {
		p.Cgroup = cg
	} else if vanished(err) {
		miss(err)
	}
	launchEngine := ""
	if len(args) > 0 {
		if t, ok := ParseProcessTitle(args[0]); ok {
			p.Engine, p.Component, p.DPRank, p.TPRank = t.Engine, t.Component, t.DPRank, t.TPRank
		}
	}
	if p.Engine == "" {
		if l := ParseLaunchCmdline(args); l.Engine != "" {
			p.Engine, p.Role, launchEngine = l.Engine, l.Role, l.Engine
		}
	}
	if launchEngine == "" {
		l, ok, err := r.launcher(ppid, p.PodUID)
		if err != nil {
			miss(err)
		}
		if ok && (p.Engine == "" || p.Engine == l.Engine) {
			p.Engine, p.Role = l.Engine, l.Role
		}
	}
	if p.DPRank == "" && p.Engine != EngineVLLM {
		env, err := r.nulList(pid, "environ")
		if err != nil && vanished(err) {
			miss(err)
		}
		for _, kv := range env {
			if v, ok := strings.CutPrefix(kv, "SGLANG_DP_RANK="); ok && allDigits(v) && len(v) <= maxRankDigits {
				p.DPRank = normaliseRank(v)
			}
		}
	}
	return p, nil
}

// launcher walks up from the parent ppid to the nearest engine launcher
// command line, staying inside the pod (when the pod is known) and stopping
// at PID 1. An error is a read of an ancestor that vanished or did not
// return in time: the walk could not finish.
func (r *ProcReader) launcher(ppid int, podUID string) (Launch, bool, error) {
	for range maxAncestors {
		if ppid <= 1 {
			return Launch{}, false, nil
		}
		pid := ppid
		next, _, err := r.stat(pid)
		if err != nil {
			return Launch{}, false, ancestorErr(err)
		}
		if podUID != "" {
			cg, err := r.cgroup(pid)
			if err != nil {
				return Launch{}, false, ancestorErr(err)
			}
			if cg.PodUID != podUID {
				return Launch{}, false, nil
			}
		}
		args, err := r.nulList(pid, "cmdline")
		if err != nil {
			return Launch{}, false, ancestorErr(err)
		}
		if l := ParseLaunchCmdline(args); l.Engine != "" {
			return l, true, nil
		}
		ppid = next
	}
	return Launch{}, false, nil
}

func ancestorErr(err error) error {
	if vanished(err) {
		return err
	}
	return nil // not readable (permission): the walk just stops, as it always did
}
