package infiniband

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// A sysfs counter read runs the driver's show() callback, which for mlx5 asks
// the HCA's firmware: with the firmware stuck, read(2) never returns, and
// neither would the scrape. readGuard makes every file read on a worker
// goroutine and waits for it at most until the scrape's read budget is spent;
// a read still blocked then is abandoned (its goroutine stays blocked in the
// kernel, holding its own buffers, never the collector's) and the file is not
// read again until that read returns, so one stuck file costs one goroutine,
// not one per scrape.

// Errors of guarded reads, each a read_errors reason.
var (
	errReadTimeout = errors.New("read did not return in time; abandoned")
	errReadStuck   = errors.New("an earlier read of the file is still blocked")
)

// maxStuckReads bounds the goroutines left blocked in reads: past it, files
// not yet read are refused too (a node whose every HCA hangs).
const maxStuckReads = 64

// budgetFloor is how long a read is waited for once the scrape's budget is
// spent: reads that answer at once still succeed.
const budgetFloor = 5 * time.Millisecond

type readGuard struct {
	inner   sysReader
	timeout time.Duration // a scrape's total wait on reads that do not return

	mu     sync.Mutex // guards stuck and every worker's abandoned flag
	stuck  map[string]*readWorker
	nstuck atomic.Int32

	worker *readWorker // the current worker; replaced when abandoned
	timer  *time.Timer
	budget time.Duration // left in the current scrape
}

// readWorker owns its path and buffer: the collector never touches them once
// it has abandoned the worker.
type readWorker struct {
	job       chan struct{}
	done      chan struct{}
	path, buf []byte
	n         int
	err       error
	abandoned bool // under readGuard.mu
}

func newReadGuard(inner sysReader, timeout time.Duration) *readGuard {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &readGuard{inner: inner, timeout: timeout, stuck: map[string]*readWorker{}, timer: t}
}

// startScrape gives the scrape its budget. Update is serialised, and so is
// every call of the guard but the workers' own.
func (g *readGuard) startScrape() { g.budget = g.timeout }

// stuckReads is the number of abandoned reads still blocked.
func (g *readGuard) stuckReads() int { return int(g.nstuck.Load()) }

func (g *readGuard) ReadDir(path []byte, names *nameList) error { return g.inner.ReadDir(path, names) }
func (g *readGuard) Readlink(path, buf []byte) (int, error)     { return g.inner.Readlink(path, buf) }
func (g *readGuard) Access(path []byte) error                   { return g.inner.Access(path) }

// ReadFile reads the file at path (NUL-terminated) into buf on the worker.
func (g *readGuard) ReadFile(path, buf []byte) (int, error) {
	if n := g.nstuck.Load(); n > 0 {
		g.mu.Lock()
		_, stuck := g.stuck[string(path)]
		g.mu.Unlock()
		if stuck || n >= maxStuckReads {
			return 0, errReadStuck
		}
	}
	w := g.worker
	if w == nil {
		w = &readWorker{job: make(chan struct{}, 1), done: make(chan struct{}, 1)}
		g.worker = w
		go w.run(g)
	}
	w.path = append(w.path[:0], path...)
	if cap(w.buf) < len(buf) {
		w.buf = make([]byte, len(buf))
	}
	w.buf = w.buf[:len(buf)]
	w.job <- struct{}{}

	wait := max(g.budget, budgetFloor)
	start := time.Now()
	g.timer.Reset(wait)
	select {
	case <-w.done:
		g.timer.Stop()
		return w.result(buf)
	case <-g.timer.C:
	}
	g.budget -= time.Since(start)
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-w.done: // answered as the wait ended
		return w.result(buf)
	default:
	}
	w.abandoned = true
	g.stuck[string(path)] = w
	g.nstuck.Add(1)
	g.worker = nil
	return 0, errReadTimeout
}

// result copies the worker's read into buf.
func (w *readWorker) result(buf []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	return copy(buf, w.buf[:max(w.n, 0)]), nil
}

func (w *readWorker) run(g *readGuard) {
	for range w.job {
		w.n, w.err = g.inner.ReadFile(w.path, w.buf)
		g.mu.Lock()
		if w.abandoned {
			// The read came back after the scrape gave up on it: the file
			// may be read again.
			delete(g.stuck, string(w.path))
			g.nstuck.Add(-1)
			g.mu.Unlock()
			return
		}
		w.done <- struct{}{}
		g.mu.Unlock()
	}
}
