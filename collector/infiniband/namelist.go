package infiniband

// nameList holds directory entry names in one reusable buffer, so listing
// the same directories on every scrape allocates nothing once warm.
type nameList struct {
	data []byte
	ends []int
	inos []uint64 // inode of each entry, 0 where the reader cannot tell
}

func (l *nameList) reset() {
	l.data = l.data[:0]
	l.ends = l.ends[:0]
	l.inos = l.inos[:0]
}

func (l *nameList) add(name []byte, ino uint64) {
	l.data = append(l.data, name...)
	l.ends = append(l.ends, len(l.data))
	l.inos = append(l.inos, ino)
}

// ino is the inode of entry i: sysfs gives a port directory a new one when
// the port is removed and added again (a driver reload, a VF re-created).
func (l *nameList) ino(i int) uint64 { return l.inos[i] }

func (l *nameList) len() int { return len(l.ends) }

func (l *nameList) at(i int) []byte {
	start := 0
	if i > 0 {
		start = l.ends[i-1]
	}
	return l.data[start:l.ends[i]]
}
