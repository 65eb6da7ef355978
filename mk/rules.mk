# Rules pack: the jsonnet mixin (mixin/, its own Go module so that the prometheus tool chain it
# needs never enters the exporter's go.mod), the files rendered from it (rules/, alerts/,
# dashboards/, deploy/prometheusrule/, mixin/tests/panels.test.yaml) and their checks.
PROMTOOL := $(TOOLBIN)/promtool
MIXIN_TEST_TARGETS := mixin-vet mixin-test rules-check rules-test

.PHONY: mixin-generate mixin-fmt mixin-vet mixin-test rules-check rules-test rules-bench

# promtool from the prometheus version pinned in mixin/go.mod (a file target: built once).
$(PROMTOOL): mixin/go.mod mixin/go.sum
	@mkdir -p $(TOOLBIN)
	cd mixin && $(GO) build -o ../$(PROMTOOL) github.com/prometheus/prometheus/cmd/promtool

mixin-generate:
	cd mixin && $(GO) run ./cmd/render -mixin . -root ..

mixin-fmt:
	cd mixin && $(GO) run ./cmd/render -fmt -mixin .

mixin-vet:
	cd mixin && $(GO) vet ./...

# Go tests: generated files up to date, jsonnetfmt, rulefmt load, lint, dashboard queries.
mixin-test:
	cd mixin && $(GO) test -count=1 ./...

rules-check: $(PROMTOOL)
	$(PROMTOOL) check rules rules/*.yaml alerts/*.yaml

rules-test: $(PROMTOOL)
	$(PROMTOOL) test rules mixin/tests/*.test.yaml

TEST_TARGETS += $(MIXIN_TEST_TARGETS)
GENERATE_TARGETS += mixin-generate
# `test:` and `generate:` expanded their prerequisite lists before this file was included.
test: $(MIXIN_TEST_TARGETS)
generate: mixin-generate

# Cost benchmark (not part of `make test`; ~10 min and ~2 GiB on 2 cores): docs/rules-cost.md.
rules-bench:
	cd mixin && $(GO) run ./cmd/rulesbench
