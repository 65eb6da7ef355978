package engine

// kind is what a normalised family is and how it is de-duplicated.
type kind uint8

const (
	kindGauge     kind = iota // per (pod, dp_rank): the lowest rank's value, its tp_rank kept
	kindCounter               // per-request: once per (pod, dp_rank), tp_rank=""
	kindHistogram             // per-request: once per (pod, dp_rank), tp_rank=""
)

// family is one llm_engine_* family of the normalised schema.
type family struct {
	name  string // without the llm_engine_ prefix
	kind  kind
	help  string
	extra string // the one extra label of the family ("" for none)
}

// The normalised families. The names, types and labels of the ones marked
// contract are fixed by docs/schema.md; the rules pack is written against them.
var (
	famStageLatency   = &family{"stage_latency_seconds", kindHistogram, "Latency of one stage of a request, by stage (SGLang per-stage latencies; vLLM prefill and decode phases).", "stage"} // contract
	famTTFT           = &family{"time_to_first_token_seconds", kindHistogram, "Time to first token as measured by the engine.", ""}                                                           // contract
	famITL            = &family{"inter_token_latency_seconds", kindHistogram, "Inter-token latency (vLLM's older time_per_output_token).", ""}                                                // contract
	famE2E            = &family{"e2e_request_latency_seconds", kindHistogram, "End-to-end request latency as measured by the engine.", ""}                                                    // contract
	famQueueTime      = &family{"queue_time_seconds", kindHistogram, "Time requests spent waiting in the engine's queue.", ""}                                                                // contract
	famRunning        = &family{"requests_running", kindGauge, "Requests running in the engine (per DP rank).", ""}                                                                           // contract
	famWaiting        = &family{"requests_waiting", kindGauge, "Requests waiting in the engine's queue (per DP rank).", ""}                                                                   // contract
	famPDQueue        = &family{"pd_queue_requests", kindGauge, "Requests in the prefill/decode disaggregation queues, by queue.", "queue"}                                                   // contract
	famKVUsage        = &family{"kv_cache_usage_ratio", kindGauge, "Fraction of the KV cache in use (0-1).", ""}                                                                              // contract
	famRequests       = &family{"requests_total", kindCounter, "Finished requests (finished_reason where the engine reports it).", "finished_reason"}                                         // contract
	famAborted        = &family{"requests_aborted_total", kindCounter, "Aborted requests.", ""}                                                                                               // contract
	famRetracted      = &family{"requests_retracted_total", kindCounter, "Retracted (SGLang) or preempted (vLLM) requests.", ""}                                                              // contract
	famPromptTokens   = &family{"prompt_tokens_total", kindCounter, "Prompt (prefill) tokens processed.", ""}                                                                                 // contract
	famGenTokens      = &family{"generation_tokens_total", kindCounter, "Generation (decode) tokens produced.", ""}                                                                           // contract
	famKVXferFailures = &family{"kv_transfer_failures_total", kindCounter, "Requests whose KV cache transfer failed (P/D).", ""}                                                              // contract
	famBootFailures   = &family{"bootstrap_failures_total", kindCounter, "Requests whose P/D bootstrap failed.", ""}                                                                          // contract
	famCachedTokens   = &family{"cached_prompt_tokens_total", kindCounter, "Prompt tokens served from the prefix cache.", ""}
	famCacheHit       = &family{"prefix_cache_hit_ratio", kindGauge, "Prefix cache hit rate (0-1) as reported by the engine.", ""}
	famSpecAccept     = &family{"spec_decode_accept_length", kindGauge, "Average acceptance length of speculative decoding.", ""}
	famGenThroughput  = &family{"generation_throughput_tokens_per_second", kindGauge, "Generation throughput the engine reports (tokens per second).", ""}
)

// families lists every normalised family, in exposition order.
var families = []*family{
	famStageLatency, famTTFT, famITL, famE2E, famQueueTime,
	famRunning, famWaiting, famPDQueue, famKVUsage,
	famRequests, famAborted, famRetracted, famPromptTokens, famGenTokens,
	famKVXferFailures, famBootFailures,
	famCachedTokens, famCacheHit, famSpecAccept, famGenThroughput,
}

