// kube-state-metrics joins: each pod's workload, computed once, for every per-workload rule and panel.
// Recorded under the pack's own names (llm_kube_pod_owner): kubernetes-mixin records
// namespace_workload_pod:kube_pod_owner:relabel with other labels, and two series under one name
// would break both packs' group_left joins (mixin/testdata/standard-mixin-records.txt).
//
// Workload kinds, one series per pod:
//   deployment       pod -> ReplicaSet -> Deployment
//   leaderworkerset  pods carrying leaderworkerset.sigs.k8s.io/name (kube_pod_labels, once
//                    allow-listed in kube-state-metrics; docs/install.md). LWS pods belong to a
//                    leader StatefulSet and one worker StatefulSet per group: without the label
//                    they fall back to statefulset, one workload per StatefulSet.
//   statefulset, daemonset
//   barepod          no owner: the pod is its own workload
// app and role from the workload's name (workloadRoleRegex).
local p = import '../lib/promql.libsonnet';

{
  local c = $._config,
  local cl = c.clusterLabel,
  local nl = c.nodeLabel,
  local knl = c.kubeStateMetricsNodeLabel,
  local ksm = c.kubeStateMetricsSelector,
  local lws = c.lwsNameLabel,
  local wre = c.workloadRoleRegex,

  local owned(e) =
    |||
      label_replace(label_replace(label_replace(
        max by (%(cl)s, namespace, workload, pod) (
          %(e)s
        ),
        "app", "$1", "workload", "(.*)"),
        "app", "$1", "workload", "%(wre)s"),
        "role", "$2", "workload", "%(wre)s")
    ||| % { cl: cl, wre: wre, e: std.strReplace(std.rstripChars(e, '\n'), '\n', '\n    ') },
  local record(kind, e) = {
    record: 'namespace_workload_pod:llm_kube_pod_owner:relabel',
    expr: owned(e),
    labels: { workload_type: kind },
  },
  local lwsPods = 'kube_pod_labels{%s, %s!=""}' % [ksm, lws],

  local workloadRules = [
    record('deployment', |||
      label_replace(
        label_replace(kube_pod_owner{%(ksm)s, owner_kind="ReplicaSet"}, "replicaset", "$1", "owner_name", "(.*)")
        * on (%(cl)s, replicaset, namespace) group_left (owner_name)
        topk by (%(cl)s, replicaset, namespace) (
          1, max by (%(cl)s, replicaset, namespace, owner_name) (kube_replicaset_owner{%(ksm)s, owner_kind="Deployment"})
        ),
        "workload", "$1", "owner_name", "(.*)"
      )
    ||| % { cl: cl, ksm: ksm }),
    record('leaderworkerset', 'label_replace(%s, "workload", "$1", "%s", "(.+)")' % [lwsPods, lws]),
    record('statefulset', |||
      label_replace(kube_pod_owner{%(ksm)s, owner_kind="StatefulSet"}, "workload", "$1", "owner_name", "(.+)")
      unless on (%(cl)s, namespace, pod)
      %(lws)s
    ||| % { cl: cl, ksm: ksm, lws: lwsPods }),
    record('daemonset', 'label_replace(kube_pod_owner{%s, owner_kind="DaemonSet"}, "workload", "$1", "owner_name", "(.+)")' % ksm),
    // kube-state-metrics gives a pod without owner references empty owner labels.
    record('barepod', 'label_replace(kube_pod_owner{%s, owner_kind="", owner_name=""}, "workload", "$1", "pod", "(.+)")' % ksm),
  ],

  local podNode =
    if nl == knl then 'kube_pod_info{%s, %s!=""}' % [ksm, knl]
    else 'label_replace(kube_pod_info{%s, %s!=""}, "%s", "$1", "%s", "(.*)")' % [ksm, knl, nl, knl],

  prometheusRules+:: {
    groups+: [{
      name: 'llm-kube.rules',
      rules: workloadRules + [{
        // ... plus the node the pod runs on.
        record: 'node_namespace_workload_pod:llm_kube_pod_owner:relabel',
        expr: |||
          namespace_workload_pod:llm_kube_pod_owner:relabel
          * on (%(cl)s, namespace, pod) group_left (%(nl)s)
          topk by (%(cl)s, namespace, pod) (1, max by (%(cl)s, namespace, pod, %(nl)s) (%(node)s))
        ||| % { cl: cl, nl: nl, node: podNode },
      }],
    }],
  },
}
