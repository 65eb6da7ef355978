package remotewrite

// The WAL (--remote-write.wal-dir) keeps the buffer on disk as well as in
// memory, so that a killed exporter (SIGKILL, an OOM kill) loses nothing
// that was inside the buffer's bounds: at the next start what the endpoints
// had not sent is queued again, in order, and the series of the last
// collection are known again (those gone meanwhile get their staleness
// marker at the first collection).
//
// Layout of the directory:
//
//	lock               flock(2)ed by the one process using it
//	segments/NNN...    the collections, in order, in segments of about
//	                   max-bytes/16; a segment is removed once every endpoint
//	                   is past it, or, oldest first, to stay within max-bytes
//	                   (its samples are then dropped from the buffer too,
//	                   counted as reason="wal_full")
//	positions/HASH     per endpoint: its URL and how far it has got
//
// A segment starts with walMagic, then records: a 4-byte big-endian length
// and a CRC-32C of the record, a type byte and the payload. A series record
// (uvarint id, uvarint label count, then length-prefixed names and values)
// declares a series before its first use in that segment, so each segment
// reads alone; a collection record holds uvarint seq, varint timestamp and
// creation time (ms), a flags byte (final: the staleness markers of a
// shutdown), a uvarint count and per sample a uvarint series id and the
// value's 8 bytes (little-endian float64 bits, so staleness markers stay
// exact).
//
// Durability: each collection is written with one write(2) before it is
// queued, and fsynced then (once per --remote-write.interval), so a killed
// process loses nothing and a machine crash at most the collection being
// written. Positions are replaced by rename(2) without fsync: after a crash
// a stale one only sends again samples the receiver already has (the same
// value at the same time, which Prometheus ignores). A torn or corrupt
// record (a crash while writing) ends its segment's replay there; it is
// counted, and the segment is cut back to its last good record.

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

const (
	walMagic      = "LNEWAL1\n"
	recSeries     = 1
	recCollection = 2
	flagFinal     = 1
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// walRecord is one collection.
type walRecord struct {
	seq     uint64
	ts      int64 // milliseconds
	created time.Time
	final   bool
	samples []sample
}

type walSegment struct {
	idx         uint64
	path        string
	size        int64
	first, last uint64 // seq of its first and last collections
	records     int
}

type wal struct {
	dir, segDir, posDir string
	maxBytes, segBytes  int64
	logger              *slog.Logger
	m                   *metrics
	lock                *os.File

	mu        sync.Mutex
	closed    bool
	segs      []*walSegment // oldest first
	cur       *os.File      // appending to the last of segs; nil before the first write or after a failed one
	total     int64
	nextID    uint64
	endpoints []*endpoint
	positions []position
	posPaths  []string
	urls      []string
	buf       []byte
}

// walState is what the WAL held at start-up.
type walState struct {
	records []walRecord // in order
	nextSeq uint64
	lastTs  int64
	live    map[string]*series // the series of the last collection, by key
}

// openWAL locks dir and reads it back. urls are the endpoints (sanitised);
// their positions are w.positions, in that order (an endpoint the WAL did
// not know starts after what it holds).
func openWAL(dir string, maxBytes int64, urls []string, m *metrics, logger *slog.Logger) (*wal, *walState, error) {
	if maxBytes <= 0 {
		maxBytes = DefaultWALMaxBytes
	}
	if maxBytes < 64<<10 {
		return nil, nil, fmt.Errorf("remote write WAL: max bytes %d is under 64KiB", maxBytes)
	}
	w := &wal{
		dir: dir, segDir: filepath.Join(dir, "segments"), posDir: filepath.Join(dir, "positions"),
		maxBytes: maxBytes, segBytes: min(max(maxBytes/16, 4<<10), 8<<20),
		logger: logger.With("wal", dir), m: m, urls: urls,
	}
	for _, d := range []string{w.segDir, w.posDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, nil, fmt.Errorf("remote write WAL: %w", err)
		}
	}
	lock, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("remote write WAL: %w", err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, nil, fmt.Errorf("remote write WAL %s is in use by another process: give each exporter its own --remote-write.wal-dir", dir)
		}
		return nil, nil, fmt.Errorf("remote write WAL %s: lock: %w", dir, err)
	}
	w.lock = lock
	st, err := w.replay()
	if err != nil {
		w.close()
		return nil, nil, err
	}
	if err := w.loadPositions(st); err != nil {
		w.close()
		return nil, nil, err
	}
	w.m.walBytes.Set(float64(w.total))
	return w, st, nil
}

