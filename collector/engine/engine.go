package engine

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/llm-node-exporter/llm-node-exporter/collector"
	"github.com/llm-node-exporter/llm-node-exporter/discovery"
)

const subsystem = "engine"

// Defaults of the flags.
const (
	DefaultTimeout   = 3 * time.Second
	DefaultBodyLimit = 32 << 20
)

// Config is the collector's configuration.
type Config struct {
	Targets     []Target      // static targets (--engine.target)
	TargetsFile string        // file_sd file (--engine.targets-file), "" for none
	FileRefresh time.Duration // how often the file's mtime is checked
	Timeout     time.Duration // per target, per scrape
	BodyLimit   int64         // bytes of decompressed page per target
	Passthrough bool          // re-export every family of every target with the join labels
	// Attributor, when set, fills the join labels a target does not carry.
	Attributor Attributor
	// Kubernetes discovery of the annotated engine pods of NodeName
	// (--engine.kubernetes). Pods, when set, is a watcher shared with
	// attribution; else one is made on KubeClient, itself built from
	// Kubeconfig (in-cluster when empty) unless set.
	Kubernetes bool
	NodeName   string
	Kubeconfig string
	KubeClient *discovery.Client
	Pods       *discovery.Pods
}

// Attributor supplies pod labels for a target from the exporter's attribution
// cache (for example by the PID listening on the target's port). Only the
// labels the target left empty are taken.
type Attributor interface {
	TargetLabels(url string) (discovery.Labels, bool)
}

// Collector scrapes the engine targets of the node at collection time.
type Collector struct {
	cfg    Config
	logger *slog.Logger
	client *http.Client

	upDesc, durationDesc, errorsDesc *prometheus.Desc
	descs                            map[*family]*prometheus.Desc
	seed                             maphash.Seed

	mu         sync.Mutex // serialises Update: per-target state is reused
	fileTgts   []Target   // from the targets file; guarded by tmu
	kubeTgts   []Target   // from Kubernetes discovery; guarded by tmu
	kube       *discovery.Pods
	tmu        sync.Mutex
	states     map[string]*targetState
	passDescs  map[string]*prometheus.Desc
	lastLogged map[string]string
}

// targetState is what the collector keeps per target across scrapes.
type targetState struct {
	busy      atomic.Bool // a scrape of it is still running (abandoned past its deadline)
	target    Target
	engine    string // detected from the page when the target does not say
	errors    map[string]float64
	norm      *normaliser
	fams      []*dto.MetricFamily
	err       error
	duration  float64
	selfLabel []string
}

// New returns an engine collector; targets from cfg.TargetsFile are read at
// once (a broken file is an error) and then by Start whenever it changes.
func New(cfg Config, logger *slog.Logger) (*Collector, error) {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.BodyLimit <= 0 {
		cfg.BodyLimit = DefaultBodyLimit
	}
	if cfg.FileRefresh <= 0 {
		cfg.FileRefresh = 5 * time.Second
	}
	selfLabels := []string{"target", "engine", "role", "namespace", "pod", "container"}
	fq := func(name string) string { return prometheus.BuildFQName(collector.Namespace, subsystem, name) }
	c := &Collector{
		cfg:    cfg,
		logger: logger,
		client: &http.Client{Transport: &http.Transport{
			Proxy:               nil,
			MaxIdleConnsPerHost: 2,
			IdleConnTimeout:     90 * time.Second,
			DisableKeepAlives:   false,
		}},
		upDesc:       prometheus.NewDesc(fq("up"), "1 when the engine's metrics endpoint answered the exporter with a valid page, 0 otherwise.", selfLabels, nil),
		durationDesc: prometheus.NewDesc(fq("scrape_duration_seconds"), "Duration of the last scrape of the engine's metrics endpoint in seconds.", selfLabels, nil),
		errorsDesc:   prometheus.NewDesc(fq("scrape_errors_total"), "Failed scrapes of the engine's metrics endpoint by reason (timeout, connect, http_status, too_large, parse_error).", append(selfLabels, "reason"), nil),
		descs:        map[*family]*prometheus.Desc{},
		seed:         maphash.MakeSeed(),
		states:       map[string]*targetState{},
		passDescs:    map[string]*prometheus.Desc{},
		lastLogged:   map[string]string{},
	}
	for _, f := range families {
		labels := baseLabelNames
		if f.extra != "" {
			labels = append(append([]string{}, baseLabelNames...), f.extra)
		}
		c.descs[f] = prometheus.NewDesc(fq(f.name), f.help, labels, nil)
	}
	if cfg.Kubernetes {
		if cfg.NodeName == "" {
			return nil, fmt.Errorf("--engine.kubernetes needs the node name (--engine.node-name or NODE_NAME)")
		}
		c.kube = cfg.Pods
		if c.kube == nil {
			client := cfg.KubeClient
			if client == nil {
				var err error
				if client, err = discovery.NewClient(cfg.Kubeconfig); err != nil {
					return nil, fmt.Errorf("--engine.kubernetes: %w", err)
				}
			}
			c.kube = discovery.NewPods(client, cfg.NodeName, logger)
		}
		c.kube.OnTargets(func(t []discovery.Target) { c.setKubeTargets(fromDiscovery(t)) })
	}
	if cfg.TargetsFile != "" {
		tgts, err := LoadTargetsFile(cfg.TargetsFile)
		if err != nil {
			return nil, fmt.Errorf("--engine.targets-file: %w", err)
		}
		c.fileTgts = tgts
	}
	return c, nil
}

