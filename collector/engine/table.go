package engine

// kind is what a normalised family is and how it is de-duplicated.
type kind uint8

const (
	kindGauge     kind = iota // per (pod, dp_rank): the lowest rank's value, its tp_rank kept
	kindCounter               // per-request: once per (pod, dp_rank), tp_rank=""
	kindHistogram             // per-request: once per (pod, dp_rank), tp_rank=""
)

// maxExtra is the most labels a family carries beyond the base ones.
const maxExtra = 2

// family is one llm_engine_* family of the normalised schema.
type family struct {
	name  string // without the llm_engine_ prefix
	kind  kind
	help  string
	extra []string // the family's own labels after the base ones (at most maxExtra)
}

func fam(name string, k kind, help string, extra ...string) *family {
	return &family{name: name, kind: k, help: help, extra: extra}
}

// The normalised families. The names, types and labels of the ones marked
// contract are fixed by docs/schema.md; the rules pack is written against them.
// Every family is in base units (seconds, bytes, bytes per second, ratio 0-1).
var (
	famStageLatency   = fam("stage_latency_seconds", kindHistogram, "Latency of one stage of a request, by stage (SGLang per-stage latencies; vLLM prefill and decode phases).", "stage") // contract
	famTTFT           = fam("time_to_first_token_seconds", kindHistogram, "Time to first token as measured by the engine.")                                                               // contract
	famITL            = fam("inter_token_latency_seconds", kindHistogram, "Inter-token latency (vLLM's older time_per_output_token).")                                                    // contract
	famE2E            = fam("e2e_request_latency_seconds", kindHistogram, "End-to-end request latency as measured by the engine.")                                                        // contract
	famQueueTime      = fam("queue_time_seconds", kindHistogram, "Time requests spent waiting in the engine's queue.")                                                                    // contract
	famRunning        = fam("requests_running", kindGauge, "Requests running in the engine (per DP rank).")                                                                               // contract
	famWaiting        = fam("requests_waiting", kindGauge, "Requests waiting in the engine's queue (per DP rank).")                                                                       // contract
	famPDQueue        = fam("pd_queue_requests", kindGauge, "Requests in the prefill/decode disaggregation queues, by queue.", "queue")                                                   // contract
	famKVUsage        = fam("kv_cache_usage_ratio", kindGauge, "Fraction of the KV cache in use (0-1).")                                                                                  // contract
	famRequests       = fam("requests_total", kindCounter, "Finished requests (finished_reason where the engine reports it).", "finished_reason")                                         // contract
	famAborted        = fam("requests_aborted_total", kindCounter, "Aborted requests.")                                                                                                   // contract
	famRetracted      = fam("requests_retracted_total", kindCounter, "Retracted (SGLang) or preempted (vLLM) requests.")                                                                  // contract
	famPromptTokens   = fam("prompt_tokens_total", kindCounter, "Prompt (prefill) tokens processed.")                                                                                     // contract
	famGenTokens      = fam("generation_tokens_total", kindCounter, "Generation (decode) tokens produced.")                                                                               // contract
	famKVXferFailures = fam("kv_transfer_failures_total", kindCounter, "Requests whose KV cache transfer failed (P/D).")                                                                  // contract
	famBootFailures   = fam("bootstrap_failures_total", kindCounter, "Requests whose P/D bootstrap failed.")                                                                              // contract
	famCachedTokens   = fam("cached_prompt_tokens_total", kindCounter, "Prompt tokens served from the engine's own prefix cache.")
	famCacheHit       = fam("prefix_cache_hit_ratio", kindGauge, "Prefix cache hit rate (0-1) as reported by the engine.")
	famSpecAccept     = fam("spec_decode_accept_length", kindGauge, "Average acceptance length of speculative decoding.")
	famGenThroughput  = fam("generation_throughput_tokens_per_second", kindGauge, "Generation throughput the engine reports (tokens per second).")

	// Queues, caches and sources of prompt tokens.
	famWaitingByReason = fam("requests_waiting_by_reason", kindGauge, "Requests waiting in the engine's queue, by reason (vLLM: capacity, deferred).", "reason")
	famPromptBySource  = fam("prompt_tokens_by_source_total", kindCounter, "Prompt tokens by where their KV came from: local_compute, local_cache_hit, external_kv_transfer.", "source")
	famCacheQueries    = fam("prefix_cache_queries_total", kindCounter, "Prompt tokens looked up in the engine's prefix cache.")
	famKVCacheTokens   = fam("kv_cache_tokens", kindGauge, "Token slots of the KV cache pool, by state (free, evictable, used).", "state")
	famFwdOccupancy    = fam("forward_occupancy_ratio", kindGauge, "Fraction of time the GPU was busy with forward passes (0-1).")
	famGrammarQueue    = fam("grammar_queue_requests", kindGauge, "Requests waiting for their grammar to compile.")
	famSleepState      = fam("sleep_state", kindGauge, "1 for the engine's current sleep state (awake, weights_offloaded, discard_all), 0 for the others.", "state")

	// KV cache transfer between P/D instances: one family set for every
	// connector, told apart by connector (nixl: vLLM's NixlConnector; sglang:
	// SGLang's own disaggregation transfer).
	famKVXferSeconds     = fam("kv_transfer_seconds", kindHistogram, "Duration of KV cache transfers (nixl: each transfer of each TP rank, reader side; sglang: each request, sender side).", "connector")
	famKVXferPost        = fam("kv_transfer_post_seconds", kindHistogram, "Time to post a KV cache transfer.", "connector")
	famKVXferBytes       = fam("kv_transfer_bytes", kindHistogram, "Bytes of KV cache transfers (nixl: each transfer of each TP rank; sglang: the logging rank's shard of each request).", "connector")
	famKVXferDescriptors = fam("kv_transfer_descriptors", kindHistogram, "Descriptors per KV cache transfer.", "connector")
	famKVXferSpeed       = fam("kv_transfer_speed_bytes_per_second", kindHistogram, "Speed of KV cache transfers in bytes per second.", "connector")
	famKVXferBootstrap   = fam("kv_transfer_bootstrap_seconds", kindHistogram, "Bootstrap time of KV cache transfers.", "connector")
	famKVXferAlloc       = fam("kv_transfer_alloc_seconds", kindHistogram, "Time KV cache transfers waited for the decode side's allocation.", "connector")
	famKVXferLastSeconds = fam("kv_transfer_last_seconds", kindGauge, "Duration of the rank's last KV cache transfer (engines that print a gauge).", "connector")
	famKVXferLastBytes   = fam("kv_transfer_last_bytes", kindGauge, "Bytes of the rank's last KV cache transfer (engines that print a gauge).", "connector")
	famKVXferLastSpeed   = fam("kv_transfer_last_speed_bytes_per_second", kindGauge, "Speed of the rank's last KV cache transfer in bytes per second (engines that print a gauge).", "connector")
	famKVXferLastBoot    = fam("kv_transfer_last_bootstrap_seconds", kindGauge, "Bootstrap time of the rank's last KV cache transfer (engines that print a gauge).", "connector")
	famKVXferLastAlloc   = fam("kv_transfer_last_alloc_seconds", kindGauge, "Allocation wait of the rank's last KV cache transfer (engines that print a gauge).", "connector")
	famKVXferFailedXfers = fam("kv_transfer_failed_transfers_total", kindCounter, "Failed KV cache transfers (transfers of TP ranks, not requests).", "connector")
	famKVXferFailedNotif = fam("kv_transfer_failed_notifications_total", kindCounter, "Failed KV cache transfer notifications.", "connector")
	famKVXferExpired     = fam("kv_transfer_expired_requests_total", kindCounter, "Requests whose KV cache expired before the other side read it.", "connector")
	famKVXferTimeouts    = fam("kv_transfer_timeouts_total", kindCounter, "KV cache transfer timeouts by stage (bootstrap, transfer), as observed by each sender and receiver.", "connector", "stage")

	// KV cache offload (GPU <-> CPU).
	famKVOffloadBytes    = fam("kv_offload_bytes_total", kindCounter, "Bytes of KV cache offloaded, by direction (gpu_to_cpu, cpu_to_gpu).", "direction")
	famKVOffloadSeconds  = fam("kv_offload_seconds_total", kindCounter, "Time spent offloading KV cache, by direction.", "direction")
	famKVOffloadTransfer = fam("kv_offload_transfer_bytes", kindHistogram, "Bytes of each KV cache offload transfer, by direction.", "direction")

	// Speculative decoding.
	famSpecDrafts         = fam("spec_decode_drafts_total", kindCounter, "Speculative decoding drafts.")
	famSpecDraftTokens    = fam("spec_decode_draft_tokens_total", kindCounter, "Draft tokens proposed by speculative decoding.")
	famSpecAccepted       = fam("spec_decode_accepted_tokens_total", kindCounter, "Draft tokens accepted.")
	famSpecAcceptedPerPos = fam("spec_decode_accepted_tokens_per_position_total", kindCounter, "Draft tokens accepted, by position in the draft.", "position")

	// The engine's own estimate of its work, for model FLOPs utilisation.
	famFlops      = fam("estimated_flops_per_gpu_total", kindCounter, "Floating point operations the engine estimates it ran, per GPU.")
	famReadBytes  = fam("estimated_read_bytes_per_gpu_total", kindCounter, "Bytes the engine estimates it read from GPU memory, per GPU.")
	famWriteBytes = fam("estimated_write_bytes_per_gpu_total", kindCounter, "Bytes the engine estimates it wrote to GPU memory, per GPU.")

	// LoRA adapters.
	famLoRAAdapters = fam("lora_adapters", kindGauge, "1 for each LoRA adapter with requests running or waiting, by state.", "adapter", "state")
	famLoRAMax      = fam("lora_max_adapters", kindGauge, "Most LoRA adapters the engine serves in one batch.")
	famLoRALoaded   = fam("lora_loaded_adapters", kindGauge, "LoRA adapter slots in use in GPU memory.")
)

