// The seed dashboards' setup (shared/seeds/pd-dashboard-queries.md): clusters labelled `region`,
// SGLang P/D jobs named "<namespace>/<app>-<prefill|decode>", node_exporter's InfiniBand counters,
// cAdvisor and the in-house load balancer (glm_watched_endpoints). Rendered to profiles/seeds/;
// use it as
//   (import 'llm-node-exporter-mixin/mixin.libsonnet') + (import 'llm-node-exporter-mixin/profiles/seeds.libsonnet')
{
  _config+:: {
    clusterLabel: 'region',
    sources+: {
      nodeExporterInfiniBand: true,
      cadvisor: true,
      loadBalancer: true,
    },
    sglangSelector: 'job=~".+-(prefill|decode)"',
    engineUpSelector: 'job=~".+-(prefill|decode)"',
    // The seed's `^($pool1);($pool2);($pool3);;;$`: pools whose three trailing fields are empty.
    // A canary pool sets one of them, so "All" leaves it out as the seed's default selection does.
    lbPoolAllRegex: '[^;]*;[^;]*;[^;]*;;;',
  },
}