// Start watches the targets file and, with Kubernetes discovery, the pods of
// the node until ctx ends. It waits for the first list of pods (at most 10 s)
// so that the first scrape already has them.
func (c *Collector) Start(ctx context.Context) {
	if c.cfg.TargetsFile != "" {
		go discovery.WatchFile(ctx, c.cfg.TargetsFile, c.cfg.FileRefresh, c.logger,
			func(t []discovery.Target) { c.setFileTargets(fromDiscovery(t)) })
	}
	if c.kube != nil {
		c.kube.Start(ctx)
		if !c.kube.WaitSynced(ctx, syncTimeout) && ctx.Err() == nil {
			c.logger.Error("engine discovery: pods of the node not listed yet; continuing in the background", "node", c.cfg.NodeName)
		}
	}
}

func (c *Collector) setKubeTargets(t []Target) {
	c.tmu.Lock()
	c.kubeTgts = t
	c.tmu.Unlock()
}

// SetFileTargets replaces the targets read from the file.
func (c *Collector) setFileTargets(t []Target) {
	c.tmu.Lock()
	c.fileTgts = t
	c.tmu.Unlock()
}

// targets is the current list: static, then file, then Kubernetes. A URL is scraped once:
// its first occurrence wins, so that two targets never send the same
// self-metric series.
func (c *Collector) targets() []Target {
	c.tmu.Lock()
	defer c.tmu.Unlock()
	out := make([]Target, 0, len(c.cfg.Targets)+len(c.fileTgts)+len(c.kubeTgts))
	seen := map[string]bool{}
	for _, list := range [][]Target{c.cfg.Targets, c.fileTgts, c.kubeTgts} {
		for _, t := range list {
			if c.cfg.Attributor != nil {
				if a, ok := c.cfg.Attributor.TargetLabels(t.URL); ok {
					t.Labels = fill(t.Labels, JoinLabels(a))
				}
			}
			if !seen[t.URL] {
				seen[t.URL] = true
				out = append(out, t)
			}
		}
	}
	return out
}

