package remotewrite

import "time"

// Clock is where the pusher reads the time and waits: the collection
// interval, the buffer age, the per-attempt timeout, retry backoffs and the
// flush timeout all go through it, so that tests drive them instead of
// sleeping.
type Clock interface {
	Now() time.Time
	// After fires once d has passed; d <= 0 fires at once.
	After(d time.Duration) <-chan time.Time
	// AfterFunc calls f in its own goroutine once d has passed; stop
	// reports whether it cancelled the call.
	AfterFunc(d time.Duration, f func()) (stop func() bool)
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }
func (realClock) AfterFunc(d time.Duration, f func()) func() bool {
	return time.AfterFunc(d, f).Stop
}
