package attribution

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/llm-node-exporter/llm-node-exporter/collector"
)

// MetricsCollector exposes the cache's join series and health: it runs in
// the collector set like any source, reading only the published snapshot.
type MetricsCollector struct {
	cache   *Cache
	now     func() time.Time
	started time.Time

	rankInfo, migInfo                           *prometheus.Desc
	age, lastSuccess, refreshes, errors, misses *prometheus.Desc
	disagreements                               *prometheus.Desc
}

// NewMetricsCollector returns the "attribution" collector of the cache.
func NewMetricsCollector(cache *Cache) *MetricsCollector {
	self := func(name string) string { return prometheus.BuildFQName(collector.Namespace, "exporter", name) }
	labels := cache.LabelNames()
	return &MetricsCollector{
		cache:   cache,
		now:     time.Now,
		started: time.Now(),
		rankInfo: prometheus.NewDesc("llm_rank_info",
			"One series per GPU tying it to the workload using it; value is always 1. Join on gpu/uuid.",
			append(append([]string(nil), labels...), "gpu", "uuid"), nil),
		migInfo: prometheus.NewDesc("llm_mig_rank_info",
			"One series per MIG device (as NVML lists them at each refresh) tying it to the workload using it; value is always 1. Join on gpu/gpu_instance.",
			append(append([]string(nil), labels...), "gpu", "gpu_instance", "uuid"), nil),
		age: prometheus.NewDesc(self("attribution_cache_age_seconds"),
			"Seconds since the attribution cache last refreshed successfully (since start-up if never).", nil, nil),
		lastSuccess: prometheus.NewDesc(self("attribution_last_success_timestamp_seconds"),
			"Unix time of the attribution cache's last successful refresh; absent until the first one.", nil, nil),
		refreshes: prometheus.NewDesc(self("attribution_refreshes_total"),
			"Attribution cache refreshes finished, successful or not.", nil, nil),
		errors: prometheus.NewDesc(self("attribution_refresh_errors_total"),
			"Attribution refreshes whose source failed, by source (gpu, kubelet, procfs, sysfs, pods, resourceslices).", []string{"source"}, nil),
		misses: prometheus.NewDesc(self("attribution_process_read_misses_total"),
			"Process readings missed by reason: timeout (a /proc read did not return in time; the process is skipped), partial (a file vanished mid-read; the last complete reading is kept).", []string{"reason"}, nil),
		disagreements: prometheus.NewDesc(self("attribution_disagreements_total"),
			"Devices, per refresh, whose device list (device plugin or DRA) and compute processes name different pods; they get no pod labels.", nil, nil),
	}
}

// Update sends llm_rank_info per GPU, llm_mig_rank_info per MIG device and
// the cache's health.
func (m *MetricsCollector) Update(ch chan<- prometheus.Metric) error {
	snap := m.cache.Snapshot()
	opts := m.cache.cfg.Labels
	for _, g := range snap.GPUs() {
		labels := append(opts.appendLabels(nil, g.Workload, g.Identity), strconv.Itoa(g.Index), g.UUID)
		ch <- prometheus.MustNewConstMetric(m.rankInfo, prometheus.GaugeValue, 1, labels...)
	}
	for _, g := range snap.MIGs() {
		gi := ""
		if g.GPUInstance >= 0 {
			gi = strconv.Itoa(g.GPUInstance)
		}
		labels := append(opts.appendLabels(nil, g.Workload, g.Identity), strconv.Itoa(g.GPU), gi, g.UUID)
		ch <- prometheus.MustNewConstMetric(m.migInfo, prometheus.GaugeValue, 1, labels...)
	}
	h := m.cache.Health()
	since := h.LastSuccess
	if since.IsZero() {
		since = m.started
	}
	ch <- prometheus.MustNewConstMetric(m.age, prometheus.GaugeValue, m.now().Sub(since).Seconds())
	if !h.LastSuccess.IsZero() {
		ch <- prometheus.MustNewConstMetric(m.lastSuccess, prometheus.GaugeValue, float64(h.LastSuccess.UnixNano())/1e9)
	}
	ch <- prometheus.MustNewConstMetric(m.refreshes, prometheus.CounterValue, float64(h.Refreshes))
	for source, n := range h.Errors {
		ch <- prometheus.MustNewConstMetric(m.errors, prometheus.CounterValue, float64(n), source)
	}
	for reason, n := range h.Misses {
		ch <- prometheus.MustNewConstMetric(m.misses, prometheus.CounterValue, float64(n), reason)
	}
	ch <- prometheus.MustNewConstMetric(m.disagreements, prometheus.CounterValue, float64(h.Disagreements))
	return nil
}
