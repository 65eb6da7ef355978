package main

import (
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/alecthomas/units"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/llm-node-exporter/llm-node-exporter/remotewrite"
)

// pushFlags are the --remote-write.* flags (docs/push.md).
type pushFlags struct {
	urls           *[]string
	configFile     *string
	interval       *time.Duration
	externalLabels *map[string]string
	job, instance  *string
	jobSet         bool // given on the command line, not the default
	instanceSet    bool
	bufferSamples  *int
	bufferAge      *time.Duration
	maxPerSend     *int
	maxBytes       *units.Base2Bytes
	flushTimeout   *time.Duration
	walDir         *string
	walMaxBytes    *units.Base2Bytes
	username       *string
	passwordFile   *string
	passwordEnv    *string
	bearerFile     *string
}

func addPushFlags(app *kingpin.Application) *pushFlags {
	host, _ := os.Hostname()
	f := &pushFlags{}
	*f = pushFlags{
		urls: app.Flag("remote-write.url",
			"Push what /metrics serves to this Prometheus remote-write URL (remote write 1.0); repeatable. Push mode is off without it or --remote-write.config-file.").Strings(),
		configFile: app.Flag("remote-write.config-file",
			"YAML file of remote-write endpoints (url, basic_auth, bearer_token(_file), tls_config, headers, queue_config); see docs/push.md.").String(),
		interval: app.Flag("remote-write.interval", "How often to collect and push.").
			Default(remotewrite.DefaultInterval.String()).Duration(),
		externalLabels: app.Flag("remote-write.external-label",
			"name=value added to every pushed series that lacks that label; repeatable.").StringMap(),
		job: app.Flag("remote-write.job", "job label of the pushed series (no scraper adds it); empty for none. An external label job=... replaces the default; given both, they must agree.").
			Default(programName).IsSetByUser(&f.jobSet).String(),
		instance: app.Flag("remote-write.instance", "instance label of the pushed series; empty for none. An external label instance=... replaces the default; given both, they must agree.").
			Default(host).IsSetByUser(&f.instanceSet).String(),
		bufferSamples: app.Flag("remote-write.buffer-samples",
			"Samples buffered per endpoint while the receiver is unreachable; the oldest are dropped beyond.").
			Default(fmt.Sprint(remotewrite.DefaultBufferSamples)).Int(),
		bufferAge: app.Flag("remote-write.buffer-age",
			"Samples older than this are dropped unsent.").Default(remotewrite.DefaultBufferAge.String()).Duration(),
		maxPerSend: app.Flag("remote-write.max-samples-per-send", "Most samples in one request.").
			Default(fmt.Sprint(remotewrite.DefaultMaxSamplesPerSend)).Int(),
		maxBytes: app.Flag("remote-write.max-bytes-per-send",
			"Largest request, protobuf before compression (ARMS drops what a request holds past 1 MB).").
			Default(units.Base2Bytes(remotewrite.DefaultMaxBytesPerSend).String()).Bytes(),
		walDir: app.Flag("remote-write.wal-dir",
			"Directory of an on-disk copy of the buffer (a hostPath on a DaemonSet): what was not sent survives a kill or restart and is sent after it, in order. Off when empty.").String(),
		walMaxBytes: app.Flag("remote-write.wal-max-bytes",
			"Most bytes the WAL holds on disk; beyond, the oldest collections are dropped (reason wal_full).").
			Default(units.Base2Bytes(remotewrite.DefaultWALMaxBytes).String()).Bytes(),
		flushTimeout: app.Flag("remote-write.flush-timeout",
			"On SIGTERM, time allowed for the final collection, the stale markers and the buffer to be sent.").
			Default(remotewrite.DefaultFlushTimeout.String()).Duration(),
		username: app.Flag("remote-write.basic-auth.username",
			"Basic auth username for the --remote-write.url endpoints (ARMS: the AccessKey ID).").String(),
		passwordFile: app.Flag("remote-write.basic-auth.password-file",
			"File holding the basic auth password (ARMS: the AccessKey secret), read on every request.").String(),
		passwordEnv: app.Flag("remote-write.basic-auth.password-env",
			"Environment variable holding the basic auth password.").String(),
		bearerFile: app.Flag("remote-write.bearer-token-file",
			"File holding a bearer token for the --remote-write.url endpoints.").String(),
	}
	return f
}

// config assembles the pusher's configuration; ok is false when push mode is off.
func (f *pushFlags) config() (cfg remotewrite.Config, ok bool, err error) {
	def := remotewrite.Queue{
		BufferSamples:     *f.bufferSamples,
		BufferAge:         *f.bufferAge,
		MaxSamplesPerSend: *f.maxPerSend,
		MaxBytesPerSend:   int(*f.maxBytes),
	}
	var eps []remotewrite.Endpoint
	for _, u := range *f.urls {
		e := remotewrite.Endpoint{URL: u, BearerTokenFile: *f.bearerFile}
		if *f.username != "" || *f.passwordFile != "" || *f.passwordEnv != "" {
			e.BasicAuth = &remotewrite.BasicAuth{Username: *f.username, PasswordFile: *f.passwordFile, PasswordEnv: *f.passwordEnv}
		}
		eps = append(eps, e)
	}
	if *f.configFile != "" {
		more, err := remotewrite.LoadFile(*f.configFile)
		if err != nil {
			return cfg, false, err
		}
		eps = append(eps, more...)
	}
	if len(eps) == 0 {
		return cfg, false, nil
	}
	for i := range eps {
		eps[i] = eps[i].WithDefaults(def)
	}
	labels := map[string]string{}
	for k, v := range *f.externalLabels {
		labels[k] = v
	}
	for _, l := range []struct {
		name  string
		value string
		set   bool
	}{{"job", *f.job, f.jobSet}, {"instance", *f.instance, f.instanceSet}} {
		ext, given := labels[l.name]
		switch {
		case given && l.set && ext != l.value:
			return cfg, false, fmt.Errorf("--remote-write.external-label=%s=%s conflicts with --remote-write.%s=%s: give the %s label once",
				l.name, ext, l.name, l.value, l.name)
		case given:
			// The external label replaces the flag's default.
		case l.value != "":
			labels[l.name] = l.value
		}
	}
	return remotewrite.Config{Interval: *f.interval, ExternalLabels: labels, FlushTimeout: *f.flushTimeout, Endpoints: eps,
		WALDir: *f.walDir, WALMaxBytes: int64(*f.walMaxBytes)}, true, nil
}

// newPusher returns the pusher of g, or nil when push mode is off; its
// self-metrics go on reg, so /metrics serves them and they are pushed too.
func (f *pushFlags) newPusher(g prometheus.Gatherer, reg prometheus.Registerer, logger *slog.Logger) (*remotewrite.Pusher, error) {
	cfg, ok, err := f.config()
	if err != nil || !ok {
		return nil, err
	}
	p, err := remotewrite.New(g, cfg, reg, logger.With("component", "remote_write"))
	if err != nil {
		return nil, err
	}
	logger.Info("push mode", "urls", p.URLs(), "interval", cfg.Interval, "external_labels", cfg.ExternalLabels, "wal_dir", cfg.WALDir)
	return p, nil
}