func fill(l, from JoinLabels) JoinLabels {
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

// Update scrapes every target concurrently, each within the timeout, then
// sends the normalised series, the per-target up / duration / errors and, if
// enabled, the passthrough families. A failing target costs only its own series.
func (c *Collector) Update(ch chan<- prometheus.Metric) error {
	c.mu.Lock()
	defer c.mu.Unlock()

	tgts := c.targets()
	live := make([]*targetState, 0, len(tgts))
	keep := make(map[string]bool, len(tgts))
	for _, t := range tgts {
		k := t.key()
		st := c.states[k]
		if st == nil {
			st = &targetState{target: t, errors: make(map[string]float64, len(reasons)), norm: newNormaliser()}
			for _, r := range reasons {
				st.errors[r] = 0 // every reason from the start: increase() sees the first error
			}
			c.states[k] = st
		}
		keep[k] = true
		live = append(live, st)
	}
	for k := range c.states {
		if !keep[k] {
			delete(c.states, k)
		}
	}

	c.scrapeAll(live)

	seen := map[uint64]struct{}{}
	var passTypes map[string]dto.MetricType
	if c.cfg.Passthrough {
		passTypes = map[string]dto.MetricType{}
	}
	for _, st := range live {
		c.logResult(st)
		up := 0.0
		if st.err == nil {
			up = 1
			if st.target.Labels.Engine == "" {
				if e := detectEngine(st.fams); e != "" {
					st.engine = e
				}
			}
		} else {
			var se *scrapeError
			reason := reasonConnect
			if errors.As(st.err, &se) {
				reason = se.reason
			}
			st.errors[reason]++
		}
		self := c.selfLabels(st)
		ch <- prometheus.MustNewConstMetric(c.upDesc, prometheus.GaugeValue, up, self...)
		ch <- prometheus.MustNewConstMetric(c.durationDesc, prometheus.GaugeValue, st.duration, self...)
		for _, r := range reasons {
			ch <- prometheus.MustNewConstMetric(c.errorsDesc, prometheus.CounterValue, st.errors[r], append(self, r)...)
		}
		if st.err != nil {
			continue
		}
		c.sendNormalised(ch, st, seen)
		if c.cfg.Passthrough {
			c.sendPassthrough(ch, st, seen, passTypes)
		}
		st.fams = nil // not kept between scrapes
	}
	return nil
}

// scrapeResult is what one scrape goroutine hands back.
type scrapeResult struct {
	fams     []*dto.MetricFamily
	err      error
	duration float64
}

// errStillRunning marks a target whose previous scrape has not returned yet.
var errStillRunning = errors.New("the previous scrape of this target is still running")

// scrapeAll scrapes the targets concurrently and waits for each until its
// deadline and a grace period, never longer: a page that the parser chews on
// past the deadline (expfmt's OpenMetrics parser is quadratic in the line
// length) is abandoned and counted as a timeout; its goroutine finishes in
// the background, and the target is not scraped again until it has.
func (c *Collector) scrapeAll(live []*targetState) {
	results := make([]chan scrapeResult, len(live))
	start := time.Now()
	for i, st := range live {
		if !st.busy.CompareAndSwap(false, true) {
			continue
		}
		ch := make(chan scrapeResult, 1)
		results[i] = ch
		go func(st *targetState) {
			ctx, cancel := context.WithTimeout(context.Background(), c.cfg.Timeout)
			t0 := time.Now()
			fams, err := scrape(ctx, c.client, st.target.URL, c.cfg.BodyLimit)
			cancel()
			// Not busy any more before the result is handed over, so the next
			// scrape, which may start as soon as it is, finds the target free.
			st.busy.Store(false)
			ch <- scrapeResult{fams, err, time.Since(t0).Seconds()}
		}(st)
	}
	deadline := time.NewTimer(c.cfg.Timeout + abandonGrace)
	defer deadline.Stop()
	expired := false
	for i, st := range live {
		if results[i] == nil {
			st.fams, st.err, st.duration = nil, &scrapeError{reasonTimeout, errStillRunning}, 0
			continue
		}
		var r scrapeResult
		if expired {
			select {
			case r = <-results[i]:
			default:
				r = scrapeResult{err: &scrapeError{reasonTimeout, errors.New("abandoned past the deadline")}, duration: time.Since(start).Seconds()}
			}
		} else {
			select {
			case r = <-results[i]:
			case <-deadline.C:
				expired = true
				select {
				case r = <-results[i]:
				default:
					r = scrapeResult{err: &scrapeError{reasonTimeout, errors.New("abandoned past the deadline")}, duration: time.Since(start).Seconds()}
				}
			}
		}
		st.fams, st.err, st.duration = r.fams, r.err, r.duration
	}
}

// abandonGrace is how long past its timeout a target's scrape is waited for.
const abandonGrace = 250 * time.Millisecond

func (c *Collector) selfLabels(st *targetState) []string {
	l := st.target.Labels
	engine := l.Engine
	if engine == "" {
		engine = st.engine
	}
	return []string{st.target.URL, engine, l.Role, l.Namespace, l.Pod, l.Container}
}

// detectEngine names the engine from the prefix of the page's families.
func detectEngine(fams []*dto.MetricFamily) string {
	for _, f := range fams {
		switch {
		case strings.HasPrefix(f.GetName(), "sglang:"):
			return "sglang"
		case strings.HasPrefix(f.GetName(), "vllm:"):
			return "vllm"
		}
	}
	return ""
}

// fresh reports whether a series is new in this scrape; two targets that
// would produce the same series (two static targets of one pod without
// labels that tell them apart) must not fail the whole scrape.
func (c *Collector) fresh(seen map[uint64]struct{}, name string, labels []string) bool {
	var h maphash.Hash
	h.SetSeed(c.seed)
	h.WriteString(name)
	for _, v := range labels {
		h.WriteByte(0xff)
		h.WriteString(v)
	}
	k := h.Sum64()
	if _, dup := seen[k]; dup {
		return false
	}
	seen[k] = struct{}{}
	return true
}

func (c *Collector) sendNormalised(ch chan<- prometheus.Metric, st *targetState, seen map[uint64]struct{}) {
	join := st.target.Labels
	for _, s := range st.norm.normalise(st.fams, &join) {
		desc := c.descs[s.fam]
		labels := s.labels[:lExtra]
		if s.fam.extra != "" {
			labels = s.labels[:]
		}
		if !c.fresh(seen, s.fam.name, labels) {
			continue
		}
		switch s.fam.kind {
		case kindHistogram:
			buckets := make(map[float64]uint64, len(s.buckets))
			for _, b := range s.buckets {
				buckets[b.upper] = b.count
			}
			m, err := prometheus.NewConstHistogram(desc, s.count, s.sum, buckets, labels...)
			if err == nil {
				ch <- m
			}
		case kindCounter:
			if m, err := prometheus.NewConstMetric(desc, prometheus.CounterValue, s.value, labels...); err == nil {
				ch <- m
			}
		default:
			if m, err := prometheus.NewConstMetric(desc, prometheus.GaugeValue, s.value, labels...); err == nil {
				ch <- m
			}
		}
	}
}

// logResult logs a target's failure when it starts or changes and its recovery.
func (c *Collector) logResult(st *targetState) {
	msg := ""
	if st.err != nil {
		msg = st.err.Error()
	}
	last := c.lastLogged[st.target.URL]
	c.lastLogged[st.target.URL] = msg
	switch {
	case msg != "" && msg != last:
		c.logger.Warn("engine target scrape failed", "target", st.target.URL, "err", st.err)
	case msg == "" && last != "":
		c.logger.Info("engine target recovered", "target", st.target.URL)
	}
	if len(c.lastLogged) > 4*len(c.states)+64 {
		clear(c.lastLogged)
	}
}
