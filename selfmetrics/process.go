// Package selfmetrics serves the exporter's own process metrics at a cost
// that does not grow with the node: the same series client_golang's process
// collector serves, read from /proc/self into reused buffers. That collector
// reads /proc/stat (every CPU of the node) for the start time and parses
// the network statistics into maps on every scrape, which on a scrape of
// engine pages costs more memory than the pages themselves.
package selfmetrics

import (
	"bytes"
	"errors"
	"io"
	"os"
	"strconv"
	"sync"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/procfs"
)

// userHZ is the clock tick of /proc's CPU times, as procfs assumes it.
const userHZ = 100

var (
	cpuDesc      = prometheus.NewDesc("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", nil, nil)
	openFDsDesc  = prometheus.NewDesc("process_open_fds", "Number of open file descriptors.", nil, nil)
	maxFDsDesc   = prometheus.NewDesc("process_max_fds", "Maximum number of open file descriptors.", nil, nil)
	vsizeDesc    = prometheus.NewDesc("process_virtual_memory_bytes", "Virtual memory size in bytes.", nil, nil)
	maxVsizeDesc = prometheus.NewDesc("process_virtual_memory_max_bytes", "Maximum amount of virtual memory available in bytes.", nil, nil)
	rssDesc      = prometheus.NewDesc("process_resident_memory_bytes", "Resident memory size in bytes.", nil, nil)
	startDesc    = prometheus.NewDesc("process_start_time_seconds", "Start time of the process since unix epoch in seconds.", nil, nil)
	inDesc       = prometheus.NewDesc("process_network_receive_bytes_total", "Number of bytes received by the process over the network.", nil, nil)
	outDesc      = prometheus.NewDesc("process_network_transmit_bytes_total", "Number of bytes sent by the process over the network.", nil, nil)
)

// The files of the running process that are read on every Collect.
const (
	statPath    = "/proc/self/stat"
	netstatPath = "/proc/self/net/netstat"
)

// ProcessCollector serves the process_* series of the running process.
type ProcessCollector struct {
	self     *procfs.Proc // nil when /proc cannot be read
	start    float64
	hasStart bool

	mu  sync.Mutex // buf is shared by concurrent scrapes
	buf []byte
}

// NewProcessCollector reads the process's start time once (it never
// changes) and the rest on every Collect.
func NewProcessCollector() *ProcessCollector {
	c := &ProcessCollector{buf: make([]byte, 0, 8<<10)}
	if p, err := procfs.Self(); err == nil {
		c.self = &p
		if st, err := p.Stat(); err == nil {
			if t, err := st.StartTime(); err == nil {
				c.start, c.hasStart = t, true
			}
		}
	}
	return c
}

func (c *ProcessCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{cpuDesc, openFDsDesc, maxFDsDesc, vsizeDesc, maxVsizeDesc, rssDesc, startDesc, inDesc, outDesc} {
		ch <- d
	}
}

// Collect serves what it can read; a value it cannot read is left out, as
// client_golang's collector does by default.
func (c *ProcessCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	var (
		st      procStat
		statErr error
		in, out float64
		netErr  error
	)
	if c.buf, statErr = readInto(c.buf, statPath); statErr == nil {
		st, statErr = parseStat(c.buf)
	}
	if c.buf, netErr = readInto(c.buf, netstatPath); netErr == nil {
		in, out, netErr = parseNetstatOctets(c.buf)
	}
	c.mu.Unlock()

	if statErr == nil {
		ch <- prometheus.MustNewConstMetric(cpuDesc, prometheus.CounterValue, float64(st.utime+st.stime)/userHZ)
		ch <- prometheus.MustNewConstMetric(vsizeDesc, prometheus.GaugeValue, float64(st.vsize))
		ch <- prometheus.MustNewConstMetric(rssDesc, prometheus.GaugeValue, float64(st.rssPages)*float64(os.Getpagesize()))
	}
	if c.hasStart {
		ch <- prometheus.MustNewConstMetric(startDesc, prometheus.GaugeValue, c.start)
	}
	if c.self != nil {
		if n, err := c.self.FileDescriptorsLen(); err == nil {
			ch <- prometheus.MustNewConstMetric(openFDsDesc, prometheus.GaugeValue, float64(n))
		}
	}
	var l syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l) == nil {
		ch <- prometheus.MustNewConstMetric(maxFDsDesc, prometheus.GaugeValue, float64(l.Cur))
	}
	if syscall.Getrlimit(syscall.RLIMIT_AS, &l) == nil {
		ch <- prometheus.MustNewConstMetric(maxVsizeDesc, prometheus.GaugeValue, float64(l.Cur))
	}
	if netErr == nil {
		ch <- prometheus.MustNewConstMetric(inDesc, prometheus.CounterValue, in)
		ch <- prometheus.MustNewConstMetric(outDesc, prometheus.CounterValue, out)
	}
}

