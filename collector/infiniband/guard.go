package infiniband

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// A sysfs counter read runs the driver's show() callback, which for mlx5 asks
// the HCA's firmware: with the firmware stuck, read(2) never returns, and
// neither would the scrape. readGuard makes the file reads on a worker
// goroutine, a batch at a time (a port's counters: one hand-off, not one per
// file), and waits for them at most until the scrape's read budget is spent;
// a read still blocked then is abandoned (its goroutine stays blocked in the
// kernel, holding its own buffers, never the collector's), the rest of the
// batch goes to a new worker, and the file is not read again until that read
// returns, so one stuck file costs one goroutine, not one per scrape.

// Errors of guarded reads, each a read_errors reason.
var (
	errReadTimeout = errors.New("read did not return in time; abandoned")
	errReadStuck   = errors.New("an earlier read of the file is still blocked")
)

// maxStuckReads bounds the goroutines left blocked in reads: past it, files
// not yet read are refused too (a node whose every HCA hangs).
const maxStuckReads = 64

// A batch is waited for while it makes progress: its worker is abandoned
// only when no read of it completed for a whole window, the scrape's budget
// left, or once that is spent a tenth of the timeout (at least minFloor), so
// that a slow but healthy batch is never taken for a stuck one and a hung HCA
// whose every file blocks costs a bounded first scrape.
const minFloor = 5 * time.Millisecond

type readGuard struct {
	inner   sysReader
	timeout time.Duration // a scrape's total wait on reads that do not return

	mu     sync.Mutex // guards stuck, and every worker's abandoned and progress
	stuck  map[string]*readWorker
	nstuck atomic.Int32

	// Used by the collector only (Update is serialised).
	worker  *readWorker // the current worker; replaced when abandoned
	timer   *time.Timer
	budget  time.Duration // left in the current scrape
	pending []int
	one     singleRead
}

// batch is a set of files to read: the i-th at path(i) (NUL-terminated;
// copied before path is called again), its content (valid during the call
// only) or error handed to result, in no set order.
type batch interface {
	path(i int) []byte
	result(i int, content []byte, err error)
}

// singleRead is the batch of ReadFile.
type singleRead struct {
	p, buf []byte
	n      int
	err    error
}

func (s *singleRead) path(int) []byte { return s.p }
func (s *singleRead) result(_ int, content []byte, err error) {
	s.n, s.err = copy(s.buf, content), err
}

// readWorker owns its jobs' paths and buffers: the collector never touches
// them once it has abandoned the worker.
type readWorker struct {
	job       chan struct{}
	done      chan struct{}
	jobs      []readJob
	progress  int  // jobs completed; under readGuard.mu
	abandoned bool // under readGuard.mu
}

type readJob struct {
	i         int    // the caller's index
	path, buf []byte // path NUL-terminated
	n         int
	err       error
}

func newReadGuard(inner sysReader, timeout time.Duration) *readGuard {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &readGuard{inner: inner, timeout: timeout, stuck: map[string]*readWorker{}, timer: t}
}

// startScrape gives the scrape its budget.
func (g *readGuard) startScrape() { g.budget = g.timeout }

// stuckReads is the number of abandoned reads still blocked.
func (g *readGuard) stuckReads() int { return int(g.nstuck.Load()) }

func (g *readGuard) ReadDir(path []byte, names *nameList) error { return g.inner.ReadDir(path, names) }
func (g *readGuard) Readlink(path, buf []byte) (int, error)     { return g.inner.Readlink(path, buf) }
func (g *readGuard) Access(path []byte) error                   { return g.inner.Access(path) }

// ReadFile reads the file at path (NUL-terminated) into buf, guarded.
func (g *readGuard) ReadFile(path, buf []byte) (int, error) {
	g.one = singleRead{p: path, buf: buf}
	g.readAll(&g.one, 1, len(buf))
	n, err := g.one.n, g.one.err
	g.one = singleRead{}
	return n, err
}

