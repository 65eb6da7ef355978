package engine

import (
	"fmt"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/alecthomas/units"
)

// Flags are the operator's knobs for this collector.
type Flags struct {
	targets     *[]string
	targetsFile *string
	fileRefresh *time.Duration
	timeout     *time.Duration
	bodyLimit   *units.Base2Bytes
	sampleLimit *int
	labelLimit  *int
	nameLength  *int
	valueLength *int
	passthrough *bool
	loraLimit   *int
	kubernetes  *bool
	nodeName    *string
	kubeconfig  *string
}

// AddFlags registers --engine.* on app.
func AddFlags(app *kingpin.Application) *Flags {
	return &Flags{
		targets: app.Flag("engine.target",
			"Engine metrics endpoint to scrape, repeatable: URL[,name=value...] with labels among namespace, pod, container, role, model, dp_rank, engine (e.g. http://127.0.0.1:30000/metrics,role=prefill).").Strings(),
		targetsFile: app.Flag("engine.targets-file",
			"Prometheus file_sd file (JSON, or YAML for .yml/.yaml) of engine targets; re-read when it changes.").Default("").String(),
		fileRefresh: app.Flag("engine.targets-file.refresh-interval",
			"How often the targets file is checked for changes.").Default("5s").Duration(),
		timeout: app.Flag("engine.timeout",
			"Per-target scrape timeout.").Default(DefaultTimeout.String()).Duration(),
		bodyLimit: app.Flag("engine.body-limit",
			"Largest (decompressed) metrics page read from one target; a larger one counts as too_large.").Default("32MiB").Bytes(),
		sampleLimit: app.Flag("engine.sample-limit",
			"Most samples read from one target's page; a larger page counts as sample_limit and serves nothing (0: no limit).").Default(fmt.Sprint(DefaultSampleLimit)).Int(),
		labelLimit: app.Flag("engine.label-limit",
			"Most labels (the metric name included) of one series of a target's page; more fails the page as label_limit (0: no limit).").Default(fmt.Sprint(DefaultLabelLimit)).Int(),
		nameLength: app.Flag("engine.label-name-length-limit",
			"Longest label name, in bytes, on a target's page; longer fails the page as label_limit (0: no limit).").Default(fmt.Sprint(DefaultLabelNameLength)).Int(),
		valueLength: app.Flag("engine.label-value-length-limit",
			"Longest label value, in bytes, on a target's page; longer fails the page as label_limit (0: no limit).").Default(fmt.Sprint(DefaultLabelValueLength)).Int(),
		passthrough: app.Flag("engine.passthrough",
			"Also re-export every family of every target under its own name with namespace, pod and container added.").Default("false").Bool(),
		loraLimit: app.Flag("engine.lora-adapter-limit",
			"Most llm_engine_lora_adapters series (adapter and state) one target yields; the rest are dropped and counted as lora_adapter_limit.").Default(fmt.Sprint(DefaultLoRAAdapterLimit)).Int(),
		kubernetes: app.Flag("engine.kubernetes",
			"Discover engine pods on this node from the Kubernetes API (prometheus.io/scrape, port, path and scheme annotations); needs get, list and watch on pods.").Default("false").Bool(),
		nodeName: app.Flag("engine.node-name",
			"This node's name, for --engine.kubernetes (the pods' spec.nodeName).").Envar("NODE_NAME").Default("").String(),
		kubeconfig: app.Flag("engine.kubeconfig",
			"Kubeconfig file for --engine.kubernetes; empty: the in-cluster service account.").Default("").String(),
	}
}

// Config parses the targets; a malformed one is a start-up error.
func (f *Flags) Config() (Config, error) {
	cfg := Config{
		TargetsFile: *f.targetsFile,
		FileRefresh: *f.fileRefresh,
		Timeout:     *f.timeout,
		BodyLimit:   int64(*f.bodyLimit),
		Limits: Limits{
			Samples:          *f.sampleLimit,
			Labels:           *f.labelLimit,
			LabelNameLength:  *f.nameLength,
			LabelValueLength: *f.valueLength,
		},
		Passthrough:      *f.passthrough,
		LoRAAdapterLimit: *f.loraLimit,
		Kubernetes:       *f.kubernetes,
		NodeName:         *f.nodeName,
		Kubeconfig:       *f.kubeconfig,
	}
	if cfg.Kubernetes && cfg.NodeName == "" {
		return cfg, fmt.Errorf("--engine.kubernetes needs --engine.node-name or NODE_NAME")
	}
	if cfg.Timeout <= 0 {
		return cfg, fmt.Errorf("--engine.timeout must be positive, got %s", cfg.Timeout)
	}
	if cfg.BodyLimit <= 0 {
		return cfg, fmt.Errorf("--engine.body-limit must be positive")
	}
	if l := cfg.Limits; l.Samples < 0 || l.Labels < 0 || l.LabelNameLength < 0 || l.LabelValueLength < 0 {
		return cfg, fmt.Errorf("--engine.sample-limit, --engine.label-limit and the label length limits must be 0 (none) or positive")
	}
	if cfg.LoRAAdapterLimit <= 0 {
		return cfg, fmt.Errorf("--engine.lora-adapter-limit must be positive, got %d", cfg.LoRAAdapterLimit)
	}
	for _, s := range *f.targets {
		t, err := ParseTarget(s)
		if err != nil {
			return cfg, fmt.Errorf("--engine.target: %w", err)
		}
		cfg.Targets = append(cfg.Targets, t)
	}
	return cfg, nil
}

// Enabled reports whether any target source is configured: the lead may run
// the collector only then.
func (c Config) Enabled() bool { return len(c.Targets) > 0 || c.TargetsFile != "" || c.Kubernetes }