// replay reads every segment, oldest first.
func (w *wal) replay() (*walState, error) {
	entries, err := os.ReadDir(w.segDir)
	if err != nil {
		return nil, fmt.Errorf("remote write WAL: %w", err)
	}
	var idxs []uint64
	for _, e := range entries {
		if idx, err := strconv.ParseUint(e.Name(), 10, 64); err == nil && e.Type().IsRegular() {
			idxs = append(idxs, idx)
		}
	}
	slices.Sort(idxs)
	st := &walState{nextSeq: 1}
	r := &replayer{byKey: map[string]*series{}, st: st}
	for _, idx := range idxs {
		path := filepath.Join(w.segDir, fmt.Sprintf("%020d", idx))
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("remote write WAL: %w", err)
		}
		seg := &walSegment{idx: idx, path: path}
		good, err := r.segment(b, seg)
		if err != nil {
			w.m.walErrors.WithLabelValues("replay").Inc()
			w.logger.Error("remote write WAL: torn or corrupt record, the rest of the segment is skipped",
				"segment", path, "offset", good, "size", len(b), "err", err)
			if good < len(walMagic) {
				good = 0
			}
			if terr := os.Truncate(path, int64(good)); terr != nil {
				w.m.walErrors.WithLabelValues("remove").Inc()
				w.logger.Error("remote write WAL: cutting a segment back", "segment", path, "err", terr)
			}
		}
		if seg.records == 0 {
			w.removeFile(path)
			continue
		}
		seg.size = int64(good)
		w.segs = append(w.segs, seg)
		w.total += seg.size
	}
	w.nextID = r.maxID
	st.live = map[string]*series{}
	if n := len(st.records); n > 0 && !st.records[n-1].final {
		for _, s := range st.records[n-1].samples {
			if !IsStaleNaN(s.v) {
				st.live[s.s.key] = s.s
			}
		}
	}
	return st, nil
}

type replayer struct {
	byKey map[string]*series
	maxID uint64
	st    *walState
}

var errCorrupt = errors.New("corrupt record")

// segment decodes one segment; good is the offset after its last good record.
func (r *replayer) segment(b []byte, seg *walSegment) (good int, err error) {
	if !bytes.HasPrefix(b, []byte(walMagic)) {
		return 0, errors.New("no segment header")
	}
	ids := map[uint64]*series{}
	off := len(walMagic)
	for off < len(b) {
		if len(b)-off < 9 {
			return off, errors.New("torn record header")
		}
		n := int(binary.BigEndian.Uint32(b[off:]))
		sum := binary.BigEndian.Uint32(b[off+4:])
		if n == 0 || n > len(b)-off-8 {
			return off, fmt.Errorf("record of %d bytes past the end", n)
		}
		rec := b[off+8 : off+8+n]
		if crc32.Checksum(rec, castagnoli) != sum {
			return off, errors.New("checksum mismatch")
		}
		switch rec[0] {
		case recSeries:
			if err := r.series(rec[1:], ids); err != nil {
				return off, err
			}
		case recCollection:
			c, err := r.collection(rec[1:], ids)
			if err != nil {
				return off, err
			}
			if c.seq >= r.st.nextSeq {
				r.st.records = append(r.st.records, c)
				r.st.nextSeq = c.seq + 1
				r.st.lastTs = max(r.st.lastTs, c.ts)
				if seg.records == 0 {
					seg.first = c.seq
				}
				seg.last = c.seq
				seg.records++
			}
		default:
			return off, fmt.Errorf("record type %d", rec[0])
		}
		off += 8 + n
	}
	return off, nil
}

type reader struct {
	b   []byte
	err bool
}

