#!/usr/bin/env bash
# Builds a Prometheus server with its web UI embedded, from the prometheus module pinned in
# mixin/go.mod, the way Prometheus's release build does (`make assets assets-compress build`):
# pnpm installs web/ui's workspace from its committed pnpm-lock.yaml, build_ui.sh builds the
# PromQL editor modules and the React "mantine-ui" app, scripts/compress_assets.sh gzips the
# result and writes web/ui/embed.go, and `go build -tags builtinassets` compiles it in.
# The module cache is read-only, so all of this happens in a copy of the module under $WORK.
#
#   scripts/build-prometheus-ui.sh OUT      (make: .cache/bin/prometheus-ui)
#
# Only the new UI is built (Prometheus's BUILD_UI=mantine): the old react-app, served only with
# --enable-feature=old-ui, is left out. The copy, node_modules and the pnpm store are removed
# once the binary is built (KEEP_UI_WORK=1 keeps them); docs/e2e.md has the time and disk.
set -euo pipefail

out=${1:?usage: build-prometheus-ui.sh OUT}
root=$(cd "$(dirname "$0")/.." && pwd)
GO=${GO:-go}
# pnpm 10 is the newest major that runs on Node.js 20 (pnpm 11 needs 22.13) and reads the
# workspace's allowBuilds policy (10.26 and later).
PNPM_VERSION=${PNPM_VERSION:-10.34.9}
WORK=${WORK:-$root/.cache/prometheus-ui}

case "$out" in /*) ;; *) out=$root/$out ;; esac
command -v node >/dev/null && command -v npm >/dev/null ||
  { echo "build-prometheus-ui: node and npm are needed to build Prometheus's web UI" >&2; exit 1; }

cd "$root/mixin"
$GO mod download github.com/prometheus/prometheus
read -r moddir version < <($GO list -m -f '{{.Dir}} {{.Version}}' github.com/prometheus/prometheus)
echo ">> prometheus $version web UI (node $(node --version), pnpm $PNPM_VERSION) in $WORK"

src=$WORK/src
rm -rf "$src" && mkdir -p "$WORK"
cp -r "$moddir" "$src"
chmod -R u+w "$src"
rm -rf "$src/web/ui/react-app"

if [ "$("$WORK/pnpm/node_modules/.bin/pnpm" --version 2>/dev/null)" != "$PNPM_VERSION" ]; then
  npm install --prefix "$WORK/pnpm" --no-save --no-audit --no-fund --loglevel=error "pnpm@$PNPM_VERSION"
fi
export PATH=$WORK/pnpm/node_modules/.bin:$PATH

cd "$src/web/ui"
# The lockfile pins every package; the store (hard-linked into node_modules) stays under $WORK.
pnpm install --frozen-lockfile --reporter=append-only --store-dir "$WORK/store" --cache-dir "$WORK/pnpm-cache"
echo ">> npm packages installed (${SECONDS}s); node_modules: $(du -sh node_modules | cut -f1)"
CI="" pnpm run build:mantine-ui
echo ">> web UI built (${SECONDS}s)"

cd "$src"
bash scripts/compress_assets.sh
test -s web/ui/static/mantine-ui/index.html.gz ||
  { echo "build-prometheus-ui: no web/ui/static/mantine-ui/index.html.gz after the UI build" >&2; exit 1; }

# The module's own go.mod and go.sum: the dependency versions of the release (the same as
# mixin/go.mod's, so the plain build's compiled packages are reused). VERSION is the release's.
GOWORK=off GOFLAGS=-mod=readonly $GO build -buildvcs=false -tags builtinassets \
  -ldflags "-X github.com/prometheus/common/version.Version=$(cat VERSION) -X github.com/prometheus/common/version.Revision=$version -X github.com/prometheus/common/version.Branch=module" \
  -o "$out.tmp" ./cmd/prometheus
mv "$out.tmp" "$out"
echo ">> prometheus compiled (${SECONDS}s); $WORK: $(du -sh "$WORK" | cut -f1) before clean-up"

if [ -z "${KEEP_UI_WORK:-}" ]; then
  rm -rf "$src" "$WORK/store" "$WORK/pnpm-cache"
fi
echo ">> $out: prometheus $(cat "$moddir/VERSION") with the web UI embedded"
