package infiniband

// nameList holds directory entry names in one reusable buffer, so listing
// the same directories on every scrape allocates nothing once warm.
type nameList struct {
	data []byte
	ends []int
}

func (l *nameList) reset() {
	l.data = l.data[:0]
	l.ends = l.ends[:0]
}

func (l *nameList) add(name []byte) {
	l.data = append(l.data, name...)
	l.ends = append(l.ends, len(l.data))
}

func (l *nameList) len() int { return len(l.ends) }

func (l *nameList) at(i int) []byte {
	start := 0
	if i > 0 {
		start = l.ends[i-1]
	}
	return l.data[start:l.ends[i]]
}
