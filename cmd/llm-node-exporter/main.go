// Command llm-node-exporter exports GPU, InfiniBand/RoCE and inference-engine
// metrics of an LLM serving node to Prometheus.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/client_golang/prometheus"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/common/promslog"
	promslogflag "github.com/prometheus/common/promslog/flag"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"
	"github.com/prometheus/exporter-toolkit/web/kingpinflag"

	"github.com/llm-node-exporter/llm-node-exporter/collector"
)

const programName = "llm-node-exporter"

// defaultListenAddress is the exporter's port; 9100 (node_exporter) and
// 9400 (dcgm-exporter) run beside it on the same nodes.
const defaultListenAddress = ":9836"

type options struct {
	metricsPath            *string
	disableExporterMetrics *bool
	maxRequests            *int
	paths                  collector.Paths
	toolkit                *web.FlagConfig
	server                 *serverFlags
	log                    *promslog.Config
	collectors             *collectorFlags
	push                   *pushFlags
}

func addFlags(app *kingpin.Application) *options {
	o := &options{
		metricsPath: app.Flag("web.telemetry-path", "Path under which to expose metrics.").
			Default("/metrics").String(),
		disableExporterMetrics: app.Flag("web.disable-exporter-metrics",
			"Exclude the exporter's own Go runtime, process and promhttp metrics.").Bool(),
		maxRequests: app.Flag("web.max-requests",
			"Maximum number of parallel scrape requests; 0 disables the limit.").Default("40").Int(),
		toolkit: kingpinflag.AddFlags(app, defaultListenAddress),
		server:  addServerFlags(app),
		log:     &promslog.Config{},
	}
	app.Flag("path.sysfs", "sysfs mount point (the host's /sys when run in a container).").
		Default("/sys").StringVar(&o.paths.Sysfs)
	app.Flag("path.procfs", "procfs mount point (the host's /proc when run in a container).").
		Default("/proc").StringVar(&o.paths.Procfs)
	app.Flag("path.rootfs", "Root of the host filesystem (e.g. /host when mounted there); the default kubelet pod-resources socket is looked up under it.").
		Default("/").StringVar(&o.paths.Rootfs)
	promslogflag.AddFlags(app, o.log)
	o.collectors = addCollectorFlags(app)
	o.push = addPushFlags(app)
	return o
}

func main() {
	app := kingpin.New(programName, "Prometheus exporter for GPU nodes serving large language models.")
	opts := addFlags(app)
	app.Version(version.Print(programName))
	app.HelpFlag.Short('h')
	kingpin.MustParse(app.Parse(os.Args[1:]))

	logger := promslog.New(opts.log)
	if err := run(opts, logger); err != nil {
		logger.Error("exiting", "err", err)
		os.Exit(1)
	}
}

func run(opts *options, logger *slog.Logger) error {
	logger.Info("starting "+programName, "version", version.Info(), "build_context", version.BuildContext())
	if err := opts.server.validate(); err != nil {
		return err
	}

	var release closers
	// Runs last: after the server stopped and the final push, NVML shuts down.
	defer release.closeAll()
	set, background, err := opts.collectors.build(opts.paths, logger, &release)
	if err != nil {
		return err
	}
	logger.Info("enabled collectors", "collectors", set.Names())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// In the background: a blocking /proc read or a slow Kubernetes API must
	// never hold back serving, nor shutting down.
	background(ctx)

	// What never blocks (build info, push mode's and the server's own
	// metrics) is gathered apart from the collectors, which are gathered
	// under each scrape's deadline.
	static := prometheus.NewRegistry()
	static.MustRegister(versioncollector.NewCollector("llm_exporter"))
	// Every shutdown step happens within the flush timeout of SIGTERM; the
	// final gather gets half of it, the sends the rest.
	flushTimeout := *opts.push.flushTimeout
	pushGather := &pushGatherer{set: set, static: static, timeout: *opts.server.scrapeTimeout, stopping: ctx, final: flushTimeout / 2}
	if iv := *opts.push.interval; iv > 0 && iv < pushGather.timeout {
		pushGather.timeout = iv
	}
	pusher, err := opts.push.newPusher(pushGather, static, logger)
	if err != nil {
		return err
	}
	limiter := newAuthLimiter(*opts.server.maxAuthAttempts, static)

	var shutdownDeadline time.Time
	pushDone := make(chan struct{})
	if pusher != nil {
		go func() {
			defer close(pushDone)
			if err := pusher.Run(ctx); err != nil {
				logger.Error("remote write", "err", err)
			}
		}()
	} else {
		close(pushDone)
	}
	waitPush := func() {
		select {
		case <-pushDone:
		case <-time.After(time.Until(shutdownDeadline)):
			logger.Warn("remote write not finished within the flush timeout; exiting", "timeout", flushTimeout)
		}
	}
	beginShutdown := func() { shutdownDeadline = time.Now().Add(flushTimeout) }
	if !listening(opts.toolkit) {
		if pusher == nil {
			return errors.New(`--web.listen-address="" disables the HTTP server: push mode (--remote-write.url) is then required`)
		}
		logger.Info("no listen address: push only, no HTTP server")
		<-ctx.Done()
		beginShutdown()
		logger.Info("shutting down: flushing remote write", "timeout", flushTimeout)
		waitPush()
		return nil
	}

	handler := newMetricsHandler(set, static, *opts.disableExporterMetrics, *opts.maxRequests,
		*opts.server.scrapeTimeout, *opts.server.timeoutOffset, logger)
	mux := http.NewServeMux()
	mux.Handle(*opts.metricsPath, handler)
	if *opts.metricsPath != "/" {
		landing, err := web.NewLandingPage(web.LandingConfig{
			Name:        programName,
			Description: "Prometheus exporter for GPU nodes serving large language models",
			Version:     version.Info(),
			Links:       []web.LandingLinks{{Address: *opts.metricsPath, Text: "Metrics"}},
		})
		if err != nil {
			return fmt.Errorf("landing page: %w", err)
		}
		mux.Handle("/", landing)
	}

	// Cancelling base ends the scrapes in progress at shutdown.
	base, cancelScrapes := context.WithCancel(context.Background())
	defer cancelScrapes()
	var srvs servers
	errc := make(chan error, 1)
	go func() { errc <- serve(mux, opts.server, opts.toolkit, base, &srvs, limiter, logger) }()
	select {
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	case <-ctx.Done():
		beginShutdown()
		logger.Info("shutting down", "timeout", flushTimeout)
		cancelScrapes()
		shutdownCtx, cancel := context.WithDeadline(context.Background(), shutdownDeadline)
		defer cancel()
		err := srvs.shutdown(shutdownCtx)
		waitPush() // the final push and flush, within --remote-write.flush-timeout
		if err != nil {
			logger.Warn("HTTP server shutdown", "err", err)
		}
		return nil
	}
}

// listening reports whether any --web.listen-address is set: an empty one
// (--web.listen-address="") disables the HTTP server, for push-only use.
func listening(f *web.FlagConfig) bool {
	if f.WebListenAddresses == nil {
		return false
	}
	for _, a := range *f.WebListenAddresses {
		if a != "" {
			return true
		}
	}
	return false
}
