package infiniband

import (
	"errors"
	"strconv"
	"strings"
	"testing"
)

func TestParseUint(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want uint64
		err  error
	}{
		{"0\n", 0, nil},
		{"123456789\n", 123456789, nil},
		{"18446744073709551615\n", 1<<64 - 1, nil},
		{"18446744073709551616\n", 0, errInvalid}, // overflow is garbage, not a wrapped counter
		{"N/A (no PMA)\n", 0, errNotAvailable},
		{"", 0, errInvalid},
		{"\n", 0, errInvalid},
		{"-1\n", 0, errInvalid},
		{"0x1f\n", 0, errInvalid},
		{"12 34\n", 0, errInvalid},
	} {
		got, err := parseUint([]byte(tc.in))
		if !errors.Is(err, tc.err) || got != tc.want {
			t.Errorf("parseUint(%q) = %d, %v; want %d, %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func TestParseState(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want uint64
		err  error
	}{
		{"4: ACTIVE\n", 4, nil},
		{"1: DOWN\n", 1, nil},
		{"5: LinkUp\n", 5, nil},
		{"ACTIVE\n", 0, errInvalid},
		{": ACTIVE\n", 0, errInvalid},
		{"x: ACTIVE\n", 0, errInvalid},
	} {
		got, err := parseState([]byte(tc.in))
		if !errors.Is(err, tc.err) || got != tc.want {
			t.Errorf("parseState(%q) = %d, %v; want %d, %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func TestParseRate(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want float64
		err  error
	}{
		{"400 Gb/sec (4X NDR)\n", 50e9, nil},
		{"200 Gb/sec (4X HDR)\n", 25e9, nil},
		{"2.5 Gb/sec (1X SDR)\n", 312.5e6, nil},
		{"25 Gb/sec\n", 3.125e9, nil},
		{"400 Mb/sec\n", 0, errInvalid},
		{"fast\n", 0, errInvalid},
		{"4.0.0 Gb/sec\n", 0, errInvalid},
		{". Gb/sec\n", 0, errInvalid},
		{"4. Gb/sec\n", 0, errInvalid},
	} {
		got, err := parseRate([]byte(tc.in))
		if !errors.Is(err, tc.err) || got != tc.want {
			t.Errorf("parseRate(%q) = %g, %v; want %g, %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}

// FuzzParseValue feeds arbitrary file contents to every sysfs value parser:
// none may panic, errors are always one of the two classified ones, and a
// counter that parses must agree with strconv.
func FuzzParseValue(f *testing.F) {
	for _, seed := range []string{"0\n", "123\n", "N/A (no PMA)\n", "4: ACTIVE\n", "400 Gb/sec (4X NDR)\n",
		"2.5 Gb/sec (1X SDR)\n", "18446744073709551616", "", "\x00\xff", "1: ", "9999999999999999.9 Gb/sec"} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := parseUint(b)
		if err != nil && !errors.Is(err, errInvalid) && !errors.Is(err, errNotAvailable) {
			t.Fatalf("parseUint(%q): unclassified error %v", b, err)
		}
		if err == nil {
			want, serr := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
			if serr != nil || want != v {
				t.Fatalf("parseUint(%q) = %d, strconv says %d, %v", b, v, want, serr)
			}
		}
		if _, err := parseState(b); err != nil && !errors.Is(err, errInvalid) && !errors.Is(err, errNotAvailable) {
			t.Fatalf("parseState(%q): unclassified error %v", b, err)
		}
		r, err := parseRate(b)
		if err != nil && !errors.Is(err, errInvalid) {
			t.Fatalf("parseRate(%q): unclassified error %v", b, err)
		}
		if err == nil && (r < 0 || r != r) {
			t.Fatalf("parseRate(%q) = %g", b, r)
		}
	})
}
