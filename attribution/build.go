package attribution

import (
	"sort"
	"strconv"

	"github.com/llm-node-exporter/llm-node-exporter/discovery"
)

// holder is a container holding a device, and the claim through which it
// does (DRA) or none (device plugin).
type holder struct {
	Container
	claim Claim
}

// builder joins the last good data of every source into a snapshot.
type builder struct {
	c     *Cache
	procs map[int]Process
	gpus  map[string][]holder // GPU / MIG UUID → holders, from the device plugins and DRA
	pci   map[string][]holder // PCI address → holders
	// byContainerID: containers learnt from devices whose device list and
	// engine processes both name exactly one container; the container id
	// then identifies that container on devices no list names.
	byContainerID map[string]Container
	disagreements int
}

func (c *Cache) newBuilder(procs map[int]Process) *builder {
	b := &builder{c: c, procs: procs, gpus: map[string][]holder{}, pci: map[string][]holder{}, byContainerID: map[string]Container{}}
	for id, ctrs := range c.lastAlloc.GPUs {
		for _, ctr := range ctrs {
			b.gpus[id] = append(b.gpus[id], holder{Container: ctr})
		}
	}
	for addr, ctrs := range c.lastAlloc.PCI {
		for _, ctr := range ctrs {
			b.pci[addr] = append(b.pci[addr], holder{Container: ctr})
		}
	}
	b.resolveDRA()
	return b
}

// resolveDRA turns the DRA devices of the kubelet's reply into GPU (or MIG,
// or PCI) holders through the ResourceSlices that publish them: the
// configured UUID attribute of a configured driver names a GPU or MIG
// device; else its parent UUID attribute names the GPU it is a part of;
// else a device of any driver with the standard PCI address attribute names
// a PCI function (an RDMA NIC given by a NIC DRA driver).
func (b *builder) resolveDRA() {
	slices := b.c.cfg.Slices
	if slices == nil {
		return
	}
	drivers := map[string]DRADriver{}
	for _, d := range b.c.cfg.Drivers {
		drivers[d.Name] = d
	}
	for _, cd := range b.c.lastAlloc.DRA {
		dev, ok := slices.Device(cd.Driver, cd.Pool, cd.Device)
		if !ok {
			b.c.logger.Debug("attribution: a claimed device is in no ResourceSlice of this node",
				"driver", cd.Driver, "pool", cd.Pool, "device", cd.Device, "claim", cd.ClaimNamespace+"/"+cd.ClaimName)
			continue
		}
		h := holder{Container: cd.Container, claim: Claim{cd.ClaimNamespace, cd.ClaimName}}
		if d, ok := drivers[cd.Driver]; ok {
			if u, ok := dev.StringAttribute(d.UUIDAttribute); ok && isGPUUUID(u) {
				b.gpus[u] = append(b.gpus[u], h)
				continue
			}
			if d.ParentUUIDAttribute != "" {
				if u, ok := dev.StringAttribute(d.ParentUUIDAttribute); ok && isGPUUUID(u) {
					b.gpus[u] = append(b.gpus[u], h)
					continue
				}
			}
		}
		if a, ok := dev.StringAttribute(pciBusIDAttribute); ok {
			if addr, ok := NormalisePCIAddress(a); ok {
				b.pci[addr] = append(b.pci[addr], h)
			}
		}
	}
}

// device is one GPU or MIG device being attributed.
type device struct {
	uuids []string // its own UUID, and a GPU's MIG devices' UUIDs
	pids  []int
	// Results.
	w        Workload
	id       Identity
	unlisted bool // no device list names it: the container-id join may apply
}

// containers returns the distinct containers among holders, sorted, and
// the claim they hold the device through when there is exactly one.
func containers(hs []holder) ([]Container, Claim) {
	seen := map[Container]bool{}
	var out []Container
	claims := map[Claim]bool{}
	for _, h := range hs {
		if !seen[h.Container] {
			seen[h.Container] = true
			out = append(out, h.Container)
		}
		claims[h.claim] = true
	}
	sort.Slice(out, func(i, j int) bool { return lessContainer(out[i], out[j]) })
	var claim Claim
	if len(claims) == 1 {
		for c := range claims {
			claim = c
		}
	}
	return out, claim
}

