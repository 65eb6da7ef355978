// The $pool variable of the PD dashboards (seeds profile), on the fixture's load balancer: prefill
// endpoints without a pool on 10.0.0.1 and 10.0.0.2, the default pool "p1;p2;p3;;;" on 10.0.0.3, a
// canary pool "p1;p2;p3;canary;;" on 10.0.0.5. The "PD Instance" panels with $pool as Grafana
// substitutes it (All, one pool, any pool), against hand-counted instances and the seed's own query.
{
  local c = $._config,
  local panel(i) = [p for p in $.pdPanels if p.index == i][0],
  local at(q, pool, samples) = {
    eval_time: '10m',
    expr: $.subst(q, { pool: pool }),
    exp_samples: samples,
  },
  local one(v) = [{ labels: '{}', value: v }],

  poolChecks:: if !c.sources.loadBalancer then [] else [
    // All: the seed's default selection, the endpoints without a pool and the default pool's; not
    // the canary: 3 instances.
    at(panel(0).new, c.lbPoolAllRegex, one(3)),
    // The seed's query with $pool1..3 = p1, p2, p3 agrees.
    at(panel(0).seed, c.lbPoolAllRegex, one(3)),
    // What "All" meant before (pool=~".*"): the canary counted, 4.
    at('count(group by (endpoint_ip, endpoint_port) (pool_endpoint:glm_watched_endpoints:active{pool=~".*"}))', '', one(4)),
    // "Default pool plus unlabelled endpoints" chosen by hand: 3 instances on 10.0.0.1-3 (each
    // prefill node two DP ranks of one instance).
    at(panel(0).new, 'p1;p2;p3;;;', one(3)),
    at(panel(1).new, 'p1;p2;p3;;;', [{ labels: '{endpoint_ip="10.0.0.1"}', value: 1 }, { labels: '{endpoint_ip="10.0.0.2"}', value: 1 }, { labels: '{endpoint_ip="10.0.0.3"}', value: 1 }]),
    // The canary chosen: the endpoints without a pool and the canary's.
    at(panel(1).new, 'p1;p2;p3;canary;;', [{ labels: '{endpoint_ip="10.0.0.1"}', value: 1 }, { labels: '{endpoint_ip="10.0.0.2"}', value: 1 }, { labels: '{endpoint_ip="10.0.0.5"}', value: 1 }]),
    // Both pools (Grafana's multi-value format "(a|b)"): 4.
    at(panel(0).new, '(p1;p2;p3;;;|p1;p2;p3;canary;;)', one(4)),
  ],
}
