// The 85 panel queries of the seed "PD Performance" and "PD Network" dashboards
// (shared/seeds/pd-dashboard-queries.md), whitespace-collapsed, numbered from 0.
[
  // 0
  { dashboard: 'PD Performance', title: 'PD Instance', description: '', query: 'count( group by (label0,label1) ( label_replace( label_replace( label_replace( sum by (exported_endpoint)( glm_watched_endpoints{region=~"$region",job=~"$namespace/$app-lb",cluster="",pool =~ "^$|^($pool1);($pool2);($pool3);;;$"} ) > 0, "label0", "$1", "exported_endpoint", "^([^:]+):([^:]+)(?::([^:]+))?$" ), "label1", "$2", "exported_endpoint", "^([^:]+):([^:]+)(?::([^:]+))?$" ), "label2", "$3", "exported_endpoint", "^([^:]+):([^:]+)(?::([^:]+))?$" ) ) )' },
  // 1
  { dashboard: 'PD Performance', title: 'PD Instance', description: '', query: 'count by (label0)( count by (label0,label1) ( label_replace( label_replace( label_replace( sum by (exported_endpoint)( glm_watched_endpoints{region=~"$region",job=~"$namespace/$app-lb",cluster="",pool =~ "^$|^($pool1);($pool2);($pool3);;;$"} ) > 0, "label0", "$1", "exported_endpoint", "^([^:]+):([^:]+)(?::([^:]+))?$" ), "label1", "$2", "exported_endpoint", "^([^:]+):([^:]+)(?::([^:]+))?$" ), "label2", "$3", "exported_endpoint", "^([^:]+):([^:]+)(?::([^:]+))?$" ) ) )' },
  // 2
  { dashboard: 'PD Performance', title: 'Pods by dprank', description: '', query: 'count(sum(glm_watched_endpoints{region=~"$region",job=~"$namespace/$app-lb",cluster="",pool =~ "^$|^($pool1);($pool2);($pool3);;;$"}) by (exported_endpoint) > 0)' },
  // 3
  { dashboard: 'PD Performance', title: 'Pods by dprank', description: '', query: 'count by (label0) ( label_replace( label_replace( label_replace( sum by (exported_endpoint)( glm_watched_endpoints{region=~"$region",job=~"$namespace/$app-lb",cluster="",pool =~ "^$|^($pool1);($pool2);($pool3);;;$"} ) > 0, "label0", "$1", "exported_endpoint", "^([^:]+):([^:]+)(?::([^:]+))?$" ), "label1", "$2", "exported_endpoint", "^([^:]+):([^:]+)(?::([^:]+))?$" ), "label2", "$3", "exported_endpoint", "^([^:]+):([^:]+)(?::([^:]+))?$" ) )' },
  // 4
  { dashboard: 'PD Performance', title: '[Prefill] E2E Request Latency in $region', description: 'End-to-end request latency in seconds (Prefill-Decode disaggregated)', query: 'sum by (job)(rate(sglang:e2e_request_latency_seconds_sum{region=~"$region",cluster="",job=~"$namespace/$app-prefill"}[$__rate_interval])) / sum by (job)(rate(sglang:e2e_request_latency_seconds_count{region=~"$region",cluster="",job=~"$namespace/$app-prefill"}[$__rate_interval]))' },
  // 5
  { dashboard: 'PD Performance', title: '[Prefill] SGL Request', description: 'Number of requests processed. (Prefill-Decode disaggregated)', query: 'sum( rate( sglang:num_requests_total{region=~"$region",job=~"$namespace/$app-prefill",cluster=""}[$__rate_interval] ) ) by (region)' },
  // 6
  { dashboard: 'PD Performance', title: '[Decode] Time To First Token', description: 'time to first token in seconds. (Prefill-Decode disaggregated) <br>In PD-disaggregated mode, decode instance is responsible for output the first token', query: 'histogram_quantile( 0.99, sum by (le) ( rate( sglang:time_to_first_token_seconds_bucket {cluster="",job=~"$namespace/$app-decode",region=~"$region"}[1m] ) ) )' },
  // 7
  { dashboard: 'PD Performance', title: '[Decode] First Token Latency (By Cluster)', description: 'first-token latency in seconds.  (Prefill-Decode disaggregated)', query: 'sum(rate(sglang:time_to_first_token_seconds_sum{region=~"$region",cluster="",job=~"$namespace/$app-decode"}[$__rate_interval])) by (region) / sum(rate(sglang:time_to_first_token_seconds_count{region=~"$region",cluster="",job=~"$namespace/$app-decode"}[$__rate_interval])) by (region) * 1000' },
  // 8
  { dashboard: 'PD Performance', title: '[Decode] E2E Request Latency in $region', description: 'End-to-end request latency in seconds (Prefill-Decode disaggregated)', query: 'histogram_quantile(0.99, sum by(le) (rate(sglang:e2e_request_latency_seconds_bucket{region=~"$region",cluster="",job=~"$namespace/$app-decode"}[$__rate_interval])))' },
  // 9
  { dashboard: 'PD Performance', title: '[Decode] SGL Request', description: 'Number of requests processed. (Prefill-Decode disaggregated)', query: 'sum( rate( sglang:num_requests_total{region=~"$region",job=~"$namespace/$app-decode",cluster=""}[$__rate_interval] ) ) by (region)' },
  // 10
  { dashboard: 'PD Performance', title: '[Decode] Inter Token Latency', description: 'inter-token latency in seconds. inter-token即输出token间延迟，即decode latency (Prefill-Decode disaggregated)', query: 'sum(rate(sglang:inter_token_latency_seconds_sum{region=~"$region",cluster="",job=~"$namespace/$app-decode"}[$__rate_interval])) / sum(rate(sglang:inter_token_latency_seconds_count{region=~"$region",cluster="",job=~"$namespace/$app-decode"}[$__rate_interval])) * 1000' },
  // 11
  { dashboard: 'PD Performance', title: '[Decode] Inter Token Latency (By Cluster)', description: 'inter-token latency in seconds. inter-token即输出token间延迟，即decode latency (Prefill-Decode disaggregated)', query: 'sum(rate(sglang:inter_token_latency_seconds_sum{region=~"$region",cluster="",job=~"$namespace/$app-prefill"}[$__rate_interval])) by (region) / sum(rate(sglang:inter_token_latency_seconds_count{region=~"$region",cluster="",job=~"$namespace/$app-prefill"}[$__rate_interval])) by (region) * 1000' },
  // 12
  { dashboard: 'PD Performance', title: '[Prefill] Running Requests in $region', description: 'The number of running requests. (Prefill-Decode disaggregated)', query: 'avg( sglang:num_running_reqs{region=~"$region",job=~"$namespace/$app-prefill",cluster=""} )' },
  // 13
  { dashboard: 'PD Performance', title: '[Prefill] Running Request', description: '', query: 'max(sglang:num_running_reqs{region=~"$region",job=~"$namespace/$app-prefill",cluster=""}) by (pod)' },
  // 14
  { dashboard: 'PD Performance', title: '[Prefill] Avg Queue Size', description: 'The number of requests in the waiting queue. (Prefill-Decode disaggregated)', query: 'avg(sglang:num_queue_reqs{region=~"$region",job=~"$namespace/$app-prefill",cluster=""})' },
  // 15
  { dashboard: 'PD Performance', title: '[Prefill] Queue Size', description: '', query: 'max(sglang:num_queue_reqs{region=~"$region",job=~"$namespace/$app-prefill",cluster=""}) by (pod)' },
  // 16
  { dashboard: 'PD Performance', title: '[Decode] Running Requests in $region', description: 'The number of running requests. (Prefill-Decode disaggregated)', query: 'avg( sglang:num_running_reqs{region=~"$region",job=~"$namespace/$app-decode",cluster=""} )' },
  // 17
  { dashboard: 'PD Performance', title: '[Decode] Running Request', description: '', query: 'max(sglang:num_running_reqs{region=~"$region",job=~"$namespace/$app-decode",cluster=""}) by (pod)' },
  // 18
  { dashboard: 'PD Performance', title: '[Decode] Avg Queues Size', description: 'The number of requests in the waiting queue. (Prefill-Decode disaggregated)', query: 'avg(sglang:num_queue_reqs{region=~"$region",job=~"$namespace/$app-decode",cluster=""})' },
  // 19
  { dashboard: 'PD Performance', title: '[Decode] Transfer Queue Size', description: '', query: 'max(sglang:num_decode_transfer_queue_reqs{region=~"$region",job=~"$namespace/$app-decode",cluster=""}) by (pod)' },
  // 20
  { dashboard: 'PD Performance', title: '[Prefill] Queue Size By Instance', description: 'The number of requests in the waiting queue. (Prefill-Decode disaggregated)', query: 'avg by (pod)(sglang:num_queue_reqs{region=~"$region",job=~"$namespace/$app-prefill",cluster=""})' },
  // 21
  { dashboard: 'PD Performance', title: '[Prefill] Pre-Alloc Queue Size By Instance', description: 'The number of requests in the waiting queue. (Prefill-Decode disaggregated)', query: 'avg by (pod)(sglang:num_prefill_prealloc_queue_reqs{region=~"$region",job=~"$namespace/$app-prefill",cluster=""})' },
  // 22
  { dashboard: 'PD Performance', title: '[Prefill] Inflight Queue Size By Instance', description: 'The number of requests in the transferring queue. (Prefill-Decode disaggregated)', query: 'avg by (pod) (sglang:num_prefill_inflight_queue_reqs{region=~"$region",job=~"$namespace/$app-prefill",cluster=""})' },
  // 23
  { dashboard: 'PD Performance', title: '[Decode] Queue Size', description: 'The number of requests in the waiting queue. (Prefill-Decode disaggregated)', query: 'sum by (pod) (sglang:num_queue_reqs{region=~"$region",job=~"$namespace/$app-decode",cluster=""})' },
  // 24
  { dashboard: 'PD Performance', title: '[Decode] Pre-Alloc Queue Size', description: 'The number of requests in the waiting queue. (Prefill-Decode disaggregated)', query: 'sum by (pod)(sglang:num_decode_prealloc_queue_reqs{region=~"$region",job=~"$namespace/$app-decode",cluster=""})' },
  // 25
  { dashboard: 'PD Performance', title: '[Decode] Transfer Queue Size', description: 'The number of requests in the waiting queue. (Prefill-Decode disaggregated)', query: 'sum by (pod) (sglang:num_decode_transfer_queue_reqs{region=~"$region",job=~"$namespace/$app-decode",cluster=""})' },
  // 26
  { dashboard: 'PD Performance', title: '[Prefill] Bootstrap Latency', description: 'Prefill-side bootstrap latency (Prefill-Decode disaggregated)', query: 'avg(rate(sglang:per_stage_req_latency_seconds_sum{region=~"$region",job=~"$namespace/$app-prefill",stage="prefill_bootstrap"})[$__interval] / rate(sglang:per_stage_req_latency_seconds_count{region=~"$region",job=~"$namespace/$app-prefill",stage="prefill_bootstrap"})[$__interval])' },
  // 27
  { dashboard: 'PD Performance', title: '[Prefill] Waiting Latency', description: 'Prefill-side waiting latency, request is bootstrapped but waiting other request forwarded (Prefill-Decode disaggregated)', query: 'avg(rate(sglang:per_stage_req_latency_seconds_sum{region=~"$region",job=~"$namespace/$app-prefill",stage="prefill_waiting"})[$__interval] / rate(sglang:per_stage_req_latency_seconds_count{region=~"$region",job=~"$namespace/$app-prefill",stage="prefill_waiting"})[$__interval])' },
  // 28
  { dashboard: 'PD Performance', title: '[Prefill] Forward Latency', description: 'Prefill-side forward latency (Prefill-Decode disaggregated)', query: 'avg(rate(sglang:per_stage_req_latency_seconds_sum{region=~"$region",job=~"$namespace/$app-prefill",stage="prefill_forward"})[$__interval] / rate(sglang:per_stage_req_latency_seconds_count{region=~"$region",job=~"$namespace/$app-prefill",stage="prefill_forward"})[$__interval])' },
  // 29
  { dashboard: 'PD Performance', title: '[Prefill] Transfer KV Cache Latency', description: 'Prefill-side KV cache transfer latency (Prefill-Decode disaggregated)', query: 'avg(rate(sglang:per_stage_req_latency_seconds_sum{region=~"$region",job=~"$namespace/$app-prefill",stage="prefill_transfer_kv_cache"})[$__interval] / rate(sglang:per_stage_req_latency_seconds_count{region=~"$region",job=~"$namespace/$app-prefill",stage="prefill_transfer_kv_cache"})[$__interval])' },
  // 30
  { dashboard: 'PD Performance', title: '[Decode] Prepare Latency', description: 'Decode-side prepare latency, prepare is the fisrt stage in decode instance, before bootstrap.', query: 'avg(rate(sglang:per_stage_req_latency_seconds_sum{region=~"$region",job=~"$namespace/$app-decode",stage="decode_prepare"})[$__interval] / rate(sglang:per_stage_req_latency_seconds_count{region=~"$region",job=~"$namespace/$app-decode",stage="decode_prepare"})[$__interval])' },
  // 31
  { dashboard: 'PD Performance', title: '[Decode] Bootstrap Latency', description: 'Decode-side bootstrap latency (Prefill-Decode disaggregated)', query: 'avg(rate(sglang:per_stage_req_latency_seconds_sum{region=~"$region",job=~"$namespace/$app-decode",stage="decode_bootstrap"})[$__interval] / rate(sglang:per_stage_req_latency_seconds_count{region=~"$region",job=~"$namespace/$app-decode",stage="decode_bootstrap"})[$__interval])' },
  // 32
  { dashboard: 'PD Performance', title: '[Decode] Transferred Latency', description: 'Decode-side latency before KV cache is transferred. This includes all latency in prefill to bootstrap+forward+transfer. See prefill-side transfer latency for pure transfer latency.', query: 'avg(rate(sglang:per_stage_req_latency_seconds_sum{region=~"$region",job=~"$namespace/$app-decode",stage="decode_transferred"})[$__interval] / rate(sglang:per_stage_req_latency_seconds_count{region=~"$region",job=~"$namespace/$app-decode",stage="decode_transferred"})[$__interval])' },
  // 33
  { dashboard: 'PD Performance', title: '[Decode] Waiting Latency', description: 'Decode-side waiting latency, request is bootstrapped but waiting for batching with other request to forward, if this is high, typically the token usage is full or max_running_request is hit.', query: 'avg(rate(sglang:per_stage_req_latency_seconds_sum{region=~"$region",job=~"$namespace/$app-decode",stage="decode_waiting"})[$__interval] / rate(sglang:per_stage_req_latency_seconds_count{region=~"$region",job=~"$namespace/$app-decode",stage="decode_waiting"})[$__interval])' },
  // 34
  { dashboard: 'PD Performance', title: '[Prefill] Bootstrap Latency By Instance', description: 'Prefill-side bootstrap latency (Prefill-Decode disaggregated)', query: 'avg by (pod) (rate(sglang:per_stage_req_latency_seconds_sum{region=~"$region",job=~"$namespace/$app-prefill",stage="prefill_bootstrap"})[$__rate_interval] / rate(sglang:per_stage_req_latency_seconds_count{region=~"$region",job=~"$namespace/$app-prefill",stage="prefill_bootstrap"})[$__rate_interval])' },
  // 35
  { dashboard: 'PD Performance', title: '[Prefill] Forward Latency By Instance', description: 'Prefill-side forward latency (Prefill-Decode disaggregated)', query: 'avg by (pod) (rate(sglang:per_stage_req_latency_seconds_sum{region=~"$region",job=~"$namespace/$app-prefill",stage="prefill_forward"})[$__interval] / rate(sglang:per_stage_req_latency_seconds_count{region=~"$region",job=~"$namespace/$app-prefill",stage="prefill_forward"})[$__interval])' },
  // 36
  { dashboard: 'PD Performance', title: '[Prefill] Wait Latency By Instance', description: 'Prefill-side wait latency (Prefill-Decode disaggregated)', query: 'avg by (pod) (rate(sglang:per_stage_req_latency_seconds_sum{region=~"$region",job=~"$namespace/$app-prefill",stage="prefill_waiting"})[$__interval] / rate(sglang:per_stage_req_latency_seconds_count{region=~"$region",job=~"$namespace/$app-prefill",stage="prefill_waiting"})[$__interval])' },
  // 37
  { dashboard: 'PD Performance', title: '[Prefill] Transfer Latency By Instance', description: 'Prefill-side transfer latency (Prefill-Decode disaggregated)', query: 'avg by (pod) (rate(sglang:per_stage_req_latency_seconds_sum{region=~"$region",job=~"$namespace/$app-prefill",stage="prefill_transfer_kv_cache"})[$__interval] / rate(sglang:per_stage_req_latency_seconds_count{region=~"$region",job=~"$namespace/$app-prefill",stage="prefill_transfer_kv_cache"})[$__interval])' },
  // 38
  { dashboard: 'PD Performance', title: '[Decode] Transferred Latency By Instance', description: 'Decode-side latency before KV cache is transferred. This includes all latency in prefill to bootstrap+forward+transfer. See prefill-side transfer latency for pure transfer latency.', query: 'avg by (pod) (rate(sglang:per_stage_req_latency_seconds_sum{region=~"$region",job=~"$namespace/$app-decode",stage="decode_transferred"})[$__interval] / rate(sglang:per_stage_req_latency_seconds_count{region=~"$region",job=~"$namespace/$app-decode",stage="decode_transferred"})[$__interval])' },
  // 39
  { dashboard: 'PD Performance', title: '[Prefill] Token Usage in $region', description: 'indicates the KV cache memory utilization of the server.  (Prefill-Decode disaggregated)', query: 'avg(sglang:token_usage{region=~"$region",job=~"$namespace/$app-prefill",cluster=""})' },
  // 40
  { dashboard: 'PD Performance', title: '[Prefill] Token Usage (By Cluster)', description: 'indicates the KV cache memory utilization of the server.  (Prefill-Decode disaggregated)', query: 'avg(sglang:token_usage{region=~"$region",job=~"$namespace/$app-prefill",cluster=""}) by (region)' },
  // 41
  { dashboard: 'PD Performance', title: '[Prefill] Token Usage', description: 'indicates the KV cache memory utilization of the server.  (Prefill-Decode disaggregated)', query: 'max(sglang:token_usage{region=~"$region",job=~"$namespace/$app-prefill",cluster=""}) by (pod, region)' },
  // 42
  { dashboard: 'PD Performance', title: '[Prefill] Cached Tokens', description: 'Rate of number of cached prompt tokens. (Prefill-Decode disaggregated)', query: 'sum(rate(sglang:cached_tokens_total{region=~"$region",job=~"$namespace/$app-prefill",cluster=""}[$__rate_interval]))' },
  // 43
  { dashboard: 'PD Performance', title: '[Decode] Token Usage in $region', description: 'indicates the KV cache memory utilization of the server.  (Prefill-Decode disaggregated)', query: 'avg(sglang:token_usage{region=~"$region",job=~"$namespace/$app-decode",cluster=""})' },
  // 44
  { dashboard: 'PD Performance', title: '[Decode] Token Usage (By Cluster)', description: 'indicates the KV cache memory utilization of the server.  (Prefill-Decode disaggregated)', query: 'avg(sglang:token_usage{region=~"$region",job=~"$namespace/$app-decode",cluster=""}) by (region)' },
  // 45
  { dashboard: 'PD Performance', title: '[Decode] Token Usage', description: 'indicates the KV cache memory utilization of the server.  (Prefill-Decode disaggregated)', query: 'max(sglang:token_usage{region=~"$region",job=~"$namespace/$app-decode",cluster=""}) by (pod, region)' },
  // 46
  { dashboard: 'PD Performance', title: '[Prefill] Prefix Cache HitRate', description: 'The prefix cache hit rate. (Prefill-Decode disaggregated)', query: 'avg(sglang:cache_hit_rate{region=~"$region",cluster="",job=~"$namespace/$app-prefill"})' },
  // 47
  { dashboard: 'PD Performance', title: '[Prefill] Prefill Throughput in $region', description: 'Number of prefill tokens processed (Prefill-Decode disaggregated)', query: 'sum(rate(sglang:prompt_tokens_total{region=~"$region",job=~"$namespace/$app-prefill",cluster=""}[$__rate_interval]))' },
  // 48
  { dashboard: 'PD Performance', title: '[Prefill] Token Throughput / Instance (by Cluster)', description: '', query: 'avg(rate(sglang:prompt_tokens_total{region=~"$region",job=~"$namespace/$app-prefill",cluster=""}[$__rate_interval])) by (region)' },
  // 49
  { dashboard: 'PD Performance', title: '[Prefill] Thoughput', description: 'Number of prefill tokens processed. (Prefill-Decode disaggregated)', query: 'avg(rate(sglang:prompt_tokens_total{region=~"$region",job=~"$namespace/$app-prefill",cluster=""}[$__rate_interval])) by (pod, region)' },
  // 50
  { dashboard: 'PD Performance', title: '[Decode] Aborted Requests (by Cluster)', description: '', query: 'sum( rate(sglang:num_aborted_requests_total{region=~"$region",job=~"$namespace/$app-decode",cluster=""}[$__rate_interval]) ) by (region)' },
  // 51
  { dashboard: 'PD Performance', title: '[Prefill] Aborted Requests (by Cluster)', description: '', query: 'sum( rate(sglang:num_aborted_requests_total{region=~"$region",job=~"$namespace/$app-prefill",cluster=""}[$__rate_interval]) ) by (region)' },
  // 52
  { dashboard: 'PD Performance', title: '[Decode] Generation Throughput in $region', description: '', query: 'avg(rate(sglang:generation_tokens_total{region=~"$region",job=~"$namespace/$app-decode",cluster=""}[$__rate_interval]))' },
  // 53
  { dashboard: 'PD Performance', title: '[Decode] Throughput / Instance (by Cluster)', description: '', query: 'avg( sglang:gen_throughput{region=~"$region",job=~"$namespace/$app-decode",cluster=""} ) by (region)' },
  // 54
  { dashboard: 'PD Performance', title: '[Decode] Thoughput', description: 'Number of decode tokens generated.  (Prefill-Decode disaggregated)', query: 'avg(rate(sglang:prompt_tokens_total{region=~"$region",job=~"$namespace/$app-decode",cluster=""}[$__rate_interval])) by (pod, region)' },
  // 55
  { dashboard: 'PD Performance', title: '[Decode] Retracted Requests (by Cluster)', description: '', query: 'sum( rate(sglang:total_retracted_reqs{region=~"$region",job=~"$namespace/$app-prefill",cluster=""}[$__rate_interval]) ) by (region)' },
  // 56
  { dashboard: 'PD Performance', title: '[Prefill] Avg iB Xmit Speed', description: '', query: 'avg( sum by (region,node) (irate( node_infiniband_port_data_transmitted_bytes_total{ region=~"$region", device=~"mlx5_.*" }[$__rate_interval] ) * 8) * on(node) group_right(pod, namespace) ( kube_pod_info{region=~"$region"} and on(pod, namespace) ( kube_pod_owner{owner_kind="ReplicaSet", region=~"$region"} and on(owner_name, namespace) label_replace( kube_replicaset_owner{ owner_kind="Deployment", namespace=~"$namespace", region=~"$region", owner_name=~"$app-prefill", }, "owner_name", "$1", "replicaset", "(.*)" ) ) ) ) by (region, namespace, owner_name)' },
  // 57
  { dashboard: 'PD Performance', title: '[Prefill] Avg iB Xmit Packet Rate', description: '', query: 'avg( sum by (region,node) (irate( node_infiniband_port_packets_transmitted_total{ region=~"$region", device=~"mlx5_.*" }[$__rate_interval] )) * on(node) group_right(pod, namespace) ( kube_pod_info{region=~"$region"} and on(pod, namespace) ( kube_pod_owner{owner_kind="ReplicaSet", region=~"$region"} and on(owner_name, namespace) label_replace( kube_replicaset_owner{ owner_kind="Deployment", namespace=~"$namespace", region=~"$region", owner_name=~"$app-prefill", }, "owner_name", "$1", "replicaset", "(.*)" ) ) ) ) by (region, namespace, owner_name)' },
  // 58
  { dashboard: 'PD Performance', title: '[Prefill] Avg iB Xmit Speed', description: '', query: 'avg( sum by (region,node) (irate( node_infiniband_port_data_transmitted_bytes_total{ region=~"$region", device=~"mlx5_.*" }[$__rate_interval] ) * 8) * on(node) group_left(pod, namespace) ( kube_pod_info{region=~"$region"} and on(pod, namespace) ( kube_pod_owner{owner_kind="ReplicaSet", region=~"$region"} and on(owner_name, namespace) label_replace( kube_replicaset_owner{ owner_kind="Deployment", namespace=~"$namespace", region=~"$region", owner_name=~"$app-prefill", }, "owner_name", "$1", "replicaset", "(.*)" ) ) ) ) by (region, namespace, pod)' },
  // 59
  { dashboard: 'PD Performance', title: '[Decode] Accept Length Of Speculative', description: 'The average acceptance length of speculative decoding. (Prefill-Decode disaggregated)', query: 'avg by (region) (sglang:spec_accept_length{region=~"$region",job=~"$namespace/$app-decode",cluster=""})' },
  // 60
  { dashboard: 'PD Performance', title: '[Decode] Avg iB Recv Speed', description: '', query: 'avg( sum by (region,node) (irate( node_infiniband_port_data_received_bytes_total{ region=~"$region", device=~"mlx5_.*" }[$__rate_interval] ) * 8) * on(node) group_right(pod, namespace) ( kube_pod_info{region=~"$region"} and on(pod, namespace) ( kube_pod_owner{owner_kind="ReplicaSet", region=~"$region"} and on(owner_name, namespace) label_replace( kube_replicaset_owner{ owner_kind="Deployment", namespace=~"$namespace", region=~"$region", owner_name=~"$app-decode", }, "owner_name", "$1", "replicaset", "(.*)" ) ) ) ) by (region, namespace, owner_name)' },
  // 61
  { dashboard: 'PD Performance', title: '[Decode] Avg iB Recv Packet Rate', description: '', query: 'avg( sum by (region,node) (irate( node_infiniband_port_packets_received_total{ region=~"$region", device=~"mlx5_.*" }[$__rate_interval] )) * on(node) group_right(pod, namespace) ( kube_pod_info{region=~"$region"} and on(pod, namespace) ( kube_pod_owner{owner_kind="ReplicaSet", region=~"$region"} and on(owner_name, namespace) label_replace( kube_replicaset_owner{ owner_kind="Deployment", namespace=~"$namespace", region=~"$region", owner_name=~"$app-decode", }, "owner_name", "$1", "replicaset", "(.*)" ) ) ) ) by (region, namespace, owner_name)' },
  // 62
  { dashboard: 'PD Performance', title: '[Decode] Avg iB Recv Speed', description: '', query: 'avg( sum by (region,node) (irate( node_infiniband_port_data_received_bytes_total{ region=~"$region", device=~"mlx5_.*" }[$__rate_interval] ) * 8) * on(node) group_left(pod, namespace) ( kube_pod_info{region=~"$region"} and on(pod, namespace) ( kube_pod_owner{owner_kind="ReplicaSet", region=~"$region"} and on(owner_name, namespace) label_replace( kube_replicaset_owner{ owner_kind="Deployment", namespace=~"$namespace", region=~"$region", owner_name=~"$app-decode", }, "owner_name", "$1", "replicaset", "(.*)" ) ) ) ) by (region, namespace, pod)' },
  // 63
  { dashboard: 'PD Performance', title: '[Prefill] Queue Lantency', description: 'The average request queue latency for the last batch of requests in seconds.  (Prefill-Decode disaggregated)', query: 'avg(sglang:avg_request_queue_latency{region=~"$region",job=~"$namespace/$app-prefill",cluster=""})' },
  // 64
  { dashboard: 'PD Performance', title: '[Decode] Queue Lantency', description: 'The average request queue latency for the last batch of requests in seconds.  (Prefill-Decode disaggregated)', query: 'avg(sglang:avg_request_queue_latency{region=~"$region",job=~"$namespace/$app-decode",cluster=""})' },
  // 65
  { dashboard: 'PD Performance', title: '[Decode] Token Usage (By DP Rank)', description: 'indicates the KV cache memory utilization of the server.  (Prefill-Decode disaggregated)', query: 'max(sglang:token_usage{region=~"$region",job=~"$namespace/$app-decode",cluster=""}) by (region,pod,dp_rank)' },
  // 66
  { dashboard: 'PD Performance', title: '[Decode] Running Req Num (By DP Rank)', description: 'indicates the KV cache memory utilization of the server.  (Prefill-Decode disaggregated)', query: 'max(sglang:num_running_reqs{region=~"$region",job=~"$namespace/$app-decode",cluster=""}) by (region,pod,dp_rank)' },
  // 67
  { dashboard: 'PD Network', title: 'Total Pod Bandwidth', description: 'Total RX + TX bandwidth for all Decode and Prefill pods', query: 'sum( rate(container_network_receive_bytes_total{ namespace="$namespace", pod=~"$app-(decode|prefill).*" }[5m]) + rate(container_network_transmit_bytes_total{ namespace="$namespace", pod=~"$app-(decode|prefill).*" }[5m]) )' },
  // 68
  { dashboard: 'PD Network', title: 'Pod Network Receive Rate', description: '', query: 'sum( rate(container_network_receive_bytes_total{ namespace="$namespace", pod=~"$app-(decode|prefill).*" }[5m]) )' },
  // 69
  { dashboard: 'PD Network', title: 'Pod Network Transmit Rate', description: '', query: 'sum( rate(container_network_transmit_bytes_total{ namespace="$namespace", pod=~"$app-(decode|prefill).*" }[5m]) )' },
  // 70
  { dashboard: 'PD Network', title: 'Pod RX/TX Ratio', description: '', query: 'sum(rate(container_network_receive_bytes_total{namespace="$namespace",pod=~"$app-(decode|prefill).*"}[5m])) / sum(rate(container_network_transmit_bytes_total{namespace="$namespace",pod=~"$app-(decode|prefill).*"}[5m]))' },
  // 71
  { dashboard: 'PD Network', title: 'Decode Pods RX Rate per Instance', description: 'Individual RX rate for each Decode pod', query: 'sum by (pod) ( rate(container_network_receive_bytes_total{ namespace="$namespace", pod=~"$app-decode.*" }[5m]) )' },
  // 72
  { dashboard: 'PD Network', title: 'Decode Pods TX Rate per Instance', description: '', query: 'sum by (pod) ( rate(container_network_transmit_bytes_total{ namespace="$namespace", pod=~"$app-decode.*" }[5m]) )' },
  // 73
  { dashboard: 'PD Network', title: 'Prefill Pods RX Rate per Instance', description: '', query: 'sum by (pod) ( rate(container_network_receive_bytes_total{ namespace="$namespace", pod=~"$app-prefill.*" }[5m]) )' },
  // 74
  { dashboard: 'PD Network', title: 'Prefill Pods TX Rate per Instance', description: '', query: 'sum by (pod) ( rate(container_network_transmit_bytes_total{ namespace="$namespace", pod=~"$app-prefill.*" }[5m]) )' },
  // 75
  { dashboard: 'PD Network', title: 'Decode Pods RX - Max/Avg/Mean', description: '', query: 'max( sum by (pod) ( rate(container_network_receive_bytes_total{ namespace="$namespace", pod=~"$app-decode.*" }[5m]) ) )' },
  // 76
  { dashboard: 'PD Network', title: 'Decode Pods TX - Max/Avg/Mean', description: '', query: 'max( sum by (pod) ( rate(container_network_transmit_bytes_total{ namespace="$namespace", pod=~"$app-decode.*" }[5m]) ) )' },
  // 77
  { dashboard: 'PD Network', title: 'Prefill Pods RX - Max/Avg/Mean', description: '', query: 'max( sum by (pod) ( rate(container_network_receive_bytes_total{ namespace="$namespace", pod=~"$app-prefill.*" }[5m]) ) )' },
  // 78
  { dashboard: 'PD Network', title: 'Prefill Pods TX - Max/Avg/Mean', description: '', query: 'max( sum by (pod) ( rate(container_network_transmit_bytes_total{ namespace="$namespace", pod=~"$app-prefill.*" }[5m]) ) )' },
  // 79
  { dashboard: 'PD Network', title: 'IB RX（Decode Scoped)', description: '', query: 'sum by (instance, node) ( rate(node_infiniband_port_data_received_bytes_total[1m]) ) * on (node) group_left() ( count by (node) ( kube_pod_info{ namespace="$namespace", pod=~"$app-decode.*" } ) > 0 )' },
  // 80
  { dashboard: 'PD Network', title: 'IB TX（Decode Scoped)', description: '', query: 'sum by (instance, node) ( rate(node_infiniband_port_data_transmitted_bytes_total[1m]) ) * on (node) group_left() ( count by (node) ( kube_pod_info{ namespace="$namespace", pod=~"$app-decode.*" } ) > 0 )' },
  // 81
  { dashboard: 'PD Network', title: 'IB RX（Prefill Scoped)', description: '', query: 'sum by (instance, node) ( rate(node_infiniband_port_data_received_bytes_total[1m]) ) * on (node) group_left() ( count by (node) ( kube_pod_info{ namespace="$namespace", pod=~"$app-prefill.*" } ) > 0 )' },
  // 82
  { dashboard: 'PD Network', title: 'IB TX（Prefill Scoped)', description: '', query: 'sum by (instance, node) ( rate(node_infiniband_port_data_transmitted_bytes_total[1m]) ) * on (node) group_left() ( count by (node) ( kube_pod_info{ namespace="$namespace", pod=~"$app-prefill.*" } ) > 0 )' },
  // 83
  { dashboard: 'PD Network', title: 'IB RX/TX Ratio', description: '', query: '( sum by(instance, node) ( rate(node_infiniband_port_data_received_bytes_total[1m]) ) * on(node) group_left() ( count by(node) ( kube_pod_info{ namespace="$namespace", pod=~"$app-(decode|prefill).*" } ) > 0 ) ) / ( sum by(instance, node) ( rate(node_infiniband_port_data_transmitted_bytes_total[1m]) ) * on(node) group_left() ( count by(node) ( kube_pod_info{ namespace="$namespace", pod=~"$app-(decode|prefill).*" } ) > 0 ) )' },
  // 84
  { dashboard: 'PD Network', title: 'InfiniBand Network Transmit Wait', description: '', query: 'max by (instance, node) ( rate(node_infiniband_port_transmit_wait_total[1m]) ) * on (node) group_left() ( count by (node) ( kube_pod_info{ namespace="$namespace", pod=~"$app-decode.*" } ) > 0 )' },
]
