# The demo in a real browser (browser/, its own Go module: chromedp drives Debian's headless
# Chromium): `make demo-stack` on free ports, its printed pages loaded and checked (docs/e2e.md).
# `make screenshots` runs the same test and saves the pages as docs/screenshots/*.png, which the
# README shows: regenerate them on purpose, review them, commit them.
CHROMIUM ?= /usr/bin/chromium
BROWSER_TEST_DEPS := $(BINARY) $(FAKENVML) $(DEMO_PROC) $(PROMETHEUS_UI_BIN) $(FAKE_ENGINES) install-browser

.PHONY: install-browser test-browser screenshots

# Debian's chromium package (no browser download by a test tool); as root or through sudo.
install-browser:
	@if [ -x $(CHROMIUM) ]; then exit 0; fi; \
	command -v apt-get >/dev/null || { echo "no $(CHROMIUM) and no apt-get: install Chromium and set CHROMIUM=path"; exit 1; }; \
	sudo=; [ "$$(id -u)" = 0 ] || sudo=sudo; \
	echo ">> installing Debian's chromium (the browser test's browser)"; \
	$$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends chromium

test-browser: $(BROWSER_TEST_DEPS)
	cd browser && $(GO) vet ./... && CHROMIUM=$(CHROMIUM) $(GO) test -count=1 -timeout 20m -v ./...

TEST_TARGETS += test-browser

screenshots: $(BROWSER_TEST_DEPS)
	@mkdir -p docs/screenshots
	cd browser && CHROMIUM=$(CHROMIUM) SCREENSHOTS=$(CURDIR)/docs/screenshots $(GO) test -count=1 -timeout 20m -v ./...
