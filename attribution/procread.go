package attribution

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// DefaultProcReadTimeout bounds one read of a /proc file.
const DefaultProcReadTimeout = time.Second

// maxProcFile bounds what is read of one /proc file: a command line or an
// environment larger than this is cut (the parts attribution needs are at
// the start).
const maxProcFile = 256 << 10

// ErrReadStuck is the error of a read that did not return within its
// deadline, and of a read not started because an earlier read of the same
// file is still blocked.
var ErrReadStuck = errors.New("read did not return in time")

// stuckError says which of the two it was.
type stuckError struct {
	path    string
	pending bool // an earlier read of the file is still blocked: this one was not started
}

func (e *stuckError) Error() string {
	if e.pending {
		return fmt.Sprintf("%s: an earlier read is still blocked; not read again", e.path)
	}
	return fmt.Sprintf("%s: %v", e.path, ErrReadStuck)
}

func (e *stuckError) Unwrap() error { return ErrReadStuck }

// fileReader reads small files with a deadline. /proc/<pid>/cmdline of a
// process stuck in the kernel (a hung GPU process holding its mm lock) blocks
// its reader, and no read can be interrupted: a read that does not return in
// time is abandoned, its goroutine left blocked in the kernel, and the same
// file is not read again until that goroutine returns, so one stuck process
// costs one goroutine, never one per refresh.
type fileReader struct {
	timeout time.Duration

	mu      sync.Mutex
	blocked map[string]bool // files whose abandoned read has not returned yet
}

func newFileReader(timeout time.Duration) *fileReader {
	if timeout <= 0 {
		timeout = DefaultProcReadTimeout
	}
	return &fileReader{timeout: timeout, blocked: map[string]bool{}}
}

type readResult struct {
	b   []byte
	err error
}

// read returns the file's content (at most maxProcFile bytes).
func (r *fileReader) read(path string) ([]byte, error) {
	r.mu.Lock()
	if r.blocked[path] {
		r.mu.Unlock()
		return nil, &stuckError{path: path, pending: true}
	}
	r.mu.Unlock()
	done := make(chan readResult, 1)
	abandoned := false
	var mu sync.Mutex // guards abandoned against the reader's return
	go func() {
		b, err := readLimited(path)
		mu.Lock()
		defer mu.Unlock()
		if abandoned {
			r.mu.Lock()
			delete(r.blocked, path)
			r.mu.Unlock()
			return
		}
		done <- readResult{b, err}
	}()
	t := time.NewTimer(r.timeout)
	defer t.Stop()
	select {
	case res := <-done:
		return res.b, res.err
	case <-t.C:
	}
	mu.Lock()
	defer mu.Unlock()
	select {
	case res := <-done: // it returned just now
		return res.b, res.err
	default:
	}
	abandoned = true
	r.mu.Lock()
	r.blocked[path] = true
	r.mu.Unlock()
	return nil, &stuckError{path: path}
}

// pending is the number of abandoned reads still blocked.
func (r *fileReader) pending() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.blocked)
}

// openFile opens a file for reading (a variable: tests count the opens).
var openFile = os.Open

func readLimited(path string) ([]byte, error) {
	f, err := openFile(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, maxProcFile))
}
