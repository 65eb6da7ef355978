# Rules pack: the jsonnet mixin (mixin/, its own Go module so that the prometheus tool chain it
# needs never enters the exporter's go.mod), the files rendered from it (the generic profile in
# rules/, alerts/, dashboards/, deploy/prometheusrule/; the seeds profile in profiles/seeds/; the
# promtool tests of both in mixin/tests/<profile>/) and their checks. The engine normalisation table
# reaches the mixin through mixin/lib/engine-mapping.json, written from collector/engine/table.go.
PROMTOOL := $(TOOLBIN)/promtool
MIXIN_TEST_TARGETS := mixin-vet mixin-test rules-check rules-test

.PHONY: engine-mapping mixin-generate mixin-fmt mixin-vet mixin-test rules-check rules-test rules-bench

# promtool from the prometheus version pinned in mixin/go.mod (a file target: built once).
$(PROMTOOL): mixin/go.mod mixin/go.sum
	@mkdir -p $(TOOLBIN)
	cd mixin && $(GO) build -o ../$(PROMTOOL) github.com/prometheus/prometheus/cmd/promtool

# The exporter's engine table as the mixin's input (its test, in `make test-go`, fails on drift).
engine-mapping:
	$(GO) run ./tools/enginemapping -o mixin/lib/engine-mapping.json

mixin-generate: engine-mapping
	cd mixin && $(GO) run ./cmd/render -mixin . -root ..

mixin-fmt:
	cd mixin && $(GO) run ./cmd/render -fmt -mixin .

mixin-vet:
	cd mixin && $(GO) vet ./...

# Go tests: generated files up to date, jsonnetfmt, rulefmt load, lint, dashboard queries.
mixin-test:
	cd mixin && $(GO) test -count=1 ./...

rules-check: $(PROMTOOL)
	$(PROMTOOL) check rules rules/*.yaml alerts/*.yaml profiles/seeds/rules/*.yaml profiles/seeds/alerts/*.yaml

rules-test: $(PROMTOOL)
	$(PROMTOOL) test rules mixin/tests/generic/*.test.yaml mixin/tests/seeds/*.test.yaml

TEST_TARGETS += $(MIXIN_TEST_TARGETS)
GENERATE_TARGETS += mixin-generate
# `test:` and `generate:` expanded their prerequisite lists before this file was included.
test: $(MIXIN_TEST_TARGETS)
generate: mixin-generate

# Cost benchmark (not part of `make test`): docs/rules-cost.md. NODES=200 HOURS=1: ~7 CPU-minutes
# and 3.3 GB; NODES=1000 HOURS=0.25: ~12 CPU-minutes and 6.4 GB (RSS grows with nodes × hours).
NODES ?= 200
HOURS ?= 6
rules-bench:
	cd mixin && nice -n 10 $(GO) run ./cmd/rulesbench -nodes $(NODES) -hours $(HOURS)