func (d *reader) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = true
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *reader) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = true
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *reader) bytes(n uint64) []byte {
	if d.err || n > uint64(len(d.b)) {
		d.err = true
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *reader) string() string { return string(d.bytes(d.uvarint())) }

func (r *replayer) series(b []byte, ids map[uint64]*series) error {
	d := &reader{b: b}
	id := d.uvarint()
	n := d.uvarint()
	if d.err || n > uint64(len(d.b)) {
		return errCorrupt
	}
	ls := make([]pair, n)
	for i := range ls {
		ls[i] = pair{d.string(), d.string()}
	}
	if d.err || len(d.b) != 0 || id == 0 {
		return errCorrupt
	}
	if !slices.IsSortedFunc(ls, func(a, b pair) int { return strings.Compare(a.name, b.name) }) {
		return errCorrupt
	}
	key := string(seriesKey(nil, ls))
	s, ok := r.byKey[key]
	if !ok {
		s = newSeries(key, ls)
		r.byKey[key] = s
	}
	ids[id] = s
	r.maxID = max(r.maxID, id)
	return nil
}

func (r *replayer) collection(b []byte, ids map[uint64]*series) (walRecord, error) {
	d := &reader{b: b}
	c := walRecord{seq: d.uvarint(), ts: d.varint()}
	c.created = time.UnixMilli(d.varint())
	flags := d.bytes(1)
	n := d.uvarint()
	if d.err || n > uint64(len(d.b))/9 {
		return c, errCorrupt
	}
	c.final = flags[0]&flagFinal != 0
	c.samples = make([]sample, n)
	for i := range c.samples {
		s, ok := ids[d.uvarint()]
		v := d.bytes(8)
		if d.err || !ok {
			return c, errCorrupt
		}
		c.samples[i] = sample{s: s, v: math.Float64frombits(binary.LittleEndian.Uint64(v))}
	}
	if len(d.b) != 0 {
		return c, errCorrupt
	}
	return c, nil
}

// appendRecord frames the record that fill appends to its argument.
func appendRecord(buf []byte, typ byte, fill func([]byte) []byte) []byte {
	start := len(buf)
	buf = append(buf, 0, 0, 0, 0, 0, 0, 0, 0, typ)
	buf = fill(buf)
	rec := buf[start+8:]
	binary.BigEndian.PutUint32(buf[start:], uint32(len(rec)))
	binary.BigEndian.PutUint32(buf[start+4:], crc32.Checksum(rec, castagnoli))
	return buf
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// append writes a collection, declaring the series the current segment
// does not hold yet, then keeps the WAL within its bound.
func (w *wal) append(r walRecord) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return
	}
	if w.cur == nil || w.segs[len(w.segs)-1].size >= w.segBytes {
		if err := w.cutLocked(); err != nil {
			w.failLocked("opening a segment", err)
			return
		}
	}
	seg := w.segs[len(w.segs)-1]
	buf := w.buf[:0]
	for _, s := range r.samples {
		if s.s.walSeg == seg.idx {
			continue
		}
		if s.s.walID == 0 {
			w.nextID++
			s.s.walID = w.nextID
		}
		buf = appendRecord(buf, recSeries, func(b []byte) []byte {
			b = binary.AppendUvarint(b, s.s.walID)
			b = binary.AppendUvarint(b, uint64(len(s.s.labels)))
			for _, l := range s.s.labels {
				b = appendString(b, l.Name)
				b = appendString(b, l.Value)
			}
			return b
		})
		s.s.walSeg = seg.idx
	}
	buf = appendRecord(buf, recCollection, func(b []byte) []byte {
		b = binary.AppendUvarint(b, r.seq)
		b = binary.AppendVarint(b, r.ts)
		b = binary.AppendVarint(b, r.created.UnixMilli())
		var flags byte
		if r.final {
			flags |= flagFinal
		}
		b = append(b, flags)
		b = binary.AppendUvarint(b, uint64(len(r.samples)))
		for _, s := range r.samples {
			b = binary.AppendUvarint(b, s.s.walID)
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(s.v))
		}
		return b
	})
	if cap(buf) <= 4*int(w.segBytes) {
		w.buf = buf
	}
	if int64(len(buf)) > w.maxBytes/2 {
		// The series declared above are not on disk: start a segment afresh.
		w.failLocked("writing a collection", fmt.Errorf("%d bytes, over half of the WAL's bound %d", len(buf), w.maxBytes))
		return
	}
	if _, err := w.cur.Write(buf); err != nil {
		os.Truncate(seg.path, seg.size) // a partial record would end the segment's replay
		w.failLocked("writing a collection", err)
		return
	}
	seg.size += int64(len(buf))
	w.total += int64(len(buf))
	if seg.records == 0 {
		seg.first = r.seq
	}
	seg.last = r.seq
	seg.records++
	if err := w.cur.Sync(); err != nil {
		w.m.walErrors.WithLabelValues("write").Inc()
		w.logger.Error("remote write WAL: fsync", "segment", seg.path, "err", err)
	}
	w.enforceBoundLocked()
	w.m.walBytes.Set(float64(w.total))
}

// failLocked counts a failed write; the next collection starts a new
// segment, declaring its series again. That collection is in memory only.
func (w *wal) failLocked(what string, err error) {
	w.m.walErrors.WithLabelValues("write").Inc()
	w.logger.Error("remote write WAL: "+what+"; this collection is kept in memory only", "err", err)
	if w.cur != nil {
		w.cur.Close()
		w.cur = nil
	}
}

