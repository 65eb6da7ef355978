(import 'config.libsonnet') +
(import 'rules.libsonnet') +
(import 'alerts.libsonnet') +
(import 'panels.libsonnet') +
(import 'panels-engine.libsonnet') +
(import 'dashboards.libsonnet') +
(import 'docs.libsonnet') +
(import 'tests/panels.libsonnet') +
(import 'tests/fixes.libsonnet') +
(import 'tests/gpm.libsonnet')
