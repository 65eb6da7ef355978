// promtool tests of the pod -> workload join (rules/kube.libsonnet) for every workload kind, and of
// the per-workload GPU panels over it, values hand-computed in the comments. Namespace ml runs:
//   chat-prefill     Deployment (ReplicaSet chat-prefill-7f9c), one pod
//   glm-decode       LeaderWorkerSet of 2 groups x 2 pods (leader StatefulSet glm-decode, worker
//                    StatefulSets glm-decode-0 and glm-decode-1), its pods labelled
//                    leaderworkerset.sigs.k8s.io/name, allow-listed in kube-state-metrics
//   kimi-decode      the same LWS shape without the allow-listed label: joined to its StatefulSets
//   glm-prefill      StatefulSet of 2 pods
//   llm-node-exporter DaemonSet; debug-shell a bare pod
// Every pod has one GPU; the glm pods run SGLang engines seen by llm-node-exporter.
{
  local c = $._config,
  local cl = c.clusterLabel,
  local nl = c.nodeLabel,
  local knl = c.kubeStateMetricsNodeLabel,
  local steps = 40,
  local lbl(o) = '{' + std.join(', ', ['%s="%s"' % [k, o[k]] for k in std.objectFields(o)]) + '}',
  local gauge(name, labels, v) = { series: name + lbl(labels), values: '%sx%d' % [v, steps] },
  local counter(name, labels, inc) = { series: name + lbl(labels), values: '0+%sx%d' % [inc, steps] },
  local near(q, v) = { eval_time: '10m', expr: 'count(abs((%s) - %s) <= 1e-9 * %s)' % [q, v, v], exp_samples: [{ labels: '{}', value: 1 }] },

  local ksmBase = { [cl]: 'r1', job: 'kube-state-metrics', namespace: 'ml' },
  local lwsLabel = { [c.lwsNameLabel]: 'glm-decode' },
  // pod, owner kind, owner name, extra kube_pod_labels labels, node, engine role ('' = none), tensor activity
  local pods = [
    ['chat-prefill-7f9c-x2v4q', 'ReplicaSet', 'chat-prefill-7f9c', {}, 'n1', '', ''],
    ['glm-decode-0', 'StatefulSet', 'glm-decode', lwsLabel, 'n2', 'decode', '0.2'],
    ['glm-decode-0-1', 'StatefulSet', 'glm-decode-0', lwsLabel, 'n3', 'decode', '0.4'],
    ['glm-decode-1', 'StatefulSet', 'glm-decode', lwsLabel, 'n4', 'decode', '0.6'],
    ['glm-decode-1-1', 'StatefulSet', 'glm-decode-1', lwsLabel, 'n5', 'decode', '0.8'],
    ['kimi-decode-0', 'StatefulSet', 'kimi-decode', {}, 'n6', '', ''],
    ['kimi-decode-0-1', 'StatefulSet', 'kimi-decode-0', {}, 'n7', '', ''],
    ['glm-prefill-0', 'StatefulSet', 'glm-prefill', {}, 'n8', 'prefill', '0.9'],
    ['glm-prefill-1', 'StatefulSet', 'glm-prefill', {}, 'n9', 'prefill', '0.7'],
    ['llm-node-exporter-b7x2k', 'DaemonSet', 'llm-node-exporter', {}, 'n1', '', ''],
    ['debug-shell', '', '', {}, 'n1', '', ''],
  ],
  local ksm = std.flattenArrays([
    [
      gauge('kube_pod_owner', ksmBase { pod: p[0], owner_kind: p[1], owner_name: p[2], owner_is_controller: if p[1] == '' then '' else 'true' }, 1),
      gauge('kube_pod_labels', ksmBase { pod: p[0], uid: 'uid-' + p[0] } + p[3], 1),
      gauge('kube_pod_info', ksmBase { pod: p[0], [knl]: p[4], uid: 'uid-' + p[0] }, 1),
    ]
    for p in pods
  ]) + [gauge('kube_replicaset_owner', ksmBase { replicaset: 'chat-prefill-7f9c', owner_kind: 'Deployment', owner_name: 'chat-prefill', owner_is_controller: 'true' }, 1)],
  local ex(p) = { [cl]: 'r1', [nl]: p[4], job: 'llm-node-exporter', instance: p[4] + ':9836', namespace: 'ml', pod: p[0], container: 'engine', engine: 'sglang', role: p[5] },
  local gpus = std.flattenArrays([
    [
      gauge('llm_gpu_tensor_active_ratio', ex(p) { gpu: '0', uuid: 'GPU-' + p[0], dp_rank: '0', tp_rank: '0', gpu_instance: '' }, p[6]),
      gauge('llm_rank_info', ex(p) { gpu: '0', uuid: 'GPU-' + p[0], dp_rank: '0', tp_rank: '0' }, 1),
    ]
    for p in pods
    if p[5] != ''
  ]),
  // The leaders of the LWS groups serve the requests: 10 and 20 generated tokens per second.
  local tokens = [
    counter('llm_engine_generation_tokens_total', ex(pods[1]) { model: 'glm', dp_rank: '0', tp_rank: '' }, 150),
    counter('llm_engine_generation_tokens_total', ex(pods[3]) { model: 'glm', dp_rank: '0', tp_rank: '' }, 300),
  ],

  local owner(pod, workload, kind, app, role) = {
    eval_time: '10m',
    expr: 'namespace_workload_pod:llm_kube_pod_owner:relabel{pod="%s"}' % pod,
    exp_samples: [{
      labels: '{__name__="namespace_workload_pod:llm_kube_pod_owner:relabel", %s="r1", namespace="ml", pod="%s", workload="%s", workload_type="%s", app="%s"%s}' % [cl, pod, workload, kind, app, if role == '' then '' else ', role="%s"' % role],
      value: 1,
    }],
  },
  // A dashboard panel's query, its variables set for namespace ml.
  local panelQuery(dashboard, title, i=0) =
    local q = [p for p in $.grafanaDashboards[dashboard].panels if p.title == title][0].targets[i].expr;
    std.strReplace(std.strReplace(q, '$' + cl, '.*'), '$namespace', 'ml'),

  workloadsTest:: {
    rule_files: [$._paths.rules],
    evaluation_interval: c.rateWindow,
    group_eval_order: [g.name for g in $.prometheusRules.groups],
    tests: [{
      name: 'pod -> workload join for every workload kind, hand-computed',
      interval: '15s',
      input_series: ksm + gpus + tokens,
      promql_expr_test: [
        owner('chat-prefill-7f9c-x2v4q', 'chat-prefill', 'deployment', 'chat', 'prefill'),
        // Leader and worker pods of one LWS are one workload.
        owner('glm-decode-0', 'glm-decode', 'leaderworkerset', 'glm', 'decode'),
        owner('glm-decode-1-1', 'glm-decode', 'leaderworkerset', 'glm', 'decode'),
        // Without the allow-listed label: one workload per StatefulSet (the worker StatefulSet's
        // name matches no role).
        owner('kimi-decode-0', 'kimi-decode', 'statefulset', 'kimi', 'decode'),
        owner('kimi-decode-0-1', 'kimi-decode-0', 'statefulset', 'kimi-decode-0', ''),
        owner('glm-prefill-1', 'glm-prefill', 'statefulset', 'glm', 'prefill'),
        owner('llm-node-exporter-b7x2k', 'llm-node-exporter', 'daemonset', 'llm-node-exporter', ''),
        owner('debug-shell', 'debug-shell', 'barepod', 'debug-shell', ''),
        // One series per pod, every pod joined.
        { eval_time: '10m', expr: 'count(namespace_workload_pod:llm_kube_pod_owner:relabel)', exp_samples: [{ labels: '{}', value: std.length(pods) }] },
        { eval_time: '10m', expr: 'count by (pod) (namespace_workload_pod:llm_kube_pod_owner:relabel) > 1', exp_samples: [] },
        // ... and its node.
        {
          eval_time: '10m',
          expr: 'node_namespace_workload_pod:llm_kube_pod_owner:relabel{pod="glm-decode-0-1"}',
          exp_samples: [{ labels: '{__name__="node_namespace_workload_pod:llm_kube_pod_owner:relabel", %s="r1", %s="n3", namespace="ml", pod="glm-decode-0-1", workload="glm-decode", workload_type="leaderworkerset", app="glm", role="decode"}' % [cl, nl], value: 1 }],
        },
        // Per-workload GPU panels: the LWS's four GPUs (0.2 + 0.4 + 0.6 + 0.8) / 4 and the
        // StatefulSet's two (0.9 + 0.7) / 2, read by the dashboard's own query.
        near('namespace_workload:llm_gpu_tensor_active_ratio:avg{workload="glm-decode", workload_type="leaderworkerset", role="decode"}', '0.5'),
        near(panelQuery('llm-gpu-fabric.json', 'Prefill tensor efficiency / decode memory bandwidth per workload') + ' and on (workload) {workload="glm-prefill", workload_type="statefulset"}', '0.8'),
        // Tokens per GPU-second of the LWS: 30 tokens/s over the GPUs of all four pods, workers
        // included: 7.5.
        near(panelQuery('llm-gpu-fabric.json', 'Generated tokens per GPU-second per workload') + ' and on (workload) {workload="glm-decode"}', '7.5'),
      ],
    }],
  },
}
