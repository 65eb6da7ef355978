// Dashboards, one file each, and the catalogue of the seed panels they replace (seed-panels: the
// PD dashboards' 85 panels; engine-panels: the vLLM / SGLang panels of the other seeds).
(import 'seed-panels.libsonnet') +
(import 'engine-panels.libsonnet') +
(import 'kv-fabric-panels.libsonnet') +
(import 'pd-performance.libsonnet') +
(import 'pd-network.libsonnet') +
(import 'engine.libsonnet') +
(import 'gpu-fabric.libsonnet') +
(import 'lora-canary.libsonnet')