// cutLocked starts a new segment.
func (w *wal) cutLocked() error {
	if w.cur != nil {
		if err := w.cur.Sync(); err != nil {
			w.m.walErrors.WithLabelValues("write").Inc()
			w.logger.Error("remote write WAL: fsync", "err", err)
		}
		w.cur.Close()
		w.cur = nil
	}
	idx := uint64(1)
	if n := len(w.segs); n > 0 {
		idx = w.segs[n-1].idx + 1
	}
	path := filepath.Join(w.segDir, fmt.Sprintf("%020d", idx))
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(walMagic); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	if d, err := os.Open(w.segDir); err == nil { // the new name, durable
		d.Sync()
		d.Close()
	}
	w.segs = append(w.segs, &walSegment{idx: idx, path: path, size: int64(len(walMagic))})
	w.total += int64(len(walMagic))
	w.cur = f
	return nil
}

// enforceBoundLocked removes the oldest segments while the WAL is over its
// bound, dropping their samples from the buffers too.
func (w *wal) enforceBoundLocked() {
	for w.total > w.maxBytes && len(w.segs) > 1 {
		s := w.segs[0]
		w.removeSegLocked()
		if s.records == 0 {
			continue
		}
		for i, e := range w.endpoints {
			if p, moved := e.dropThrough(s.last); moved {
				w.setPosLocked(i, p)
			}
		}
		w.logger.Warn("remote write WAL full: its oldest segment is removed and its samples dropped", "segment", s.path,
			"collections", s.records, "max_bytes", w.maxBytes)
	}
}

func (w *wal) removeSegLocked() {
	s := w.segs[0]
	w.segs[0] = nil
	w.segs = w.segs[1:]
	w.total -= s.size
	w.removeFile(s.path)
}

func (w *wal) removeFile(path string) {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		w.m.walErrors.WithLabelValues("remove").Inc()
		w.logger.Error("remote write WAL: removing a segment", "segment", path, "err", err)
	}
}

// advance records that endpoint i has got to pos, and removes the segments
// every endpoint is past.
func (w *wal) advance(i int, pos position) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed || !pos.after(w.positions[i]) {
		return
	}
	w.setPosLocked(i, pos)
	lowest := w.positions[0].seq
	for _, p := range w.positions[1:] {
		lowest = min(lowest, p.seq)
	}
	for len(w.segs) > 1 && w.segs[0].last < lowest {
		w.removeSegLocked()
	}
	w.m.walBytes.Set(float64(w.total))
}

type positionFile struct {
	URL    string `json:"url"`
	Seq    uint64 `json:"seq"`
	Offset int    `json:"offset"`
}

func (w *wal) setPosLocked(i int, pos position) {
	if !pos.after(w.positions[i]) {
		return
	}
	w.positions[i] = pos
	b, _ := json.Marshal(positionFile{URL: w.urls[i], Seq: pos.seq, Offset: pos.off})
	tmp := w.posPaths[i] + ".tmp"
	err := os.WriteFile(tmp, b, 0o600)
	if err == nil {
		err = os.Rename(tmp, w.posPaths[i])
	}
	if err != nil {
		w.m.walErrors.WithLabelValues("write").Inc()
		w.logger.Error("remote write WAL: writing a position", "url", w.urls[i], "err", err)
	}
}

// loadPositions reads the endpoints' positions; those of endpoints no longer
// configured are removed, so that they hold no segment.
func (w *wal) loadPositions(st *walState) error {
	known := map[string]position{}
	entries, err := os.ReadDir(w.posDir)
	if err != nil {
		return fmt.Errorf("remote write WAL: %w", err)
	}
	for _, e := range entries {
		path := filepath.Join(w.posDir, e.Name())
		var pf positionFile
		b, err := os.ReadFile(path)
		if err == nil {
			err = json.Unmarshal(b, &pf)
		}
		if err != nil || !slices.Contains(w.urls, pf.URL) || filepath.Ext(path) == ".tmp" {
			w.removeFile(path)
			continue
		}
		known[pf.URL] = position{seq: pf.Seq, off: pf.Offset}
		// Past everything the segments hold (all sent, segments removed):
		// numbering goes on from there.
		st.nextSeq = max(st.nextSeq, pf.Seq)
	}
	w.positions = make([]position, len(w.urls))
	w.posPaths = make([]string, len(w.urls))
	for i, u := range w.urls {
		sum := sha256.Sum256([]byte(u))
		w.posPaths[i] = filepath.Join(w.posDir, hex.EncodeToString(sum[:8]))
		p, ok := known[u]
		if !ok {
			// New to this WAL: from what comes next.
			w.positions[i] = position{}
			w.setPosLocked(i, position{seq: st.nextSeq})
			continue
		}
		w.positions[i] = p
	}
	return nil
}

// close syncs and closes the segment and releases the lock.
func (w *wal) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return
	}
	w.closed = true
	if w.cur != nil {
		w.cur.Sync()
		w.cur.Close()
		w.cur = nil
	}
	w.lock.Close()
}