// families lists every normalised family, in exposition order.
var families = []*family{
	famStageLatency, famTTFT, famITL, famE2E, famQueueTime,
	famRunning, famWaiting, famPDQueue, famKVUsage,
	famRequests, famAborted, famRetracted, famPromptTokens, famGenTokens,
	famKVXferFailures, famBootFailures,
	famCachedTokens, famCacheHit, famSpecAccept, famGenThroughput,
	famWaitingByReason, famPromptBySource, famCacheQueries, famKVCacheTokens, famFwdOccupancy, famGrammarQueue, famSleepState,
	famKVXferSeconds, famKVXferPost, famKVXferBytes, famKVXferDescriptors, famKVXferSpeed, famKVXferBootstrap, famKVXferAlloc,
	famKVXferLastSeconds, famKVXferLastBytes, famKVXferLastSpeed, famKVXferLastBoot, famKVXferLastAlloc,
	famKVXferFailedXfers, famKVXferFailedNotif, famKVXferExpired, famKVXferTimeouts,
	famKVOffloadBytes, famKVOffloadSeconds, famKVOffloadTransfer,
	famSpecDrafts, famSpecDraftTokens, famSpecAccepted, famSpecAcceptedPerPos,
	famFlops, famReadBytes, famWriteBytes,
	famLoRAAdapters, famLoRAMax, famLoRALoaded,
}