// readInto reads a whole /proc file into buf's storage.
func readInto(buf []byte, path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return buf[:0], err
	}
	defer f.Close()
	buf = buf[:0]
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := f.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if errors.Is(err, io.EOF) {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

type procStat struct {
	utime, stime, vsize, rssPages uint64
}

var errStat = errors.New("malformed /proc/<pid>/stat")

// parseStat reads the fields of /proc/<pid>/stat (proc(5)) that the
// process series need: utime (14), stime (15), vsize (23) and rss (24).
// The command (2) is in parentheses and may hold spaces and parentheses
// itself: fields are counted from the last ')'.
func parseStat(b []byte) (procStat, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, errStat
	}
	var st procStat
	field := 2 // the command
	rest := b[i+1:]
	for len(rest) > 0 && field < 24 {
		rest = bytes.TrimLeft(rest, " ")
		end := bytes.IndexAny(rest, " \n")
		if end < 0 {
			end = len(rest)
		}
		tok := rest[:end]
		rest = rest[end:]
		if len(tok) == 0 {
			break
		}
		field++
		var dst *uint64
		switch field {
		case 14:
			dst = &st.utime
		case 15:
			dst = &st.stime
		case 23:
			dst = &st.vsize
		case 24:
			dst = &st.rssPages
		default:
			continue
		}
		v, err := strconv.ParseUint(string(tok), 10, 64)
		if err != nil {
			return procStat{}, errStat
		}
		*dst = v
	}
	if field < 24 {
		return procStat{}, errStat
	}
	return st, nil
}

var errNetstat = errors.New("no IpExt InOctets/OutOctets in /proc/<pid>/net/netstat")

// parseNetstatOctets reads InOctets and OutOctets of the IpExt lines of
// /proc/<pid>/net/netstat: a line of names and a line of values, both
// starting "IpExt:".
func parseNetstatOctets(b []byte) (in, out float64, err error) {
	var names []byte
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		if !bytes.HasPrefix(line, []byte("IpExt:")) {
			continue
		}
		if names == nil {
			names = line
			continue
		}
		inAt, outAt := -1, -1
		for k, name := 0, names[len("IpExt:"):]; ; k++ {
			var tok []byte
			tok, name = nextField(name)
			if tok == nil {
				break
			}
			switch string(tok) {
			case "InOctets":
				inAt = k
			case "OutOctets":
				outAt = k
			}
		}
		if inAt < 0 || outAt < 0 {
			return 0, 0, errNetstat
		}
		gotIn, gotOut := false, false
		for k, vals := 0, line[len("IpExt:"):]; ; k++ {
			var tok []byte
			tok, vals = nextField(vals)
			if tok == nil {
				break
			}
			if k != inAt && k != outAt {
				continue
			}
			v, err := strconv.ParseFloat(string(tok), 64)
			if err != nil {
				return 0, 0, errNetstat
			}
			if k == inAt {
				in, gotIn = v, true
			} else {
				out, gotOut = v, true
			}
		}
		if !gotIn || !gotOut {
			return 0, 0, errNetstat
		}
		return in, out, nil
	}
	return 0, 0, errNetstat
}

// nextField returns the first space-separated field of b and the rest.
func nextField(b []byte) (tok, rest []byte) {
	b = bytes.TrimLeft(b, " ")
	if len(b) == 0 {
		return nil, nil
	}
	if i := bytes.IndexByte(b, ' '); i >= 0 {
		return b[:i], b[i:]
	}
	return b, nil
}
