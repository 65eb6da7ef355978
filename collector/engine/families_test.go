package engine

import (
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// The families added for the engines of late 2026, read through the real
// parse path from the pages of testdata/real (SOURCES.md says where each
// comes from). Every expected value below is the page's own number, read
// off the page by hand, times the unit factor written next to it: MiB = 2^20
// bytes, GiB = 2^30 bytes, 1 ms = 1/1000 s, 1 % = 1/100.

// realEnginePages are the engine pages of testdata/real (the gateway pages
// are not engines: TestGatewayPagesYieldNothing).
var realEnginePages = []string{
	"sglang-0.5.18-lora.txt",
	"sglang-0.5.18-pd-kvhist-decode-dp2.txt",
	"sglang-0.5.18-pd-kvhist-prefill.txt",
	"sglang-0.5.9-pd-kvgauges-decode-dp2.txt",
	"sglang-0.5.9-pd-kvgauges-prefill.txt",
	"sglang-main-kvtimeouts-pd-prefill.txt",
	"vllm-main-20260519-lora-mfu-spec-offload.txt",
	"vllm-main-20260519-nixl-pd-dp2-decode.txt",
	"vllm-main-20260519-nixl-pd-dp2-prefill.txt",
	"vllm-v0.11-nixl-pd-decode.txt",
	"vllm-v0.11-nixl-pd-prefill.txt",
}

// famCase is one normalised series of one page.
type famCase struct {
	page    string            // in testdata/real
	family  string            // without llm_engine_
	labels  map[string]string // some of the series' labels: exactly one series has them
	value   float64           // counter or gauge
	count   uint64            // histogram
	sum     float64           // histogram
	buckets map[float64]uint64
	absent  bool // no series has these labels
}

const (
	mb = 1 << 20 // SGLang's "MB"
	gb = 1 << 30 // SGLang's "GB"
)

var famCases = []famCase{
	// SGLang 0.5.9: the KV transfer families are gauges (the last transfer).
	{page: "sglang-0.5.9-pd-kvgauges-prefill.txt", family: "kv_transfer_last_seconds", labels: lbl("connector", "sglang", "role", "prefill", "tp_rank", "0", "engine", "sglang"), value: 61.0 / 1000},
	{page: "sglang-0.5.9-pd-kvgauges-prefill.txt", family: "kv_transfer_last_bootstrap_seconds", labels: lbl("connector", "sglang"), value: 8.7 / 1000},
	{page: "sglang-0.5.9-pd-kvgauges-prefill.txt", family: "kv_transfer_last_alloc_seconds", labels: lbl("connector", "sglang"), value: 1.9 / 1000},
	{page: "sglang-0.5.9-pd-kvgauges-prefill.txt", family: "kv_transfer_last_bytes", labels: lbl("connector", "sglang"), value: 190971904},                          // 182.125 MiB
	{page: "sglang-0.5.9-pd-kvgauges-prefill.txt", family: "kv_transfer_last_speed_bytes_per_second", labels: lbl("connector", "sglang"), value: 3130686950.819672}, // 2.915679431352459 GiB/s
	{page: "sglang-0.5.9-pd-kvgauges-prefill.txt", family: "kv_transfer_seconds", labels: lbl(), absent: true},                                                      // a gauge is not a histogram
	{page: "sglang-0.5.9-pd-kvgauges-prefill.txt", family: "grammar_queue_requests", labels: lbl("role", "prefill"), value: 0},
	{page: "sglang-0.5.9-pd-kvgauges-decode-dp2.txt", family: "kv_transfer_last_seconds", labels: lbl("dp_rank", "1", "tp_rank", "2", "role", "decode"), value: 0},
	{page: "sglang-0.5.9-pd-kvgauges-decode-dp2.txt", family: "kv_transfer_last_bytes", labels: lbl("dp_rank", "0", "tp_rank", "0"), value: 0},
	{page: "sglang-0.5.9-pd-kvgauges-decode-dp2.txt", family: "kv_transfer_last_speed_bytes_per_second", labels: lbl("dp_rank", "1"), value: 0},
	{page: "sglang-0.5.9-pd-kvgauges-decode-dp2.txt", family: "kv_transfer_last_bootstrap_seconds", labels: lbl("dp_rank", "0"), value: 0},
	{page: "sglang-0.5.9-pd-kvgauges-decode-dp2.txt", family: "kv_transfer_last_alloc_seconds", labels: lbl("dp_rank", "1"), value: 0},
	{page: "sglang-0.5.9-pd-kvgauges-decode-dp2.txt", family: "grammar_queue_requests", labels: lbl("dp_rank", "1", "tp_rank", "2"), value: 0},

	// SGLang 0.5.18: the same names are histograms; bounds and sums converted.
	{page: "sglang-0.5.18-pd-kvhist-prefill.txt", family: "kv_transfer_seconds", labels: lbl("connector", "sglang", "role", "prefill", "tp_rank", ""), count: 480, sum: 27.93686033316322,
		buckets: map[float64]uint64{0.001: 0, 0.002: 0, 0.005: 0, 0.01: 0, 0.025: 7, 0.05: 183, 0.1: 467, 0.25: 480, 0.5: 480, 1: 480, 2.5: 480, 5: 480}},
	{page: "sglang-0.5.18-pd-kvhist-prefill.txt", family: "kv_transfer_bytes", labels: lbl("connector", "sglang"), count: 480, sum: 80402251776, // 76677.5625 MiB
		buckets: map[float64]uint64{1 * mb: 0, 5 * mb: 0, 10 * mb: 0, 50 * mb: 11, 100 * mb: 124, 500 * mb: 479, 1000 * mb: 480, 5000 * mb: 480, 10000 * mb: 480}},
	{page: "sglang-0.5.18-pd-kvhist-prefill.txt", family: "kv_transfer_speed_bytes_per_second", labels: lbl("connector", "sglang"), count: 480, sum: 1553119456302.3933, // 1446.4552107289371 GiB/s
		buckets: map[float64]uint64{107374182.4: 0, 0.5 * gb: 3, 1 * gb: 33, 5 * gb: 421, 10 * gb: 477, 25 * gb: 480, 400 * gb: 480}},
	{page: "sglang-0.5.18-pd-kvhist-prefill.txt", family: "kv_transfer_bootstrap_seconds", labels: lbl("connector", "sglang"), count: 480, sum: 4.8282902115130595,
		buckets: map[float64]uint64{0.001: 0, 0.002: 2, 0.005: 50, 0.01: 277, 0.025: 472, 0.05: 480, 2.5: 480}},
	{page: "sglang-0.5.18-pd-kvhist-prefill.txt", family: "kv_transfer_alloc_seconds", labels: lbl("connector", "sglang"), count: 480, sum: 1.2042745980100082,
		buckets: map[float64]uint64{0.001: 87, 0.002: 246, 0.005: 438, 0.01: 475, 0.025: 480}},
	{page: "sglang-0.5.18-pd-kvhist-prefill.txt", family: "kv_transfer_last_seconds", labels: lbl(), absent: true}, // a histogram is not a gauge
	{page: "sglang-0.5.18-pd-kvhist-prefill.txt", family: "kv_cache_tokens", labels: lbl("state", "free", "tp_rank", "0"), value: 828416},
	{page: "sglang-0.5.18-pd-kvhist-prefill.txt", family: "kv_cache_tokens", labels: lbl("state", "evictable"), value: 178944},
	{page: "sglang-0.5.18-pd-kvhist-prefill.txt", family: "kv_cache_tokens", labels: lbl("state", "used"), value: 41216},
	{page: "sglang-0.5.18-pd-kvhist-prefill.txt", family: "forward_occupancy_ratio", labels: lbl(), absent: true}, // NaN: no measurement
	{page: "sglang-0.5.18-pd-kvhist-prefill.txt", family: "grammar_queue_requests", labels: lbl("role", "prefill"), value: 0},
	{page: "sglang-0.5.18-pd-kvhist-prefill.txt", family: "estimated_flops_per_gpu_total", labels: lbl("engine", "sglang", "tp_rank", ""), value: 1.6037659e16},
	{page: "sglang-0.5.18-pd-kvhist-prefill.txt", family: "estimated_read_bytes_per_gpu_total", labels: lbl(), value: 1.6037659e13},
	{page: "sglang-0.5.18-pd-kvhist-prefill.txt", family: "estimated_write_bytes_per_gpu_total", labels: lbl(), value: 3.4991256e11},
	{page: "sglang-0.5.18-pd-kvhist-decode-dp2.txt", family: "kv_transfer_bootstrap_seconds", labels: lbl("dp_rank", "1", "role", "decode"), count: 240, sum: 2560.574768318495 / 1000,
		buckets: map[float64]uint64{0.001: 0, 0.002: 0, 0.005: 24, 0.01: 133, 0.025: 231, 0.05: 240}},
	{page: "sglang-0.5.18-pd-kvhist-decode-dp2.txt", family: "kv_transfer_bootstrap_seconds", labels: lbl("dp_rank", "0"), count: 240, sum: 2.3963310725754967},
	{page: "sglang-0.5.18-pd-kvhist-decode-dp2.txt", family: "kv_transfer_alloc_seconds", labels: lbl("dp_rank", "1"), count: 240, sum: 2054.645981686033 / 1000,
		buckets: map[float64]uint64{0.001: 0, 0.002: 9, 0.005: 79, 0.01: 166, 0.025: 231, 0.05: 240}},
	{page: "sglang-0.5.18-pd-kvhist-decode-dp2.txt", family: "kv_transfer_alloc_seconds", labels: lbl("dp_rank", "0"), count: 240, sum: 1.7258553741906884},
	{page: "sglang-0.5.18-pd-kvhist-decode-dp2.txt", family: "kv_cache_tokens", labels: lbl("state", "free", "dp_rank", "0"), value: 1.25e6},
	{page: "sglang-0.5.18-pd-kvhist-decode-dp2.txt", family: "kv_cache_tokens", labels: lbl("state", "free", "dp_rank", "1", "tp_rank", "2"), value: 1.21e6},
	{page: "sglang-0.5.18-pd-kvhist-decode-dp2.txt", family: "kv_cache_tokens", labels: lbl("state", "evictable", "dp_rank", "1"), value: 46152},
	{page: "sglang-0.5.18-pd-kvhist-decode-dp2.txt", family: "kv_cache_tokens", labels: lbl("state", "used", "dp_rank", "1"), value: 841000},
	{page: "sglang-0.5.18-pd-kvhist-decode-dp2.txt", family: "forward_occupancy_ratio", labels: lbl("dp_rank", "0", "tp_rank", "0"), value: 0.873}, // 87.3 %
	{page: "sglang-0.5.18-pd-kvhist-decode-dp2.txt", family: "forward_occupancy_ratio", labels: lbl("dp_rank", "1", "tp_rank", "2"), value: 0.883}, // 88.3 %
	{page: "sglang-0.5.18-pd-kvhist-decode-dp2.txt", family: "grammar_queue_requests", labels: lbl("dp_rank", "0"), value: 0},
	{page: "sglang-0.5.18-pd-kvhist-decode-dp2.txt", family: "estimated_flops_per_gpu_total", labels: lbl("dp_rank", "1"), value: 8.32568e14},
	{page: "sglang-0.5.18-pd-kvhist-decode-dp2.txt", family: "estimated_read_bytes_per_gpu_total", labels: lbl("dp_rank", "0"), value: 7.95036e11},
	{page: "sglang-0.5.18-pd-kvhist-decode-dp2.txt", family: "estimated_write_bytes_per_gpu_total", labels: lbl("dp_rank", "1"), value: 1.816512e10},
	{page: "sglang-0.5.18-pd-kvhist-decode-dp2.txt", family: "kv_transfer_seconds", labels: lbl(), absent: true}, // observed on the prefill side only

	// SGLang main after 0.5.18: the timeouts counter, without model or rank labels.
	{page: "sglang-main-kvtimeouts-pd-prefill.txt", family: "kv_transfer_timeouts_total", labels: lbl("connector", "sglang", "stage", "bootstrap", "model", "", "role", ""), value: 1},
	{page: "sglang-main-kvtimeouts-pd-prefill.txt", family: "kv_transfer_timeouts_total", labels: lbl("stage", "transfer"), value: 2},
	{page: "sglang-main-kvtimeouts-pd-prefill.txt", family: "kv_transfer_seconds", labels: lbl("connector", "sglang"), count: 480, sum: 27.93686033316322},
	{page: "sglang-main-kvtimeouts-pd-prefill.txt", family: "kv_transfer_bytes", labels: lbl("connector", "sglang"), count: 480, sum: 80402251776},
	{page: "sglang-main-kvtimeouts-pd-prefill.txt", family: "kv_transfer_speed_bytes_per_second", labels: lbl(), count: 480, sum: 1553119456302.3933},
	{page: "sglang-main-kvtimeouts-pd-prefill.txt", family: "kv_transfer_bootstrap_seconds", labels: lbl(), count: 480, sum: 4.8282902115130595},
	{page: "sglang-main-kvtimeouts-pd-prefill.txt", family: "kv_transfer_alloc_seconds", labels: lbl(), count: 480, sum: 1.2042745980100082},
	{page: "sglang-main-kvtimeouts-pd-prefill.txt", family: "kv_cache_tokens", labels: lbl("state", "free"), value: 828416},
	{page: "sglang-main-kvtimeouts-pd-prefill.txt", family: "kv_cache_tokens", labels: lbl("state", "evictable"), value: 178944},
	{page: "sglang-main-kvtimeouts-pd-prefill.txt", family: "kv_cache_tokens", labels: lbl("state", "used"), value: 41216},
	{page: "sglang-main-kvtimeouts-pd-prefill.txt", family: "forward_occupancy_ratio", labels: lbl(), absent: true},
	{page: "sglang-main-kvtimeouts-pd-prefill.txt", family: "grammar_queue_requests", labels: lbl(), value: 0},
	{page: "sglang-main-kvtimeouts-pd-prefill.txt", family: "estimated_flops_per_gpu_total", labels: lbl(), value: 1.6037659e16},
	{page: "sglang-main-kvtimeouts-pd-prefill.txt", family: "estimated_read_bytes_per_gpu_total", labels: lbl(), value: 1.6037659e13},
	{page: "sglang-main-kvtimeouts-pd-prefill.txt", family: "estimated_write_bytes_per_gpu_total", labels: lbl(), value: 3.4991256e11},

	// SGLang with --enable-lora: pool slots, no adapter names.
	{page: "sglang-0.5.18-lora.txt", family: "lora_max_adapters", labels: lbl("engine", "sglang", "role", "unified", "tp_rank", "0"), value: 4},
	{page: "sglang-0.5.18-lora.txt", family: "lora_loaded_adapters", labels: lbl("engine", "sglang"), value: 2},
	{page: "sglang-0.5.18-lora.txt", family: "lora_adapters", labels: lbl(), absent: true},
	{page: "sglang-0.5.18-lora.txt", family: "forward_occupancy_ratio", labels: lbl(), value: 0.795}, // 79.5 %
	{page: "sglang-0.5.18-lora.txt", family: "kv_cache_tokens", labels: lbl("state", "free"), value: 300000},
	{page: "sglang-0.5.18-lora.txt", family: "kv_cache_tokens", labels: lbl("state", "evictable"), value: 84000},
	{page: "sglang-0.5.18-lora.txt", family: "kv_cache_tokens", labels: lbl("state", "used"), value: 96000},
	{page: "sglang-0.5.18-lora.txt", family: "grammar_queue_requests", labels: lbl(), value: 0},

	// vLLM main (2026-05), P/D with NIXL, DP 2: decode (the reader side).
	{page: "vllm-main-20260519-nixl-pd-dp2-decode.txt", family: "kv_transfer_seconds", labels: lbl("connector", "nixl", "engine", "vllm", "dp_rank", "0", "tp_rank", ""), count: 1200, sum: 7.58124515818669,
		buckets: map[float64]uint64{0.005: 551, 0.01: 1024, 0.025: 1199, 0.05: 1200, 5: 1200}},
	{page: "vllm-main-20260519-nixl-pd-dp2-decode.txt", family: "kv_transfer_seconds", labels: lbl("connector", "nixl", "dp_rank", "1"), count: 1120, sum: 7.1332004982636805,
		buckets: map[float64]uint64{0.005: 493, 0.01: 964, 0.025: 1116, 0.05: 1120}},
	{page: "vllm-main-20260519-nixl-pd-dp2-decode.txt", family: "kv_transfer_post_seconds", labels: lbl("connector", "nixl", "dp_rank", "0"), count: 1200, sum: 1.0385619941438533,
		buckets: map[float64]uint64{0.001: 860, 0.005: 1200}},
	{page: "vllm-main-20260519-nixl-pd-dp2-decode.txt", family: "kv_transfer_bytes", labels: lbl("connector", "nixl", "dp_rank", "0"), count: 1200, sum: 2.2833496064e11,
		buckets: map[float64]uint64{1 << 11: 0, 1 << 25: 0, 1 << 27: 420, 1 << 29: 1184, 1 << 31: 1200, 1 << 33: 1200}},
	{page: "vllm-main-20260519-nixl-pd-dp2-decode.txt", family: "kv_transfer_bytes", labels: lbl("dp_rank", "1"), count: 1120, sum: 2.1382070272e11},
	{page: "vllm-main-20260519-nixl-pd-dp2-decode.txt", family: "kv_transfer_descriptors", labels: lbl("connector", "nixl", "dp_rank", "0"), count: 1200, sum: 2.796736e7,
		buckets: map[float64]uint64{10: 0, 4000: 0, 10000: 84, 20000: 608, 50000: 1152}},
	{page: "vllm-main-20260519-nixl-pd-dp2-decode.txt", family: "kv_transfer_descriptors", labels: lbl("dp_rank", "1"), count: 1120, sum: 2.618496e7},
	{page: "vllm-main-20260519-nixl-pd-dp2-decode.txt", family: "kv_transfer_failed_transfers_total", labels: lbl("connector", "nixl", "dp_rank", "0"), value: 1},
	{page: "vllm-main-20260519-nixl-pd-dp2-decode.txt", family: "kv_transfer_failed_transfers_total", labels: lbl("dp_rank", "1"), value: 2},
	{page: "vllm-main-20260519-nixl-pd-dp2-decode.txt", family: "kv_transfer_failed_notifications_total", labels: lbl("connector", "nixl", "dp_rank", "1"), value: 0},
	{page: "vllm-main-20260519-nixl-pd-dp2-decode.txt", family: "kv_transfer_expired_requests_total", labels: lbl("connector", "nixl", "dp_rank", "0"), value: 0},
	{page: "vllm-main-20260519-nixl-pd-dp2-decode.txt", family: "requests_waiting_by_reason", labels: lbl("reason", "capacity", "dp_rank", "0", "tp_rank", ""), value: 2},
	{page: "vllm-main-20260519-nixl-pd-dp2-decode.txt", family: "requests_waiting_by_reason", labels: lbl("reason", "deferred", "dp_rank", "0"), value: 4},
	{page: "vllm-main-20260519-nixl-pd-dp2-decode.txt", family: "requests_waiting_by_reason", labels: lbl("reason", "deferred", "dp_rank", "1"), value: 5},
	{page: "vllm-main-20260519-nixl-pd-dp2-decode.txt", family: "prompt_tokens_by_source_total", labels: lbl("source", "local_compute", "dp_rank", "0"), value: 300},
	{page: "vllm-main-20260519-nixl-pd-dp2-decode.txt", family: "prompt_tokens_by_source_total", labels: lbl("source", "local_cache_hit", "dp_rank", "0"), value: 960},
	{page: "vllm-main-20260519-nixl-pd-dp2-decode.txt", family: "prompt_tokens_by_source_total", labels: lbl("source", "external_kv_transfer", "dp_rank", "0"), value: 696823},
	{page: "vllm-main-20260519-nixl-pd-dp2-decode.txt", family: "prompt_tokens_by_source_total", labels: lbl("source", "external_kv_transfer", "dp_rank", "1"), value: 652529},
	{page: "vllm-main-20260519-nixl-pd-dp2-decode.txt", family: "prefix_cache_queries_total", labels: lbl("dp_rank", "0"), value: 698083},
	{page: "vllm-main-20260519-nixl-pd-dp2-decode.txt", family: "prefix_cache_queries_total", labels: lbl("dp_rank", "1"), value: 653705},
	{page: "vllm-main-20260519-nixl-pd-dp2-decode.txt", family: "sleep_state", labels: lbl("state", "awake", "dp_rank", "1"), value: 1},
	{page: "vllm-main-20260519-nixl-pd-dp2-decode.txt", family: "sleep_state", labels: lbl("state", "discard_all", "dp_rank", "0"), value: 0},
	// ... and prefill: the nixl histograms at 0, the expired requests counted here.
	{page: "vllm-main-20260519-nixl-pd-dp2-prefill.txt", family: "kv_transfer_seconds", labels: lbl("dp_rank", "1"), count: 0, sum: 0, buckets: map[float64]uint64{0.005: 0}},
	{page: "vllm-main-20260519-nixl-pd-dp2-prefill.txt", family: "kv_transfer_post_seconds", labels: lbl("dp_rank", "0"), count: 0, sum: 0},
	{page: "vllm-main-20260519-nixl-pd-dp2-prefill.txt", family: "kv_transfer_bytes", labels: lbl("dp_rank", "0"), count: 0, sum: 0},
	{page: "vllm-main-20260519-nixl-pd-dp2-prefill.txt", family: "kv_transfer_descriptors", labels: lbl("dp_rank", "1"), count: 0, sum: 0},
	{page: "vllm-main-20260519-nixl-pd-dp2-prefill.txt", family: "kv_transfer_failed_transfers_total", labels: lbl("dp_rank", "0"), value: 0},
	{page: "vllm-main-20260519-nixl-pd-dp2-prefill.txt", family: "kv_transfer_failed_notifications_total", labels: lbl("dp_rank", "0"), value: 0},
	{page: "vllm-main-20260519-nixl-pd-dp2-prefill.txt", family: "kv_transfer_expired_requests_total", labels: lbl("connector", "nixl", "dp_rank", "0"), value: 2},
	{page: "vllm-main-20260519-nixl-pd-dp2-prefill.txt", family: "kv_transfer_expired_requests_total", labels: lbl("dp_rank", "1"), value: 3},
	{page: "vllm-main-20260519-nixl-pd-dp2-prefill.txt", family: "requests_waiting_by_reason", labels: lbl("reason", "capacity", "dp_rank", "1"), value: 3},
	{page: "vllm-main-20260519-nixl-pd-dp2-prefill.txt", family: "requests_waiting_by_reason", labels: lbl("reason", "deferred", "dp_rank", "1"), value: 0},
	{page: "vllm-main-20260519-nixl-pd-dp2-prefill.txt", family: "prompt_tokens_by_source_total", labels: lbl("source", "local_compute", "dp_rank", "0"), value: 591971},
	{page: "vllm-main-20260519-nixl-pd-dp2-prefill.txt", family: "prompt_tokens_by_source_total", labels: lbl("source", "local_cache_hit", "dp_rank", "1"), value: 94720},
	{page: "vllm-main-20260519-nixl-pd-dp2-prefill.txt", family: "prompt_tokens_by_source_total", labels: lbl("source", "external_kv_transfer", "dp_rank", "1"), value: 0},
	{page: "vllm-main-20260519-nixl-pd-dp2-prefill.txt", family: "prefix_cache_queries_total", labels: lbl("dp_rank", "1"), value: 653705},
	{page: "vllm-main-20260519-nixl-pd-dp2-prefill.txt", family: "sleep_state", labels: lbl("state", "awake", "dp_rank", "0"), value: 1},

	// vLLM 0.11 (no prompt_tokens_by_source yet: its two cache sources come
	// from the hits counters; no nixl_num_kv_expired_reqs).
	{page: "vllm-v0.11-nixl-pd-decode.txt", family: "kv_transfer_seconds", labels: lbl("connector", "nixl", "dp_rank", "0"), count: 1600, sum: 9.77589466981419,
		buckets: map[float64]uint64{0.005: 809, 0.01: 1378, 0.025: 1592, 0.05: 1600}},
	{page: "vllm-v0.11-nixl-pd-decode.txt", family: "kv_transfer_post_seconds", labels: lbl("connector", "nixl"), count: 1600, sum: 1.4094799449409916},
	{page: "vllm-v0.11-nixl-pd-decode.txt", family: "kv_transfer_bytes", labels: lbl("connector", "nixl"), count: 1600, sum: 2.9277356032e11,
		buckets: map[float64]uint64{1 << 25: 12, 1 << 27: 632, 1 << 29: 1580, 1 << 31: 1600}},
	{page: "vllm-v0.11-nixl-pd-decode.txt", family: "kv_transfer_descriptors", labels: lbl("connector", "nixl"), count: 1600, sum: 3.5856e7},
	{page: "vllm-v0.11-nixl-pd-decode.txt", family: "kv_transfer_failed_transfers_total", labels: lbl("connector", "nixl"), value: 1},
	{page: "vllm-v0.11-nixl-pd-decode.txt", family: "kv_transfer_failed_notifications_total", labels: lbl("connector", "nixl"), value: 0},
	{page: "vllm-v0.11-nixl-pd-decode.txt", family: "kv_transfer_expired_requests_total", labels: lbl(), absent: true},
	{page: "vllm-v0.11-nixl-pd-decode.txt", family: "prompt_tokens_by_source_total", labels: lbl("source", "local_cache_hit"), value: 1280},
	{page: "vllm-v0.11-nixl-pd-decode.txt", family: "prompt_tokens_by_source_total", labels: lbl("source", "external_kv_transfer"), value: 893474},
	{page: "vllm-v0.11-nixl-pd-decode.txt", family: "prompt_tokens_by_source_total", labels: lbl("source", "local_compute"), absent: true},
	{page: "vllm-v0.11-nixl-pd-decode.txt", family: "prefix_cache_queries_total", labels: lbl(), value: 895154},
	{page: "vllm-v0.11-nixl-pd-decode.txt", family: "sleep_state", labels: lbl("state", "awake"), value: 1},
	{page: "vllm-v0.11-nixl-pd-decode.txt", family: "sleep_state", labels: lbl("state", "weights_offloaded"), value: 0},
	{page: "vllm-v0.11-nixl-pd-prefill.txt", family: "kv_transfer_seconds", labels: lbl("connector", "nixl"), count: 0, sum: 0},
	{page: "vllm-v0.11-nixl-pd-prefill.txt", family: "kv_transfer_post_seconds", labels: lbl(), count: 0, sum: 0},
	{page: "vllm-v0.11-nixl-pd-prefill.txt", family: "kv_transfer_bytes", labels: lbl(), count: 0, sum: 0},
	{page: "vllm-v0.11-nixl-pd-prefill.txt", family: "kv_transfer_descriptors", labels: lbl(), count: 0, sum: 0},
	{page: "vllm-v0.11-nixl-pd-prefill.txt", family: "kv_transfer_failed_transfers_total", labels: lbl(), value: 0},
	{page: "vllm-v0.11-nixl-pd-prefill.txt", family: "kv_transfer_failed_notifications_total", labels: lbl(), value: 0},
	{page: "vllm-v0.11-nixl-pd-prefill.txt", family: "prompt_tokens_by_source_total", labels: lbl("source", "local_cache_hit"), value: 129360},
	{page: "vllm-v0.11-nixl-pd-prefill.txt", family: "prompt_tokens_by_source_total", labels: lbl("source", "external_kv_transfer"), value: 0},
	{page: "vllm-v0.11-nixl-pd-prefill.txt", family: "prefix_cache_queries_total", labels: lbl(), value: 895154},
	{page: "vllm-v0.11-nixl-pd-prefill.txt", family: "sleep_state", labels: lbl("state", "discard_all"), value: 0},

	// vLLM main with LoRA, MFU, speculative decoding and KV offload.
	{page: "vllm-main-20260519-lora-mfu-spec-offload.txt", family: "lora_adapters", labels: lbl("adapter", "sql-lora-1", "state", "running", "engine", "vllm", "dp_rank", "", "model", ""), value: 1},
	{page: "vllm-main-20260519-lora-mfu-spec-offload.txt", family: "lora_adapters", labels: lbl("adapter", "sql-lora-2", "state", "running"), value: 1},
	{page: "vllm-main-20260519-lora-mfu-spec-offload.txt", family: "lora_adapters", labels: lbl("adapter", "tweet-summary-1", "state", "waiting"), value: 1},
	{page: "vllm-main-20260519-lora-mfu-spec-offload.txt", family: "lora_adapters", labels: lbl("adapter", "sql-lora-2", "state", "waiting"), absent: true}, // an older combination
	{page: "vllm-main-20260519-lora-mfu-spec-offload.txt", family: "lora_max_adapters", labels: lbl("engine", "vllm", "tp_rank", ""), value: 4},
	{page: "vllm-main-20260519-lora-mfu-spec-offload.txt", family: "spec_decode_drafts_total", labels: lbl("dp_rank", "0"), value: 126764},
	{page: "vllm-main-20260519-lora-mfu-spec-offload.txt", family: "spec_decode_draft_tokens_total", labels: lbl(), value: 380292},
	{page: "vllm-main-20260519-lora-mfu-spec-offload.txt", family: "spec_decode_accepted_tokens_total", labels: lbl(), value: 152116},
	{page: "vllm-main-20260519-lora-mfu-spec-offload.txt", family: "spec_decode_accepted_tokens_per_position_total", labels: lbl("position", "0"), value: 77326},
	{page: "vllm-main-20260519-lora-mfu-spec-offload.txt", family: "spec_decode_accepted_tokens_per_position_total", labels: lbl("position", "1"), value: 48170},
	{page: "vllm-main-20260519-lora-mfu-spec-offload.txt", family: "spec_decode_accepted_tokens_per_position_total", labels: lbl("position", "2"), value: 26620},
	{page: "vllm-main-20260519-lora-mfu-spec-offload.txt", family: "kv_offload_bytes_total", labels: lbl("direction", "gpu_to_cpu"), value: 8.4391493632e10},
	{page: "vllm-main-20260519-lora-mfu-spec-offload.txt", family: "kv_offload_bytes_total", labels: lbl("direction", "cpu_to_gpu"), value: 2.074083328e10},
	{page: "vllm-main-20260519-lora-mfu-spec-offload.txt", family: "kv_offload_seconds_total", labels: lbl("direction", "gpu_to_cpu"), value: 4.714576576388632},
	{page: "vllm-main-20260519-lora-mfu-spec-offload.txt", family: "kv_offload_seconds_total", labels: lbl("direction", "cpu_to_gpu"), value: 1.153731266114681},
	{page: "vllm-main-20260519-lora-mfu-spec-offload.txt", family: "kv_offload_transfer_bytes", labels: lbl("direction", "gpu_to_cpu"), count: 900, sum: 8.4391493632e10,
		buckets: map[float64]uint64{1e6: 0, 2e7: 10, 4e7: 138, 1e8: 591, 2e8: 846}},
	{page: "vllm-main-20260519-lora-mfu-spec-offload.txt", family: "kv_offload_transfer_bytes", labels: lbl("direction", "cpu_to_gpu"), count: 310, sum: 2.074083328e10,
		buckets: map[float64]uint64{2e7: 17, 2e8: 304}},
	{page: "vllm-main-20260519-lora-mfu-spec-offload.txt", family: "estimated_flops_per_gpu_total", labels: lbl("engine", "vllm", "dp_rank", "0"), value: 1.507634457e16},
	{page: "vllm-main-20260519-lora-mfu-spec-offload.txt", family: "estimated_read_bytes_per_gpu_total", labels: lbl(), value: 2.055587449177088e15},
	{page: "vllm-main-20260519-lora-mfu-spec-offload.txt", family: "estimated_write_bytes_per_gpu_total", labels: lbl(), value: 4.088286294272e12},
	{page: "vllm-main-20260519-lora-mfu-spec-offload.txt", family: "requests_waiting_by_reason", labels: lbl("reason", "capacity"), value: 1},
	{page: "vllm-main-20260519-lora-mfu-spec-offload.txt", family: "requests_waiting_by_reason", labels: lbl("reason", "deferred"), value: 2},
	{page: "vllm-main-20260519-lora-mfu-spec-offload.txt", family: "prompt_tokens_by_source_total", labels: lbl("source", "local_compute"), value: 672697},
	{page: "vllm-main-20260519-lora-mfu-spec-offload.txt", family: "prompt_tokens_by_source_total", labels: lbl("source", "local_cache_hit"), value: 285184},
	{page: "vllm-main-20260519-lora-mfu-spec-offload.txt", family: "prompt_tokens_by_source_total", labels: lbl("source", "external_kv_transfer"), value: 0},
	{page: "vllm-main-20260519-lora-mfu-spec-offload.txt", family: "prefix_cache_queries_total", labels: lbl(), value: 957881},
	{page: "vllm-main-20260519-lora-mfu-spec-offload.txt", family: "sleep_state", labels: lbl("state", "awake"), value: 1},
}

func lbl(kv ...string) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

// namedLabels reads a normalised series' labels by name.
func namedLabels(o outSeries) map[string]string {
	names := normalisedNames(o.fam)
	m := make(map[string]string, len(names))
	for i, n := range names {
		m[n] = o.labels[i]
	}
	return m
}

func matching(out []outSeries, family string, want map[string]string) []outSeries {
	var got []outSeries
next:
	for _, o := range out {
		if o.fam.name != family {
			continue
		}
		l := namedLabels(o)
		for k, v := range want {
			if l[k] != v {
				continue next
			}
		}
		got = append(got, o)
	}
	return got
}

func realPage(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(realFixtureDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// close enough for a value the page printed with 17 digits and the test
// multiplied by a unit factor by hand.
func near(got, want float64) bool {
	if got == want {
		return true
	}
	return math.Abs(got-want) <= 1e-12*math.Max(math.Abs(got), math.Abs(want))
}

func TestRealPageFamilies(t *testing.T) {
	pages := map[string][]outSeries{}
	join := JoinLabels{Namespace: "llm", Pod: "engine-0", Container: "engine"}
	for _, p := range realEnginePages {
		s := runPage(realPage(t, p), formatText, join, Limits{}, nil)
		if s.err != nil {
			t.Fatalf("%s: %v", p, s.err)
		}
		pages[p] = s.out
	}
	for _, c := range famCases {
		out, ok := pages[c.page]
		if !ok {
			t.Fatalf("case on %s, not in realEnginePages", c.page)
		}
		got := matching(out, c.family, c.labels)
		name := c.page + " llm_engine_" + c.family + fmtLabels(c.labels)
		if c.absent {
			if len(got) != 0 {
				t.Errorf("%s: %d series, want none: %s", name, len(got), dumpOut(got))
			}
			continue
		}
		if len(got) != 1 {
			t.Errorf("%s: %d series, want 1: %s", name, len(got), dumpOut(matching(out, c.family, nil)))
			continue
		}
		o := got[0]
		if l := namedLabels(o); l["namespace"] != "llm" || l["pod"] != "engine-0" || l["container"] != "engine" {
			t.Errorf("%s: join labels lost: %v", name, l)
		}
		if o.fam.kind != kindHistogram {
			if !near(o.value, c.value) {
				t.Errorf("%s = %v, want %v", name, o.value, c.value)
			}
			continue
		}
		if o.count != c.count || !near(o.sum, c.sum) {
			t.Errorf("%s: count %d sum %v, want %d and %v", name, o.count, o.sum, c.count, c.sum)
		}
		have := map[float64]uint64{}
		for i, b := range o.bounds {
			have[b] = o.counts[i]
		}
		for le, n := range c.buckets {
			if got, ok := have[le]; !ok || got != n {
				t.Errorf("%s: bucket le=%v holds %d (present %v), want %d; bounds %v", name, le, got, ok, n, o.bounds)
			}
		}
	}
}

// Every family added here that a real page yields has a case on that page:
// each fixture version that prints a family is checked.
func TestRealPageFamiliesCovered(t *testing.T) {
	cased := map[string]bool{}
	for _, c := range famCases {
		if !c.absent {
			cased[c.page+" "+c.family] = true
		}
	}
	for _, p := range realEnginePages {
		s := runPage(realPage(t, p), formatText, JoinLabels{}, Limits{}, nil)
		if s.err != nil {
			t.Fatal(s.err)
		}
		for _, o := range s.out {
			if originalFamilies[o.fam.name] {
				continue
			}
			if !cased[p+" "+o.fam.name] {
				t.Errorf("%s yields llm_engine_%s but no case checks it there", p, o.fam.name)
				cased[p+" "+o.fam.name] = true
			}
		}
	}
}

// originalFamilies are the families of the first schema, checked on the
// older fixtures by engine_test.go.
var originalFamilies = map[string]bool{
	"stage_latency_seconds": true, "time_to_first_token_seconds": true, "inter_token_latency_seconds": true,
	"e2e_request_latency_seconds": true, "queue_time_seconds": true, "requests_running": true,
	"requests_waiting": true, "pd_queue_requests": true, "kv_cache_usage_ratio": true, "requests_total": true,
	"requests_aborted_total": true, "requests_retracted_total": true, "prompt_tokens_total": true,
	"generation_tokens_total": true, "kv_transfer_failures_total": true, "bootstrap_failures_total": true,
	"cached_prompt_tokens_total": true, "prefix_cache_hit_ratio": true, "spec_decode_accept_length": true,
	"generation_throughput_tokens_per_second": true,
}

func fmtLabels(m map[string]string) string {
	var kv []string
	for k, v := range m {
		kv = append(kv, k+"="+v)
	}
	sort.Strings(kv)
	return "{" + strings.Join(kv, ",") + "}"
}