// labelRule gives one extra label of a row's family its value: a fixed one,
// or the source series' label from (lower-cased when lower is set).
type labelRule struct {
	from, value string
	lower       bool
}

func fixed(v string) labelRule     { return labelRule{value: v} }
func from(l string) labelRule      { return labelRule{from: l} }
func fromLower(l string) labelRule { return labelRule{from: l, lower: true} }

// splitKind names a row that is not a one-to-one mapping of series.
type splitKind uint8

const (
	splitNone splitKind = iota
	// vLLM's lora_requests_info: the series with the highest value (the most
	// recent update) split into one series per adapter and state.
	splitLoRAAdapters
	// The same series' max_lora label as a value.
	splitLoRAMax
)

// Unit conversions: value × mul ÷ div. Dividing by a whole number rather
// than multiplying by its inverse keeps bounds such as 5 ms exactly 0.005 s.
const (
	mib = 1 << 20
	gib = 1 << 30
)

// mapping is one row of the normalisation table: the engine families that
// feed one normalised family (with the values of its extra labels).
// Sources are in order of preference: the first one present on a page is the
// only one used, so a page that prints both a metric and its deprecated alias
// (vLLM's inter_token_latency_seconds and time_per_output_token_seconds) is
// counted once.
type mapping struct {
	out     *family
	sources []string
	// extra gives each of out.extra its value, in order.
	extra []labelRule
	// where keeps only the source series with this label value.
	whereLabel, whereValue string
	// unless skips the row on a page that prints this family: an older
	// source standing in for a newer family's series.
	unless string
	// mul and div convert the source's unit to the family's (0: 1): values,
	// sums and bucket bounds; counts are counts.
	mul, div float64
	// dropNaN leaves out a source series whose value is NaN (no measurement).
	dropNaN bool
	split   splitKind
}