// mapping is one row of the normalisation table: the engine families that
// feed one normalised family (with a fixed value of its extra label, if any).
// Sources are in order of preference: the first one present on a page is the
// only one used, so a page that prints both a metric and its deprecated alias
// (vLLM's inter_token_latency_seconds and time_per_output_token_seconds) is
// counted once.
type mapping struct {
	out     *family
	sources []string
	// extraFrom names the source label copied into the family's extra label;
	// extraValue is the fixed value used when extraFrom is empty.
	extraFrom, extraValue string
	// where keeps only the source series with this label value.
	whereLabel, whereValue string
}

// table is THE normalisation table: every engine family the exporter
// understands, old names included. docs/metrics-engine.md documents each row;
// TestDocsListEveryMapping keeps the two in step.
var table = []mapping{
	// Latency histograms.
	{out: famStageLatency, sources: []string{"sglang:per_stage_req_latency_seconds"}, extraFrom: "stage"},
	{out: famStageLatency, sources: []string{"vllm:request_prefill_time_seconds"}, extraValue: "prefill"},
	{out: famStageLatency, sources: []string{"vllm:request_decode_time_seconds"}, extraValue: "decode"},
	{out: famTTFT, sources: []string{"sglang:time_to_first_token_seconds", "vllm:time_to_first_token_seconds"}},
	{out: famITL, sources: []string{"sglang:inter_token_latency_seconds", "vllm:inter_token_latency_seconds", "vllm:time_per_output_token_seconds"}},
	{out: famE2E, sources: []string{"sglang:e2e_request_latency_seconds", "vllm:e2e_request_latency_seconds"}},
	{out: famQueueTime, sources: []string{"sglang:queue_time_seconds", "vllm:request_queue_time_seconds"}},

	// Load gauges.
	{out: famRunning, sources: []string{"sglang:num_running_reqs", "vllm:num_requests_running"}},
	{out: famWaiting, sources: []string{"sglang:num_queue_reqs", "vllm:num_requests_waiting"}},
	{out: famPDQueue, sources: []string{"sglang:num_prefill_bootstrap_queue_reqs", "sglang:num_prefill_prealloc_queue_reqs"}, extraValue: "prefill_bootstrap"},
	{out: famPDQueue, sources: []string{"sglang:num_prefill_inflight_queue_reqs", "sglang:num_prefill_infight_queue_reqs"}, extraValue: "prefill_inflight"},
	{out: famPDQueue, sources: []string{"sglang:num_decode_prealloc_queue_reqs"}, extraValue: "decode_prealloc"},
	{out: famPDQueue, sources: []string{"sglang:num_decode_transfer_queue_reqs"}, extraValue: "decode_transfer"},
	{out: famKVUsage, sources: []string{"sglang:token_usage", "vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc"}},

	// Request and token counters.
	{out: famRequests, sources: []string{"sglang:num_requests_total"}},
	{out: famRequests, sources: []string{"vllm:request_success_total"}, extraFrom: "finished_reason"},
	{out: famAborted, sources: []string{"sglang:num_aborted_requests_total"}},
	{out: famAborted, sources: []string{"vllm:request_success_total"}, whereLabel: "finished_reason", whereValue: "abort"},
	{out: famRetracted, sources: []string{"sglang:num_retracted_requests_total", "sglang:total_retracted_reqs", "vllm:num_preemptions_total"}},
	{out: famPromptTokens, sources: []string{"sglang:prompt_tokens_total", "vllm:prompt_tokens_total"}},
	{out: famGenTokens, sources: []string{"sglang:generation_tokens_total", "vllm:generation_tokens_total"}},
	{out: famKVXferFailures, sources: []string{"sglang:num_transfer_failed_reqs_total"}},
	{out: famBootFailures, sources: []string{"sglang:num_bootstrap_failed_reqs_total"}},

	// Cache and speculative decoding.
	{out: famCachedTokens, sources: []string{"sglang:cached_tokens_total", "vllm:prefix_cache_hits_total"}},
	{out: famCacheHit, sources: []string{"sglang:cache_hit_rate", "vllm:gpu_prefix_cache_hit_rate"}},
	{out: famSpecAccept, sources: []string{"sglang:spec_accept_length"}},
	{out: famGenThroughput, sources: []string{"sglang:gen_throughput", "vllm:avg_generation_throughput_toks_per_s"}},
}

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

// accepts reports whether a source family of type t can feed a family of kind k.
func (k kind) accepts(t famType) bool {
	switch k {
	case kindHistogram:
		return t == typeHistogram
	default:
		return t == typeCounter || t == typeGauge || t == typeUntyped
	}
}
