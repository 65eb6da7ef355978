package remotewrite

import (
	"sort"
	"sync"
	"testing"
	"time"
)

// fakeClock moves only when a test advances it; its timers fire then.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	at      time.Time
	ch      chan time.Time // After
	f       func()         // AfterFunc
	stopped bool
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.timers = append(c.timers, &fakeTimer{at: c.now.Add(d), ch: ch})
	return ch
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) func() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{at: c.now.Add(d), f: f}
	if d <= 0 {
		go f()
		return func() bool { return false }
	}
	c.timers = append(c.timers, t)
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		was := !t.stopped
		t.stopped = true
		return was
	}
}

// Advance moves the clock by d and fires the timers due, in time order.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	sort.SliceStable(c.timers, func(i, j int) bool { return c.timers[i].at.Before(c.timers[j].at) })
	kept := c.timers[:0]
	for _, t := range c.timers {
		switch {
		case t.stopped:
		case t.at.After(c.now):
			kept = append(kept, t)
		case t.ch != nil:
			t.ch <- c.now
		default:
			t.stopped = true
			go t.f()
		}
	}
	clear(c.timers[len(kept):])
	c.timers = kept
}

// advanceUntil advances the clock by step until cond holds, polling in real
// time for up to a minute (the work the timers start runs concurrently).
func advanceUntil(t *testing.T, c *fakeClock, step time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s (fake clock at %s)", what, c.Now().Format(time.RFC3339Nano))
		}
		c.Advance(step)
		time.Sleep(time.Millisecond)
	}
}

func TestFakeClock(t *testing.T) {
	c := newFakeClock()
	start := c.Now()
	a := c.After(time.Second)
	fired := make(chan struct{})
	stop := c.AfterFunc(2*time.Second, func() { close(fired) })
	stopped := c.AfterFunc(time.Second, func() { t.Error("a stopped AfterFunc ran") })
	if !stopped() {
		t.Error("stop of a pending AfterFunc returned false")
	}
	c.Advance(999 * time.Millisecond)
	select {
	case <-a:
		t.Fatal("After fired early")
	default:
	}
	c.Advance(time.Millisecond)
	if got := <-a; !got.Equal(start.Add(time.Second)) {
		t.Errorf("After fired at %s", got)
	}
	c.Advance(time.Second)
	<-fired
	if stop() {
		t.Error("stop of a fired AfterFunc returned true")
	}
	select {
	case <-c.After(0):
	default:
		t.Error("After(0) did not fire at once")
	}
}