// attribute decides a device's workload from its device lists and its
// compute processes:
//
//   - processes /proc says nothing about are ignored; the rest give the
//     engine labels when they run in one container (mergeProcesses) and,
//     through their cgroup's pod UID and the API server's pods, that pod
//     (the cgroup path);
//   - exactly one container named by the device lists: that container,
//     unless the cgroup path names another pod — a disagreement, counted,
//     and no workload labels at all (neither is guessed);
//   - several containers: no pod labels (the device is shared);
//   - none: the cgroup path's pod, else (second pass) the container the
//     processes' container id was learnt for on another device.
func (b *builder) attribute(d *device) {
	var hs []holder
	for _, u := range d.uuids {
		hs = append(hs, b.gpus[u]...)
	}
	listed, claim := containers(hs)
	ps := make([]Process, 0, len(d.pids))
	for _, pid := range d.pids {
		ps = append(ps, b.procs[pid])
	}
	var info GPUInfo
	mergeProcesses(&info, ps)
	d.w, d.id = info.Workload, info.Identity
	cg, cgKnown := b.cgroupContainer(d.id.PodUID, d.id.ContainerID)
	switch {
	case len(listed) == 1:
		l := listed[0]
		if cgKnown && (cg.Namespace != l.Namespace || cg.Pod != l.Pod || (cg.Container != "" && cg.Container != l.Container)) {
			b.disagreements++
			b.c.logger.Warn("attribution: the device list and the compute processes name different pods; leaving the device unattributed",
				"uuid", d.uuids[0], "listed", l.Namespace+"/"+l.Pod+"/"+l.Container, "processes", cg.Namespace+"/"+cg.Pod+"/"+cg.Container)
			d.w, d.id = Workload{}, Identity{}
			return
		}
		d.w.Namespace, d.w.Pod, d.w.Container = l.Namespace, l.Pod, l.Container
		d.id.Claim = claim
		if d.id.PodUID == "" {
			d.id.PodUID = b.podUID(l)
		}
		if d.id.ContainerID != "" {
			b.byContainerID[d.id.ContainerID] = l
		}
	case len(listed) > 1:
		d.id = Identity{ContainerID: d.id.ContainerID}
	case cgKnown:
		d.w.Namespace, d.w.Pod, d.w.Container = cg.Namespace, cg.Pod, cg.Container
	default:
		d.unlisted = true
		d.id.PodUID = "" // no pod named: no pod_uid either
	}
}

// joinByContainerID is attribute's second pass for devices nothing named.
func (b *builder) joinByContainerID(d *device) {
	if !d.unlisted || d.id.ContainerID == "" {
		return
	}
	if ctr, ok := b.byContainerID[d.id.ContainerID]; ok {
		d.w.Namespace, d.w.Pod, d.w.Container = ctr.Namespace, ctr.Pod, ctr.Container
		if uid := b.podUID(ctr); uid != "" {
			d.id.PodUID = uid
		} else {
			d.id.PodUID = b.processPodUID(d.pids)
		}
	}
}

// processPodUID is the pod UID the device's processes agree on.
func (b *builder) processPodUID(pids []int) string {
	ps := make([]Process, 0, len(pids))
	for _, pid := range pids {
		ps = append(ps, b.procs[pid])
	}
	var info GPUInfo
	mergeProcesses(&info, ps)
	return info.PodUID
}

// cgroupContainer names the pod (and the container, when its id is in the
// pod's status) of a cgroup's pod UID, through the API server's pods.
func (b *builder) cgroupContainer(podUID, containerID string) (Container, bool) {
	if podUID == "" || b.c.cfg.Pods == nil {
		return Container{}, false
	}
	p, ok := b.c.cfg.Pods.ByUID(podUID)
	if !ok {
		return Container{}, false
	}
	return Container{Namespace: p.Namespace, Pod: p.Name, Container: p.Containers[containerID]}, true
}

// podUID is a listed container's pod UID, from the API server's pods.
func (b *builder) podUID(c Container) string {
	if b.c.cfg.Pods == nil {
		return ""
	}
	if p, ok := b.c.cfg.Pods.ByName(c.Namespace, c.Pod); ok {
		return p.UID
	}
	return ""
}

