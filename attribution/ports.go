package attribution

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// tcpListen is the state of a listening socket in /proc/net/tcp.
const tcpListen = 0x0A

// listenerIndex finds the process listening on an engine target's port:
// the socket's inode in <procfs>/net/tcp{,6} (the exporter's network
// namespace: the host's with hostNetwork, the pod's for a sidecar), then the
// process holding it among the /proc/<pid>/fd links. The inode → PID answers
// are kept and checked again cheaply at each refresh; only a new socket
// costs a walk of every process's fds.
type listenerIndex struct {
	byInode map[uint64]int
}

func newListenerIndex() *listenerIndex { return &listenerIndex{byInode: map[uint64]int{}} }

// resolve maps each target URL to the PID listening on its port; a URL
// whose port has no listener here is left out. An error is a failure to
// read the socket tables.
func (x *listenerIndex) resolve(procRoot string, urls []string) (map[string]int, error) {
	var socks []socket
	var errs []error
	for _, name := range []string{"tcp", "tcp6"} {
		b, err := os.ReadFile(filepath.Join(procRoot, "net", name))
		if err != nil {
			if !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			}
			continue
		}
		got, err := parseNetTCP(b)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", filepath.Join(procRoot, "net", name), err))
		}
		socks = append(socks, got...)
	}
	out := map[string]int{}
	used := map[uint64]bool{}
	for _, u := range urls {
		inode, ok := listeningInode(socks, u)
		if !ok {
			continue
		}
		used[inode] = true
		pid, ok := x.byInode[inode]
		if !ok || !holds(procRoot, pid, inode) {
			if pid, ok = findHolder(procRoot, inode); !ok {
				delete(x.byInode, inode)
				continue
			}
			x.byInode[inode] = pid
		}
		out[u] = pid
	}
	for inode := range x.byInode {
		if !used[inode] {
			delete(x.byInode, inode)
		}
	}
	return out, errors.Join(errs...)
}

// listeningInode finds the listening socket a target URL reaches: its port,
// bound to the wildcard address, to the target's address, or to a loopback
// address for a loopback target.
func listeningInode(socks []socket, raw string) (uint64, bool) {
	u, err := url.Parse(raw)
	if err != nil {
		return 0, false
	}
	host, portText := u.Hostname(), u.Port()
	if portText == "" {
		portText = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	port, err := strconv.ParseUint(portText, 10, 16)
	if err != nil {
		return 0, false
	}
	ip := net.ParseIP(host)
	loopback := host == "localhost" || (ip != nil && ip.IsLoopback())
	if ip == nil && !loopback {
		return 0, false // a name: not necessarily this node
	}
	for _, s := range socks {
		if s.port != port {
			continue
		}
		switch {
		case s.addr.IsUnspecified(),
			ip != nil && s.addr.Equal(ip),
			loopback && s.addr.IsLoopback():
			return s.inode, true
		}
	}
	return 0, false
}

func socketLink(inode uint64) string { return "socket:[" + strconv.FormatUint(inode, 10) + "]" }

// holds says whether pid still has the socket open.
func holds(procRoot string, pid int, inode uint64) bool {
	dir := filepath.Join(procRoot, strconv.Itoa(pid), "fd")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	want := socketLink(inode)
	for _, e := range entries {
		if l, err := os.Readlink(filepath.Join(dir, e.Name())); err == nil && l == want {
			return true
		}
	}
	return false
}

// findHolder walks every process's fds for the socket; of several holders
// (a forked server shares its socket) the lowest PID, the parent, wins.
func findHolder(procRoot string, inode uint64) (int, bool) {
	entries, err := os.ReadDir(procRoot)
	if err != nil {
		return 0, false
	}
	best := -1
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid <= 0 || (best >= 0 && pid >= best) {
			continue
		}
		if holds(procRoot, pid, inode) {
			best = pid
		}
	}
	return best, best >= 0
}

// socket is a listening socket of /proc/net/tcp{,6}.
type socket struct {
	addr  net.IP
	port  uint64
	inode uint64
}

// parseNetTCP reads the listening sockets of /proc/net/tcp or tcp6:
//
//	sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
//	 0: 0100007F:7530 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 41234 1 0000000000000000 100 0 0 10 0
//
// The address is hexadecimal in the kernel's byte order of 32-bit words
// (little-endian on the hosts GPUs run on), the port big-endian hexadecimal.
// Malformed lines are skipped and make the error.
func parseNetTCP(b []byte) ([]socket, error) {
	var out []socket
	bad := 0
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for first := true; sc.Scan(); first = false {
		f := strings.Fields(sc.Text())
		if first || len(f) == 0 {
			continue // the header
		}
		if len(f) < 10 {
			bad++
			continue
		}
		st, err := strconv.ParseUint(f[3], 16, 8)
		if err != nil {
			bad++
			continue
		}
		if st != tcpListen {
			continue
		}
		a, p, ok := strings.Cut(f[1], ":")
		addr, err1 := kernelIP(a)
		port, err2 := strconv.ParseUint(p, 16, 16)
		inode, err3 := strconv.ParseUint(f[9], 10, 64)
		if !ok || err1 != nil || err2 != nil || err3 != nil {
			bad++
			continue
		}
		out = append(out, socket{addr, port, inode})
	}
	if err := sc.Err(); err != nil {
		return out, err
	}
	if bad > 0 {
		return out, fmt.Errorf("%d malformed lines", bad)
	}
	return out, nil
}

// kernelIP decodes an address of /proc/net/tcp: 8 (IPv4) or 32 (IPv6) hex
// digits, each 32-bit word in little-endian byte order.
func kernelIP(s string) (net.IP, error) {
	b, err := hex.DecodeString(s)
	if err != nil || (len(b) != 4 && len(b) != 16) {
		return nil, fmt.Errorf("address %q", s)
	}
	for i := 0; i < len(b); i += 4 {
		b[i], b[i+1], b[i+2], b[i+3] = b[i+3], b[i+2], b[i+1], b[i]
	}
	return net.IP(b), nil
}
