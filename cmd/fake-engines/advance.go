package main

import (
	"bytes"
	"math"
	"strconv"
	"strings"
)

// advancePage returns page (Prometheus text format) with every counter,
// histogram and summary sample (but not their _created gauges) multiplied by
// f. Served with f = 1 + elapsed/period, a static page becomes an engine that
// repeats the page's traffic every period: rates are the page's totals per
// period, and the mean and quantiles of every histogram stay those of the
// page, since all of its buckets, sum and count grow by the same factor.
// Gauges and unparsable lines are kept as they are.
func advancePage(page []byte, f float64) []byte {
	var out bytes.Buffer
	out.Grow(len(page) + len(page)/8)
	types := map[string]string{}
	for _, line := range strings.SplitAfter(string(page), "\n") {
		body := strings.TrimRight(line, "\n")
		if fields := strings.Fields(body); len(fields) == 4 && fields[0] == "#" && fields[1] == "TYPE" {
			types[fields[2]] = fields[3]
		}
		name, value, rest, ok := splitSample(body)
		if !ok || !cumulative(types, name) {
			out.WriteString(line)
			continue
		}
		v, err := strconv.ParseFloat(value, 64)
		if err != nil {
			out.WriteString(line)
			continue
		}
		v *= f
		if strings.HasSuffix(name, "_bucket") || strings.HasSuffix(name, "_count") {
			// Observation counts stay whole (parsers such as expfmt's read
			// them as integers); flooring keeps the buckets in order and
			// every count growing as f grows.
			v = math.Floor(v)
		}
		out.WriteString(body[:len(body)-len(value)-len(rest)])
		out.WriteString(strconv.FormatFloat(v, 'g', -1, 64))
		out.WriteString(line[len(body)-len(rest):])
	}
	return out.Bytes()
}

// cumulative reports whether the sample name belongs to a counter, histogram or
// summary family declared earlier on the page.
func cumulative(types map[string]string, name string) bool {
	if strings.HasSuffix(name, "_created") {
		return false
	}
	for _, suffix := range []string{"", "_total", "_bucket", "_sum", "_count"} {
		base, ok := strings.CutSuffix(name, suffix)
		if !ok {
			continue
		}
		switch types[base] {
		case "counter":
			if suffix == "" || suffix == "_total" {
				return true
			}
		case "histogram":
			if suffix == "_bucket" || suffix == "_sum" || suffix == "_count" {
				return true
			}
		case "summary":
			if suffix == "_sum" || suffix == "_count" {
				return true
			}
		}
	}
	return false
}

// splitSample splits a sample line `name{labels} value [timestamp]` into its
// name, its value and what follows the value; label values may hold spaces,
// braces and escaped quotes.
func splitSample(line string) (name, value, rest string, ok bool) {
	if line == "" || line[0] == '#' {
		return "", "", "", false
	}
	i := strings.IndexAny(line, "{ ")
	if i <= 0 {
		return "", "", "", false
	}
	name, j := line[:i], i
	if line[i] == '{' {
		if j = closingBrace(line, i); j < 0 {
			return "", "", "", false
		}
		j++
	}
	tail := strings.TrimLeft(line[j:], " ")
	if tail == "" {
		return "", "", "", false
	}
	value, _, _ = strings.Cut(tail, " ")
	rest = tail[len(value):]
	return name, value, rest, true
}

// closingBrace is the index of the '}' closing the label set opened at
// line[open], or -1.
func closingBrace(line string, open int) int {
	quoted := false
	for j := open + 1; j < len(line); j++ {
		switch c := line[j]; {
		case quoted && c == '\\':
			j++
		case c == '"':
			quoted = !quoted
		case !quoted && c == '}':
			return j
		}
	}
	return -1
}
