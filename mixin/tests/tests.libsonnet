// The test generators, mixed into a rendered profile only (render.libsonnet), never into the
// object users import. Each yields a promtool test file; $._paths says where the rendered rules
// and alerts lie relative to it.
(import 'panels.libsonnet') +
(import 'fixes.libsonnet') +
(import 'pool.libsonnet') +
(import 'gpm.libsonnet') +
(import 'workloads.libsonnet') +
(import 'kv-fabric.libsonnet') +
(import 'alerts.libsonnet') +
(import 'lora.libsonnet')
