package engine

import (
	"strings"
	"time"

	"github.com/llm-node-exporter/llm-node-exporter/discovery"
)

// Target is one engine metrics endpoint and the labels that join it to its
// pod. Targets are found by package discovery; its Labels and JoinLabels
// have the same fields (the conversions below are checked by the compiler).
type Target struct {
	URL    string
	Labels JoinLabels
}

// key identifies a target across reloads: the same URL with the same labels
// keeps its counters.
func (t Target) key() string {
	l := t.Labels
	return strings.Join([]string{t.URL, l.Namespace, l.Pod, l.Container, l.Role, l.Model, l.DPRank, l.Engine}, "\xff")
}

func fromDiscovery(ts []discovery.Target) []Target {
	out := make([]Target, len(ts))
	for i, t := range ts {
		out[i] = Target{URL: t.URL, Labels: JoinLabels(t.Labels)}
	}
	return out
}

// ParseTarget reads a --engine.target value: URL[,name=value...] (see
// discovery.ParseTarget).
func ParseTarget(s string) (Target, error) {
	t, err := discovery.ParseTarget(s)
	return Target{URL: t.URL, Labels: JoinLabels(t.Labels)}, err
}

// LoadTargetsFile reads a Prometheus file_sd file of engine targets (see
// discovery.LoadTargetsFile).
func LoadTargetsFile(path string) ([]Target, error) {
	ts, err := discovery.LoadTargetsFile(path)
	return fromDiscovery(ts), err
}

// syncTimeout bounds how long Start waits for the first list of pods.
const syncTimeout = 10 * time.Second
