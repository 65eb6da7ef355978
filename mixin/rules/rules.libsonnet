// Recording rules, one file per area (as kubernetes-mixin's rules/). Naming: level:metric:operations,
// the level named by the labels kept (docs/rules.md). A new area is a new file here, one line below;
// an area on an optional source renders no group when _config.sources says it is absent.
(import 'engine-latency.libsonnet') +
(import 'engine-sizes.libsonnet') +
(import 'engine-throughput.libsonnet') +
(import 'engine-state.libsonnet') +
(import 'engine-pd.libsonnet') +
(import 'engine-slo.libsonnet') +
(import 'lb.libsonnet') +
(import 'kube.libsonnet') +
(import 'fabric-node-exporter.libsonnet') +
(import 'fabric.libsonnet') +
(import 'pod-network.libsonnet') +
(import 'exporter-engine.libsonnet') +
(import 'exporter-gpu.libsonnet') +
(import 'exporter-gpm.libsonnet') +
(import 'kv-fabric.libsonnet') +
(import 'lora.libsonnet')