// table is THE normalisation table: every engine family the exporter
// understands, old names included. docs/metrics-engine.md documents each row;
// TestDocsListEveryMapping keeps the two in step.
var table = []mapping{
	// Latency histograms.
	{out: famStageLatency, sources: []string{"sglang:per_stage_req_latency_seconds"}, extra: x(from("stage"))},
	{out: famStageLatency, sources: []string{"vllm:request_prefill_time_seconds"}, extra: x(fixed("prefill"))},
	{out: famStageLatency, sources: []string{"vllm:request_decode_time_seconds"}, extra: x(fixed("decode"))},
	{out: famTTFT, sources: []string{"sglang:time_to_first_token_seconds", "vllm:time_to_first_token_seconds"}},
	{out: famITL, sources: []string{"sglang:inter_token_latency_seconds", "vllm:inter_token_latency_seconds", "vllm:time_per_output_token_seconds"}},
	{out: famE2E, sources: []string{"sglang:e2e_request_latency_seconds", "vllm:e2e_request_latency_seconds"}},
	{out: famQueueTime, sources: []string{"sglang:queue_time_seconds", "vllm:request_queue_time_seconds"}},

	// Load gauges.
	{out: famRunning, sources: []string{"sglang:num_running_reqs", "vllm:num_requests_running"}},
	{out: famWaiting, sources: []string{"sglang:num_queue_reqs", "vllm:num_requests_waiting"}},
	{out: famWaitingByReason, sources: []string{"vllm:num_requests_waiting_by_reason"}, extra: x(from("reason"))},
	{out: famPDQueue, sources: []string{"sglang:num_prefill_bootstrap_queue_reqs", "sglang:num_prefill_prealloc_queue_reqs"}, extra: x(fixed("prefill_bootstrap"))},
	{out: famPDQueue, sources: []string{"sglang:num_prefill_inflight_queue_reqs", "sglang:num_prefill_infight_queue_reqs"}, extra: x(fixed("prefill_inflight"))},
	{out: famPDQueue, sources: []string{"sglang:num_decode_prealloc_queue_reqs"}, extra: x(fixed("decode_prealloc"))},
	{out: famPDQueue, sources: []string{"sglang:num_decode_transfer_queue_reqs"}, extra: x(fixed("decode_transfer"))},
	{out: famGrammarQueue, sources: []string{"sglang:num_grammar_queue_reqs"}},
	{out: famKVUsage, sources: []string{"sglang:token_usage", "vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc"}},
	{out: famKVCacheTokens, sources: []string{"sglang:kv_available_tokens"}, extra: x(fixed("free"))},
	{out: famKVCacheTokens, sources: []string{"sglang:kv_evictable_tokens"}, extra: x(fixed("evictable"))},
	{out: famKVCacheTokens, sources: []string{"sglang:kv_used_tokens"}, extra: x(fixed("used"))},
	{out: famFwdOccupancy, sources: []string{"sglang:fwd_occupancy"}, div: 100, dropNaN: true},
	{out: famSleepState, sources: []string{"vllm:engine_sleep_state"}, extra: x(from("sleep_state"))},

	// Request and token counters.
	{out: famRequests, sources: []string{"sglang:num_requests_total"}},
	{out: famRequests, sources: []string{"vllm:request_success_total"}, extra: x(from("finished_reason"))},
	{out: famAborted, sources: []string{"sglang:num_aborted_requests_total"}},
	{out: famAborted, sources: []string{"vllm:request_success_total"}, whereLabel: "finished_reason", whereValue: "abort"},
	{out: famRetracted, sources: []string{"sglang:num_retracted_requests_total", "sglang:total_retracted_reqs", "vllm:num_preemptions_total"}},
	{out: famPromptTokens, sources: []string{"sglang:prompt_tokens_total", "vllm:prompt_tokens_total"}},
	{out: famGenTokens, sources: []string{"sglang:generation_tokens_total", "vllm:generation_tokens_total"}},
	{out: famKVXferFailures, sources: []string{"sglang:num_transfer_failed_reqs_total"}},
	{out: famBootFailures, sources: []string{"sglang:num_bootstrap_failed_reqs_total"}},

	// Cache and speculative decoding.
	{out: famCachedTokens, sources: []string{"sglang:cached_tokens_total", "vllm:prefix_cache_hits_total", "vllm:gpu_prefix_cache_hits_total"}},
	{out: famCacheQueries, sources: []string{"vllm:prefix_cache_queries_total", "vllm:gpu_prefix_cache_queries_total"}},
	{out: famPromptBySource, sources: []string{"vllm:prompt_tokens_by_source_total"}, extra: x(from("source"))},
	// Before prompt_tokens_by_source, the hits counters say the same of two of its sources.
	{out: famPromptBySource, sources: []string{"vllm:prefix_cache_hits_total", "vllm:gpu_prefix_cache_hits_total"}, extra: x(fixed("local_cache_hit")), unless: "vllm:prompt_tokens_by_source_total"},
	{out: famPromptBySource, sources: []string{"vllm:external_prefix_cache_hits_total"}, extra: x(fixed("external_kv_transfer")), unless: "vllm:prompt_tokens_by_source_total"},
	{out: famCacheHit, sources: []string{"sglang:cache_hit_rate", "vllm:gpu_prefix_cache_hit_rate"}},
	{out: famSpecAccept, sources: []string{"sglang:spec_accept_length"}},
	{out: famSpecDrafts, sources: []string{"vllm:spec_decode_num_drafts_total"}},
	{out: famSpecDraftTokens, sources: []string{"vllm:spec_decode_num_draft_tokens_total"}},
	{out: famSpecAccepted, sources: []string{"vllm:spec_decode_num_accepted_tokens_total"}},
	{out: famSpecAcceptedPerPos, sources: []string{"vllm:spec_decode_num_accepted_tokens_per_pos_total"}, extra: x(from("position"))},
	{out: famGenThroughput, sources: []string{"sglang:gen_throughput", "vllm:avg_generation_throughput_toks_per_s"}},

	// KV cache transfer. SGLang printed its families as gauges (the last
	// transfer) until 0.5.9 and as histograms since 0.5.10, under the same
	// names: each name has a histogram row and a gauge row, and the type on
	// the page picks one. "MB" is MiB and "GB" GiB there.
	{out: famKVXferSeconds, sources: []string{"vllm:nixl_xfer_time_seconds"}, extra: x(fixed("nixl"))},
	{out: famKVXferSeconds, sources: []string{"sglang:kv_transfer_latency_ms"}, extra: x(fixed("sglang")), div: 1000},
	{out: famKVXferPost, sources: []string{"vllm:nixl_post_time_seconds"}, extra: x(fixed("nixl"))},
	{out: famKVXferBytes, sources: []string{"vllm:nixl_bytes_transferred"}, extra: x(fixed("nixl"))},
	{out: famKVXferBytes, sources: []string{"sglang:kv_transfer_total_mb"}, extra: x(fixed("sglang")), mul: mib},
	{out: famKVXferDescriptors, sources: []string{"vllm:nixl_num_descriptors"}, extra: x(fixed("nixl"))},
	{out: famKVXferSpeed, sources: []string{"sglang:kv_transfer_speed_gb_s"}, extra: x(fixed("sglang")), mul: gib},
	{out: famKVXferBootstrap, sources: []string{"sglang:kv_transfer_bootstrap_ms"}, extra: x(fixed("sglang")), div: 1000},
	{out: famKVXferAlloc, sources: []string{"sglang:kv_transfer_alloc_ms"}, extra: x(fixed("sglang")), div: 1000},
	{out: famKVXferLastSeconds, sources: []string{"sglang:kv_transfer_latency_ms"}, extra: x(fixed("sglang")), div: 1000},
	{out: famKVXferLastBytes, sources: []string{"sglang:kv_transfer_total_mb"}, extra: x(fixed("sglang")), mul: mib},
	{out: famKVXferLastSpeed, sources: []string{"sglang:kv_transfer_speed_gb_s"}, extra: x(fixed("sglang")), mul: gib},
	{out: famKVXferLastBoot, sources: []string{"sglang:kv_transfer_bootstrap_ms"}, extra: x(fixed("sglang")), div: 1000},
	{out: famKVXferLastAlloc, sources: []string{"sglang:kv_transfer_alloc_ms"}, extra: x(fixed("sglang")), div: 1000},
	{out: famKVXferFailedXfers, sources: []string{"vllm:nixl_num_failed_transfers_total"}, extra: x(fixed("nixl"))},
	{out: famKVXferFailedNotif, sources: []string{"vllm:nixl_num_failed_notifications_total"}, extra: x(fixed("nixl"))},
	{out: famKVXferExpired, sources: []string{"vllm:nixl_num_kv_expired_reqs_total"}, extra: x(fixed("nixl"))},
	{out: famKVXferTimeouts, sources: []string{"sglang:kv_transfer_timeouts_total"}, extra: x(fixed("sglang"), from("stage"))},

	// KV cache offload.
	{out: famKVOffloadBytes, sources: []string{"vllm:kv_offload_total_bytes_total"}, extra: x(fromLower("transfer_type"))},
	{out: famKVOffloadSeconds, sources: []string{"vllm:kv_offload_total_time_total"}, extra: x(fromLower("transfer_type"))},
	{out: famKVOffloadTransfer, sources: []string{"vllm:kv_offload_size"}, extra: x(fromLower("transfer_type"))},

	// Estimated work, for model FLOPs utilisation.
	{out: famFlops, sources: []string{"sglang:estimated_flops_per_gpu_total", "vllm:estimated_flops_per_gpu_total"}},
	{out: famReadBytes, sources: []string{"sglang:estimated_read_bytes_per_gpu_total", "vllm:estimated_read_bytes_per_gpu_total"}},
	{out: famWriteBytes, sources: []string{"sglang:estimated_write_bytes_per_gpu_total", "vllm:estimated_write_bytes_per_gpu_total"}},

	// LoRA.
	{out: famLoRAAdapters, sources: []string{"vllm:lora_requests_info"}, split: splitLoRAAdapters},
	{out: famLoRAMax, sources: []string{"vllm:lora_requests_info"}, split: splitLoRAMax},
	{out: famLoRAMax, sources: []string{"sglang:lora_pool_slots_total"}},
	{out: famLoRALoaded, sources: []string{"sglang:lora_pool_slots_used"}},
}

