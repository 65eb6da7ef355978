package attribution

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/Mellanox/rdmamap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials/insecure"
	podresourcesv1 "k8s.io/kubelet/pkg/apis/podresources/v1"
)

// Defaults of PodResourcesConfig.
const (
	DefaultKubeletSocket  = "/var/lib/kubelet/pod-resources/kubelet.sock"
	DefaultKubeletTimeout = 5 * time.Second
	// DefaultMaxRecvMsgSize is the largest List reply accepted: gRPC's default
	// of 4 MiB is too small on busy nodes (dcgm-exporter #509).
	DefaultMaxRecvMsgSize = 16 << 20
)

// DefaultGPUResourcePrefixes selects the extended resources whose device ids
// are GPU or MIG UUIDs: nvidia.com/gpu, nvidia.com/mig-1g.10gb,
// nvidia.com/gpu.shared, ...
var DefaultGPUResourcePrefixes = []string{"nvidia.com/"}

// PodResourcesConfig configures the kubelet pod-resources client.
type PodResourcesConfig struct {
	Socket         string        // unix socket path; "" means DefaultKubeletSocket
	Timeout        time.Duration // per List call; 0 means DefaultKubeletTimeout
	MaxRecvMsgSize int           // bytes; 0 means DefaultMaxRecvMsgSize
	// GPUResourcePrefixes: a resource whose name starts with one of these
	// (an exact name is a prefix of itself) and whose device ids are
	// GPU-/MIG- UUIDs attributes those GPUs. nil means
	// DefaultGPUResourcePrefixes.
	GPUResourcePrefixes []string
}

// Container names one container of one pod.
type Container struct {
	Namespace string
	Pod       string
	Container string
}

// Allocations is what the kubelet says is allocated to which container.
// A device held by more than one container (GPU time-slicing, a shared
// device plugin) lists all of them, sorted.
type Allocations struct {
	// GPUs maps GPU UUIDs (GPU-...) and MIG device UUIDs (MIG-...) of device
	// plugins to containers. Time-slicing replica suffixes ("GPU-...::3")
	// are removed.
	GPUs map[string][]Container
	// PCI maps the normalised PCI addresses of allocated devices of any
	// resource (SR-IOV VFs of RDMA/SR-IOV device plugins: "0000:18:00.2") to
	// containers.
	PCI map[string][]Container
	// DRA lists the devices of Dynamic Resource Allocation claims, one per
	// container and device, sorted; the driver's ResourceSlices say which
	// GPU (or PCI function) each is.
	DRA []ClaimDevice
}

// ClaimDevice is one device of a ResourceClaim prepared for a container, as
// the kubelet's pod-resources API names it: the (driver, pool, device)
// triple of the DRA driver's ResourceSlice.
type ClaimDevice struct {
	Container
	ClaimNamespace, ClaimName string
	Driver, Pool, Device      string
}

// PodResourcesClient lists device allocations from the kubelet's
// pod-resources API (k8s.io/kubelet/pkg/apis/podresources/v1) over its unix
// socket. It is safe for concurrent use; the connection is made lazily and
// re-made by gRPC when the kubelet restarts.
type PodResourcesClient struct {
	cfg    PodResourcesConfig
	conn   *grpc.ClientConn
	client podresourcesv1.PodResourcesListerClient
}

// NewPodResourcesClient makes a client; it does not connect yet, so a kubelet
// that is down or a socket that does not exist only fails List.
func NewPodResourcesClient(cfg PodResourcesConfig) (*PodResourcesClient, error) {
	if cfg.Socket == "" {
		cfg.Socket = DefaultKubeletSocket
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultKubeletTimeout
	}
	if cfg.MaxRecvMsgSize <= 0 {
		cfg.MaxRecvMsgSize = DefaultMaxRecvMsgSize
	}
	if cfg.GPUResourcePrefixes == nil {
		cfg.GPUResourcePrefixes = DefaultGPUResourcePrefixes
	}
	sock, err := filepath.Abs(cfg.Socket)
	if err != nil {
		return nil, err
	}
	conn, err := grpc.NewClient("unix://"+sock,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(cfg.MaxRecvMsgSize)),
		// Reconnect soon after a kubelet restart: gRPC's default backoff
		// grows to two minutes.
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 5 * time.Second},
			MinConnectTimeout: cfg.Timeout,
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("pod-resources client for %s: %w", sock, err)
	}
	return &PodResourcesClient{cfg: cfg, conn: conn, client: podresourcesv1.NewPodResourcesListerClient(conn)}, nil
}

// Close releases the connection.
func (c *PodResourcesClient) Close() error { return c.conn.Close() }

// List calls the kubelet's List, bounded by the configured timeout, and
// returns the device-plugin, PCI and DRA allocations. Reading the reply is
// bounded by the same deadline (and stops when ctx ends).
func (c *PodResourcesClient) List(ctx context.Context) (Allocations, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	resp, err := c.client.List(ctx, &podresourcesv1.ListPodResourcesRequest{})
	if err != nil {
		return Allocations{}, fmt.Errorf("kubelet pod-resources List on %s: %w", c.cfg.Socket, err)
	}
	a, err := allocationsOf(ctx, resp, c.cfg.GPUResourcePrefixes)
	if err != nil {
		return Allocations{}, fmt.Errorf("kubelet pod-resources List on %s: reading the reply: %w", c.cfg.Socket, err)
	}
	return a, nil
}