func (b *builder) build(targetPIDs map[string]int) *Snapshot {
	c := b.c
	s := &Snapshot{byUUID: map[string]int{}, byMIG: map[string]int{}, byDev: map[string]int{}}
	gpus := append([]GPU(nil), c.lastGPUs...)
	sort.SliceStable(gpus, func(i, j int) bool { return gpus[i].Index < gpus[j].Index })

	// A GPU collects the holders and processes of its MIG devices.
	gpuDevs := make([]*device, len(gpus))
	migDevs := make([][]*device, len(gpus))
	for i, g := range gpus {
		d := &device{uuids: []string{g.UUID}, pids: append([]int(nil), g.PIDs...)}
		for _, m := range g.MIGs {
			d.uuids = append(d.uuids, m.UUID)
			d.pids = append(d.pids, m.PIDs...)
			migDevs[i] = append(migDevs[i], &device{uuids: []string{m.UUID}, pids: m.PIDs})
		}
		d.pids = uniqueInts(d.pids)
		gpuDevs[i] = d
	}
	for i := range gpus {
		b.attribute(gpuDevs[i])
		for _, m := range migDevs[i] {
			b.attribute(m)
		}
	}
	for i, g := range gpus {
		b.joinByContainerID(gpuDevs[i])
		info := GPUInfo{Index: g.Index, UUID: g.UUID, Workload: gpuDevs[i].w, Identity: gpuDevs[i].id}
		info.PCIBusID, _ = NormalisePCIAddress(g.PCIBusID)
		s.byUUID[info.UUID] = len(s.gpus)
		s.gpus = append(s.gpus, info)
		for j, m := range g.MIGs {
			md := migDevs[i][j]
			b.joinByContainerID(md)
			s.byMIG[m.UUID] = len(s.migs)
			s.migs = append(s.migs, MIGInfo{GPU: g.Index, ParentUUID: g.UUID, UUID: m.UUID, GPUInstance: m.GPUInstance, Workload: md.w, Identity: md.id})
		}
	}

	byBus := map[string]int{}
	for i, g := range s.gpus {
		if g.PCIBusID != "" {
			byBus[g.PCIBusID] = i
		}
	}
	// RDMA devices allocated to containers by PCI address (SR-IOV VFs of a
	// device plugin, or a NIC DRA driver's devices).
	direct := map[string][]holder{}
	if len(b.pci) > 0 && c.cfg.Sysfs != "" {
		addrs := make([]string, 0, len(b.pci))
		for a := range b.pci {
			addrs = append(addrs, a)
		}
		sort.Strings(addrs)
		for _, a := range addrs {
			for _, dev := range RDMADevicesForPCI(c.cfg.Sysfs, a) {
				direct[dev] = append(direct[dev], b.pci[a]...)
			}
		}
	}
	for _, d := range c.lastPair {
		r := RDMAInfo{Device: d.Name, PCIAddress: d.PCIAddress}
		var gpu *GPUInfo
		if i, ok := byBus[d.GPUBusID]; ok && d.GPUBusID != "" {
			gpu = &s.gpus[i]
			r.GPU, r.GPUUUID = strconv.Itoa(gpu.Index), gpu.UUID
		}
		hs, allocated := direct[d.Name]
		ctrs, claim := containers(hs)
		switch {
		case allocated && len(ctrs) == 1:
			r.Namespace, r.Pod, r.Container = ctrs[0].Namespace, ctrs[0].Pod, ctrs[0].Container
			r.Claim, r.PodUID = claim, b.podUID(ctrs[0])
			if gpu != nil && gpu.Namespace == r.Namespace && gpu.Pod == r.Pod && gpu.Container == r.Container {
				r.Workload = gpu.Workload
				if r.PodUID == "" {
					r.PodUID = gpu.PodUID
				}
			}
		case allocated:
			// Held by several containers: no workload labels.
		case gpu != nil:
			r.Workload, r.Identity = gpu.Workload, gpu.Identity
		}
		s.byDev[r.Device] = len(s.rdma)
		s.rdma = append(s.rdma, r)
	}

	s.targets = b.targets(targetPIDs)
	return s
}

// targets labels each engine target from the process listening on its
// port: its pod by the cgroup path or a learnt container id, and the engine
// and role of its command line (the server process is the launcher; the
// DP rank is not its to say).
func (b *builder) targets(pids map[string]int) map[string]discovery.Labels {
	out := map[string]discovery.Labels{}
	for url, pid := range pids {
		p, ok := b.procs[pid]
		if !ok {
			continue
		}
		l := discovery.Labels{Engine: p.Engine, Role: p.Role}
		if ctr, ok := b.cgroupContainer(p.PodUID, p.ContainerID); ok {
			l.Namespace, l.Pod, l.Container = ctr.Namespace, ctr.Pod, ctr.Container
		} else if ctr, ok := b.byContainerID[p.ContainerID]; ok && p.ContainerID != "" {
			l.Namespace, l.Pod, l.Container = ctr.Namespace, ctr.Pod, ctr.Container
		}
		out[url] = l
	}
	return out
}

// mergeProcesses sets the engine fields of info from the device's compute
// processes. Processes that /proc says nothing about are ignored. When the
// remaining ones live in more than one container, the device is shared by
// different workloads and nothing is set; otherwise each field is set when
// every process that knows it agrees, and "" on any disagreement.
func mergeProcesses(info *GPUInfo, ps []Process) {
	var known []Process
	for _, p := range ps {
		if p.Engine != "" || p.PodUID != "" {
			known = append(known, p)
		}
	}
	if len(known) == 0 {
		return
	}
	for _, p := range known[1:] {
		if p.PodUID != known[0].PodUID || p.ContainerID != known[0].ContainerID {
			return
		}
	}
	info.PodUID, info.ContainerID = known[0].PodUID, known[0].ContainerID
	agree := func(get func(Process) string) string {
		v := ""
		for _, p := range known {
			switch x := get(p); {
			case x == "":
			case v == "":
				v = x
			case v != x:
				return ""
			}
		}
		return v
	}
	info.Engine = agree(func(p Process) string { return p.Engine })
	info.Role = agree(func(p Process) string { return p.Role })
	info.DPRank = agree(func(p Process) string { return p.DPRank })
	info.TPRank = agree(func(p Process) string { return p.TPRank })
}

func uniqueInts(s []int) []int {
	seen := map[int]bool{}
	out := s[:0]
	for _, x := range s {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}