func x(rules ...labelRule) []labelRule { return rules }

// Source labels with a meaning in the schema. Every other source label is
// dropped and the series that differ only by it are added up (SGLang's custom
// tokenizer labels, for example; histograms on the bounds they all have).
const (
	srcModel      = "model_name"
	srcEngineType = "engine_type" // SGLang: unified | prefill | decode
	srcDPRank     = "dp_rank"     // SGLang with DP attention
	srcEngineIdx  = "engine"      // vLLM V1: the DP rank's engine core index
	srcTPRank     = "tp_rank"
	srcPPRank     = "pp_rank"
	srcEPRank     = "moe_ep_rank"
)

// vLLM's lora_requests_info labels.
const (
	srcLoRARunning = "running_lora_adapters"
	srcLoRAWaiting = "waiting_lora_adapters"
	srcLoRAMax     = "max_lora"
)

// accepts reports whether a source family of type t can feed a family of kind k.
func (k kind) accepts(t famType) bool {
	switch k {
	case kindHistogram:
		return t == typeHistogram
	default:
		return t == typeCounter || t == typeGauge || t == typeUntyped
	}
}

// convert applies the row's unit conversion to a value, sum or bound.
func (row *mapping) convert(v float64) float64 {
	if row.mul != 0 {
		v *= row.mul
	}
	if row.div != 0 {
		v /= row.div
	}
	return v
}
