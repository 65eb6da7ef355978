// Alerts, one file per area. A new area is a new file and one line here.
(import 'engine.libsonnet') +
(import 'gpu.libsonnet') +
(import 'gpu-efficiency.libsonnet') +
(import 'fabric.libsonnet') +
(import 'kv-fabric.libsonnet') +
(import 'exporter.libsonnet') +
(import 'lora.libsonnet')