// checkEvery is how many containers of a reply are read between two looks
// at the context.
const checkEvery = 1024

// allocationsOf reads a List reply in one pass, each device to container
// edge recorded once in a set (linear in the reply: 100 000 pods on one
// shared GPU are 100 000 set inserts, not 5·10⁹ comparisons), and stops with
// ctx's error when ctx ends.
func allocationsOf(ctx context.Context, resp *podresourcesv1.ListPodResourcesResponse, gpuPrefixes []string) (Allocations, error) {
	gpus := map[string]map[Container]struct{}{}
	pci := map[string]map[Container]struct{}{}
	dra := map[ClaimDevice]struct{}{}
	add := func(m map[string]map[Container]struct{}, id string, ctr Container) {
		set := m[id]
		if set == nil {
			set = map[Container]struct{}{}
			m[id] = set
		}
		set[ctr] = struct{}{}
	}
	n := 0
	for _, pod := range resp.GetPodResources() {
		for _, ctr := range pod.GetContainers() {
			if n++; n%checkEvery == 0 {
				if err := ctx.Err(); err != nil {
					return Allocations{}, err
				}
			}
			ref := Container{Namespace: pod.GetNamespace(), Pod: pod.GetName(), Container: ctr.GetName()}
			for _, dev := range ctr.GetDevices() {
				gpuResource := hasAnyPrefix(dev.GetResourceName(), gpuPrefixes)
				for _, id := range dev.GetDeviceIds() {
					if gpuResource && (strings.HasPrefix(id, "GPU-") || strings.HasPrefix(id, "MIG-")) {
						if i := strings.Index(id, "::"); i > 0 {
							id = id[:i] // time-slicing replica "GPU-<uuid>::<n>"
						}
						add(gpus, id, ref)
					} else if addr, ok := NormalisePCIAddress(id); ok {
						add(pci, addr, ref)
					}
				}
			}
			for _, dr := range ctr.GetDynamicResources() {
				for _, cr := range dr.GetClaimResources() {
					if cr.GetDriverName() == "" || cr.GetDeviceName() == "" {
						continue // not a device (DRA may grow other kinds of resources)
					}
					dra[ClaimDevice{Container: ref, ClaimNamespace: dr.GetClaimNamespace(), ClaimName: dr.GetClaimName(),
						Driver: cr.GetDriverName(), Pool: cr.GetPoolName(), Device: cr.GetDeviceName()}] = struct{}{}
				}
			}
		}
	}
	a := Allocations{GPUs: sortedSets(gpus), PCI: sortedSets(pci), DRA: make([]ClaimDevice, 0, len(dra))}
	for d := range dra {
		a.DRA = append(a.DRA, d)
	}
	sort.Slice(a.DRA, func(i, j int) bool { return lessClaimDevice(a.DRA[i], a.DRA[j]) })
	return a, nil
}

func sortedSets(m map[string]map[Container]struct{}) map[string][]Container {
	out := make(map[string][]Container, len(m))
	for id, set := range m {
		ctrs := make([]Container, 0, len(set))
		for c := range set {
			ctrs = append(ctrs, c)
		}
		sort.Slice(ctrs, func(i, j int) bool { return lessContainer(ctrs[i], ctrs[j]) })
		out[id] = ctrs
	}
	return out
}

func lessClaimDevice(a, b ClaimDevice) bool {
	if a.Container != b.Container {
		return lessContainer(a.Container, b.Container)
	}
	for _, p := range [][2]string{{a.ClaimNamespace, b.ClaimNamespace}, {a.ClaimName, b.ClaimName}, {a.Driver, b.Driver}, {a.Pool, b.Pool}, {a.Device, b.Device}} {
		if p[0] != p[1] {
			return p[0] < p[1]
		}
	}
	return false
}

func lessContainer(a, b Container) bool {
	if a.Namespace != b.Namespace {
		return a.Namespace < b.Namespace
	}
	if a.Pod != b.Pod {
		return a.Pod < b.Pod
	}
	return a.Container < b.Container
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// rdmamapMu guards rdmamap's package variables, which point it at a sysfs
// root.
var rdmamapMu sync.Mutex

// RDMADevicesForPCI returns the RDMA devices (mlx5_12, ...) of a PCI function
// (an SR-IOV VF or a PF) under the sysfs root, through rdmamap; nil when it
// has none.
func RDMADevicesForPCI(sysfs, addr string) []string {
	rdmamapMu.Lock()
	defer rdmamapMu.Unlock()
	rdmamap.PciDevDir = filepath.Join(sysfs, "bus", "pci", "devices")
	return rdmamap.GetRdmaDevicesForPcidev(addr)
}
