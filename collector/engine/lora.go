package engine

import (
	"cmp"
	"math"
	"slices"
	"strconv"
	"strings"
)

// DefaultLoRAAdapterLimit is the default of --engine.lora-adapter-limit.
const DefaultLoRAAdapterLimit = 256

// vLLM's lora_requests_info packs the adapters of the running and waiting
// requests into two comma-joined label values, which PromQL cannot split,
// and keeps every combination it has seen on the page, its value the Unix
// time of the last update that saw it. The split rows take the series with
// the highest value (the current state) of each identity (model, role,
// DP rank: none of which vLLM puts on it, so one per target in practice)
// and give one series per adapter and state, or the max_lora label as a
// value.

// loraPick is the most recent lora_requests_info series of one identity.
type loraPick struct {
	labels [numLabels]string
	s      *srcMetric
}

// loraEntry is one adapter series a page yields.
type loraEntry struct {
	labels [numLabels]string
	rank   int // 0 running, 1 waiting: running adapters are kept first
}

// loraState is the split's scratch space, reused from page to page.
type loraState struct {
	picks   []loraPick
	entries []loraEntry
}

// LoRA adapter states, in the order they are kept under the limit.
var loraStates = [...]struct{ label, state string }{
	{srcLoRARunning, "running"},
	{srcLoRAWaiting, "waiting"},
}

// split handles the rows whose series are not one-to-one with the source's.
func (n *normaliser) split(row *mapping, srcName string, f *famEntry, join *JoinLabels, ep uint32) {
	picks := n.loraPicks(row, srcName, f, join, ep)
	switch row.split {
	case splitLoRAMax:
		for _, p := range picks {
			v, _ := p.s.label(srcLoRAMax)
			max, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil || math.IsNaN(max) || math.IsInf(max, 0) || max < 0 {
				continue
			}
			n.setFixed(n.groupAt(row.out, p.labels), max, ep)
		}
	case splitLoRAAdapters:
		entries := n.lora.entries[:0]
		for _, p := range picks {
			for rank, st := range loraStates {
				v, _ := p.s.label(st.label)
				for name := range strings.SplitSeq(v, ",") {
					name = strings.TrimSpace(name)
					if name == "" {
						continue
					}
					e := loraEntry{labels: p.labels, rank: rank}
					e.labels[lExtra], e.labels[lExtra+1] = name, st.state
					entries = append(entries, e)
				}
			}
		}
		// Running before waiting, then by adapter name, so that the adapters
		// kept under the limit do not depend on the order vLLM lists them in.
		slices.SortFunc(entries, func(a, b loraEntry) int {
			if c := cmp.Compare(a.rank, b.rank); c != 0 {
				return c
			}
			if c := cmp.Compare(a.labels[lExtra], b.labels[lExtra]); c != 0 {
				return c
			}
			return slices.Compare(a.labels[:], b.labels[:])
		})
		// An adapter listed twice is one series.
		entries = slices.CompactFunc(entries, func(a, b loraEntry) bool { return a.labels == b.labels })
		n.lora.entries = entries
		for i, e := range entries {
			if n.loraLimit > 0 && i >= n.loraLimit {
				n.loraDropped += len(entries) - i
				break
			}
			n.setFixed(n.groupAt(row.out, e.labels), 1, ep)
		}
	}
}

// loraPicks returns, per identity, the usable series of f with the highest
// value; a NaN is never the highest, and of equal values the first printed wins.
func (n *normaliser) loraPicks(row *mapping, srcName string, f *famEntry, join *JoinLabels, ep uint32) []loraPick {
	picks := n.lora.picks[:0]
next:
	for _, s := range f.metrics {
		if !row.out.kind.accepts(s.typ) || !n.usable(s, ep) || math.IsNaN(s.value) {
			continue
		}
		labels := n.labelsOf(row, srcName, s, join)
		for i := range picks {
			if picks[i].labels == labels {
				if s.value > picks[i].s.value {
					picks[i].s = s
				}
				continue next
			}
		}
		picks = append(picks, loraPick{labels, s})
	}
	n.lora.picks = picks
	return picks
}

// setFixed gives g the value v on this page, once.
func (n *normaliser) setFixed(g *group, v float64, ep uint32) {
	n.touch(g, ep)
	if !g.fixed {
		g.fixed, g.fixedVal = true, v
	}
}
