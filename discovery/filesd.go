package discovery

import (
	"context"
	"log/slog"
	"os"
	"time"
)

// WatchFile re-reads a file_sd targets file whenever its size or
// modification time changes (polled: works on every filesystem, ConfigMap
// symlink swaps included) and hands the new targets to update, until ctx
// ends. A file that cannot be read or parsed keeps the last good targets.
func WatchFile(ctx context.Context, path string, every time.Duration, logger *slog.Logger, update func([]Target)) {
	var lastMod time.Time
	var lastSize int64 = -1
	if fi, err := os.Stat(path); err == nil {
		lastMod, lastSize = fi.ModTime(), fi.Size()
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		fi, err := os.Stat(path)
		if err != nil {
			if lastSize != -2 {
				logger.Error("engine targets file unreadable; keeping the last targets", "path", path, "err", err)
			}
			lastSize = -2
			continue
		}
		if fi.ModTime().Equal(lastMod) && fi.Size() == lastSize {
			continue
		}
		lastMod, lastSize = fi.ModTime(), fi.Size()
		tgts, err := LoadTargetsFile(path)
		if err != nil {
			logger.Error("engine targets file invalid; keeping the last targets", "path", path, "err", err)
			continue
		}
		update(tgts)
		logger.Info("engine targets file reloaded", "path", path, "targets", len(tgts))
	}
}
