package engine

import (
	"context"
	"os"
	"time"
)

// watchFile re-reads the targets file whenever its size or modification time
// changes (polled: works on every filesystem, ConfigMap symlink swaps
// included). A file that cannot be read or parsed keeps the last good targets.
func (c *Collector) watchFile(ctx context.Context, path string, every time.Duration) {
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
				c.logger.Error("engine targets file unreadable; keeping the last targets", "path", path, "err", err)
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
			c.logger.Error("engine targets file invalid; keeping the last targets", "path", path, "err", err)
			continue
		}
		c.setFileTargets(tgts)
		c.logger.Info("engine targets file reloaded", "path", path, "targets", len(tgts))
	}
}
