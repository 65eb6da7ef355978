// Package engine will scrape the inference engines (SGLang, vLLM) running on
// the node and re-export their metrics in one normalised llm_engine_* schema.
// Not built yet: the foundation release ships the InfiniBand collector only.
package engine
