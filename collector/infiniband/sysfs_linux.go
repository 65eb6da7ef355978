//go:build linux

package infiniband

import (
	"syscall"
	"unsafe"
)

// atFDCWD is a variable because the constant -100 cannot convert to uintptr.
var atFDCWD = -100

// osReader reads sysfs with raw openat/read/getdents so that a scrape of
// hundreds of attribute files allocates nothing: paths arrive as reusable,
// NUL-terminated byte slices and names are returned into a reusable buffer.
type osReader struct {
	dirent []byte
}

func newOSReader() *osReader { return &osReader{dirent: make([]byte, 8192)} }

func openPath(path []byte, flags int) (int, error) {
	for {
		fd, _, errno := syscall.Syscall6(syscall.SYS_OPENAT, uintptr(atFDCWD),
			uintptr(unsafe.Pointer(&path[0])), uintptr(flags|syscall.O_CLOEXEC), 0, 0, 0)
		if errno == syscall.EINTR {
			continue
		}
		if errno != 0 {
			return -1, errno
		}
		return int(fd), nil
	}
}

// ReadFile reads one sysfs attribute (always a single page) into buf.
func (r *osReader) ReadFile(path, buf []byte) (int, error) {
	fd, err := openPath(path, syscall.O_RDONLY)
	if err != nil {
		return 0, err
	}
	defer syscall.Close(fd)
	for {
		n, err := syscall.Read(fd, buf)
		if err == syscall.EINTR {
			continue
		}
		return n, err
	}
}

// ReadDir replaces names with the entries of the directory at path.
func (r *osReader) ReadDir(path []byte, names *nameList) error {
	names.reset()
	fd, err := openPath(path, syscall.O_RDONLY|syscall.O_DIRECTORY)
	if err != nil {
		return err
	}
	defer syscall.Close(fd)
	for {
		n, err := syscall.Getdents(fd, r.dirent)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		if n <= 0 {
			return nil
		}
		parseDirents(r.dirent[:n], names)
	}
}

// parseDirents walks linux_dirent64 records: ino(8) off(8) reclen(2) type(1) name.
func parseDirents(buf []byte, names *nameList) {
	for len(buf) >= 19 {
		reclen := int(*(*uint16)(unsafe.Pointer(&buf[16])))
		if reclen < 19 || reclen > len(buf) {
			return
		}
		name := buf[19:reclen]
		for i, c := range name {
			if c == 0 {
				name = name[:i]
				break
			}
		}
		if !(len(name) == 1 && name[0] == '.') && !(len(name) == 2 && name[0] == '.' && name[1] == '.') {
			names.add(name, *(*uint64)(unsafe.Pointer(&buf[0])))
		}
		buf = buf[reclen:]
	}
}

// Readlink resolves a symlink into buf.
func (r *osReader) Readlink(path, buf []byte) (int, error) {
	for {
		n, _, errno := syscall.Syscall6(syscall.SYS_READLINKAT, uintptr(atFDCWD),
			uintptr(unsafe.Pointer(&path[0])), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)), 0, 0)
		if errno == syscall.EINTR {
			continue
		}
		if errno != 0 {
			return 0, errno
		}
		return int(n), nil
	}
}

// Access reports whether path exists (F_OK), without following the caller
// into a read: it tells a vanished port from a single missing file.
func (r *osReader) Access(path []byte) error {
	_, _, errno := syscall.Syscall6(syscall.SYS_FACCESSAT, uintptr(atFDCWD),
		uintptr(unsafe.Pointer(&path[0])), 0, 0, 0, 0)
	if errno != 0 {
		return errno
	}
	return nil
}
