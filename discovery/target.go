package discovery

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"go.yaml.in/yaml/v2"
)

// Target is one engine metrics endpoint and the labels that join it to its pod.
type Target struct {
	URL    string
	Labels Labels
}

// Labels are what a target contributes to its series: where it runs and, for
// what the page does not say itself, its role, model and DP rank. Unknown is
// the empty string. The engine collector's JoinLabels has the same fields in
// the same order (it converts one into the other, which the compiler checks).
type Labels struct {
	Namespace, Pod, Container string
	Role, Model, DPRank       string
	Engine                    string // "sglang" | "vllm"; empty: detected from the page
}

// Fill returns l with every empty label taken from from.
func (l Labels) Fill(from Labels) Labels {
	for _, p := range []struct{ dst, src *string }{
		{&l.Namespace, &from.Namespace}, {&l.Pod, &from.Pod}, {&l.Container, &from.Container},
		{&l.Role, &from.Role}, {&l.Model, &from.Model}, {&l.DPRank, &from.DPRank}, {&l.Engine, &from.Engine},
	} {
		if *p.dst == "" {
			*p.dst = *p.src
		}
	}
	return l
}

// Key identifies a target across reloads: the same URL with the same labels
// keeps its counters.
func (t Target) Key() string {
	l := t.Labels
	return strings.Join([]string{t.URL, l.Namespace, l.Pod, l.Container, l.Role, l.Model, l.DPRank, l.Engine}, "\xff")
}

// setLabel sets one join label by its name; the names a target may carry are
// exactly the schema's: namespace, pod, container, role, model, dp_rank, engine.
func (l *Labels) set(name, value string) error {
	switch name {
	case "namespace":
		l.Namespace = value
	case "pod":
		l.Pod = value
	case "container":
		l.Container = value
	case "role":
		switch value {
		case "", "prefill", "decode", "unified":
		default:
			return fmt.Errorf("role %q: want prefill, decode or unified", value)
		}
		l.Role = value
	case "model":
		l.Model = value
	case "dp_rank":
		l.DPRank = value
	case "engine":
		switch value {
		case "", "sglang", "vllm":
		default:
			return fmt.Errorf("engine %q: want sglang or vllm", value)
		}
		l.Engine = value
	default:
		return fmt.Errorf("unknown label %q (want namespace, pod, container, role, model, dp_rank or engine)", name)
	}
	return nil
}

// ParseTarget reads a --engine.target value: URL[,name=value...], for example
// http://127.0.0.1:30000/metrics,role=prefill,pod=chat-prefill-0.
func ParseTarget(s string) (Target, error) {
	parts := strings.Split(s, ",")
	t := Target{}
	u, err := checkURL(strings.TrimSpace(parts[0]))
	if err != nil {
		return t, err
	}
	t.URL = u
	for _, p := range parts[1:] {
		name, value, ok := strings.Cut(p, "=")
		if !ok {
			return t, fmt.Errorf("target %q: label %q is not name=value", s, p)
		}
		if err := t.Labels.set(strings.TrimSpace(name), strings.TrimSpace(value)); err != nil {
			return t, fmt.Errorf("target %q: %w", s, err)
		}
	}
	return t, nil
}

func checkURL(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("target URL %q: %w", s, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("target URL %q: want http(s)://host:port/path", s)
	}
	if u.Path == "" {
		u.Path = "/metrics"
	}
	return u.String(), nil
}

// fileSDGroup is one group of a Prometheus file_sd file.
type fileSDGroup struct {
	Targets []string          `json:"targets" yaml:"targets"`
	Labels  map[string]string `json:"labels" yaml:"labels"`
}

// LoadTargetsFile reads a Prometheus file_sd file (JSON, or YAML when the
// name ends in .yml/.yaml). Targets are host:port (or full URLs); the
// __scheme__ and __metrics_path__ labels set the URL as in Prometheus; other
// labels starting with "__" are ignored; the rest must be join labels.
func LoadTargetsFile(path string) ([]Target, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseTargetsFile(path, data)
}

func parseTargetsFile(path string, data []byte) ([]Target, error) {
	var groups []fileSDGroup
	switch strings.ToLower(filepath.Ext(path)) {
	case ".yml", ".yaml":
		err := yaml.UnmarshalStrict(data, &groups)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	default:
		dec := json.NewDecoder(strings.NewReader(string(data)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&groups); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	var out []Target
	for gi, g := range groups {
		scheme, metricsPath := "http", "/metrics"
		var labels Labels
		names := make([]string, 0, len(g.Labels))
		for name := range g.Labels {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			value := g.Labels[name]
			switch {
			case name == "__scheme__":
				scheme = value
			case name == "__metrics_path__":
				metricsPath = value
			case strings.HasPrefix(name, "__"):
			default:
				if err := labels.set(name, value); err != nil {
					return nil, fmt.Errorf("%s: group %d: %w", path, gi, err)
				}
			}
		}
		for _, addr := range g.Targets {
			raw := addr
			if !strings.Contains(addr, "://") {
				raw = scheme + "://" + addr + metricsPath
			}
			u, err := checkURL(raw)
			if err != nil {
				return nil, fmt.Errorf("%s: group %d: %w", path, gi, err)
			}
			out = append(out, Target{URL: u, Labels: labels})
		}
	}
	return out, nil
}
