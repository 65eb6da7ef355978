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
	cache                              *Cache
	now                                func() time.Time
	started                            time.Time
	rankInfo, age, lastSuccess, errors *prometheus.Desc
}

// NewMetricsCollector returns the "attribution" collector of the cache.
func NewMetricsCollector(cache *Cache) *MetricsCollector {
	return &MetricsCollector{
		cache:   cache,
		now:     time.Now,
		started: time.Now(),
		rankInfo: prometheus.NewDesc("llm_rank_info",
			"One series per GPU tying it to the workload using it; value is always 1. Join on gpu/uuid.",
			append(append([]string(nil), WorkloadLabelNames...), "gpu", "uuid"), nil),
		age: prometheus.NewDesc(prometheus.BuildFQName(collector.Namespace, "exporter", "attribution_cache_age_seconds"),
			"Seconds since the attribution cache last refreshed successfully (since start-up if never).", nil, nil),
		lastSuccess: prometheus.NewDesc(prometheus.BuildFQName(collector.Namespace, "exporter", "attribution_last_success_timestamp_seconds"),
			"Unix time of the attribution cache's last successful refresh; absent until the first one.", nil, nil),
		errors: prometheus.NewDesc(prometheus.BuildFQName(collector.Namespace, "exporter", "attribution_refresh_errors_total"),
			"Attribution refreshes whose source failed, by source (gpu, kubelet, procfs, sysfs).", []string{"source"}, nil),
	}
}

// Update sends llm_rank_info per GPU and the cache's health.
func (m *MetricsCollector) Update(ch chan<- prometheus.Metric) error {
	for _, g := range m.cache.Snapshot().GPUs() {
		labels := append(g.Workload.AppendLabels(nil), strconv.Itoa(g.Index), g.UUID)
		ch <- prometheus.MustNewConstMetric(m.rankInfo, prometheus.GaugeValue, 1, labels...)
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
	for source, n := range h.Errors {
		ch <- prometheus.MustNewConstMetric(m.errors, prometheus.CounterValue, float64(n), source)
	}
	return nil
}
