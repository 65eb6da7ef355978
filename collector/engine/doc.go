// Package engine scrapes the inference engines (SGLang, vLLM) running on the
// node at collection time and re-exports their metrics in one normalised
// llm_engine_* schema (docs/schema.md, docs/metrics-engine.md), joined to the
// pod (namespace, pod, container), role and DP rank.
//
// Targets come from package discovery: --engine.target flags, a file_sd
// file re-read when it changes, and (--engine.kubernetes) a list+watch of the
// annotated pods of the node; this package only scrapes and normalises. Every
// target is scraped concurrently within its own timeout, body and sample
// limits; a dead, slow, huge or garbage target costs only its own series and
// is counted in llm_engine_scrape_errors_total{reason}.
//
// Pages are read with the Prometheus server's own parser (model/textparse)
// into per-target interned source series (parse.go): a steady page costs no
// label parsing and no allocation per sample; the normaliser and the
// passthrough read those series when the page ends.
//
// The normalisation is one table (table.go): each row maps engine families,
// old names included, in order of preference, onto one llm_engine_* family.
package engine
