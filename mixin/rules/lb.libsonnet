// The in-house load balancer's watched endpoints (sources.loadBalancer): the triple label_replace
// that splits "ip:port[:dp_rank]" runs once here instead of at every dashboard refresh.
{
  local c = $._config,
  local lb = c.lbEndpointLabel,

  prometheusRules+:: {
    groups+: if !c.sources.loadBalancer then [] else [{
      name: 'llm-lb.rules',
      rules: [{
        record: 'pool_endpoint:glm_watched_endpoints:active',
        expr: |||
          label_replace(label_replace(label_replace(
            sum by (%(cl)s, job, pool, %(lb)s) (glm_watched_endpoints{%(sel)s}) > 0,
            "endpoint_ip", "$1", "%(lb)s", "%(re)s"),
            "endpoint_port", "$2", "%(lb)s", "%(re)s"),
            "dp_rank", "$3", "%(lb)s", "%(re)s")
        ||| % { cl: c.clusterLabel, lb: lb, sel: c.lbSelector, re: c.lbEndpointRegex },
      }],
    }],
  },
}
