package collector

import (
	"log/slog"
	"sync"
)

// maxLogOnceKeys bounds the memory of a LogOnce; past it, new failures are
// still logged at warn level, just not remembered.
const maxLogOnceKeys = 4096

// LogOnce logs a failure at warn level the first time its key is seen and at
// debug level after, so a permanently broken file or device does not flood
// the log on every scrape while it is still counted in a metric.
type LogOnce struct {
	logger *slog.Logger
	mu     sync.Mutex
	seen   map[string]struct{}
}

// NewLogOnce returns a LogOnce writing to logger.
func NewLogOnce(logger *slog.Logger) *LogOnce {
	return &LogOnce{logger: logger, seen: map[string]struct{}{}}
}

// Log logs msg with args: warn for a new key, debug for a known one.
func (l *LogOnce) Log(key, msg string, args ...any) {
	l.mu.Lock()
	_, seen := l.seen[key]
	if !seen && len(l.seen) < maxLogOnceKeys {
		l.seen[key] = struct{}{}
	}
	l.mu.Unlock()
	if seen {
		l.logger.Debug(msg, args...)
		return
	}
	l.logger.Warn(msg, args...)
}