// readAll reads the n files of b, of at most size bytes each.
func (g *readGuard) readAll(b batch, n, size int) {
	g.pending = g.pending[:0]
	for i := 0; i < n; i++ {
		g.pending = append(g.pending, i)
	}
	for len(g.pending) > 0 {
		w := g.worker
		if w == nil {
			w = &readWorker{job: make(chan struct{}, 1), done: make(chan struct{}, 1)}
			g.worker = w
			go w.run(g)
		}
		w.jobs = w.jobs[:0]
		for _, i := range g.pending {
			p := b.path(i)
			if g.isStuck(p) {
				b.result(i, nil, errReadStuck)
				continue
			}
			if len(w.jobs) < cap(w.jobs) {
				w.jobs = w.jobs[:len(w.jobs)+1] // keeps the job's buffers
			} else {
				w.jobs = append(w.jobs, readJob{})
			}
			j := &w.jobs[len(w.jobs)-1]
			j.i, j.path, j.n, j.err = i, append(j.path[:0], p...), 0, nil
			if cap(j.buf) < size {
				j.buf = make([]byte, size)
			}
			j.buf = j.buf[:size]
		}
		if len(w.jobs) == 0 {
			return
		}
		w.progress = 0
		w.job <- struct{}{}
		completed := g.wait(w)
		for _, j := range w.jobs[:completed] {
			if j.err != nil {
				b.result(j.i, nil, j.err)
			} else {
				b.result(j.i, j.buf[:max(j.n, 0)], nil)
			}
		}
		g.pending = g.pending[:0]
		if completed == len(w.jobs) {
			return
		}
		// w.jobs[completed] is blocked: the rest go to a new worker.
		b.result(w.jobs[completed].i, nil, errReadTimeout)
		for _, j := range w.jobs[completed+1:] {
			g.pending = append(g.pending, j.i)
		}
	}
}

// wait waits for w's batch and returns how many of its jobs completed; when
// not all, w is abandoned, its current file marked stuck.
func (g *readGuard) wait(w *readWorker) int {
	floor := max(g.timeout/10, minFloor)
	seen := 0
	for {
		start := time.Now()
		g.timer.Reset(max(g.budget, floor))
		select {
		case <-w.done:
			g.timer.Stop()
			return len(w.jobs)
		case <-g.timer.C:
		}
		g.budget -= time.Since(start)
		g.mu.Lock()
		select {
		case <-w.done: // finished as the wait ended
			g.mu.Unlock()
			return len(w.jobs)
		default:
		}
		if w.progress == len(w.jobs) { // finished, about to say so
			g.mu.Unlock()
			<-w.done
			return len(w.jobs)
		}
		if w.progress == seen {
			break // no read completed in the whole window: stuck
		}
		seen = w.progress
		g.mu.Unlock()
	}
	defer g.mu.Unlock()
	w.abandoned = true
	g.stuck[string(w.jobs[w.progress].path)] = w
	g.nstuck.Add(1)
	g.worker = nil
	return w.progress
}

func (g *readGuard) isStuck(path []byte) bool {
	n := g.nstuck.Load()
	if n == 0 {
		return false
	}
	if n >= maxStuckReads {
		return true
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	_, stuck := g.stuck[string(path)]
	return stuck
}

func (w *readWorker) run(g *readGuard) {
	for range w.job {
		for k := range w.jobs {
			j := &w.jobs[k]
			j.n, j.err = g.inner.ReadFile(j.path, j.buf)
			g.mu.Lock()
			if w.abandoned {
				// This read came back after the scrape gave up on it:
				// the file may be read again.
				delete(g.stuck, string(j.path))
				g.nstuck.Add(-1)
				g.mu.Unlock()
				return
			}
			w.progress = k + 1
			g.mu.Unlock()
		}
		w.done <- struct{}{}
	}
}
