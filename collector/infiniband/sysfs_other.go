//go:build !linux

package infiniband

import (
	"os"
)

// osReader is the portable reader; sysfs exists only on Linux, so elsewhere it
// serves fixtures for development and allocates freely.
type osReader struct{}

func newOSReader() *osReader { return &osReader{} }

func trimNUL(path []byte) string {
	if n := len(path); n > 0 && path[n-1] == 0 {
		path = path[:n-1]
	}
	return string(path)
}

func (r *osReader) ReadFile(path, buf []byte) (int, error) {
	f, err := os.Open(trimNUL(path))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return f.Read(buf)
}

func (r *osReader) ReadDir(path []byte, names *nameList) error {
	names.reset()
	entries, err := os.ReadDir(trimNUL(path))
	for _, e := range entries {
		names.add([]byte(e.Name()), 0)
	}
	return err
}

func (r *osReader) Readlink(path, buf []byte) (int, error) {
	target, err := os.Readlink(trimNUL(path))
	if err != nil {
		return 0, err
	}
	return copy(buf, target), nil
}

func (r *osReader) Access(path []byte) error {
	_, err := os.Stat(trimNUL(path))
	return err
}
