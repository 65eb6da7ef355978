# A Prometheus server with its web UI (/alerts, /rules, /query graphs), for `make demo`, the stack
# test and the browser test: the prometheus module pinned in mixin/go.mod built as its release is
# (web/ui's pnpm workspace, then `go build -tags builtinassets` with the compressed assets
# embedded) by scripts/build-prometheus-ui.sh in a copy under .cache/prometheus-ui. Needs node and
# npm (and the npm registry); a file target, built once: ~35 s for the UI and ~3.5 min of Go on 2
# busy cores once the plain prometheus of mk/push.mk is compiled (docs/e2e.md).
PROMETHEUS_UI_BIN := $(TOOLBIN)/prometheus-ui

.PHONY: prometheus-ui

prometheus-ui: $(PROMETHEUS_UI_BIN)

# Rebuilt when the pinned prometheus version changes, not on every change of mixin/go.mod: the
# stamp is rewritten only when the version it holds differs.
PROMETHEUS_UI_STAMP := $(CACHE)/prometheus-ui/prometheus.version

$(PROMETHEUS_UI_STAMP): mixin/go.mod
	@mkdir -p $(dir $@)
	@v=$$(cd mixin && $(GO) list -m -f '{{.Version}}' github.com/prometheus/prometheus) && \
	  if [ "$$(cat $@ 2>/dev/null)" != "$$v" ]; then echo "$$v" > $@; fi

$(PROMETHEUS_UI_BIN): $(PROMETHEUS_UI_STAMP) scripts/build-prometheus-ui.sh
	@mkdir -p $(TOOLBIN)
	GO=$(GO) bash scripts/build-prometheus-ui.sh $@
