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
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/llm-node-exporter/llm-node-exporter/collector"
	"github.com/llm-node-exporter/llm-node-exporter/discovery"
)

const subsystem = "engine"

// Defaults of the flags.
const (
	DefaultTimeout          = 3 * time.Second
	DefaultBodyLimit        = 32 << 20
	DefaultSampleLimit      = 50000
	DefaultLabelLimit       = 64
	DefaultLabelNameLength  = 256
	DefaultLabelValueLength = 4096
)

// Config is the collector's configuration.
type Config struct {
	Targets     []Target      // static targets (--engine.target)
	TargetsFile string        // file_sd file (--engine.targets-file), "" for none
	FileRefresh time.Duration // how often the file's mtime is checked
	Timeout     time.Duration // per target, per scrape
	BodyLimit   int64         // bytes of decompressed page per target
	Limits      Limits        // per page; zero values are no limit
	Passthrough bool          // re-export every family of every target with the join labels
	// LoRAAdapterLimit is the most llm_engine_lora_adapters series one target
	// yields (--engine.lora-adapter-limit); 0 is DefaultLoRAAdapterLimit.
	LoRAAdapterLimit int
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

// Reasons of llm_engine_series_dropped_total: what a page printed and the
// collector did not serve, the rest of the page being served.
const (
	dropDuplicate   = "duplicate"           // a series printed again on the same page: the first is kept
	dropInvalid     = "invalid_histogram"   // a histogram without _count, with counts that are not whole numbers, or (normalised) not cumulative
	dropUnmerged    = "unmerged_bucket"     // a bucket left out when adding up histograms whose bounds differ
	dropPassthrough = "passthrough_skipped" // a passthrough series with a label name the exposition cannot carry (__*)
	dropLoRA        = "lora_adapter_limit"  // a LoRA adapter series past --engine.lora-adapter-limit
)

var dropReasons = [...]string{dropDuplicate, dropInvalid, dropUnmerged, dropPassthrough, dropLoRA}

// Indexes of dropReasons.
const (
	iDuplicate = iota
	iInvalid
	iUnmerged
	iPassthrough
	iLoRA
)

// Reasons of llm_engine_passthrough_renamed_series_total.
const (
	renameFamily = "family_name" // the engine's family name starts like the exporter's own: served as exported_<name>
	renameLabel  = "label_name"  // a page label clashed with a target label: kept as exported_<name>
)

var renameReasons = [...]string{renameFamily, renameLabel}

// The collector's scrapes are cancelled with the exporter's scrape.
var _ collector.ContextCollector = (*Collector)(nil)

// Collector scrapes the engine targets of the node at collection time.
type Collector struct {
	cfg    Config
	logger *slog.Logger
	client *http.Client

	upDesc, durationDesc, errorsDesc, droppedDesc, renamedDesc *prometheus.Desc
	upFam, durationFam, errorsFam, droppedFam, renamedFam      *collector.TextFamily
	descs                                                      map[*family]*prometheus.Desc
	fams                                                       map[*family]*collector.TextFamily
	seed                                                       maphash.Seed

	mu       sync.Mutex // guards states; never held across I/O
	states   map[string]*targetState
	fileTgts []Target // from the targets file; guarded by tmu
	kubeTgts []Target // from Kubernetes discovery; guarded by tmu
	kube     *discovery.Pods
	tmu      sync.Mutex
}

// targetState is what the collector keeps per target across scrapes.
type targetState struct {
	target Target

	mu       sync.Mutex                  // guards the fields up to the blank line
	inflight *call                       // the scrape running now, shared by every Update that wants it
	errors   [len(reasons)]float64       // by reasons
	dropped  [len(dropReasons)]float64   // by dropReasons
	renamed  [len(renameReasons)]float64 // by renameReasons
	engine   string                      // detected from the page when the target does not say
	lastMsg  string                      // the last failure logged
	self     selfExpo

	// Used only by the running scrape.
	fetcher fetcher
	page    *pageState
	norm    *normaliser
}

// call is one scrape of a target in flight.
type call struct {
	done      chan struct{}
	res       *result // set before done is closed
	waiters   int     // Updates waiting for it; at zero it is cancelled
	cancel    context.CancelFunc
	abandoned bool // its waiters gave up at the deadline: counted as a timeout already
}

// result is one scrape of one target, immutable once its call is done, so
// that concurrent Updates can send it.
type result struct {
	err      error
	reason   string
	duration float64
	engine   string
	vals     []valueMetric // the normalised series
	hists    []histMetric
	pass     []passItem
	errors   [len(reasons)]float64
	dropped  [len(dropReasons)]float64
	renamed  [len(renameReasons)]float64
	self     []prometheus.Metric // up, duration and the counters
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
	if cfg.LoRAAdapterLimit <= 0 {
		cfg.LoRAAdapterLimit = DefaultLoRAAdapterLimit
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
		descs:  map[*family]*prometheus.Desc{},
		fams:   map[*family]*collector.TextFamily{},
		seed:   maphash.MakeSeed(),
		states: map[string]*targetState{},
	}
	// Each family's Desc and text form from the same name and help.
	both := func(name, help string, typ dto.MetricType, labels []string) (*prometheus.Desc, *collector.TextFamily) {
		return prometheus.NewDesc(fq(name), help, labels, nil), collector.NewTextFamily(fq(name), help, typ)
	}
	c.upDesc, c.upFam = both("up", "1 when the engine's metrics endpoint answered the exporter with a valid page, 0 otherwise.", dto.MetricType_GAUGE, selfLabels)
	c.durationDesc, c.durationFam = both("scrape_duration_seconds", "Duration of the last scrape of the engine's metrics endpoint in seconds.", dto.MetricType_GAUGE, selfLabels)
	withReason := append(append([]string{}, selfLabels...), "reason")
	c.errorsDesc, c.errorsFam = both("scrape_errors_total", "Failed scrapes of the engine's metrics endpoint by reason ("+strings.Join(reasons[:], ", ")+").", dto.MetricType_COUNTER, withReason)
	c.droppedDesc, c.droppedFam = both("series_dropped_total", "Series of the engine's pages not served, the rest of the page being served, by reason ("+strings.Join(dropReasons[:], ", ")+").", dto.MetricType_COUNTER, withReason)
	c.renamedDesc, c.renamedFam = both("passthrough_renamed_series_total", "Passthrough series served under a changed name, by reason ("+strings.Join(renameReasons[:], ", ")+").", dto.MetricType_COUNTER, withReason)
	for _, f := range families {
		typ := dto.MetricType_GAUGE
		switch f.kind {
		case kindHistogram:
			typ = dto.MetricType_HISTOGRAM
		case kindCounter:
			typ = dto.MetricType_COUNTER
		}
		c.descs[f], c.fams[f] = both(f.name, f.help, typ, normalisedNames(f))
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

// Update scrapes every target; see UpdateContext.
func (c *Collector) Update(ch chan<- prometheus.Metric) error {
	return c.UpdateContext(context.Background(), ch)
}

// UpdateContext scrapes every target concurrently, each within the timeout,
// then sends the normalised series, the per-target self-metrics and, if
// enabled, the passthrough families. A failing target costs only its own
// series. No lock is held while a target is fetched: an Update that finds a
// target's scrape in flight waits for that one, and a scrape that no one
// waits for any more (its Updates' contexts ended) is cancelled. Targets
// still running when ctx is about to end, or past their timeout, are served
// as timeouts.
func (c *Collector) UpdateContext(ctx context.Context, ch chan<- prometheus.Metric) error {
	live := c.liveStates()
	calls := make([]*call, len(live))
	for i, st := range live {
		calls[i] = c.join(st)
	}
	deadline := time.Now().Add(c.cfg.Timeout + abandonGrace)
	if d, ok := ctx.Deadline(); ok {
		// Leave the rest of the scrape a little time to send what finished.
		if early := d.Add(-min(sendReserve, time.Until(d)/10)); early.Before(deadline) {
			deadline = early
		}
	}
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	results := make([]*result, len(live))
	expired := false
	for i, cl := range calls {
		st := live[i]
		if cl == nil {
			results[i] = c.stillRunning(st)
			continue
		}
		if !expired {
			select {
			case <-cl.done:
			case <-timer.C:
				expired = true
			case <-ctx.Done():
				for j := i; j < len(calls); j++ {
					if calls[j] != nil {
						c.release(live[j], calls[j])
					}
				}
				return ctx.Err()
			}
		}
		select {
		case <-cl.done:
			results[i] = cl.res
			c.release(st, cl)
		default:
			results[i] = c.abandon(st, cl)
		}
	}
	return c.send(ctx, ch, results)
}

// abandonGrace is how long past its timeout a target's scrape is waited for.
const abandonGrace = 250 * time.Millisecond

// sendReserve is the most of a scrape's remaining time kept for sending.
const sendReserve = 100 * time.Millisecond

// errStillRunning marks a target whose abandoned scrape has not stopped yet.
var errStillRunning = errors.New("the previous scrape of this target is still running")

// liveStates returns the state of every current target, creating new ones
// and forgetting those of targets that went away.
func (c *Collector) liveStates() []*targetState {
	tgts := c.targets()
	c.mu.Lock()
	defer c.mu.Unlock()
	live := make([]*targetState, 0, len(tgts))
	keep := make(map[string]bool, len(tgts))
	for _, t := range tgts {
		k := t.key()
		st := c.states[k]
		if st == nil {
			st = &targetState{target: t, page: newPageState(), norm: newNormaliser()}
			st.norm.loraLimit = c.cfg.LoRAAdapterLimit
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
	return live
}

// join returns the target's scrape in flight, starting one if there is none;
// nil when an abandoned one has not stopped yet.
func (c *Collector) join(st *targetState) *call {
	st.mu.Lock()
	defer st.mu.Unlock()
	if cl := st.inflight; cl != nil {
		if cl.abandoned && cl.waiters == 0 {
			return nil
		}
		cl.waiters++
		return cl
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.Timeout)
	cl := &call{done: make(chan struct{}), waiters: 1, cancel: cancel}
	st.inflight = cl
	go c.run(ctx, st, cl)
	return cl
}

// release is an Update's end of waiting for cl; the last one cancels it.
func (c *Collector) release(st *targetState, cl *call) {
	st.mu.Lock()
	defer st.mu.Unlock()
	cl.waiters--
	if cl.waiters == 0 {
		cl.cancel()
	}
}

// abandon gives up on a scrape past the deadline: it counts as a timeout
// (once, whoever else waited for it) and is cancelled when no one waits.
func (c *Collector) abandon(st *targetState, cl *call) *result {
	st.mu.Lock()
	defer st.mu.Unlock()
	cl.waiters--
	if !cl.abandoned {
		cl.abandoned = true
		st.errors[reasonIndex(reasonTimeout)]++
	}
	if cl.waiters == 0 {
		cl.cancel()
	}
	r := &result{err: &scrapeError{reasonTimeout, errors.New("abandoned past the deadline")}, reason: reasonTimeout}
	st.snapshot(r)
	r.self = c.selfMetrics(st, r)
	return r
}

// stillRunning is the result of a target whose abandoned scrape has not
// stopped yet: it is not fetched again meanwhile, and counts a timeout.
func (c *Collector) stillRunning(st *targetState) *result {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.errors[reasonIndex(reasonTimeout)]++
	r := &result{err: &scrapeError{reasonTimeout, errStillRunning}, reason: reasonTimeout}
	st.snapshot(r)
	r.self = c.selfMetrics(st, r)
	return r
}

// snapshot copies the target's counters into r; st.mu is held.
func (st *targetState) snapshot(r *result) {
	r.errors, r.dropped, r.renamed = st.errors, st.dropped, st.renamed
	if r.engine == "" {
		r.engine = st.engine
	}
	if st.target.Labels.Engine != "" {
		r.engine = st.target.Labels.Engine
	}
}

func reasonIndex(reason string) int {
	for i, r := range reasons {
		if r == reason {
			return i
		}
	}
	return 0
}

// run is one scrape of a target; its end is handed to every waiting Update.
func (c *Collector) run(ctx context.Context, st *targetState, cl *call) {
	t0 := time.Now()
	r := c.scrape(ctx, st)
	cl.cancel()
	r.duration = time.Since(t0).Seconds()

	st.mu.Lock()
	st.inflight = nil
	if r.err != nil && !cl.abandoned {
		st.errors[reasonIndex(r.reason)]++
	}
	if r.err == nil && r.engine != "" {
		st.engine = r.engine
	}
	for i := range r.dropped {
		st.dropped[i] += r.dropped[i]
	}
	for i := range r.renamed {
		st.renamed[i] += r.renamed[i]
	}
	st.snapshot(r)
	r.self = c.selfMetrics(st, r)
	c.logChange(st, r)
	cl.res = r
	st.mu.Unlock()
	close(cl.done)
}

// scrape fetches, parses and normalises one page. The counts in the result
// are this page's; run adds them to the target's.
func (c *Collector) scrape(ctx context.Context, st *targetState) *result {
	r := &result{}
	fail := func(err error) *result {
		r.err = err
		var se *scrapeError
		var le *errLimit
		switch {
		case errors.As(err, &se):
			r.reason = se.reason
		case errors.As(err, &le):
			r.reason = le.reason
		case ctx.Err() != nil:
			r.reason = reasonTimeout
		default:
			r.reason = reasonParse
		}
		return r
	}
	body, format, err := st.fetcher.fetch(ctx, c.client, st.target.URL, c.cfg.BodyLimit)
	if err != nil {
		return fail(err)
	}
	ps := st.page
	if err := ps.parse(ctx, body, format, c.cfg.Limits); err != nil {
		return fail(err)
	}
	join := st.target.Labels
	outs := st.norm.normalise(ps, &join)
	st.norm.sweep(ps.epoch)
	r.engine = ps.engine
	r.vals, r.hists = c.normItems(outs)
	r.dropped[iDuplicate] = float64(ps.duplicates)
	r.dropped[iInvalid] = float64(st.norm.invalid)
	r.dropped[iUnmerged] = float64(st.norm.unmergedBuckets)
	r.dropped[iLoRA] = float64(st.norm.loraDropped)
	if c.cfg.Passthrough {
		var pc passCounts
		r.pass, pc = passthrough(ps, &join, c.seed, make([]passItem, 0, len(ps.srcs)))
		r.dropped[iInvalid] += float64(pc.invalid)
		r.dropped[iPassthrough] = float64(pc.skipped)
		r.renamed[0], r.renamed[1] = float64(pc.familyRenamed), float64(pc.labelRenamed)
	}
	return r
}

// normItems turns a page's normalised series into metrics: two slices, so
// that a collection allocates no more per series than the series itself.
func (c *Collector) normItems(outs []outSeries) ([]valueMetric, []histMetric) {
	nv, nh := 0, 0
	for i := range outs {
		if outs[i].fam.kind == kindHistogram {
			nh++
		} else {
			nv++
		}
	}
	vals := make([]valueMetric, 0, nv)
	hists := make([]histMetric, 0, nh)
	for i := range outs {
		o := &outs[i]
		key := o.g.keyOf(o, c.seed, c.descs[o.fam], c.fams[o.fam])
		switch o.fam.kind {
		case kindHistogram:
			hists = append(hists, histMetric{key, o.g.expo.hist.written(o.count, o.sum, o.bounds, o.counts)})
		case kindCounter:
			vals = append(vals, valueMetric{key, prometheus.CounterValue, o.value})
		default:
			vals = append(vals, valueMetric{key, prometheus.GaugeValue, o.value})
		}
	}
	return vals, hists
}

// send writes every target's self-metrics and series. Two targets that
// would yield the same series do not fail the scrape: the first is sent.
func (c *Collector) send(ctx context.Context, ch chan<- prometheus.Metric, results []*result) error {
	seen := seenPool.Get().(map[uint64]struct{})
	defer func() { clear(seen); seenPool.Put(seen) }()
	var passTypes map[string]famType
	if c.cfg.Passthrough {
		passTypes = map[string]famType{}
	}
	out := func(m prometheus.Metric) error {
		select {
		case ch <- m:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	for _, r := range results {
		for _, m := range r.self {
			if err := out(m); err != nil {
				return err
			}
		}
		if r.err != nil {
			continue
		}
		// A series of a target already sent by another is not sent again.
		// Value and histogram families never share a name, so sending the
		// values first keeps "the first target's series wins".
		first := func(k *seriesKey) bool {
			if _, dup := seen[k.hash]; dup {
				return false
			}
			seen[k.hash] = struct{}{}
			return true
		}
		for i := range r.vals {
			if m := &r.vals[i]; first(m.seriesKey) {
				if err := out(m); err != nil {
					return err
				}
			}
		}
		for i := range r.hists {
			if m := &r.hists[i]; first(m.seriesKey) {
				if err := out(m); err != nil {
					return err
				}
			}
		}
		for _, it := range r.pass {
			if !passFits(passTypes, it.name, it.typ) {
				continue
			}
			if _, dup := seen[it.hash]; dup {
				continue
			}
			seen[it.hash] = struct{}{}
			if err := out(it.metric); err != nil {
				return err
			}
		}
	}
	return nil
}

// seenPool keeps send's sets of series: a steady scrape reuses one's room.
var seenPool = sync.Pool{New: func() any { return map[uint64]struct{}{} }}

// passFits reports whether a passthrough family of this name and type can
// join those already sent in this scrape: one engine version's page must
// not fail the whole exposition with a family of another type under the
// same name, or a name that is another's _count, _sum or _bucket.
func passFits(types map[string]famType, name string, typ famType) bool {
	if t, ok := types[name]; ok {
		return t == typ
	}
	for _, s := range []string{"_count", "_sum", "_bucket"} {
		if base, ok := strings.CutSuffix(name, s); ok {
			if t, ok := types[base]; ok && (t == typeHistogram || (t == typeSummary && s != "_bucket")) {
				return false
			}
		}
		if typ == typeHistogram || (typ == typeSummary && s != "_bucket") {
			if _, ok := types[name+s]; ok {
				return false
			}
		}
	}
	types[name] = typ
	return true
}

// selfExpo is what a target's self-metrics keep across scrapes: their label
// pairs (for the engine label they were built with).
type selfExpo struct {
	engine string
	keys   []*seriesKey // up, duration, then the counters by reason
}

var selfLabelNames = []string{"target", "engine", "role", "namespace", "pod", "container", "reason"}

// selfMetrics builds the target's up, duration and counters for r; st.mu is held.
func (c *Collector) selfMetrics(st *targetState, r *result) []prometheus.Metric {
	e := &st.self
	if e.keys == nil || e.engine != r.engine {
		l := st.target.Labels
		values := []string{st.target.URL, r.engine, l.Role, l.Namespace, l.Pod, l.Container}
		e.engine = r.engine
		base := labelPairs(selfLabelNames[:6], values)
		e.keys = []*seriesKey{newSeriesKey(c.upDesc, c.upFam, base), newSeriesKey(c.durationDesc, c.durationFam, base)}
		withReason := func(desc *prometheus.Desc, fam *collector.TextFamily, reason string) {
			e.keys = append(e.keys, newSeriesKey(desc, fam, labelPairs(selfLabelNames, append(append([]string{}, values...), reason))))
		}
		for _, reason := range reasons {
			withReason(c.errorsDesc, c.errorsFam, reason)
		}
		for _, reason := range dropReasons {
			withReason(c.droppedDesc, c.droppedFam, reason)
		}
		for _, reason := range renameReasons {
			withReason(c.renamedDesc, c.renamedFam, reason)
		}
	}
	up := 0.0
	if r.err == nil {
		up = 1
	}
	ms := make([]valueMetric, 0, len(e.keys))
	add := func(vt prometheus.ValueType, v float64) {
		ms = append(ms, valueMetric{e.keys[len(ms)], vt, v})
	}
	add(prometheus.GaugeValue, up)
	add(prometheus.GaugeValue, r.duration)
	for i := range reasons {
		add(prometheus.CounterValue, r.errors[i])
	}
	for i := range dropReasons {
		add(prometheus.CounterValue, r.dropped[i])
	}
	for i := range renameReasons {
		add(prometheus.CounterValue, r.renamed[i])
	}
	out := make([]prometheus.Metric, len(ms))
	for i := range ms {
		out[i] = &ms[i]
	}
	return out
}

// logChange logs a target's failure when it starts or changes and its
// recovery; st.mu is held.
func (c *Collector) logChange(st *targetState, r *result) {
	msg := ""
	if r.err != nil {
		msg = r.err.Error()
	}
	last := st.lastMsg
	st.lastMsg = msg
	switch {
	case msg != "" && msg != last:
		c.logger.Warn("engine target scrape failed", "target", st.target.URL, "err", r.err)
	case msg == "" && last != "":
		c.logger.Info("engine target recovered", "target", st.target.URL)
	}
}
