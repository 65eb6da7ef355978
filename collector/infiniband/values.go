package infiniband

import (
	"bytes"
	"errors"
)

// Errors of the sysfs value parsers, each mapped to a read_errors reason.
var (
	errNotAvailable = errors.New("value not available")
	errInvalid      = errors.New("invalid value")
)

// trimSpace drops the trailing newline sysfs appends, and any blanks.
func trimSpace(b []byte) []byte {
	return bytes.TrimSpace(b)
}

// parseUint parses a counter file: a decimal uint64, or "N/A (no PMA)" for
// ports whose HCA has no performance-management agent.
func parseUint(b []byte) (uint64, error) {
	b = trimSpace(b)
	if len(b) == 0 {
		return 0, errInvalid
	}
	if bytes.HasPrefix(b, []byte("N/A")) {
		return 0, errNotAvailable
	}
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, errInvalid
		}
		d := uint64(c - '0')
		if v > (1<<64-1-d)/10 {
			return 0, errInvalid // overflows uint64
		}
		v = v*10 + d
	}
	return v, nil
}

// parseState parses "4: ACTIVE" (state) or "5: LinkUp" (phys_state) into the id.
func parseState(b []byte) (uint64, error) {
	b = trimSpace(b)
	colon := bytes.IndexByte(b, ':')
	if colon <= 0 {
		return 0, errInvalid
	}
	return parseUint(b[:colon])
}

// parseRate parses "400 Gb/sec (4X NDR)" into bytes per second.
func parseRate(b []byte) (float64, error) {
	b = trimSpace(b)
	space := bytes.IndexByte(b, ' ')
	if space <= 0 || !bytes.HasPrefix(b[space+1:], []byte("Gb/sec")) {
		return 0, errInvalid
	}
	gbps, err := parseDecimal(b[:space])
	if err != nil {
		return 0, err
	}
	return gbps * 1e9 / 8, nil
}

// parseDecimal parses "2.5" or "400" without strconv, which would allocate
// a string per port per scrape.
func parseDecimal(b []byte) (float64, error) {
	intPart, frac, hasDot := bytes.Cut(b, []byte("."))
	if len(intPart) == 0 || (hasDot && len(frac) == 0) || len(intPart) > 15 || len(frac) > 15 {
		return 0, errInvalid
	}
	whole, err := parseUint(intPart)
	if err != nil {
		return 0, errInvalid
	}
	v := float64(whole)
	scale := 0.1
	for _, c := range frac {
		if c < '0' || c > '9' {
			return 0, errInvalid
		}
		v += float64(c-'0') * scale
		scale /= 10
	}
	return v, nil
}
